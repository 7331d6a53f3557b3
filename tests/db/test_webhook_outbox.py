"""The webhook outbox on SQLite and PostgreSQL: written with the terminal state, leased once,
recorded only by its lease holder, an endpoint disabled after a long failure streak."""

from __future__ import annotations

import json

from cryptography.fernet import Fernet
from sqlalchemy import select

from tests.factories import make_account, make_task
from veorelay.core.lifecycle import Event
from veorelay.db import tasks as task_db
from veorelay.db import webhook_endpoints as endpoint_db
from veorelay.db import webhooks as webhook_db
from veorelay.db.database import Database
from veorelay.db.tables import webhook_deliveries
from veorelay.db.webhooks import Outcome
from veorelay.secretbox import SecretBox

BOX = SecretBox(Fernet.generate_key())
BOTH = ["video.completed", "video.failed"]


async def endpoint(db: Database, account_id: str, events: list[str], now: float = 0.0) -> str:
    async with db.write() as conn:
        row, secret = await endpoint_db.create_endpoint(
            conn, BOX, account_id, "e", "https://hooks.example.com/x", events, now
        )
        assert secret.startswith("whsec_")
        assert secret not in json.dumps(row)
        target = await endpoint_db.target(conn, BOX, row["id"], now)
    assert target.secrets == [secret]  # sealed, and recoverable to sign
    return str(row["id"])


async def deliveries(db: Database) -> list[dict[str, object]]:
    async with db.read() as conn:
        rows = await conn.execute(select(webhook_deliveries).order_by(webhook_deliveries.c.id))
        return [dict(r._mapping) for r in rows]


async def test_a_terminal_transition_writes_its_event_for_subscribed_endpoints(
    database: Database,
) -> None:
    token = await make_account(database)
    wants_both = await endpoint(database, token.account_id, BOTH)
    await endpoint(database, token.account_id, ["video.failed"])
    other = await make_account(database)
    await endpoint(database, other.account_id, BOTH)
    task = await make_task(database, token)

    async with database.write() as conn:
        failed = await task_db.apply_transition(conn, task, Event.FAILED, 5.0, error_code="x")
        assert failed is not None
        lost = await task_db.apply_transition(conn, task, Event.FAILED, 6.0)  # a lost race
        assert lost is None

    rows = await deliveries(database)
    assert len(rows) == 2  # both of this account's endpoints want video.failed; once each
    assert {r["event_type"] for r in rows} == {"video.failed"}
    assert len({r["event_id"] for r in rows}) == 1
    assert wants_both in {r["endpoint_id"] for r in rows}
    body = json.loads(str(rows[0]["body"]))
    assert body["data"] == {"id": task.id}
    assert body["type"] == "video.failed"


async def test_a_cancelled_task_or_one_rolled_back_writes_no_event(database: Database) -> None:
    token = await make_account(database)
    await endpoint(database, token.account_id, BOTH)
    cancelled = await make_task(database, token)
    rolled_back = await make_task(database, token)
    async with database.write() as conn:
        assert await task_db.mark_deleted(conn, cancelled, 1.0) is not None

    class Crash(Exception):
        pass

    try:
        async with database.write() as conn:
            assert await task_db.apply_transition(conn, rolled_back, Event.FAILED, 2.0)
            raise Crash  # the process dies before the commit
    except Crash:
        pass
    assert await deliveries(database) == []


async def test_a_delivery_is_leased_once_and_recorded_by_its_holder_only(
    database: Database,
) -> None:
    token = await make_account(database)
    await endpoint(database, token.account_id, BOTH)
    task = await make_task(database, token)
    async with database.write() as conn:
        assert await task_db.apply_transition(conn, task, Event.FAILED, 10.0)
    async with database.write() as conn:
        (first,) = await webhook_db.lease_due(conn, 10.0, 5.0, 10)
        assert await webhook_db.lease_due(conn, 11.0, 5.0, 10) == []  # leased
    async with database.write() as conn:
        (second,) = await webhook_db.lease_due(conn, 16.0, 5.0, 10)  # the lease ran out
    assert second.id == first.id
    ok = Outcome(status=200, error=None, duration_ms=3)
    async with database.write() as conn:
        stale = await webhook_db.record_attempt(
            conn, first, ok, 17.0, time_scale=1.0, disable_after=100.0
        )
        assert stale is None  # the first holder lost its lease: its outcome is dropped
        state = await webhook_db.record_attempt(
            conn,
            second,
            Outcome(status=503, error=None, duration_ms=3),
            17.0,
            time_scale=1.0,
            disable_after=100.0,
        )
    assert state == "pending"
    (row,) = await deliveries(database)
    assert row["attempts"] == 1
    assert row["next_attempt_at"] == 17.0 + 5.0  # the first retry, 5 s later
    async with database.write() as conn:
        assert await webhook_db.lease_due(conn, 21.0, 5.0, 10) == []
        assert len(await webhook_db.lease_due(conn, 22.0, 5.0, 10)) == 1


async def test_an_endpoint_failing_for_too_long_is_disabled(database: Database) -> None:
    token = await make_account(database)
    endpoint_id = await endpoint(database, token.account_id, BOTH)
    failing = Outcome(status=500, error=None, duration_ms=1)
    for n, now in enumerate([100.0, 150.0, 199.0, 200.0]):
        task = await make_task(database, token)
        async with database.write() as conn:
            assert await task_db.apply_transition(conn, task, Event.FAILED, now)
            (delivery,) = await webhook_db.lease_due(conn, now, 5.0, 1)
            state = await webhook_db.record_attempt(
                conn, delivery, failing, now, time_scale=1.0, disable_after=100.0
            )
            found = await endpoint_db.get_endpoint(conn, endpoint_id)
        assert found is not None
        assert found["enabled"] is (n < 3), n
        assert state == ("pending" if n < 3 else "failed")
    states = [r["state"] for r in await deliveries(database)]
    assert states == ["failed"] * 4  # the pending ones fail with the endpoint

    async with database.write() as conn:
        assert await endpoint_db.update_endpoint(conn, endpoint_id, None, 300.0, enabled=True)
        found = await endpoint_db.get_endpoint(conn, endpoint_id)
    assert found is not None
    assert found["failing_since"] is None
    assert found["disabled_reason"] is None
