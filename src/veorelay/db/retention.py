"""Queries behind retention: which stored files are due to go, which tasks may be pruned, and
which keys tasks point to (for the reconciler). No lifecycle state changes here."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import and_, delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from veorelay.core.lifecycle import TERMINAL_STATES, TaskState
from veorelay.db.database import ReadConnection
from veorelay.db.tables import task_inputs, tasks


@dataclass(frozen=True)
class StoredFile:
    task_id: str
    key: str


async def stamp_expiry(conn: AsyncConnection, retention_seconds: float) -> int:
    """Videos stored before retention existed get `completed_at + retention_seconds`."""
    result = await conn.execute(
        update(tasks)
        .where(
            tasks.c.state == TaskState.COMPLETED.value,
            tasks.c.storage_key.is_not(None),
            tasks.c.expires_at.is_(None),
        )
        .values(expires_at=tasks.c.completed_at + retention_seconds)
    )
    return int(result.rowcount)


async def expired_files(conn: ReadConnection, now: float, limit: int) -> list[StoredFile]:
    rows = await conn.execute(
        select(tasks.c.id, tasks.c.storage_key)
        .where(tasks.c.expires_at <= now, tasks.c.storage_key.is_not(None))
        .order_by(tasks.c.expires_at)
        .limit(limit)
    )
    return [StoredFile(row.id, row.storage_key) for row in rows]


async def forget_file(conn: AsyncConnection, stored: StoredFile, now: float) -> bool:
    """The task no longer names its file (removed from storage). Compare-and-set on the key."""
    result = await conn.execute(
        update(tasks)
        .where(tasks.c.id == stored.task_id, tasks.c.storage_key == stored.key)
        .values(storage_key=None, version=tasks.c.version + 1, updated_at=now)
    )
    return result.rowcount == 1


async def prune_tasks(conn: AsyncConnection, finished_before: float, limit: int) -> int:
    """Delete up to `limit` tasks that ended before `finished_before` and name no stored file
    (failed, cancelled, deleted or expired). The ledger keeps their money movements."""
    doomed = (
        select(tasks.c.id)
        .where(
            tasks.c.state.in_([state.value for state in TERMINAL_STATES]),
            tasks.c.finished_at < finished_before,
            tasks.c.storage_key.is_(None),
        )
        .limit(limit)
    )
    ids = list((await conn.execute(doomed)).scalars())
    if not ids:
        return 0
    await conn.execute(delete(task_inputs).where(task_inputs.c.task_id.in_(ids)))
    await conn.execute(delete(tasks).where(tasks.c.id.in_(ids), tasks.c.storage_key.is_(None)))
    return len(ids)


async def referenced_keys(conn: ReadConnection) -> list[str]:
    """Every stored file a task names (expired ones too, until the sweeper removes them)."""
    rows = await conn.execute(select(tasks.c.storage_key).where(tasks.c.storage_key.is_not(None)))
    return [str(key) for (key,) in rows]


async def live_files(conn: ReadConnection, completed_before: float, now: float) -> list[StoredFile]:
    """Completed videos, stored before `completed_before` and not yet expired: each must be
    in the store."""
    rows = await conn.execute(
        select(tasks.c.id, tasks.c.storage_key).where(
            tasks.c.state == TaskState.COMPLETED.value,
            tasks.c.storage_key.is_not(None),
            tasks.c.completed_at < completed_before,
            or_(tasks.c.expires_at.is_(None), and_(tasks.c.expires_at > now)),
        )
    )
    return [StoredFile(row.id, row.storage_key) for row in rows]
