"""Several processes on one PostgreSQL database: an API-only gateway and two `veorelay worker`s."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import assert_ledger_balanced, gateway_env, start_gateway, start_simulator
from tests.helpers import Process

pytestmark = pytest.mark.postgres


def test_workers_share_the_tasks_of_an_api_only_gateway(
    tmp_path: Path, postgres_database: str
) -> None:
    simulator, simulator_url = start_simulator(tmp_path)
    data_dir = tmp_path / "data"
    env = gateway_env(data_dir, simulator_url)
    env["VEORELAY_DATABASE_URL"] = postgres_database
    gateway = start_gateway(data_dir, {**env, "VEORELAY_ENGINE_ENABLED": "false"})
    workers = [
        Process(["worker"], env=env, log_path=tmp_path / f"worker{i}.log", ready_url=gateway.url)
        for i in range(2)
    ]
    try:
        for worker in workers:
            worker.start()
        token = gateway.token("5")[0]
        headers = {"Authorization": f"Bearer {token}"}
        ids = [
            httpx.post(
                f"{gateway.url}/v1/videos",
                headers=headers,
                json={
                    "model": "veo-3.1-fast-generate-preview",
                    "prompt": "many hands",
                    "seconds": "4",
                },
            ).json()["id"]
            for _ in range(8)
        ]
        deadline = time.monotonic() + 60
        pending = set(ids)
        while pending:
            assert time.monotonic() < deadline, f"still pending: {pending}"
            for video_id in list(pending):
                status = httpx.get(f"{gateway.url}/v1/videos/{video_id}", headers=headers).json()
                if status["status"] == "completed":
                    pending.discard(video_id)
                else:
                    assert status["status"] in ("queued", "in_progress")
            time.sleep(0.1)
        operations = list((tmp_path / "sim" / "operations").glob("*.json"))
        assert len(operations) == 8  # each task submitted exactly once
        logs = [worker.log() for worker in workers]
        assert all("engine started" in log for log in logs)
        assert "submitted as" not in gateway.process.log()  # the gateway only took requests
        assert sum(log.count("submitted as") for log in logs) == 8
        assert all(json.loads(p.read_text())["prompt"] == "many hands" for p in operations)
    finally:
        for worker in workers:
            worker.stop()
        gateway.process.stop()
        simulator.stop()
    assert_ledger_balanced(gateway)


def test_status_reads_never_call_upstream(tmp_path: Path) -> None:
    simulator, simulator_url = start_simulator(tmp_path)
    data_dir = tmp_path / "data"
    gateway = start_gateway(data_dir, gateway_env(data_dir, simulator_url))
    try:
        token = gateway.token()[0]
        headers = {"Authorization": f"Bearer {token}"}
        video_id = httpx.post(
            f"{gateway.url}/v1/videos",
            headers=headers,
            json={
                "model": "veo-3.1-fast-generate-preview",
                "prompt": "offline",
                "seconds": "8",
                "size": "3840x2160",
            },
        ).json()["id"]
        time.sleep(0.3)
        simulator.kill()  # upstream is gone
        for path in (f"/v1/videos/{video_id}", f"/v1/video/generations/{video_id}"):
            for _ in range(20):
                response = httpx.get(f"{gateway.url}{path}", headers=headers, timeout=2.0)
                assert response.status_code == 200
        assert httpx.get(f"{gateway.url}/v1/videos/{video_id}", headers=headers).json()[
            "status"
        ] in ("queued", "in_progress")
    finally:
        gateway.process.stop()
        simulator.stop()
    assert_ledger_balanced(gateway)
