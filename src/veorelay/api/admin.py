"""The operator's API under /admin/api, authenticated with VEORELAY_ADMIN_KEY (never a token).

Money goes in as USD (`"10.50"` or a number, exact to the micro-dollar) and comes out as both
`*_micros` (integers, exact) and `*_usd` (strings).
"""

from __future__ import annotations

import csv
import hmac
import io
import time
from decimal import Decimal
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field, StrictFloat, StrictInt, StrictStr, field_validator

from veorelay import billing
from veorelay.api.deps import ServicesDep
from veorelay.api.schemas import ErrorBody
from veorelay.core.models import Resolution
from veorelay.core.pricing import (
    BillingMode,
    ModelPrice,
    micros_to_usd,
    multiplier_to_ppm,
    usd_to_micros,
)
from veorelay.db import accounts, catalog, redemption, usage
from veorelay.db.accounts import TokenSettings
from veorelay.db.tables import tokens
from veorelay.db.usage import UsageFilter
from veorelay.errors import (
    AuthenticationFailed,
    Conflict,
    InvalidRequest,
    NotFound,
    PermissionDenied,
)
from veorelay.services import Services


async def require_admin(
    request: Request, authorization: Annotated[str | None, Header()] = None
) -> None:
    services: Services = request.app.state.services
    key = services.settings.admin_key
    if key is None:
        raise PermissionDenied(
            "The admin API is off; set VEORELAY_ADMIN_KEY.", code="admin_disabled"
        )
    scheme, _, secret = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(
        secret.strip(), key.get_secret_value()
    ):
        raise AuthenticationFailed("Invalid admin key.", code="invalid_admin_key")


router = APIRouter(
    prefix="/admin/api",
    tags=["admin"],
    dependencies=[Depends(require_admin)],
    responses={code: {"model": ErrorBody} for code in (400, 401, 403, 404, 409)},
)

# Strict: a boolean or a list is not an amount of money.
Usd = StrictStr | StrictInt | StrictFloat
MAX_MICROS = 10**15  # a billion dollars; keeps every sum inside a 64-bit column


def _micros(value: Usd, param: str) -> int:
    try:
        micros = usd_to_micros(value)
    except ValueError as exc:
        raise InvalidRequest(str(exc), param=param) from None
    if abs(micros) > MAX_MICROS:
        raise InvalidRequest(f"{param} is out of range.", param=param)
    return micros


def _usd(micros: int | None) -> str | None:
    return None if micros is None else f"{micros_to_usd(micros):.6f}"


def _money(row: dict[str, Any]) -> dict[str, Any]:
    """Add a `*_usd` string beside every `*_micros` integer."""
    out = dict(row)
    for key, value in row.items():
        if key.endswith("_micros"):
            out[key.removesuffix("_micros") + "_usd"] = _usd(value)
    return out


# --- accounts ---------------------------------------------------------------------------


