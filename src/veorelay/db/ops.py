"""The database side of /readyz and /metrics: one small grouped query per metric family.

Everything is computed at scrape time from the shared database, so every replica reports the
same numbers.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select, text

from veorelay.db.database import ReadConnection
from veorelay.db.tables import channels, ledger, tasks, webhook_deliveries


@dataclass(frozen=True)
class ChannelState:
    name: str
    kind: str
    health: str
    enabled: bool


@dataclass(frozen=True)
class LedgerTotal:
    kind: str
    entries: int
    micros: int


async def ping(conn: ReadConnection) -> None:
    await conn.execute(text("SELECT 1"))


async def migration_revisions(conn: ReadConnection) -> set[str]:
    """The Alembic revisions the database says it is at (empty if never migrated)."""
    rows = await conn.execute(text("SELECT version_num FROM alembic_version"))
    return {str(row[0]) for row in rows}


async def task_counts(conn: ReadConnection) -> dict[tuple[str, str], int]:
    """(state, model) -> number of tasks, deleted ones included (the engine still sees them)."""
    query = select(tasks.c.state, tasks.c.model, func.count()).group_by(
        tasks.c.state, tasks.c.model
    )
    return {(row[0], row[1]): int(row[2]) for row in await conn.execute(query)}


async def channel_states(conn: ReadConnection) -> list[ChannelState]:
    query = (
        select(channels.c.name, channels.c.kind, channels.c.health, channels.c.enabled)
        .where(channels.c.deleted_at.is_(None))
        .order_by(channels.c.name)
    )
    rows = await conn.execute(query)
    return [ChannelState(r.name, r.kind, r.health, bool(r.enabled)) for r in rows]


async def ledger_totals(conn: ReadConnection) -> list[LedgerTotal]:
    query = select(
        ledger.c.kind, func.count(), func.coalesce(func.sum(ledger.c.amount_micros), 0)
    ).group_by(ledger.c.kind)
    return [LedgerTotal(r[0], int(r[1]), int(r[2])) for r in await conn.execute(query)]


async def webhook_delivery_counts(conn: ReadConnection) -> dict[str, int]:
    """state -> webhook deliveries in it (finished ones are kept 30 days)."""
    query = select(webhook_deliveries.c.state, func.count()).group_by(webhook_deliveries.c.state)
    return {str(row[0]): int(row[1]) for row in await conn.execute(query)}
