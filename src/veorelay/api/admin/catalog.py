"""Admin: price groups and models with their prices."""

from __future__ import annotations

import time
from dataclasses import replace
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, Field, StrictBool, StrictFloat, StrictInt, StrictStr
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from veorelay.api.admin import schemas
from veorelay.api.admin.audited import audited
from veorelay.api.admin.common import Usd, admin_router, price_micros, usd
from veorelay.api.deps import ServicesDep
from veorelay.api.fields import GroupName, ModelName, Note, checked
from veorelay.channels.fields import offer_on_settings_channels
from veorelay.core.models import Resolution
from veorelay.core.pricing import ModelPrice, multiplier_to_ppm
from veorelay.db import catalog
from veorelay.db.accounts import DEFAULT_GROUP
from veorelay.db.tables import groups, tokens
from veorelay.errors import Conflict, InvalidRequest, NotFound
from veorelay.services import Services

router = admin_router()


class GroupBody(BaseModel):
    multiplier: StrictStr | StrictInt | StrictFloat = "1"
    description: Note = ""


@router.get("/groups", response_model=schemas.GroupList)
async def list_groups(services: ServicesDep) -> dict[str, Any]:
    async with services.db.read() as conn:
        rows = await catalog.list_groups(conn)
    return {
        "data": [{**r, "multiplier": str(Decimal(r["multiplier_ppm"]) / 1_000_000)} for r in rows]
    }


async def _group_json(services: Services, name: str) -> dict[str, Any]:
    async with services.db.read() as conn:
        rows = await catalog.list_groups(conn)
    for row in rows:
        if row["name"] == name:
            return dict(row)
    raise NotFound(f"No group {name!r}.", param="name")


@router.put("/groups/{name}", response_model=schemas.Group)
@audited("group.put", "name", _group_json)
async def put_group(name: GroupName, body: GroupBody, services: ServicesDep) -> dict[str, Any]:
    checked(GroupName, name, "name")  # the command line calls this directly
    try:
        ppm = multiplier_to_ppm(body.multiplier)
    except ValueError as exc:
        raise InvalidRequest(f"multiplier: {exc}.", param="multiplier") from None
    async with services.db.write() as conn:
        await catalog.set_group(conn, name, ppm, body.description, time.time())
    services.prices.invalidate()
    return {"name": name, "multiplier_ppm": ppm, "description": body.description}


@router.delete("/groups/{name}", response_model=schemas.GroupDeleted)
@audited("group.delete", "name", _group_json)
async def delete_group(name: str, services: ServicesDep) -> dict[str, Any]:
    if name == DEFAULT_GROUP:
        raise Conflict(
            "The default group cannot be deleted: new tokens join it.", code="group_required"
        )
    async with services.db.write() as conn:
        users = (
            await conn.execute(
                select(func.count()).where(
                    tokens.c.group_name == name, tokens.c.deleted_at.is_(None)
                )
            )
        ).scalar_one()
        if users:
            raise Conflict(
                f"{users} token(s) use group {name!r}; move them first.", code="group_in_use"
            )
        if (await conn.execute(delete(groups).where(groups.c.name == name))).rowcount == 0:
            raise NotFound(f"No group {name!r}.", param="name")
    services.prices.invalidate()
    return {"name": name, "deleted": True}


UPSTREAM_MODEL_MOVED = Field(
    None,
    description="No longer here: upstream model ids are set per channel "
    "(`veorelay channel update NAME --model PUBLIC=UPSTREAM`, docs/channels.md). "
    "Giving one is refused.",
)


class ModelBody(BaseModel):
    per_call_usd: Usd | None = None
    per_second_usd: dict[Resolution, Usd] = Field(default_factory=dict)
    upstream_model: ModelName | None = UPSTREAM_MODEL_MOVED
    enabled: StrictBool = True
    description: Note = ""


class ModelPatch(BaseModel):
    """Only the fields given change; null clears a price (a per-second map entry too)."""

    per_call_usd: Usd | None = None
    per_second_usd: dict[Resolution, Usd | None] = Field(default_factory=dict)
    upstream_model: ModelName | None = UPSTREAM_MODEL_MOVED
    enabled: StrictBool | None = None
    description: Note | None = None


