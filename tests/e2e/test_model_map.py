"""VEORELAY_MODEL_MAP: a public model name is rendered by the upstream model it maps to."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx

from tests.e2e.conftest import assert_ledger_balanced, gateway_env, start_gateway, start_simulator


def test_the_public_name_maps_to_the_configured_upstream_id(tmp_path: Path) -> None:
    simulator, simulator_url = start_simulator(tmp_path)
    data_dir = tmp_path / "data"
    env = gateway_env(data_dir, simulator_url)
    env["VEORELAY_MODEL_MAP"] = json.dumps(
        {"veo-3.1-fast-generate-preview": "veo-3.1-fast-generate-001"}
    )
    gateway = start_gateway(data_dir, env)
    try:
        headers = {"Authorization": f"Bearer {gateway.token()[0]}"}
        body = {"model": "veo-3.1-fast-generate-preview", "prompt": "mapped", "seconds": "4"}
        video = httpx.post(f"{gateway.url}/v1/videos", json=body, headers=headers).json()
        assert video["model"] == "veo-3.1-fast-generate-preview"  # clients see the public name
        deadline = time.monotonic() + 30
        while video["status"] not in ("completed", "failed"):
            assert time.monotonic() < deadline
            time.sleep(0.05)
            video = httpx.get(f"{gateway.url}/v1/videos/{video['id']}", headers=headers).json()
        assert video["status"] == "completed"
        (operation,) = [
            json.loads(path.read_text())
            for path in (tmp_path / "sim" / "operations").glob("*.json")
        ]
        assert operation["model"] == "veo-3.1-fast-generate-001"
    finally:
        gateway.process.stop()
        simulator.stop()
    assert_ledger_balanced(gateway)
