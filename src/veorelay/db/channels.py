"""Channel rows: the pool's configuration, health, models and submit budget, as stored.

Secrets stay sealed here (`Channel.secret` is ciphertext); `channels/clients.py` opens them
only to build an upstream client.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from veorelay.core.channels import ChannelKind, Health
from veorelay.core.lifecycle import UPSTREAM_STATES
from veorelay.core.models import Resolution
from veorelay.db.database import ReadConnection
from veorelay.db.tables import channel_events, channel_models, channel_submits, channels, tasks

COST_COLUMNS = {
    Resolution.P720: "cost_720p_micros",
    Resolution.P1080: "cost_1080p_micros",
    Resolution.K4: "cost_4k_micros",
}


@dataclass(frozen=True)
class ChannelModel:
    model: str  # the public name clients ask for
    upstream_model: str
    cost_per_second: dict[Resolution, int] = field(default_factory=dict)
    available: bool = True
    unavailable_reason: str | None = None

    def row(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "upstream_model": self.upstream_model,
            "available": self.available,
            "unavailable_reason": self.unavailable_reason,
            **{column: self.cost_per_second.get(res) for res, column in COST_COLUMNS.items()},
        }


@dataclass(frozen=True)
class Channel:
    id: str
    name: str
    kind: ChannelKind
    secret: str  # sealed (secretbox.py)
    fingerprint: str
    base_url: str | None
    project: str | None
    location: str | None
    storage_uri: str | None
    storage_base_url: str | None
    groups: list[str] | None
    priority: int
    weight: int
    max_concurrent: int | None
    rpm: int | None
    rpd: int | None
    enabled: bool
    health: Health
    last_error: str | None
    health_changed_at: float | None
    cooling_until: float | None
    consecutive_faults: int
    created_at: float
    updated_at: float
    deleted_at: float | None
    models: dict[str, ChannelModel] = field(default_factory=dict)

    def upstream_model(self, model: str) -> str:
        return self.models[model].upstream_model


def _model_from_row(row: Any) -> ChannelModel:
    return ChannelModel(
        model=row.model,
        upstream_model=row.upstream_model,
        cost_per_second={
            res: getattr(row, column)
            for res, column in COST_COLUMNS.items()
            if getattr(row, column) is not None
        },
        available=row.available,
        unavailable_reason=row.unavailable_reason,
    )


async def _with_models(conn: ReadConnection, rows: Iterable[Any]) -> list[Channel]:
    found = [dict(row._mapping) for row in rows]
    if not found:
        return []
    ids = [row["id"] for row in found]
    models: dict[str, dict[str, ChannelModel]] = {cid: {} for cid in ids}
    for row in await conn.execute(
        select(channel_models).where(channel_models.c.channel_id.in_(ids))
    ):
        models[row.channel_id][row.model] = _model_from_row(row)
    return [
        Channel(
            **{
                **row,
                "kind": ChannelKind(row["kind"]),
                "health": Health(row["health"]),
                "models": models[row["id"]],
            }
        )
        for row in found
    ]


async def list_channels(
    conn: ReadConnection, *, lock: bool = False, only: str | None = None
) -> list[Channel]:
    """Every channel not deleted (or just `only`), by name. `lock` (in a write transaction)
    serializes dispatchers, and deletes, across processes on PostgreSQL."""
    query = select(channels).where(channels.c.deleted_at.is_(None)).order_by(channels.c.name)
    if only is not None:
        query = query.where(channels.c.id == only)
    if lock:
        query = query.with_for_update()
    return await _with_models(conn, await conn.execute(query))


async def any_channel_ever(conn: ReadConnection) -> bool:
    """Whether any channel was ever made here (deleted ones count)."""
    return (await conn.execute(select(channels.c.id).limit(1))).first() is not None


async def get_channel(conn: ReadConnection, channel_id: str) -> Channel | None:
    rows = await conn.execute(select(channels).where(channels.c.id == channel_id))
    found = await _with_models(conn, rows)
    return found[0] if found else None


async def find_channel(conn: ReadConnection, name: str) -> Channel | None:
    """A live channel by name."""
    rows = await conn.execute(
        select(channels).where(channels.c.name == name, channels.c.deleted_at.is_(None))
    )
    found = await _with_models(conn, rows)
    return found[0] if found else None


async def insert_channel(
    conn: AsyncConnection, values: dict[str, Any], models: Iterable[ChannelModel]
) -> None:
    await conn.execute(insert(channels).values(**values))
    await replace_models(conn, values["id"], models)


async def update_channel(conn: AsyncConnection, channel_id: str, **values: Any) -> None:
    await conn.execute(update(channels).where(channels.c.id == channel_id).values(**values))


async def replace_models(
    conn: AsyncConnection, channel_id: str, models: Iterable[ChannelModel]
) -> None:
    await conn.execute(delete(channel_models).where(channel_models.c.channel_id == channel_id))
    rows = [{"channel_id": channel_id, **model.row()} for model in models]
    if rows:
        await conn.execute(insert(channel_models), rows)


async def set_model_available(
    conn: AsyncConnection, channel_id: str, model: str, available: bool, reason: str | None
) -> None:
    await conn.execute(
        update(channel_models)
        .where(channel_models.c.channel_id == channel_id, channel_models.c.model == model)
        .values(available=available, unavailable_reason=reason)
    )


async def add_event(
    conn: AsyncConnection, channel_id: str, kind: str, message: str, now: float
) -> None:
    await conn.execute(
        insert(channel_events).values(channel_id=channel_id, at=now, kind=kind, message=message)
    )


async def recent_events(
    conn: ReadConnection, channel_id: str, limit: int = 20
) -> list[dict[str, Any]]:
    rows = await conn.execute(
        select(channel_events.c.at, channel_events.c.kind, channel_events.c.message)
        .where(channel_events.c.channel_id == channel_id)
        .order_by(channel_events.c.id.desc())
        .limit(limit)
    )
    return [dict(row._mapping) for row in rows]


async def in_flight(conn: ReadConnection) -> dict[str, int]:
    """Operations each channel holds upstream (submitting or running)."""
    rows = await conn.execute(
        select(tasks.c.channel_id, func.count())
        .where(tasks.c.state.in_([s.value for s in UPSTREAM_STATES]))
        .group_by(tasks.c.channel_id)
    )
    return {cid: int(n) for cid, n in rows if cid is not None}


async def submits_since(conn: ReadConnection, since: float) -> dict[str, int]:
    rows = await conn.execute(
        select(channel_submits.c.channel_id, func.count())
        .where(channel_submits.c.at >= since)
        .group_by(channel_submits.c.channel_id)
    )
    return {cid: int(n) for cid, n in rows}


async def record_submits(conn: AsyncConnection, channel_ids: list[str], now: float) -> None:
    if channel_ids:
        await conn.execute(
            insert(channel_submits), [{"channel_id": cid, "at": now} for cid in channel_ids]
        )


async def forget_one_submit(conn: AsyncConnection, channel_id: str) -> None:
    """Take back the newest submit counted against the channel's budgets."""
    newest = (
        select(func.max(channel_submits.c.id))
        .where(channel_submits.c.channel_id == channel_id)
        .scalar_subquery()
    )
    await conn.execute(delete(channel_submits).where(channel_submits.c.id == newest))


async def prune(conn: AsyncConnection, submits_before: float, events_before: float) -> None:
    await conn.execute(delete(channel_submits).where(channel_submits.c.at < submits_before))
    await conn.execute(delete(channel_events).where(channel_events.c.at < events_before))
