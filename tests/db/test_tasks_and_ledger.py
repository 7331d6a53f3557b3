"""Task rows, compare-and-set and the ledger, on SQLite and PostgreSQL alike."""

from __future__ import annotations

import asyncio
import time

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError

from tests.factories import balance, make_account, make_submitting, make_task
from veorelay import billing
from veorelay.core.lifecycle import Event, Settlement, TaskState
from veorelay.db import tasks as task_db
from veorelay.db.database import Database
from veorelay.db.tables import ledger, tasks
from veorelay.errors import InsufficientQuota


async def ledger_kinds(db: Database, task_id: str) -> list[str]:
    async with db.read() as conn:
        rows = await conn.execute(
            select(ledger.c.kind).where(ledger.c.task_id == task_id).order_by(ledger.c.id)
        )
        return [r.kind for r in rows]


async def test_create_holds_the_price_with_the_task(database: Database) -> None:
    token = await make_account(database, balance=1_000_000)
    task = await make_task(database, token, price=300_000)
    assert task.state is TaskState.QUEUED
    assert await balance(database, token.account_id) == 700_000
    assert await ledger_kinds(database, task.id) == ["hold"]


async def test_insufficient_balance_writes_nothing(database: Database) -> None:
    token = await make_account(database, balance=200_000)
    with pytest.raises(InsufficientQuota):
        await make_task(database, token, price=300_000)
    async with database.read() as conn:
        assert (await conn.execute(select(func.count()).select_from(tasks))).scalar_one() == 0
        kinds = (await conn.execute(select(ledger.c.kind))).scalars().all()
    assert kinds == ["topup"]
    assert await balance(database, token.account_id) == 200_000


async def test_concurrent_creates_never_overdraw(database: Database) -> None:
    token = await make_account(database, balance=5 * 300_000)

    async def attempt() -> bool:
        try:
            await make_task(database, token, price=300_000)
            return True
        except InsufficientQuota:
            return False

    results = await asyncio.gather(*(attempt() for _ in range(20)))
    assert results.count(True) == 5
    assert await balance(database, token.account_id) == 0


async def test_completion_captures_and_failure_releases(database: Database) -> None:
    token = await make_account(database, balance=1_000_000)
    done = await make_submitting(database, token)
    lost = await make_task(database, token)
    now = time.time()
    async with database.write() as conn:
        running = await task_db.apply_transition(
            conn, done, Event.SUBMITTED, now, operation_name="op", key_id="k"
        )
        assert running is not None
        downloading = await task_db.apply_transition(conn, running, Event.FINISHED, now)
        assert downloading is not None
        completed = await task_db.apply_transition(
            conn, downloading, Event.STORED, now, storage_key="videos/x.mp4"
        )
        assert completed is not None
        failed = await task_db.apply_transition(conn, lost, Event.FAILED, now, error_code="x")
        assert failed is not None
    assert completed.state is TaskState.COMPLETED
    assert await ledger_kinds(database, done.id) == ["hold", "capture"]
    assert await ledger_kinds(database, lost.id) == ["hold", "release"]
    assert await balance(database, token.account_id) == 700_000


async def test_compare_and_set_lets_exactly_one_racer_win(database: Database) -> None:
    token = await make_account(database)
    task = await make_task(database, token)

    async def race(event: Event) -> bool:
        async with database.write() as conn:
            return await task_db.apply_transition(conn, task, event, time.time()) is not None

    wins = await asyncio.gather(race(Event.FAILED), race(Event.CANCELLED), race(Event.FAILED))
    assert wins.count(True) == 1
    assert (await ledger_kinds(database, task.id)).count("release") == 1


async def test_a_second_settlement_is_refused_by_the_database(database: Database) -> None:
    token = await make_account(database)
    task = await make_task(database, token)
    async with database.write() as conn:
        await billing.settle(
            conn, token.account_id, token.token_id, task.id, 300_000, Settlement.RELEASE, 1.0
        )
    with pytest.raises(IntegrityError):
        async with database.write() as conn:
            await billing.settle(
                conn, token.account_id, token.token_id, task.id, 0, Settlement.CAPTURE, 2.0
            )


