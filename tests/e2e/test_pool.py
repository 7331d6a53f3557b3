"""The pool under stress, as in production but scaled down: many tasks over several channels
of a simulator injecting faults and enforcing Google-like limits; kill -9 of the gateway mid-
run; a key revoked mid-run. The simulator's own counters prove the limits held."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import (
    Gateway,
    assert_ledger_balanced,
    gateway_env,
    start_gateway,
    start_simulator,
)
from tests.helpers import Process

FAST = "veo-3.1-fast-generate-preview"
KEYS = [f"AIzaSy-pool-key-{i}-0123456789" for i in range(5)]
CONCURRENT = 5
TERMINAL = ("completed", "failed", "cancelled")
# What a task may legitimately fail with when the simulator injects operation faults.
FAULT_CODES = {"generation_failed", "content_policy_violation", "invalid_video"}

pytestmark = [pytest.mark.faults, pytest.mark.timeout(900)]


def cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "veorelay", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )


def add_channels(env: dict[str, str], url: str, keys: list[str], *limits: str) -> None:
    for i, key in enumerate(keys):
        cli(env, "channel", "add", "--name", f"pool-{i}", "--kind", "gemini", "--api-key", key,
            "--base-url", url, *limits)  # fmt: skip


def create(gateway: Gateway, token: str, prompt: str) -> str:
    for _ in range(100):  # a restarting gateway refuses connections for a moment
        try:
            response = httpx.post(
                f"{gateway.url}/v1/videos",
                headers={"Authorization": f"Bearer {token}"},
                json={"model": FAST, "prompt": prompt, "seconds": "4", "size": "1280x720"},
                timeout=30,
            )
        except httpx.TransportError:
            time.sleep(0.1)
            continue
        assert response.status_code == 200, response.text
        video_id: str = response.json()["id"]
        return video_id
    raise AssertionError("the gateway never took the create")


def wait_terminal(gateway: Gateway, ids: list[str], seconds: float) -> dict[str, tuple[str, str]]:
    """{id: (state, error code)} once every task has ended."""
    deadline = time.monotonic() + seconds
    while True:
        rows = gateway.query("SELECT id, state, error_code FROM tasks")
        states = {str(row[0]): (str(row[1]), str(row[2])) for row in rows}
        if all(states.get(i, ("", ""))[0] in TERMINAL for i in ids):
            return states
        pending = [i for i in ids if states.get(i, ("", ""))[0] not in TERMINAL]
        assert time.monotonic() < deadline, f"{len(pending)} tasks still active: {pending[:3]}"
        time.sleep(0.2)


def stats(url: str) -> dict[str, object]:
    found: dict[str, object] = httpx.get(f"{url}/_simulator/stats", timeout=10).json()
    return found


def assert_settled_once(gateway: Gateway, states: dict[str, tuple[str, str]]) -> None:
    """Each completed task captured once, each failed one released once, no hold left over."""
    rows = gateway.query(
        "SELECT task_id, kind, count(*) FROM ledger WHERE task_id IS NOT NULL "
        "GROUP BY task_id, kind"
    )
    kinds: dict[str, dict[str, int]] = {}
    for task_id, kind, n in rows:
        kinds.setdefault(str(task_id), {})[str(kind)] = int(str(n))
    for task_id, (state, _) in states.items():
        expected = "capture" if state == "completed" else "release"
        assert kinds.get(task_id) == {"hold": 1, expected: 1}, (task_id, state, kinds.get(task_id))
    assert_ledger_balanced(gateway)


@pytest.fixture
def pool_dir(tmp_path: Path) -> Path:
    return tmp_path


def started(
    directory: Path, *simulator_args: str, keys: list[str] = KEYS
) -> tuple[Process, str, dict[str, str], Gateway]:
    simulator, url = start_simulator(directory, "0.01", "--cheap-renders", *simulator_args, *[
        arg for key in keys for arg in ("--api-key", key)
    ])  # fmt: skip
    data_dir = directory / "data"
    env = {
        **gateway_env(data_dir, None),
        "VEORELAY_LOG_LEVEL": "info",
    }
    add_channels(env, url, keys, "--max-concurrent", str(CONCURRENT), "--rpm", "8")
    return simulator, url, env, start_gateway(data_dir, env)


@pytest.fixture
def faulty_pool(pool_dir: Path) -> Iterator[tuple[str, Gateway]]:
    simulator, url, _, gateway = started(
        pool_dir,
        "--faults", "429=0.06,500=0.04,503=0.04,reset=0.04,truncate=0.05,error=0.02,rai=0.02",
        "--fault-seed", "8",
        "--rpm", "10",
        "--max-concurrent", str(CONCURRENT),
    )  # fmt: skip
    yield url, gateway
    gateway.process.stop()
    simulator.stop()


def test_200_tasks_over_5_keys_with_faults_end_right_and_keep_every_limit(
    faulty_pool: tuple[str, Gateway],
) -> None:
    url, gateway = faulty_pool
    token, _ = gateway.token(balance="100")
    with ThreadPoolExecutor(8) as pool:
        ids = list(pool.map(lambda i: create(gateway, token, f"pool scene {i}"), range(200)))
    states = wait_terminal(gateway, ids, seconds=600)
    outcomes = [states[i] for i in ids]
    completed = sum(1 for state, _ in outcomes if state == "completed")
    failed_codes = {code for state, code in outcomes if state == "failed"}
    assert failed_codes <= FAULT_CODES, failed_codes
    assert completed >= 150  # operation faults fail ~4%; everything else is retried
    assert_settled_once(gateway, {i: states[i] for i in ids})
    counters = stats(url)
    owners = counters["owners"]
    assert isinstance(owners, dict)
    assert len(owners) == 5
    for owner, numbers in owners.items():
        assert numbers["refused_for_limits"] == 0, (owner, numbers)
        assert numbers["max_concurrent_seen"] <= CONCURRENT, (owner, numbers)
    faults = counters["faults"]
    assert isinstance(faults, dict)
    assert sum(faults.values()) >= 20  # the faults really happened
    # Each channel was used: the dispatcher spread the work.
    used = gateway.query("SELECT count(DISTINCT channel_id) FROM tasks")
    assert used == [(5,)]


def test_kill_9_five_times_during_100_tasks_loses_nothing_and_bills_once(
    pool_dir: Path,
) -> None:
    simulator, url, env, gateway = started(pool_dir, keys=KEYS[:3])
    try:
        token, _ = gateway.token(balance="100")
        ids = [create(gateway, token, f"crash scene {i}") for i in range(100)]
        rng = random.Random(9)
        for _ in range(5):
            time.sleep(rng.uniform(0.3, 1.5))
            gateway.process.kill()
            gateway = start_gateway(gateway.data_dir, env)
        states = wait_terminal(gateway, ids, seconds=600)
        assert {states[i][0] for i in ids} == {"completed"}
        assert_settled_once(gateway, {i: states[i] for i in ids})
        counters = stats(url)
        totals = counters["totals"]
        assert isinstance(totals, dict)
        ((resubmits,),) = gateway.query("SELECT coalesce(sum(resubmits), 0) FROM tasks")
        # Google may only have rendered twice what a crash interrupted mid-submit.
        assert totals["duplicate_submits"] <= int(str(resubmits))
        assert totals["submits"] == 100 + totals["duplicate_submits"]
    finally:
        gateway.process.stop()
        simulator.stop()


def test_a_key_revoked_mid_run_disables_its_channel_and_work_moves(pool_dir: Path) -> None:
    simulator, url, env, gateway = started(pool_dir, keys=KEYS[:3])
    try:
        token, _ = gateway.token(balance="100")
        first = [create(gateway, token, f"before revoke {i}") for i in range(30)]
        time.sleep(0.5)
        httpx.post(f"{url}/_simulator/keys/revoke", json={"key": KEYS[1]}, timeout=10)
        later = [create(gateway, token, f"after revoke {i}") for i in range(30)]
        states = wait_terminal(gateway, first + later, seconds=600)
        channels = json.loads(cli(env, "channel", "list", "--json").stdout)["data"]
        health = {c["name"]: c["health"] for c in channels}
        assert health == {"pool-0": "healthy", "pool-1": "credentials", "pool-2": "healthy"}
        shown = cli(env, "channel", "show", "pool-1").stdout
        assert "API key not valid" in shown
        revoked_id = next(c["id"] for c in channels if c["name"] == "pool-1")
        rows = gateway.query("SELECT id, channel_id FROM tasks")
        channel_of = {str(task): str(channel) for task, channel in rows}
        for task in first + later:
            state, code = states[task]
            # Work on the other channels went on; work on the revoked one could not be
            # fetched any more and was released with the reason.
            assert state == "completed" or code == "upstream_credentials", (task, state, code)
        last_ten = later[-10:]  # created well after the revoke was noticed
        assert all(states[t][0] == "completed" for t in last_ten)
        assert all(channel_of[t] != revoked_id for t in last_ten)
        assert_settled_once(gateway, {t: states[t] for t in first + later})
        assert KEYS[1] not in gateway.process.log()
    finally:
        gateway.process.stop()
        simulator.stop()


def test_kill_9_while_google_holds_accepted_submits_exposes_at_most_one_batch(
    pool_dir: Path,
) -> None:
    """The window between Google accepting a submit and us recording its operation: the
    simulator creates each operation and then holds its answer, and the gateway dies inside
    that window. Only the submits then in flight (one small batch) may render twice."""
    simulator, url, env, gateway = started(pool_dir, "--submit-answer-delay", "1.5", keys=KEYS[:1])
    try:
        token, _ = gateway.token(balance="100")
        ids = [create(gateway, token, f"window scene {i}") for i in range(12)]
        deadline = time.monotonic() + 60
        while stats(url)["totals"]["submits"] == 0:  # type: ignore[index]
            assert time.monotonic() < deadline
            time.sleep(0.02)
        gateway.process.kill()  # operations exist upstream; their answers are still held
        ((submitting,),) = gateway.query("SELECT count(*) FROM tasks WHERE state = 'submitting'")
        assert int(str(submitting)) >= 1
        gateway = start_gateway(gateway.data_dir, env)
        states = wait_terminal(gateway, ids, seconds=300)
        assert {states[i][0] for i in ids} == {"completed"}
        assert_settled_once(gateway, {i: states[i] for i in ids})
        totals = stats(url)["totals"]
        assert isinstance(totals, dict)
        ((resubmits,),) = gateway.query("SELECT coalesce(sum(resubmits), 0) FROM tasks")
        assert 1 <= totals["duplicate_submits"] <= int(str(resubmits))
        assert totals["duplicate_submits"] <= 4  # VEORELAY_ENGINE_SUBMIT_CONCURRENCY
    finally:
        gateway.process.stop()
        simulator.stop()