def _model_json(price: ModelPrice) -> dict[str, Any]:
    return {
        "model": price.model,
        "per_call_micros": price.per_call_micros,
        "per_call_usd": usd(price.per_call_micros),
        "per_second_usd": {res.value: usd(v) for res, v in price.per_second_micros.items()},
        "enabled": price.enabled,
    }


async def _model_loaded(services: Services, model: str) -> dict[str, Any]:
    async with services.db.read() as conn:
        price = await catalog.get_model_price(conn, model)
    if price is None:
        raise NotFound(f"No model {model!r}.", param="model")
    return _model_json(price)


def _refuse_upstream_model(body: ModelBody | ModelPatch) -> None:
    """Silently dropping it would send the model as it is named; say where it went instead."""
    if body.upstream_model is not None:
        raise InvalidRequest(
            "Upstream model ids are set per channel now: veorelay channel update NAME "
            "--model PUBLIC=UPSTREAM, or PATCH /admin/api/channels/{name} with "
            '{"models": {...}} (docs/channels.md).',
            param="upstream_model",
            code="upstream_model_per_channel",
        )


def _optional_micros(value: Usd | None, param: str) -> int | None:
    return None if value is None else price_micros(value, param)


@router.get("/models", response_model=schemas.ModelList)
async def list_models(services: ServicesDep) -> dict[str, Any]:
    async with services.db.read() as conn:
        table = await catalog.model_price_table(conn)
    return {"data": [_model_json(p) for p in sorted(table.values(), key=lambda p: p.model)]}


@router.put("/models/{model}", response_model=schemas.ModelPrice)
@audited("model.put", "model", _model_loaded)
async def put_model(model: ModelName, body: ModelBody, services: ServicesDep) -> dict[str, Any]:
    """Add a model or replace all its settings."""
    checked(ModelName, model, "model")
    _refuse_upstream_model(body)
    price = ModelPrice(
        model=model,
        per_call_micros=_optional_micros(body.per_call_usd, "per_call_usd"),
        per_second_micros={
            res: price_micros(v, "per_second_usd") for res, v in body.per_second_usd.items()
        },
        enabled=body.enabled,
    )
    async with services.db.write() as conn:
        await _store(conn, price, body.description)
    services.prices.invalidate()
    return _model_json(price)


@router.patch("/models/{model}", response_model=schemas.ModelPrice)
@audited("model.patch", "model", _model_loaded)
async def patch_model(model: ModelName, body: ModelPatch, services: ServicesDep) -> dict[str, Any]:
    """Change some of a model's settings (or add a model, which then needs a price)."""
    checked(ModelName, model, "model")  # the command line calls this directly
    _refuse_upstream_model(body)
    given = body.model_dump(exclude_unset=True)
    async with services.db.write() as conn:  # read and write together: no edit is lost
        price = await catalog.get_model_price(conn, model) or ModelPrice(model, None)
        per_second = dict(price.per_second_micros)
        for res, value in body.per_second_usd.items():
            if value is None:
                per_second.pop(res, None)
            else:
                per_second[res] = price_micros(value, "per_second_usd")
        price = replace(price, per_second_micros=per_second)
        if "per_call_usd" in given:
            per_call = _optional_micros(body.per_call_usd, "per_call_usd")
            price = replace(price, per_call_micros=per_call)
        if body.enabled is not None:
            price = replace(price, enabled=body.enabled)
        await _store(conn, price, body.description)
    services.prices.invalidate()
    return _model_json(price)


async def _store(conn: AsyncConnection, price: ModelPrice, description: str | None) -> None:
    if price.per_call_micros is None and not price.per_second_micros:
        raise InvalidRequest("Give a per_call_usd or per_second_usd price.", param="per_call_usd")
    await catalog.set_model_price(conn, price, time.time(), description)
    await offer_on_settings_channels(conn, price.model, time.time())


@router.delete("/models/{model}", response_model=schemas.Deleted)
@audited("model.delete", "model", _model_loaded)
async def delete_model(model: str, services: ServicesDep) -> dict[str, Any]:
    """Stop offering a model and drop it from the list (PUT brings it back). Tasks that used
    it keep their record. (To pause a model, PATCH it with enabled: false.)"""
    async with services.db.write() as conn:
        if not await catalog.delete_model(conn, model, time.time()):
            raise NotFound(f"No model {model!r}.", param="model")
    services.prices.invalidate()
    return {"id": model, "deleted": True}