async def test_lease_takes_due_tasks_once(database: Database) -> None:
    token = await make_account(database)
    now = time.time()
    due = await make_submitting(database, token, now=now - 1)
    await make_submitting(database, token, now=now + 100)  # not due yet
    await make_task(database, token, now=now - 1)  # queued: the dispatcher's, not leased
    async with database.write() as conn:
        first = await task_db.lease_due(conn, now, lease_seconds=30, limit=10)
    async with database.write() as conn:
        second = await task_db.lease_due(conn, now, lease_seconds=30, limit=10)
    assert [t.id for t in first] == [due.id]
    assert (first[0].submits, first[0].resubmits) == (1, 0)
    assert second == []
    async with database.write() as conn:  # the lease expired: someone else may take it
        third = await task_db.lease_due(conn, now + 31, lease_seconds=30, limit=10)
    assert [t.id for t in third] == [due.id]
    # Its first holder may have died mid-submit: counted, so a double render is visible.
    assert (third[0].submits, third[0].resubmits) == (2, 1)


async def test_lease_takes_no_more_than_its_limit(database: Database) -> None:
    """The engine's concurrency and submit limits rest on this, on PostgreSQL too (where an
    UPDATE over a LIMITed, SKIP LOCKED subquery can take more rows than the limit)."""
    token = await make_account(database)
    now = time.time()
    for _ in range(5):
        await make_submitting(database, token, now=now - 1)
    async with database.write() as conn:
        taken = await task_db.lease_due(conn, now, lease_seconds=30, limit=1)
    async with database.read() as conn:
        leased = (
            await conn.execute(text("SELECT count(*) FROM tasks WHERE lease_until IS NOT NULL"))
        ).scalar()
    assert len(taken) == 1
    assert leased == 1
    async with database.write() as conn:
        rest = await task_db.lease_due(conn, now, lease_seconds=30, limit=10)
    assert len(rest) == 4


async def test_a_worker_whose_lease_expired_cannot_write(database: Database) -> None:
    token = await make_account(database)
    now = time.time()
    await make_submitting(database, token, now=now - 1)
    async with database.write() as conn:
        (stale,) = await task_db.lease_due(conn, now, lease_seconds=1, limit=1)
    async with database.write() as conn:
        (fresh,) = await task_db.lease_due(conn, now + 2, lease_seconds=30, limit=1)
    async with database.write() as conn:
        assert await task_db.apply_transition(conn, stale, Event.SUBMITTED, now) is None
        assert not await task_db.renew_lease(conn, stale, now + 60)
        assert await task_db.apply_transition(conn, fresh, Event.SUBMITTED, now) is not None


async def test_image_input_is_kept_apart_and_dropped_after_submit(database: Database) -> None:
    from tests.factories import spec
    from tests.helpers import png_bytes
    from veorelay.core.images import image_from_bytes

    token = await make_account(database)
    task = await make_submitting(database, token, spec(image=image_from_bytes(png_bytes())))
    async with database.read() as conn:
        stored = await task_db.load_input(conn, task.id)
    assert stored is not None
    assert stored.data == png_bytes()
    async with database.write() as conn:
        await task_db.apply_transition(conn, task, Event.SUBMITTED, time.time())
    async with database.read() as conn:
        assert await task_db.load_input(conn, task.id) is None


async def test_other_accounts_cannot_read_a_task(database: Database) -> None:
    owner = await make_account(database)
    stranger = await make_account(database)
    task = await make_task(database, owner)
    async with database.read() as conn:
        assert await task_db.get_task(conn, task.id, owner.account_id) is not None
        assert await task_db.get_task(conn, task.id, stranger.account_id) is None


