"""The pool: fair dispatch, channel limits, faults moving work between channels, health and
upstream cost. The engine against real simulators over loopback, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from cryptography.fernet import Fernet

from tests.factories import FAST, balance, make_account, make_channel, make_task, spec
from tests.helpers import free_port, server_thread
from veorelay.api import views
from veorelay.channels.clients import ChannelClients
from veorelay.core.channels import UNREACHABLE_AFTER_FAULTS, Health
from veorelay.core.lifecycle import TaskState
from veorelay.db import channels as channel_db
from veorelay.db import tasks as task_db
from veorelay.db import usage
from veorelay.db.database import Database
from veorelay.db.tables import tasks
from veorelay.db.usage import UsageFilter
from veorelay.engine.worker import Engine
from veorelay.secretbox import SecretBox
from veorelay.simulator.app import SimulatorConfig, create_simulator_app
from veorelay.storage.filesystem import FilesystemStorage

KEY = "AIzaSy-channel-test-key-never-shown"
NEW_KEY = "AIzaSy-channel-test-rotated-key"  # the same Google project as KEY
SCALE = 0.004
RETIRED = "veo-3.0-fast-generate-001"


@pytest.fixture
def simulator_url(tmp_path: Path, render_cache: Path) -> Iterator[str]:
    config = SimulatorConfig(
        data_dir=tmp_path / "sim",
        time_scale=SCALE,
        api_keys=frozenset({KEY, NEW_KEY}),
        api_key_projects={KEY: "one-project", NEW_KEY: "one-project"},
        retired_models=frozenset({RETIRED}),
        render_dir=render_cache,
        cheap_renders=True,  # hundreds of prompts, a handful of renders
    )
    with server_thread(create_simulator_app(config)) as url:
        yield url


class Pool:
    def __init__(self, db: Database, url: str, tmp_path: Path, http: httpx.AsyncClient):
        self.db = db
        self.url = url
        self.box = SecretBox(Fernet.generate_key())
        self.storage = FilesystemStorage(tmp_path / "videos")
        self.http = http

    async def channel(self, name: str, key: str = KEY, **fields: object) -> str:
        return (await make_channel(self.db, self.box, name, self.url, [key], **fields)).id

    def engine(self, **options: float) -> Engine:
        settings: dict[str, float] = {
            "time_scale": SCALE,
            "lease_seconds": 5.0,
            "tick_seconds": 0.05,
            **options,
        }
        clients = ChannelClients(self.db, self.box, self.http)
        return Engine(self.db, self.storage, clients, **settings)  # type: ignore[arg-type]

    async def tasks(self) -> list[task_db.Task]:
        async with self.db.read() as conn:
            rows = await conn.execute(tasks.select())
            return [task_db.Task.from_row(row) for row in rows]

    async def channel_row(self, channel_id: str) -> channel_db.Channel:
        async with self.db.read() as conn:
            found = await channel_db.get_channel(conn, channel_id)
        assert found is not None
        return found


@pytest.fixture
async def pool(database: Database, simulator_url: str, tmp_path: Path) -> AsyncIterator[Pool]:
    async with httpx.AsyncClient(timeout=30) as http:
        yield Pool(database, simulator_url, tmp_path, http)


async def test_one_accounts_burst_does_not_starve_anothers_single_task(pool: Pool) -> None:
    await pool.channel("only", max_concurrent=5)
    busy = await make_account(pool.db, balance=100_000_000)
    patient = await make_account(pool.db)
    for i in range(100):
        await make_task(pool.db, busy, spec(prompt=f"burst {i}"), deadline_in=600)
    single = await make_task(pool.db, patient, spec(prompt="just one"), deadline_in=600)
    await pool.engine().run_until_idle(max_seconds=240)
    done = sorted(await pool.tasks(), key=lambda t: t.submitted_at or 0.0)
    assert [t for t in done if t.state is not TaskState.COMPLETED] == []
    position = [t.id for t in done].index(single.id)
    assert position <= 5, f"submitted {position + 1}th of 101"


async def test_no_channel_ever_exceeds_its_concurrency_even_with_two_engines(pool: Pool) -> None:
    first = await pool.channel("a", max_concurrent=2)
    second = await pool.channel("b", max_concurrent=1, priority=1)
    token = await make_account(pool.db, balance=100_000_000)
    for i in range(10):
        await make_task(pool.db, token, spec(prompt=f"load {i}"))
    seen: dict[str, int] = {}
    running = True

    async def sample() -> None:
        while running:
            async with pool.db.read() as conn:
                for cid, n in (await channel_db.in_flight(conn)).items():
                    seen[cid] = max(seen.get(cid, 0), n)
            await asyncio.sleep(0.005)

    sampler = asyncio.create_task(sample())
    try:  # two engines dispatch at once: the counts come from the database, under a lock
        await asyncio.gather(
            pool.engine().run_until_idle(max_seconds=120),
            pool.engine().run_until_idle(max_seconds=120),
        )
    finally:
        running = False
        await sampler
    assert all(t.state is TaskState.COMPLETED for t in await pool.tasks())
    assert seen[first] <= 2
    assert seen[second] == 1  # used (highest priority), never beyond its one slot
    assert {t.channel_id for t in await pool.tasks()} == {first, second}


async def test_refused_credentials_disable_the_channel_and_the_work_moves(
    pool: Pool, caplog: pytest.LogCaptureFixture
) -> None:
    revoked = "AIzaSy-revoked-channel-key-must-not-leak"
    bad = await pool.channel("bad", key=revoked, priority=5)
    good = await pool.channel("good")
    token = await make_account(pool.db, balance=100_000_000)
    for i in range(4):
        await make_task(pool.db, token, spec(prompt=f"moves {i}"))
    with caplog.at_level(logging.DEBUG):
        await pool.engine().run_until_idle(max_seconds=120)
    finished = await pool.tasks()
    assert all(t.state is TaskState.COMPLETED and t.channel_id == good for t in finished)
    channel = await pool.channel_row(bad)
    assert channel.health is Health.CREDENTIALS
    assert channel.last_error
    assert "API key not valid" in channel.last_error
    assert "channel bad: credentials refused" in caplog.text
    assert revoked not in caplog.text
    async with pool.db.read() as conn:
        kinds = [e["kind"] for e in await channel_db.recent_events(conn, bad)]
    assert "credentials_refused" in kinds


async def test_the_last_channel_refusing_credentials_fails_the_task_unbilled(pool: Pool) -> None:
    await pool.channel("only", key="AIzaSy-wrong")
    token = await make_account(pool.db, balance=1_000_000)
    created = await make_task(pool.db, token)
    await pool.engine().run_until_idle(max_seconds=60)
    (task,) = await pool.tasks()
    assert (task.id, task.state, task.error_code) == (
        created.id,
        TaskState.FAILED,
        "upstream_credentials",
    )
    assert await balance(pool.db, token.account_id) == 1_000_000


async def test_a_retired_model_is_marked_unavailable_and_the_task_moves(pool: Pool) -> None:
    old = await pool.channel("old", models={FAST: RETIRED}, priority=5)
    new = await pool.channel("new")
    token = await make_account(pool.db)
    await make_task(pool.db, token)
    await pool.engine().run_until_idle(max_seconds=60)
    (task,) = await pool.tasks()
    assert (task.state, task.channel_id) == (TaskState.COMPLETED, new)
    assert task.upstream_model == FAST
    retired = (await pool.channel_row(old)).models[FAST]
    assert not retired.available
    assert retired.unavailable_reason
    assert "no longer available" in retired.unavailable_reason


async def test_a_model_no_channel_can_serve_fails_with_model_unavailable(pool: Pool) -> None:
    await pool.channel("old", models={FAST: RETIRED})
    token = await make_account(pool.db, balance=1_000_000)
    await make_task(pool.db, token)
    await pool.engine().run_until_idle(max_seconds=60)
    (task,) = await pool.tasks()
    assert (task.state, task.error_code) == (TaskState.FAILED, "model_unavailable")
    assert RETIRED in (task.error_message or "") or "no longer available" in (
        task.error_message or ""
    )
    assert await balance(pool.db, token.account_id) == 1_000_000


async def test_completed_tasks_record_the_upstream_cost(pool: Pool) -> None:
    channel = await pool.channel("priced")
    token = await make_account(pool.db)
    await make_task(pool.db, token, spec(seconds=6), price=1_500_000)
    await make_task(pool.db, token, spec(prompt="refused [sim:fail]"), price=1_500_000)
    await pool.engine().run_until_idle(max_seconds=60)
    done = next(t for t in await pool.tasks() if t.state is TaskState.COMPLETED)
    assert done.upstream_cost_micros == 6 * 150_000  # Veo 3.1 Fast, 720p, Google's list price
    async with pool.db.read() as conn:
        (row,) = await usage.summary(conn, UsageFilter(), "channel")
        (by_model,) = await usage.summary(conn, UsageFilter(channel_id=channel), "model")
    assert (row["key"], row["tasks"], row["completed"]) == (channel, 2, 1)
    assert (row["charged_micros"], row["upstream_cost_micros"]) == (1_500_000, 900_000)
    assert row["margin_micros"] == by_model["margin_micros"] == 600_000


async def test_a_rate_limited_task_says_it_waits_for_capacity(pool: Pool) -> None:
    channel = await pool.channel("busy")
    token = await make_account(pool.db)
    created = await make_task(pool.db, token, spec(prompt="always busy [sim:429]"))
    engine = pool.engine()
    runner = asyncio.create_task(engine.run_forever())
    try:
        deadline = time.monotonic() + 20
        while True:
            (task,) = await pool.tasks()
            if task.state is TaskState.QUEUED and task.wait_reason:
                break
            assert time.monotonic() < deadline
            await asyncio.sleep(0.02)
    finally:
        engine.stop()
        await runner
    assert task.id == created.id
    video = views.video(task, time.time())
    assert video.status == "queued"
    assert video.status_detail
    assert "capacity" in video.status_detail
    assert views.poll_after_ms(task) == 2 * views.poll_after_ms(  # type: ignore[operator]
        task.__class__(**{**task.__dict__, "wait_reason": None})
    )
    row = await pool.channel_row(channel)
    assert row.health is Health.COOLING or row.cooling_until is not None


async def test_an_unreachable_channel_is_taken_out_and_probed_back(pool: Pool) -> None:
    dead_port = free_port()
    dead = await make_channel(
        pool.db, pool.box, "dead", f"http://127.0.0.1:{dead_port}", [KEY], priority=5
    )
    live = await pool.channel("live")
    token = await make_account(pool.db, balance=100_000_000)
    for i in range(UNREACHABLE_AFTER_FAULTS + 2):
        await make_task(pool.db, token, spec(prompt=f"retry {i}"))
    await pool.engine(maintenance_seconds=3600).run_until_idle(max_seconds=120)
    assert all(t.state is TaskState.COMPLETED for t in await pool.tasks())
    assert {t.channel_id for t in await pool.tasks()} == {live}
    assert (await pool.channel_row(dead.id)).health is Health.UNREACHABLE
    # The service comes back at that address: the next probe re-enables the channel.
    async with pool.db.write() as conn:
        await channel_db.update_channel(conn, dead.id, base_url=pool.url, updated_at=time.time())
    engine = pool.engine(maintenance_seconds=0.01)
    await engine._maintain()
    restored = await pool.channel_row(dead.id)
    assert restored.health is Health.HEALTHY
    async with pool.db.read() as conn:
        kinds = [e["kind"] for e in await channel_db.recent_events(conn, dead.id)]
    assert kinds[0] == "healthy"
    assert "unreachable" in kinds


async def test_a_rotated_key_still_polls_the_operations_its_predecessor_started(
    pool: Pool,
) -> None:
    channel = await pool.channel("rotating")
    token = await make_account(pool.db)
    created = await make_task(pool.db, token, spec(prompt="outlives its key"))
    engine = pool.engine()
    runner = asyncio.create_task(engine.run_forever())
    try:
        deadline = time.monotonic() + 20
        while (await pool.tasks())[0].state is not TaskState.RUNNING:
            assert time.monotonic() < deadline
            await asyncio.sleep(0.01)
    finally:
        engine.stop()
        await runner
    async with pool.db.write() as conn:  # the operator replaces the key meanwhile
        await channel_db.update_channel(
            conn, channel, secret=pool.box.seal({"api_keys": [NEW_KEY]}), updated_at=time.time()
        )
    await pool.engine().run_until_idle(max_seconds=60)
    (task,) = await pool.tasks()
    assert (task.id, task.state) == (created.id, TaskState.COMPLETED)
    assert (await pool.channel_row(channel)).health is Health.HEALTHY


async def test_the_simulator_channel_never_comes_back_by_itself(
    database: Database, tmp_path: Path
) -> None:
    from veorelay.channels.seed import seed_channels
    from veorelay.settings import Settings

    box = SecretBox(Fernet.generate_key())
    settings = Settings(data_dir=tmp_path, gemini_api_key=[])
    async with database.write() as conn:  # a fresh install: the built-in simulator serves
        assert await seed_channels(conn, settings, box, [FAST], time.time())
    real = await make_channel(database, box, "real", "http://127.0.0.1:9", [KEY])
    async with database.write() as conn:
        simulator = await channel_db.find_channel(conn, "simulator")
        assert simulator is not None
        await channel_db.update_channel(conn, simulator.id, enabled=False)
        await channel_db.update_channel(conn, real.id, enabled=False)  # e.g. rotating its key
        # A restart with every channel off must not hand customers synthetic videos.
        assert not await seed_channels(conn, settings, box, [FAST], time.time())
        assert not (await channel_db.find_channel(conn, "simulator")).enabled  # type: ignore[union-attr]