class AccountCreate(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    balance_usd: Usd = 0


class AccountUpdate(BaseModel):
    name: str = Field(min_length=1, max_length=200)


class MoneyChange(BaseModel):
    amount_usd: Usd
    note: str | None = Field(None, max_length=500)


async def _account(services: Services, account_id: str) -> dict[str, Any]:
    async with services.db.read() as conn:
        found = await accounts.get_account(conn, account_id)
    if found is None:
        raise NotFound(f"No account {account_id!r}.", param="account_id")
    return _money(found)


@router.post("/accounts")
async def create_account(body: AccountCreate, services: ServicesDep) -> dict[str, Any]:
    balance = _micros(body.balance_usd, "balance_usd")
    if balance < 0:
        raise InvalidRequest("balance_usd must not be negative.", param="balance_usd")
    async with services.db.write() as conn:
        account_id = await accounts.create_account(conn, body.name, balance, time.time())
    return await _account(services, account_id)


@router.get("/accounts")
async def list_accounts(services: ServicesDep) -> dict[str, Any]:
    async with services.db.read() as conn:
        return {"data": [_money(a) for a in await accounts.list_accounts(conn)]}


@router.get("/accounts/{account_id}")
async def get_account(account_id: str, services: ServicesDep) -> dict[str, Any]:
    return await _account(services, account_id)


@router.patch("/accounts/{account_id}")
async def update_account(
    account_id: str, body: AccountUpdate, services: ServicesDep
) -> dict[str, Any]:
    async with services.db.write() as conn:
        if not await accounts.rename_account(conn, account_id, body.name):
            raise NotFound(f"No account {account_id!r}.", param="account_id")
    return await _account(services, account_id)


@router.post("/accounts/{account_id}/top-ups")
async def top_up(account_id: str, body: MoneyChange, services: ServicesDep) -> dict[str, Any]:
    amount = _micros(body.amount_usd, "amount_usd")
    if amount <= 0:
        raise InvalidRequest("A top-up must be positive.", param="amount_usd")
    await _account(services, account_id)
    async with services.db.write() as conn:
        await billing.top_up(conn, account_id, amount, time.time(), body.note)
    return await _account(services, account_id)


@router.post("/accounts/{account_id}/adjustments")
async def adjust(account_id: str, body: MoneyChange, services: ServicesDep) -> dict[str, Any]:
    amount = _micros(body.amount_usd, "amount_usd")
    await _account(services, account_id)
    async with services.db.write() as conn:
        await billing.adjust(conn, account_id, amount, time.time(), body.note)
    return await _account(services, account_id)


@router.get("/accounts/{account_id}/ledger")
async def account_ledger(
    account_id: str,
    services: ServicesDep,
    before_id: Annotated[int | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    await _account(services, account_id)
    async with services.db.read() as conn:
        rows = await usage.ledger_page(conn, account_id, before_id=before_id, limit=limit)
    return {"data": [_money(r) for r in rows]}


# --- tokens -----------------------------------------------------------------------------


class TokenFields(BaseModel):
    group: str | None = None
    billing_mode: BillingMode | None = None
    enabled: bool | None = None
    expires_at: float | None = Field(None, ge=0, le=1e11)
    allowed_models: list[str] | None = None
    ip_allowlist: list[str] | None = None
    spend_limit_usd: Usd | None = None
    rpm_limit: int | None = Field(None, ge=1, le=1_000_000)
    max_in_flight: int | None = Field(None, ge=1, le=1_000_000)

    @field_validator("ip_allowlist")
    @classmethod
    def _cidrs(cls, value: list[str] | None) -> list[str] | None:
        import ipaddress

        for entry in value or []:
            ipaddress.ip_network(entry, strict=False)  # raises ValueError -> 400
        return value

    def changes(self) -> dict[str, Any]:
        """The settings given in the request (null clears a limit)."""
        given = self.model_dump(exclude_unset=True)
        for required in ("group", "billing_mode", "enabled", "name"):  # these cannot be cleared
            if given.get(required, "") is None:
                raise InvalidRequest(f"{required} cannot be null.", param=required)
        if "group" in given:
            given["group_name"] = given.pop("group")
        if "spend_limit_usd" in given:
            value = given.pop("spend_limit_usd")
            given["spend_limit_micros"] = (
                None if value is None else _micros(value, "spend_limit_usd")
            )
        return given


class TokenCreate(TokenFields):
    account_id: str
    name: str = Field(min_length=1, max_length=200)


class TokenUpdate(TokenFields):
    name: str | None = Field(None, min_length=1, max_length=200)


async def _check_group(services: Services, changes: dict[str, Any]) -> None:
    if changes.get("group_name") is not None:
        async with services.db.read() as conn:
            known = await catalog.group_multipliers(conn)
        if changes["group_name"] not in known:
            raise InvalidRequest(f"No group {changes['group_name']!r}.", param="group")


async def _token(services: Services, token_id: str) -> dict[str, Any]:
    async with services.db.read() as conn:
        found = await accounts.get_token(conn, token_id)
    if found is None:
        raise NotFound(f"No token {token_id!r}.", param="token_id")
    return _money(found)


@router.post("/tokens")
async def create_token(body: TokenCreate, services: ServicesDep) -> dict[str, Any]:
    """Create a token; the secret is in this answer only."""
    await _account(services, body.account_id)
    changes = {k: v for k, v in body.changes().items() if v is not None}
    changes.pop("account_id", None)
    changes.pop("name", None)
    await _check_group(services, changes)
    async with services.db.write() as conn:
        created = await accounts.create_token(
            conn, body.account_id, body.name, time.time(), TokenSettings(**changes)
        )
    return {"token": await _token(services, created.token_id), "secret": created.secret}


@router.get("/tokens")
async def list_tokens(services: ServicesDep, account_id: str | None = None) -> dict[str, Any]:
    async with services.db.read() as conn:
        return {"data": [_money(t) for t in await accounts.list_tokens(conn, account_id)]}


@router.get("/tokens/{token_id}")
async def get_token(token_id: str, services: ServicesDep) -> dict[str, Any]:
    return await _token(services, token_id)


@router.patch("/tokens/{token_id}")
async def update_token(token_id: str, body: TokenUpdate, services: ServicesDep) -> dict[str, Any]:
    changes = body.changes()
    await _check_group(services, changes)
    if changes:
        async with services.db.write() as conn:
            if not await accounts.update_token(conn, token_id, **changes):
                raise NotFound(f"No token {token_id!r}.", param="token_id")
    return await _token(services, token_id)


@router.delete("/tokens/{token_id}")
async def disable_token(token_id: str, services: ServicesDep) -> dict[str, Any]:
    """Tokens are disabled, not erased: their tasks and usage stay attributable."""
    async with services.db.write() as conn:
        if not await accounts.update_token(conn, token_id, enabled=False):
            raise NotFound(f"No token {token_id!r}.", param="token_id")
    return await _token(services, token_id)


# --- groups and models ------------------------------------------------------------------


class GroupBody(BaseModel):
    multiplier: StrictStr | StrictInt | StrictFloat = "1"
    description: str = Field("", max_length=500)


@router.get("/groups")
async def list_groups(services: ServicesDep) -> dict[str, Any]:
    async with services.db.read() as conn:
        rows = await catalog.list_groups(conn)
    return {
        "data": [{**r, "multiplier": str(Decimal(r["multiplier_ppm"]) / 1_000_000)} for r in rows]
    }


@router.put("/groups/{name}")
async def put_group(name: str, body: GroupBody, services: ServicesDep) -> dict[str, Any]:
    try:
        ppm = multiplier_to_ppm(body.multiplier)
    except (ValueError, ArithmeticError) as exc:
        raise InvalidRequest(str(exc), param="multiplier") from None
    if ppm > 1000 * 1_000_000:
        raise InvalidRequest("multiplier must be at most 1000.", param="multiplier")
    async with services.db.write() as conn:
        await catalog.set_group(conn, name, ppm, body.description, time.time())
    services.prices.invalidate()
    return {"name": name, "multiplier_ppm": ppm, "description": body.description}


@router.delete("/groups/{name}")
async def delete_group(name: str, services: ServicesDep) -> dict[str, Any]:
    from sqlalchemy import delete, func, select

    from veorelay.db.tables import groups

    async with services.db.write() as conn:
        users = (
            await conn.execute(select(func.count()).where(tokens.c.group_name == name))
        ).scalar_one()
        if users:
            raise Conflict(
                f"{users} token(s) use group {name!r}; move them first.", code="group_in_use"
            )
        if (await conn.execute(delete(groups).where(groups.c.name == name))).rowcount == 0:
            raise NotFound(f"No group {name!r}.", param="name")
    services.prices.invalidate()
    return {"name": name, "deleted": True}


class ModelBody(BaseModel):
    per_call_usd: Usd | None = None
    per_second_usd: dict[Literal["720p", "1080p", "4k"], Usd] = Field(default_factory=dict)
    upstream_model: str | None = None
    enabled: bool = True
    description: str = Field("", max_length=500)


def _model_json(price: ModelPrice) -> dict[str, Any]:
    return {
        "model": price.model,
        "per_call_micros": price.per_call_micros,
        "per_call_usd": _usd(price.per_call_micros),
        "per_second_usd": {res.value: _usd(v) for res, v in price.per_second_micros.items()},
        "upstream_model": price.upstream_model,
        "enabled": price.enabled,
    }


@router.get("/models")
async def list_models(services: ServicesDep) -> dict[str, Any]:
    async with services.db.read() as conn:
        table = await catalog.model_price_table(conn)
    return {"data": [_model_json(p) for p in sorted(table.values(), key=lambda p: p.model)]}


@router.put("/models/{model}")
async def put_model(model: str, body: ModelBody, services: ServicesDep) -> dict[str, Any]:
    price = ModelPrice(
        model=model,
        per_call_micros=None
        if body.per_call_usd is None
        else _micros(body.per_call_usd, "per_call_usd"),
        per_second_micros={
            Resolution(r): _micros(v, "per_second_usd") for r, v in body.per_second_usd.items()
        },
        upstream_model=body.upstream_model,
        enabled=body.enabled,
    )
    if price.per_call_micros is None and not price.per_second_micros:
        raise InvalidRequest("Give a per_call_usd or per_second_usd price.", param="per_call_usd")
    async with services.db.write() as conn:
        await catalog.set_model_price(conn, price, time.time(), body.description)
    services.prices.invalidate()
    return _model_json(price)


@router.delete("/models/{model}")
async def delete_model(model: str, services: ServicesDep) -> dict[str, Any]:
    async with services.db.write() as conn:
        if not await catalog.delete_model(conn, model):
            raise NotFound(f"No model {model!r}.", param="model")
    services.prices.invalidate()
    return {"model": model, "deleted": True}


# --- redemption codes -------------------------------------------------------------------


class BatchBody(BaseModel):
    amount_usd: Usd
    count: int = Field(ge=1, le=10_000)
    expires_at: float | None = Field(None, ge=0, le=1e11)


@router.post("/redemption-codes")
async def create_codes(body: BatchBody, services: ServicesDep) -> dict[str, Any]:
    """A batch of codes; the codes themselves are in this answer only."""
    amount = _micros(body.amount_usd, "amount_usd")
    async with services.db.write() as conn:
        batch_id, codes = await redemption.create_batch(
            conn, amount, body.count, body.expires_at, time.time()
        )
    return {"batch_id": batch_id, "amount_usd": _usd(amount), "codes": codes}


@router.get("/redemption-codes")
async def list_codes(services: ServicesDep, batch_id: str | None = None) -> dict[str, Any]:
    async with services.db.read() as conn:
        return {"data": [_money(c) for c in await redemption.list_codes(conn, batch_id)]}


# --- usage ------------------------------------------------------------------------------


def _filter(
    account_id: str | None = None,
    token_id: str | None = None,
    model: str | None = None,
    status: str | None = None,
    since: float | None = None,
    until: float | None = None,
) -> UsageFilter:
    return UsageFilter(account_id, token_id, model, status, since, until)


FilterDep = Annotated[UsageFilter, Depends(_filter)]


@router.get(
    "/usage",
    responses={200: {"content": {"application/json": {}, "text/csv": {}}}},
)
async def list_usage(
    where: FilterDep,
    services: ServicesDep,
    after: str | None = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 100,
    format: Literal["json", "csv"] = "json",
) -> Response:
    async with services.db.read() as conn:
        rows, has_more = await usage.usage_page(conn, where, after=after, limit=limit)
    rows = [_money(r) for r in rows]
    if format == "csv":
        out = io.StringIO()
        columns = list(rows[0]) if rows else [c.name for c in usage.USAGE_COLUMNS]
        writer = csv.DictWriter(out, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
        return Response(
            out.getvalue(),
            media_type="text/csv",
            headers={"Content-Disposition": 'attachment; filename="usage.csv"'},
        )
    import json

    body = {"data": rows, "has_more": has_more, "last_id": rows[-1]["id"] if rows else None}
    return Response(json.dumps(body), media_type="application/json")


@router.get("/summary")
async def usage_summary(
    where: FilterDep,
    services: ServicesDep,
    by: Literal["token", "model", "account", "day"] = "model",
) -> dict[str, Any]:
    async with services.db.read() as conn:
        rows = await usage.summary(conn, where, by)
    if by == "day":
        rows = [
            {**r, "key": time.strftime("%Y-%m-%d", time.gmtime(int(r["key"]) * 86400))}
            for r in rows
        ]
    return {
        "by": by,
        "data": [_money({**r, "charged_micros": int(r["charged_micros"] or 0)}) for r in rows],
    }
