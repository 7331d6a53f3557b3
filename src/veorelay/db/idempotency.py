"""Idempotency keys of POST /v1/videos: one indexed read to replay, one insert to claim."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import and_, bindparam, delete, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from veorelay.core.idempotency import KEY_TTL_SECONDS
from veorelay.db.database import ReadConnection
from veorelay.db.tables import idempotency_keys, tasks
from veorelay.db.tasks import TASK_COLUMNS, Task


class KeyTaken(Exception):
    """Another request claimed the key first; its transaction decides what the key means."""


@dataclass(frozen=True)
class Remembered:
    fingerprint: str
    created_at: float
    task_id: str
    task: Task | None  # None once the task is deleted


_LOOKUP = (
    select(
        idempotency_keys.c.fingerprint.label("idempotency_fingerprint"),
        idempotency_keys.c.created_at.label("idempotency_created_at"),
        idempotency_keys.c.task_id.label("idempotency_task_id"),
        *TASK_COLUMNS,
    )
    .select_from(
        idempotency_keys.outerjoin(
            tasks, and_(tasks.c.id == idempotency_keys.c.task_id, tasks.c.deleted_at.is_(None))
        )
    )
    .where(
        idempotency_keys.c.account_id == bindparam("account_id"),
        idempotency_keys.c.key == bindparam("key"),
    )
)


async def lookup(conn: ReadConnection, account_id: str, key: str) -> Remembered | None:
    """The key's stored request and its task, by primary key (fresh or not: see `is_fresh`)."""
    row = (await conn.execute(_LOOKUP, {"account_id": account_id, "key": key})).first()
    if row is None:
        return None
    data = dict(row._mapping)
    remembered = {name: data.pop(f"idempotency_{name}") for name in ("fingerprint", "created_at")}
    task_id = data.pop("idempotency_task_id")
    task = Task.from_row_mapping(data) if data["id"] is not None else None
    return Remembered(task_id=task_id, task=task, **remembered)


async def claim(
    conn: AsyncConnection, account_id: str, key: str, fingerprint: str, task_id: str, now: float
) -> None:
    """Bind the key to `task_id`, in the caller's transaction (the one that creates the task).
    An expired binding is replaced; a live one, or one committed meanwhile by a concurrent
    request, raises KeyTaken, and the caller's transaction must roll back."""
    same_key = and_(idempotency_keys.c.account_id == account_id, idempotency_keys.c.key == key)
    await conn.execute(
        delete(idempotency_keys).where(
            same_key, idempotency_keys.c.created_at <= now - KEY_TTL_SECONDS
        )
    )
    try:
        await conn.execute(
            insert(idempotency_keys).values(
                account_id=account_id,
                key=key,
                fingerprint=fingerprint,
                task_id=task_id,
                created_at=now,
            )
        )
    except IntegrityError as exc:
        raise KeyTaken(key) from exc


async def prune(conn: AsyncConnection, now: float) -> int:
    """Forget keys past their 24 hours; returns how many."""
    result = await conn.execute(
        delete(idempotency_keys).where(idempotency_keys.c.created_at <= now - KEY_TTL_SECONDS)
    )
    return int(result.rowcount)
