"""Replicas on one PostgreSQL database hear each other (LISTEN/NOTIFY, db/signals.py): a task
created on one gateway wakes a worker at once, and an operator's change reaches every
gateway's cache at once, not when its TTL runs out."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import gateway_env, start_gateway, start_simulator
from tests.helpers import Process, free_port

pytestmark = pytest.mark.postgres
ADMIN_KEY = "replicas-admin-key-0123456789"


def _within(seconds: float, condition: Callable[[], bool]) -> float:
    """How long `condition` took to hold; fails after `seconds`."""
    start = time.monotonic()
    while not condition():
        assert time.monotonic() - start < seconds, "not within the time allowed"
        time.sleep(0.05)
    return time.monotonic() - start


def test_a_create_wakes_another_process_and_changes_reach_every_cache(
    tmp_path: Path, postgres_database: str
) -> None:
    simulator, simulator_url = start_simulator(tmp_path)
    base = gateway_env(tmp_path / "data", simulator_url) | {
        "VEORELAY_DATABASE_URL": postgres_database,
        "VEORELAY_ADMIN_KEY": ADMIN_KEY,
        "VEORELAY_CACHE_SECONDS": "3600",  # only a signal can refresh a cache in this test
    }
    api = {**base, "VEORELAY_ENGINE_ENABLED": "false"}
    first = start_gateway(tmp_path / "data", api)
    second = start_gateway(tmp_path / "data", {**api, "VEORELAY_PORT": str(free_port())})
    # A worker that, on its own, looks for new work only every 60 s.
    worker = Process(
        ["worker"],
        env={**base, "VEORELAY_ENGINE_TICK_SECONDS": "60"},
        log_path=tmp_path / "worker.log",
        ready_url=first.url,
    ).start()
    admin = {"Authorization": f"Bearer {ADMIN_KEY}"}
    try:
        token, account_id = first.token("5")
        bearer = {"Authorization": f"Bearer {token}"}
        time.sleep(2)  # the worker has started and is asleep for its 60 s tick
        created = httpx.post(
            f"{first.url}/v1/videos",
            headers=bearer,
            json={"model": "veo-3.1-fast-generate-preview", "prompt": "wake", "seconds": "4"},
        ).json()

        def completed() -> bool:
            answer = httpx.get(f"{second.url}/v1/videos/{created['id']}", headers=bearer)
            return bool(answer.json()["status"] == "completed")

        assert _within(30, completed) < 30  # far inside the worker's 60 s tick

        def model_price() -> str:
            models = httpx.get(f"{second.url}/v1/models", headers=bearer).json()["data"]
            fast = next(m for m in models if m["id"] == "veo-3.1-fast-generate-preview")
            return str(fast)

        before = model_price()  # now cached by the second gateway for an hour
        changed = httpx.patch(
            f"{first.url}/admin/api/models/veo-3.1-fast-generate-preview",
            json={"per_call_usd": "0.45"},
            headers=admin,
        )
        assert changed.status_code == 200
        _within(5, lambda: model_price() != before)
        assert "0.45" in model_price()

        assert httpx.get(f"{second.url}/v1/me", headers=bearer).status_code == 200  # cached
        tokens = httpx.get(
            f"{first.url}/admin/api/tokens", params={"account_id": account_id}, headers=admin
        ).json()["data"]
        disabled = httpx.patch(
            f"{first.url}/admin/api/tokens/{tokens[0]['id']}",
            json={"enabled": False},
            headers=admin,
        )
        assert disabled.status_code == 200
        _within(
            5,
            lambda: httpx.get(f"{second.url}/v1/me", headers=bearer).status_code in (401, 403),
        )
    finally:
        for process in (worker, second.process, first.process, simulator):
            process.stop()
