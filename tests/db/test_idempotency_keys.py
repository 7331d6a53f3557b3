"""Idempotency keys in the database: claim, look up, expire, prune (SQLite and PostgreSQL)."""

from __future__ import annotations

import pytest

from veorelay.db import idempotency as idempotency_db
from veorelay.db.database import Database
from veorelay.engine import maintenance

DAY = 86400.0
T0 = 1_000_000.0


async def claim(db: Database, key: str, task_id: str, now: float, account: str = "acct_a") -> None:
    async with db.write() as conn:
        await idempotency_db.claim(conn, account, key, "f" * 64, task_id, now)


async def test_a_live_key_cannot_be_claimed_twice_and_the_claim_rolls_back(
    database: Database,
) -> None:
    await claim(database, "k", "video_1", T0)
    with pytest.raises(idempotency_db.KeyTaken):
        await claim(database, "k", "video_2", T0 + DAY - 1)
    async with database.read() as conn:
        remembered = await idempotency_db.lookup(conn, "acct_a", "k")
    assert remembered is not None
    assert (remembered.task_id, remembered.created_at, remembered.task) == ("video_1", T0, None)


async def test_keys_are_per_account(database: Database) -> None:
    await claim(database, "k", "video_1", T0, account="acct_a")
    await claim(database, "k", "video_2", T0, account="acct_b")
    async with database.read() as conn:
        found = [await idempotency_db.lookup(conn, a, "k") for a in ("acct_a", "acct_b", "acct_c")]
    assert [r.task_id if r else None for r in found] == ["video_1", "video_2", None]


async def test_an_expired_key_is_claimed_anew(database: Database) -> None:
    await claim(database, "k", "video_1", T0)
    await claim(database, "k", "video_2", T0 + DAY)
    async with database.read() as conn:
        remembered = await idempotency_db.lookup(conn, "acct_a", "k")
    assert remembered is not None
    assert (remembered.task_id, remembered.created_at) == ("video_2", T0 + DAY)


async def test_maintenance_prunes_only_keys_past_a_day(database: Database) -> None:
    await claim(database, "old", "video_1", T0 - DAY)
    await claim(database, "new", "video_2", T0 - DAY + 1)
    await maintenance.prune(database, T0)
    async with database.read() as conn:
        old = await idempotency_db.lookup(conn, "acct_a", "old")
        new = await idempotency_db.lookup(conn, "acct_a", "new")
    assert old is None
    assert new is not None