async def test_a_client_cancel_wins_over_lease_bumps_and_the_engine_then_loses(
    database: Database,
) -> None:
    token = await make_account(database, balance=1_000_000)
    now = time.time()
    task = await make_submitting(database, token, now=now - 1)  # the client read this version
    async with database.write() as conn:  # meanwhile the engine leases it (version bump)
        (leased,) = await task_db.lease_due(conn, now, lease_seconds=30, limit=1)
    async with database.write() as conn:
        cancelled = await task_db.mark_deleted(conn, task, now)
    assert cancelled is not None
    assert cancelled.state is TaskState.CANCELLED
    async with database.write() as conn:  # the engine's step finishes: too late
        assert await task_db.apply_transition(conn, leased, Event.SUBMITTED, now) is None
    assert await ledger_kinds(database, task.id) == ["hold", "release"]
    assert await balance(database, token.account_id) == 1_000_000


async def test_cancel_completion_and_deadline_race_to_one_settlement(database: Database) -> None:
    token = await make_account(database, balance=10_000_000)
    now = time.time()
    for _ in range(5):
        task = await make_submitting(database, token, now=now - 1)
        async with database.write() as conn:  # submitted, rendered, being downloaded
            running = await task_db.apply_transition(conn, task, Event.SUBMITTED, now)
            assert running is not None
            downloading = await task_db.apply_transition(conn, running, Event.FINISHED, now)
            assert downloading is not None

        async def complete(t: task_db.Task = downloading) -> bool:
            async with database.write() as conn:
                return await task_db.apply_transition(conn, t, Event.STORED, now) is not None

        async def cancel(t: task_db.Task = downloading) -> bool:
            async with database.write() as conn:
                return await task_db.mark_deleted(conn, t, now) is not None

        async def deadline(t: task_db.Task = downloading) -> bool:
            async with database.write() as conn:
                moved = await task_db.apply_transition(
                    conn, t, Event.FAILED, now, error_code="timeout"
                )
                return moved is not None

        wins = await asyncio.gather(complete(), cancel(), deadline())
        assert wins.count(True) == 1
        kinds = await ledger_kinds(database, task.id)
        assert kinds[0] == "hold"
        assert len(kinds) == 2
        assert kinds[1] == ("capture" if wins[0] else "release")


async def test_creates_and_releases_on_one_token_do_not_deadlock(database: Database) -> None:
    # A create locks the token row and then the account; a release must take them in the
    # same order, or PostgreSQL aborts one of two concurrent transactions as a deadlock.
    token = await make_account(database, balance=10**12)
    pending = [await make_task(database, token) for _ in range(40)]

    async def create_many() -> None:
        for _ in range(40):
            await make_task(database, token)

    async def release(tasks_to_fail: list[task_db.Task]) -> None:
        for task in tasks_to_fail:
            async with database.write() as conn:
                moved = await task_db.apply_transition(
                    conn, task, Event.FAILED, time.time(), error_code="x"
                )
                assert moved is not None

    await asyncio.gather(
        create_many(), create_many(), release(pending[::2]), release(pending[1::2])
    )
    async with database.read() as conn:
        kinds = await conn.execute(select(ledger.c.kind, func.count()).group_by(ledger.c.kind))
        counts = dict(kinds.all())
    assert counts == {"topup": 1, "hold": 120, "release": 40}


async def test_the_migrations_build_exactly_the_declared_tables(database: Database) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext
    from sqlalchemy import Connection

    from veorelay.db.tables import metadata

    def differences(connection: Connection) -> list[object]:
        return list(compare_metadata(MigrationContext.configure(connection), metadata))

    async with database.write() as conn:
        assert await conn.run_sync(differences) == []


async def test_the_ledger_refuses_a_negative_hold(database: Database) -> None:
    token = await make_account(database, balance=1_000_000)
    with pytest.raises(ValueError, match="negative"):
        await make_task(database, token, price=-300_000)
    async with database.read() as conn:
        assert (await conn.execute(select(func.count()).select_from(tasks))).scalar_one() == 0
    assert await balance(database, token.account_id) == 1_000_000
