"""Models, their prices and the groups' multipliers, as stored (admin-managed)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from veorelay.core.models import ExtraInput, Resolution
from veorelay.core.pricing import ModelPrice
from veorelay.db.database import ReadConnection
from veorelay.db.tables import groups, model_prices

_PER_SECOND_COLUMNS = {
    Resolution.P720: "per_second_720p_micros",
    Resolution.P1080: "per_second_1080p_micros",
    Resolution.K4: "per_second_4k_micros",
}


def _price_from_row(row: Any) -> ModelPrice:
    return ModelPrice(
        model=row.model,
        per_call_micros=row.per_call_micros,
        per_second_micros={
            res: getattr(row, column)
            for res, column in _PER_SECOND_COLUMNS.items()
            if getattr(row, column) is not None
        },
        enabled=row.enabled,
        extra_inputs=frozenset(ExtraInput(kind) for kind in row.extra_inputs or []),
        extra_input_surcharge_micros=int(row.extra_input_surcharge_micros),
    )


async def model_price_table(conn: ReadConnection) -> dict[str, ModelPrice]:
    """Every model not deleted, enabled or not."""
    rows = await conn.execute(select(model_prices).where(model_prices.c.deleted_at.is_(None)))
    return {row.model: _price_from_row(row) for row in rows}


async def get_model_price(conn: ReadConnection, model: str) -> ModelPrice | None:
    """One model not deleted, enabled or not."""
    query = select(model_prices).where(
        model_prices.c.model == model, model_prices.c.deleted_at.is_(None)
    )
    row = (await conn.execute(query)).first()
    return _price_from_row(row) if row else None


async def group_multipliers(conn: ReadConnection) -> dict[str, int]:
    rows = await conn.execute(select(groups.c.name, groups.c.multiplier_ppm))
    return {row.name: int(row.multiplier_ppm) for row in rows}


async def seed_models(conn: AsyncConnection, per_call: Mapping[str, int], now: float) -> None:
    """Add models the table does not know yet; never overwrite an operator's edits."""
    known = set((await conn.execute(select(model_prices.c.model))).scalars())
    for model, micros in per_call.items():
        if model not in known:
            await conn.execute(
                insert(model_prices).values(model=model, per_call_micros=micros, updated_at=now)
            )


async def set_model_price(
    conn: AsyncConnection, price: ModelPrice, now: float, description: str | None = None
) -> None:
    """Insert or update the model's row (a deleted model comes back); a None description
    keeps the one it has."""
    values: dict[str, Any] = {
        "per_call_micros": price.per_call_micros,
        "enabled": price.enabled,
        "extra_inputs": sorted(price.extra_inputs) or None,
        "extra_input_surcharge_micros": price.extra_input_surcharge_micros,
        "updated_at": now,
        "deleted_at": None,
        **{column: price.per_second_micros.get(res) for res, column in _PER_SECOND_COLUMNS.items()},
    }
    if description is not None:
        values["description"] = description
    done = await conn.execute(
        update(model_prices).where(model_prices.c.model == price.model).values(**values)
    )
    if done.rowcount == 0:
        await conn.execute(insert(model_prices).values(model=price.model, **values))


async def delete_model(conn: AsyncConnection, model: str, now: float) -> bool:
    """Soft delete: the model is no longer offered or listed; its row stays, so the
    default models are not seeded again at the next start."""
    result = await conn.execute(
        update(model_prices)
        .where(model_prices.c.model == model, model_prices.c.deleted_at.is_(None))
        .values(deleted_at=now, enabled=False)
    )
    return result.rowcount == 1


async def list_groups(conn: ReadConnection) -> list[dict[str, Any]]:
    rows = await conn.execute(select(groups).order_by(groups.c.name))
    return [dict(row._mapping) for row in rows]


async def set_group(
    conn: AsyncConnection, name: str, multiplier_ppm: int, description: str, now: float
) -> None:
    done = await conn.execute(
        update(groups)
        .where(groups.c.name == name)
        .values(multiplier_ppm=multiplier_ppm, description=description)
    )
    if done.rowcount == 0:
        await conn.execute(
            insert(groups).values(
                name=name, multiplier_ppm=multiplier_ppm, description=description, created_at=now
            )
        )


async def model_update_times(conn: ReadConnection) -> dict[str, float]:
    """When each model not deleted was added or last changed (UNIX time)."""
    query = select(model_prices.c.model, model_prices.c.updated_at).where(
        model_prices.c.deleted_at.is_(None)
    )
    return {row.model: float(row.updated_at) for row in await conn.execute(query)}
