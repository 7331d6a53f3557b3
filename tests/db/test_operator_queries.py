"""Catalog, token settings, redemption and usage queries, on SQLite and PostgreSQL alike."""

from __future__ import annotations

import asyncio
import time

import pytest

from tests.factories import balance, make_account, make_task
from veorelay.core.lifecycle import Event, TaskState
from veorelay.core.models import Resolution
from veorelay.core.pricing import ModelPrice
from veorelay.db import accounts, catalog, redemption, usage
from veorelay.db import tasks as task_db
from veorelay.db.database import Database
from veorelay.db.usage import UsageFilter
from veorelay.errors import InvalidRequest, NotFound


async def test_catalog_round_trip(database: Database) -> None:
    async with database.write() as conn:
        await catalog.seed_models(conn, {"a": 300_000, "b": 1_200_000}, 1.0)
        await catalog.set_model_price(
            conn, ModelPrice("a", 250_000, {Resolution.K4: 90_000}, True), 2.0
        )
        await catalog.seed_models(conn, {"a": 1, "c": 5}, 3.0)  # never overwrites
        await catalog.set_group(conn, "vip", 800_000, "VIP", 4.0)
    async with database.read() as conn:
        table = await catalog.model_price_table(conn)
        groups = await catalog.group_multipliers(conn)
    assert table["a"] == ModelPrice("a", 250_000, {Resolution.K4: 90_000}, True)
    assert table["c"].per_call_micros == 5
    assert groups == {"default": 1_000_000, "vip": 800_000}


async def test_token_settings_round_trip(database: Database) -> None:
    token = await make_account(database)
    async with database.write() as conn:
        assert await accounts.update_token(
            conn,
            token.token_id,
            allowed_models=["m1", "m2"],
            ip_allowlist=["10.0.0.0/8"],
            rpm_limit=5,
            billing_mode="pay_as_you_go",
            spend_limit_micros=2_000_000,
        )
    async with database.read() as conn:
        identity = await accounts.find_token(conn, token.secret)
        listed = await accounts.list_tokens(conn, token.account_id)
    assert identity is not None
    assert identity.settings.allowed_models == ["m1", "m2"]
    assert identity.policy.ip_allowlist == ["10.0.0.0/8"]
    assert identity.settings.billing_mode.value == "pay_as_you_go"
    assert "secret_hash" not in listed[0]


async def test_redemption_credits_once_under_concurrency(database: Database) -> None:
    async with database.write() as conn:
        _, (code,) = await redemption.create_batch(conn, 1_000_000, 1, None, time.time())
    claimants = [await make_account(database, balance=0) for _ in range(4)]

    async def attempt(account_id: str) -> bool:
        try:
            async with database.write() as conn:
                await redemption.redeem(conn, account_id, code, time.time())
            return True
        except InvalidRequest:
            return False

    wins = await asyncio.gather(*(attempt(c.account_id) for c in claimants for _ in range(3)))
    assert wins.count(True) == 1
    assert sum([await balance(database, c.account_id) for c in claimants]) == 1_000_000
    with pytest.raises(NotFound):
        async with database.write() as conn:
            await redemption.redeem(conn, claimants[0].account_id, "vr-unknown", time.time())


async def test_usage_pages_and_summary(database: Database) -> None:
    token = await make_account(database)
    now = time.time()
    made = [await make_task(database, token, now=now + i) for i in range(3)]
    async with database.write() as conn:
        await task_db.apply_transition(conn, made[0], Event.FAILED, now + 5, error_code="x")
        await task_db.mark_deleted(conn, made[1], now + 6)  # cancelled by its client
    where = UsageFilter(account_id=token.account_id)
    async with database.read() as conn:
        page, more = await usage.usage_page(conn, where, after=None, limit=2)
        rest, _ = await usage.usage_page(conn, where, after=page[-1]["id"], limit=2)
        by_day = await usage.summary(conn, where, "day")
        by_model = await usage.summary(conn, where, "model")
    assert [r["id"] for r in page + rest] == [t.id for t in reversed(made)]
    assert more
    assert page[0]["charged_micros"] == 0  # nothing completed yet
    assert sum(r["tasks"] for r in by_day) == 3
    assert by_model[0]["failed"] == 1
    assert by_model[0]["cancelled"] == 1
    failed = rest[-1]
    assert (failed["state"], failed["error_code"], failed["finished_at"]) == (
        "failed",
        "x",
        now + 5,
    )
    assert failed["total_seconds"] == 5.0  # never submitted: no queue or render time
    assert (failed["queued_seconds"], failed["render_seconds"]) == (None, None)
    async with database.read() as conn:
        only_cancelled, _ = await usage.usage_page(
            conn, UsageFilter(state=TaskState.CANCELLED), after=None, limit=10
        )
    assert [r["id"] for r in only_cancelled] == [made[1].id]


async def test_a_deleted_default_model_is_not_seeded_again(database: Database) -> None:
    now = time.time()
    async with database.write() as conn:
        await catalog.seed_models(conn, {"veo-a": 300_000, "veo-b": 1_200_000}, now)
        assert await catalog.delete_model(conn, "veo-a", now)
        assert not await catalog.delete_model(conn, "veo-a", now)  # already gone
        await catalog.seed_models(conn, {"veo-a": 300_000, "veo-b": 1_200_000}, now)  # restart
    async with database.read() as conn:
        assert set(await catalog.model_price_table(conn)) == {"veo-b"}


async def test_an_account_is_deleted_only_with_no_money_and_nothing_in_progress(
    database: Database,
) -> None:
    from veorelay import billing
    from veorelay.errors import Conflict

    token = await make_account(database, balance=300_000)
    task = await make_task(database, token, price=300_000)  # balance 0, one video in progress
    with pytest.raises(Conflict) as busy:
        async with database.write() as conn:
            await accounts.delete_account(conn, token.account_id, time.time())
    assert busy.value.code == "account_busy"
    async with database.read() as conn:  # the refusal rolled the token deletes back too
        assert [t["id"] for t in await accounts.list_tokens(conn, token.account_id)] == [
            token.token_id
        ]
    async with database.write() as conn:
        await task_db.apply_transition(conn, task, Event.FAILED, time.time(), error_code="x")
    with pytest.raises(Conflict) as rich:  # the release brought the $0.30 back
        async with database.write() as conn:
            await accounts.delete_account(conn, token.account_id, time.time())
    assert rich.value.code == "account_has_balance"
    async with database.write() as conn:
        await billing.adjust(conn, token.account_id, -300_000, time.time())
        assert await accounts.delete_account(conn, token.account_id, time.time())
    async with database.read() as conn:
        assert await accounts.get_account(conn, token.account_id) is None
        assert await accounts.find_token(conn, token.secret) is None
    with pytest.raises(NotFound):  # its balance can no longer move
        async with database.write() as conn:
            await billing.credit(conn, token.account_id, 1_000_000, "redemption", time.time())


async def test_deleting_an_account_while_it_creates_does_not_deadlock(database: Database) -> None:
    import asyncio

    from veorelay.errors import Conflict

    token = await make_account(database, balance=10**12)

    async def create_many() -> None:
        for _ in range(30):
            await make_task(database, token)

    async def try_deleting() -> None:
        for _ in range(30):
            with pytest.raises(Conflict):  # money on it: refused, never a deadlock
                async with database.write() as conn:
                    await accounts.delete_account(conn, token.account_id, time.time())

    await asyncio.gather(create_many(), create_many(), try_deleting())
