"""The engine against the real simulator over loopback HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.fernet import Fernet

from tests.factories import balance, make_account, make_channel, make_task, spec
from tests.helpers import png_bytes, server_thread
from veorelay.channels.clients import ChannelClients
from veorelay.core.images import image_from_bytes
from veorelay.core.lifecycle import TaskState
from veorelay.core.models import AspectRatio, Resolution
from veorelay.db import tasks as task_db
from veorelay.db.database import Database
from veorelay.db.tasks import Task
from veorelay.engine.dispatch import dispatch
from veorelay.engine.worker import Engine
from veorelay.media.probe import probe
from veorelay.secretbox import SecretBox
from veorelay.simulator.app import SimulatorConfig, create_simulator_app
from veorelay.storage.filesystem import FilesystemStorage
from veorelay.upstream.base import UpstreamClient
from veorelay.upstream.gemini import GeminiClient

UPSTREAM_KEY = "AIzaSy-test-upstream-key-never-shown"
SCALE = 0.004


@dataclass
class Rig:
    db: Database
    storage: FilesystemStorage
    sim_dir: Path
    http: httpx.AsyncClient
    base_url: str
    box: SecretBox

    def clients(self) -> ChannelClients:
        return ChannelClients(self.db, self.box, self.http)

    async def channel(self, *keys: str, name: str = "sim", **fields: Any) -> None:
        await make_channel(self.db, self.box, name, self.base_url, list(keys), **fields)

    async def engine(
        self, *keys: str, clients: ChannelClients | None = None, **options: Any
    ) -> Engine:
        """An engine; with `keys`, first a channel of them (else the channels already made)."""
        async with self.db.read() as conn:
            from veorelay.db import channels as channel_db

            have = await channel_db.list_channels(conn)
        if keys or not have:
            await self.channel(*(keys or (UPSTREAM_KEY,)), name=f"sim-{len(have)}")
        settings: dict[str, Any] = {
            "time_scale": SCALE,
            "lease_seconds": 5.0,
            "tick_seconds": 0.05,
            **options,
        }
        return Engine(self.db, self.storage, clients or self.clients(), **settings)

    async def task(self, task_id: str) -> Task:
        async with self.db.read() as conn:
            found = await task_db.get_task(conn, task_id)
        assert found is not None
        return found

    def submissions(self) -> int:
        return len(list((self.sim_dir / "operations").glob("*.json")))


@pytest.fixture
def simulator(tmp_path: Path, render_cache: Path) -> Iterator[tuple[str, Path]]:
    sim_dir = tmp_path / "sim"
    config = SimulatorConfig(
        data_dir=sim_dir,
        time_scale=SCALE,
        api_keys=frozenset({UPSTREAM_KEY}),
        render_dir=render_cache,
    )
    with server_thread(create_simulator_app(config)) as url:
        yield url, sim_dir


@pytest.fixture
async def rig(
    database: Database, simulator: tuple[str, Path], tmp_path: Path
) -> AsyncIterator[Rig]:
    url, sim_dir = simulator
    async with httpx.AsyncClient(timeout=30) as http:
        yield Rig(
            database,
            FilesystemStorage(tmp_path / "videos"),
            sim_dir,
            http,
            url,
            SecretBox(Fernet.generate_key()),
        )


async def test_a_task_completes_with_a_verified_file_and_is_charged(rig: Rig) -> None:
    token = await make_account(rig.db, balance=1_000_000)
    created = await make_task(rig.db, token, spec(seconds=6, aspect=AspectRatio.PORTRAIT))
    await (await rig.engine()).run_until_idle(max_seconds=60)
    task = await rig.task(created.id)
    assert task.state is TaskState.COMPLETED
    assert task.storage_key is not None
    path = rig.storage.root / task.storage_key
    info = probe(path)
    assert (info.width, info.height, round(info.duration)) == (720, 1280, 6)
    assert info.has_audio
    assert task.file_bytes == path.stat().st_size
    assert task.completed_at is not None
    assert task.expires_at == task.completed_at + 7 * 24 * 3600  # the default retention
    assert await balance(rig.db, token.account_id) == 700_000
    assert rig.submissions() == 1


async def test_image_to_video_sends_the_image(rig: Rig) -> None:
    token = await make_account(rig.db)
    created = await make_task(rig.db, token, spec(image=image_from_bytes(png_bytes())))
    await (await rig.engine()).run_until_idle(max_seconds=60)
    assert (await rig.task(created.id)).state is TaskState.COMPLETED


@pytest.mark.parametrize(
    ("marker", "code"),
    [("[sim:rai]", "content_policy_violation"), ("[sim:fail]", "generation_failed")],
)
async def test_failed_and_filtered_tasks_are_not_billed(rig: Rig, marker: str, code: str) -> None:
    token = await make_account(rig.db, balance=1_000_000)
    created = await make_task(rig.db, token, spec(prompt=f"a storm {marker}"))
    await (await rig.engine()).run_until_idle(max_seconds=60)
    task = await rig.task(created.id)
    assert task.state is TaskState.FAILED
    assert task.error_code == code
    assert task.error_message
    assert await balance(rig.db, token.account_id) == 1_000_000


async def test_rate_limited_submit_is_retried(rig: Rig) -> None:
    token = await make_account(rig.db)
    created = await make_task(rig.db, token, spec(prompt="busy [sim:429once]"))
    engine = await rig.engine()
    await engine.run_until_idle(max_seconds=60)
    task = await rig.task(created.id)
    assert task.state is TaskState.COMPLETED
    assert task.submits == 2  # the 429, then the retry


async def test_a_task_past_its_deadline_fails_unbilled(rig: Rig) -> None:
    token = await make_account(rig.db, balance=1_000_000)
    created = await make_task(rig.db, token, spec(prompt="never [sim:429]"), deadline_in=2.0)
    await (await rig.engine()).run_until_idle(max_seconds=60)
    task = await rig.task(created.id)
    assert task.state is TaskState.FAILED
    assert task.error_code == "upstream_capacity"  # the cause, not a bare timeout
    assert "429" in (task.error_message or "")
    assert await balance(rig.db, token.account_id) == 1_000_000


async def test_unknown_upstream_key_fails_the_task_without_showing_it(
    rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    token = await make_account(rig.db, balance=1_000_000)
    created = await make_task(rig.db, token)
    wrong_key = "AIzaSy-wrong-key-must-not-leak"
    with caplog.at_level(logging.DEBUG):
        await (await rig.engine(wrong_key)).run_until_idle(max_seconds=60)
    task = await rig.task(created.id)
    assert task.state is TaskState.FAILED
    assert task.error_code == "upstream_credentials"
    assert "operator" in (task.error_message or "")  # Google's words are for the operator
    assert wrong_key not in (task.error_message or "")
    assert wrong_key not in caplog.text
    assert await balance(rig.db, token.account_id) == 1_000_000


async def test_keys_never_reach_the_log(rig: Rig, caplog: pytest.LogCaptureFixture) -> None:
    token = await make_account(rig.db)
    await make_task(rig.db, token)
    with caplog.at_level(logging.DEBUG):
        await (await rig.engine()).run_until_idle(max_seconds=60)
    assert caplog.records  # the engine did log
    assert UPSTREAM_KEY not in caplog.text


async def test_a_crashed_workers_task_is_picked_up(rig: Rig) -> None:
    token = await make_account(rig.db)
    created = await make_task(rig.db, token, spec(resolution=Resolution.P1080, seconds=8))
    # (1080p: the slowest common render, so the dead worker's lease matters)
    engine = await rig.engine()
    await dispatch(rig.db, time.time(), 1, 0.05)
    async with rig.db.write() as conn:  # a worker leases it, then dies without a word
        assert await task_db.lease_due(conn, time.time(), lease_seconds=0.3, limit=1)
    await engine.run_until_idle(max_seconds=60)
    assert (await rig.task(created.id)).state is TaskState.COMPLETED
    assert rig.submissions() == 1


async def test_two_engines_share_work_without_double_submits(rig: Rig) -> None:
    import asyncio

    token = await make_account(rig.db)
    created = [await make_task(rig.db, token, spec(prompt="one scene")) for _ in range(6)]
    one, two = await rig.engine(), await rig.engine()
    await asyncio.gather(one.run_until_idle(60), two.run_until_idle(60))
    for task in created:
        assert (await rig.task(task.id)).state is TaskState.COMPLETED
    assert rig.submissions() == 6


@pytest.mark.timeout(60)
async def test_a_busy_engine_never_starves_the_event_loop(rig: Rig) -> None:
    import asyncio

    token = await make_account(rig.db)
    created = [await make_task(rig.db, token, spec(prompt="queue up")) for _ in range(6)]
    engine = await rig.engine(concurrency=1)
    runner = asyncio.create_task(engine.run_forever())
    try:
        lags = []
        for _ in range(20):  # while the single slot is busy and five more tasks are due
            start = time.perf_counter()
            await asyncio.sleep(0.01)
            lags.append(time.perf_counter() - start)
        assert max(lags) < 0.5, lags
        deadline = time.monotonic() + 45
        for task in created:
            while (await rig.task(task.id)).state is not TaskState.COMPLETED:
                assert time.monotonic() < deadline
                await asyncio.sleep(0.05)
    finally:
        engine.stop()
        await runner


async def test_a_rejected_key_is_benched_and_the_next_one_used(rig: Rig) -> None:
    token = await make_account(rig.db, balance=10_000_000)
    created = [await make_task(rig.db, token, spec(prompt=f"pool {i}")) for i in range(4)]
    engine = await rig.engine("AIzaSy-revoked-key", UPSTREAM_KEY)  # one project, two keys
    await engine.run_until_idle(max_seconds=60)
    for task in created:
        assert (await rig.task(task.id)).state is TaskState.COMPLETED
    assert rig.submissions() == 4


async def test_shutdown_lets_a_submit_in_flight_finish(rig: Rig) -> None:
    import asyncio

    token = await make_account(rig.db)
    created = await make_task(rig.db, token)
    started, release = asyncio.Event(), asyncio.Event()

    class SlowSubmit(GeminiClient):
        async def submit(self, *args: Any, **kwargs: Any) -> Any:
            started.set()
            await release.wait()  # Google is slow to answer while we shut down
            return await super().submit(*args, **kwargs)

    class SlowClients(ChannelClients):
        def client(self, channel: Any) -> UpstreamClient:
            return SlowSubmit(rig.http, rig.base_url, [UPSTREAM_KEY])

    engine = await rig.engine(clients=SlowClients(rig.db, rig.box, rig.http))
    runner = asyncio.create_task(engine.run_forever())
    await started.wait()
    engine.stop()
    await asyncio.sleep(0.05)
    release.set()
    await runner
    task = await rig.task(created.id)
    assert task.state is TaskState.RUNNING  # the accepted operation was recorded
    assert task.operation_name is not None
    assert rig.submissions() == 1


@pytest.mark.timeout(120)
async def test_stopping_the_engine_at_any_moment_leaves_the_database_writable(rig: Rig) -> None:
    """Stop lands between transactions, never inside one: on SQLite a cancellation inside a
    statement left the write lock held until garbage collection, past the busy timeout."""
    import asyncio

    token = await make_account(rig.db, balance=10_000_000)
    created = [await make_task(rig.db, token, spec(prompt=f"stop {i}")) for i in range(4)]
    await rig.engine()  # its channel
    for attempt in range(150):  # a cancellation inside a statement would lock within these
        delay = (attempt % 50) / 1000
        engine = await rig.engine(maintenance_seconds=0.0)  # a retention round every pass
        runner = asyncio.create_task(engine.run_forever())
        await asyncio.sleep(delay)
        engine.stop()
        await asyncio.wait_for(runner, timeout=30)
        started = time.monotonic()
        async with rig.db.write() as conn:  # e.g. the operator's next change
            await task_db.get_task(conn, created[0].id)
        assert time.monotonic() - started < 2.0
    await (await rig.engine()).run_until_idle(max_seconds=60)
    for task in created:
        assert (await rig.task(task.id)).state is TaskState.COMPLETED


def test_stale_partial_downloads_are_swept(tmp_path: Path) -> None:
    import os

    from veorelay.engine.worker import STALE_SPOOL_SECONDS, sweep_spool

    now = time.time()
    stale, fresh, kept = tmp_path / "a.part", tmp_path / "b.part", tmp_path / "c.mp4"
    for path in (stale, fresh, kept):
        path.write_bytes(b"x")
        os.utime(path, (now - 2 * STALE_SPOOL_SECONDS,) * 2)
    os.utime(fresh, (now - 10,) * 2)  # another live worker's download in progress
    assert sweep_spool(tmp_path, now) == 1
    assert (stale.exists(), fresh.exists(), kept.exists()) == (False, True, True)


async def test_the_engine_stops_when_cancelled_as_it_is_woken(rig: Rig) -> None:
    import asyncio

    engine = await rig.engine(tick_seconds=5.0)
    runner = asyncio.create_task(engine.run_forever())
    await asyncio.sleep(0.3)  # idle: nothing due, waiting for a wake-up or the next tick
    engine.wake()  # e.g. a task created in this process, just as the server shuts down
    runner.cancel()
    done, _ = await asyncio.wait({runner}, timeout=3)
    assert runner in done  # the cancellation was not swallowed
    assert runner.cancelled()
