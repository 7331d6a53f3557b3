"""Usage: a task row is the usage record (who, what, quoted price, outcome, timings)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.sql.elements import ColumnElement

from veorelay.core.lifecycle import TaskState
from veorelay.db.database import ReadConnection
from veorelay.db.tables import ledger, tasks

_CHARGED = case((tasks.c.state == TaskState.COMPLETED.value, tasks.c.price_micros), else_=0)
# What Google billed us: recorded when a task completes (a failed render is not billed).
_COST = func.coalesce(tasks.c.upstream_cost_micros, 0)

USAGE_COLUMNS = [
    tasks.c.id,
    tasks.c.created_at,
    tasks.c.account_id,
    tasks.c.token_id,
    tasks.c.model,
    tasks.c.seconds,
    tasks.c.resolution,
    tasks.c.aspect_ratio,
    tasks.c.has_image,
    tasks.c.state,
    tasks.c.price_micros.label("quoted_micros"),
    _CHARGED.label("charged_micros"),
    _COST.label("upstream_cost_micros"),
    (_CHARGED - _COST).label("margin_micros"),
    tasks.c.channel_id,
    tasks.c.error_code,
    tasks.c.negative_prompt,
    tasks.c.seed,
    tasks.c.submitted_at,
    tasks.c.completed_at,
    tasks.c.finished_at,
]
TIMING_FIELDS = ["queued_seconds", "render_seconds", "total_seconds"]
RECORD_FIELDS = [column.name for column in USAGE_COLUMNS] + TIMING_FIELDS


def with_timings(row: dict[str, Any]) -> dict[str, Any]:
    """Add how long the task waited to be submitted, rendered (submit to finish) and took in
    all (create to finish); None where it has not got that far."""

    def between(start: float | None, end: float | None) -> float | None:
        return None if start is None or end is None else round(end - start, 3)

    created, submitted, finished = row["created_at"], row["submitted_at"], row["finished_at"]
    return {
        **row,
        "queued_seconds": between(created, submitted),
        "render_seconds": between(submitted, finished),
        "total_seconds": between(created, finished),
    }


@dataclass(frozen=True)
class UsageFilter:
    account_id: str | None = None
    token_id: str | None = None
    model: str | None = None
    state: TaskState | None = None
    since: float | None = None
    until: float | None = None
    channel_id: str | None = None

    def clauses(self) -> list[ColumnElement[bool]]:
        found: list[ColumnElement[bool]] = []
        for column, value in [
            (tasks.c.account_id, self.account_id),
            (tasks.c.token_id, self.token_id),
            (tasks.c.model, self.model),
            (tasks.c.state, self.state),
            (tasks.c.channel_id, self.channel_id),
        ]:
            if value is not None:
                found.append(column == value)
        if self.since is not None:
            found.append(tasks.c.created_at >= self.since)
        if self.until is not None:
            found.append(tasks.c.created_at < self.until)
        return found


async def usage_page(
    conn: ReadConnection, where: UsageFilter, *, after: str | None, limit: int
) -> tuple[list[dict[str, Any]], bool]:
    """Newest first; `after` is the last id of the previous page."""
    query = select(*USAGE_COLUMNS).where(*where.clauses())
    if after is not None:
        cursor = (
            await conn.execute(select(tasks.c.created_at, tasks.c.id).where(tasks.c.id == after))
        ).first()
        if cursor is None:
            return [], False
        query = query.where(
            (tasks.c.created_at < cursor.created_at)
            | ((tasks.c.created_at == cursor.created_at) & (tasks.c.id < cursor.id))
        )
    query = query.order_by(tasks.c.created_at.desc(), tasks.c.id.desc()).limit(limit + 1)
    rows = [with_timings(dict(row._mapping)) for row in await conn.execute(query)]
    return rows[:limit], len(rows) > limit


async def summary(conn: ReadConnection, where: UsageFilter, by: str) -> list[dict[str, Any]]:
    """Tasks, revenue, upstream cost and margin grouped by token, model, account, channel or
    UTC day."""
    keys = {
        "token": tasks.c.token_id,
        "model": tasks.c.model,
        "account": tasks.c.account_id,
        "channel": func.coalesce(tasks.c.channel_id, ""),
        "day": func.floor(tasks.c.created_at / 86400),
    }
    key = keys[by]
    query = (
        select(
            key.label("key"),
            func.count().label("tasks"),
            func.sum(case((tasks.c.state == TaskState.COMPLETED.value, 1), else_=0)).label(
                "completed"
            ),
            func.sum(case((tasks.c.state == TaskState.FAILED.value, 1), else_=0)).label("failed"),
            func.sum(case((tasks.c.state == TaskState.CANCELLED.value, 1), else_=0)).label(
                "cancelled"
            ),
            func.sum(_CHARGED).label("charged_micros"),
            func.sum(_COST).label("upstream_cost_micros"),
            func.sum(_CHARGED - _COST).label("margin_micros"),
        )
        .where(*where.clauses())
        .group_by(key)
        .order_by(key)
    )
    return [dict(row._mapping) for row in await conn.execute(query)]


async def charged_total(conn: ReadConnection, where: UsageFilter) -> int:
    value = (await conn.execute(select(func.sum(_CHARGED)).where(*where.clauses()))).scalar()
    return int(value or 0)


async def ledger_page(
    conn: ReadConnection, account_id: str, *, before_id: int | None, limit: int
) -> list[dict[str, Any]]:
    query = select(ledger).where(ledger.c.account_id == account_id)
    if before_id is not None:
        query = query.where(ledger.c.id < before_id)
    rows = await conn.execute(query.order_by(ledger.c.id.desc()).limit(limit))
    return [dict(row._mapping) for row in rows]


async def state_counts(conn: ReadConnection, where: UsageFilter) -> dict[str, int]:
    """How many tasks are in each state."""
    query = select(tasks.c.state, func.count()).where(*where.clauses()).group_by(tasks.c.state)
    return {state: count for state, count in await conn.execute(query)}
