"""The operator's audit trail: who changed what, from what to what, and when."""

from __future__ import annotations

from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from veorelay.db.database import ReadConnection
from veorelay.db.tables import audit_log


async def record(
    conn: AsyncConnection,
    *,
    actor: str,
    action: str,
    target: str | None,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
    now: float,
) -> None:
    await conn.execute(
        insert(audit_log).values(
            at=now, actor=actor, action=action, target=target, before=before, after=after
        )
    )


async def page(
    conn: ReadConnection, *, before_id: int | None, limit: int, action: str | None = None
) -> list[dict[str, Any]]:
    """Newest first; `before_id` is the last id of the previous page."""
    query = select(audit_log)
    if before_id is not None:
        query = query.where(audit_log.c.id < before_id)
    if action:
        query = query.where(audit_log.c.action.startswith(action, autoescape=True))
    rows = await conn.execute(query.order_by(audit_log.c.id.desc()).limit(limit))
    return [dict(row._mapping) for row in rows]
