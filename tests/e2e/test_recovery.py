"""kill -9 the gateway mid-render, start it again: the task completes and is charged once."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx

from tests.e2e.conftest import gateway_env, start_gateway, start_simulator

FAST = "veo-3.1-fast-generate-preview"


def test_kill_9_mid_render_then_restart(tmp_path: Path) -> None:
    simulator, simulator_url = start_simulator(tmp_path, time_scale="0.02")  # 1080p: 2 s render
    data_dir = tmp_path / "data"
    env = gateway_env(data_dir, simulator_url)
    env["VEORELAY_ENGINE_TIME_SCALE"] = "0.02"
    gateway = start_gateway(data_dir, env)
    try:
        token, account = gateway.token("1")
        headers = {"Authorization": f"Bearer {token}"}
        created = httpx.post(
            f"{gateway.url}/v1/videos",
            headers=headers,
            json={"model": FAST, "prompt": "survives a crash", "seconds": "8", "size": "1920x1080"},
        )
        video_id = created.json()["id"]
        deadline = time.monotonic() + 10
        while (
            httpx.get(f"{gateway.url}/v1/videos/{video_id}", headers=headers).json()["status"]
            != "in_progress"
        ):
            assert time.monotonic() < deadline
            time.sleep(0.02)

        gateway.process.kill()
        ((state,),) = gateway.query("SELECT state FROM tasks WHERE id = ?", video_id)
        assert state == "running"  # it really was mid-render when it died

        gateway.process.start()
        deadline = time.monotonic() + 30
        while (status := httpx.get(f"{gateway.url}/v1/videos/{video_id}", headers=headers).json())[
            "status"
        ] not in ("completed", "failed"):
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert status["status"] == "completed"
        assert gateway.query("SELECT kind FROM ledger WHERE task_id = ? ORDER BY id", video_id) == [
            ("hold",),
            ("capture",),
        ]
        assert gateway.balance(account) == 700_000
        operations = [
            json.loads(p.read_text()) for p in (tmp_path / "sim" / "operations").glob("*.json")
        ]
        assert [op["prompt"] for op in operations] == ["survives a crash"]  # submitted once
        content = httpx.get(f"{gateway.url}/v1/videos/{video_id}/content", headers=headers)
        assert content.status_code == 200
        assert content.content[4:8] == b"ftyp"
    finally:
        gateway.process.stop()
        simulator.stop()
