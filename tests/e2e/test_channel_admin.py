"""Channels managed as an operator would: the `veorelay channel` commands (subprocesses) and
the admin API over HTTP, against simulators speaking the Gemini API and Vertex AI. Secrets go
in and never come out: not in output, not in logs, not in the database."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import (
    UPSTREAM_KEY,
    Gateway,
    gateway_env,
    start_gateway,
    start_vertex_simulator,
)

FAST = "veo-3.1-fast-generate-preview"
PROJECT = "veorelay-test-project"
ADMIN_KEY = "admin-key-for-channel-tests"


@pytest.fixture(scope="module")
def vertex_simulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """A simulator that also speaks Vertex AI, trusting one service account."""
    process, url, account = start_vertex_simulator(tmp_path_factory.mktemp("vertex-sim"), PROJECT)
    yield url, account
    process.stop()


@pytest.fixture
def cli(tmp_path: Path) -> Any:
    env = {**os.environ, "VEORELAY_DATA_DIR": str(tmp_path / "data")}
    env.pop("VEORELAY_GEMINI_API_KEY", None)
    outputs: list[str] = []

    def run(*args: str, ok: bool = True) -> Any:
        result = subprocess.run(
            [sys.executable, "-m", "veorelay", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        outputs.append(result.stdout + result.stderr)
        assert (result.returncode == 0) == ok, result.stdout + result.stderr
        return json.loads(result.stdout) if ok and "--json" in args else result

    run.outputs = outputs  # type: ignore[attr-defined]
    run.data_dir = tmp_path / "data"  # type: ignore[attr-defined]
    return run


def test_channel_commands_from_add_to_delete(cli: Any, vertex_simulator: tuple[str, Path]) -> None:
    url, account = vertex_simulator
    added = cli(
        "channel", "add", "--name", "g1", "--kind", "gemini", "--api-key", UPSTREAM_KEY,
        "--base-url", url, "--max-concurrent", "10", "--rpm", "10", "--json",
    )  # fmt: skip
    assert (added["kind"], added["max_concurrent"], added["rpm"]) == ("gemini", 10, 10)
    assert added["health"] == "healthy"
    assert {m["model"] for m in added["models"]} >= {FAST}
    fast = next(m for m in added["models"] if m["model"] == FAST)
    assert fast["upstream_model"] == FAST
    assert fast["cost_per_second_usd"]["720p"] == "0.150000"

    test = cli("channel", "test", "g1")
    assert "ok g1" in test.stdout
    assert "available" in test.stdout

    vertex = cli(
        "channel", "add", "--name", "v1", "--kind", "vertex", "--credentials-file",
        str(account), "--location", "us-central1", "--base-url", url,
        "--storage-base-url", url, "--json",
    )  # fmt: skip
    assert vertex["project"] == PROJECT  # from the key file
    assert vertex["fingerprint"].startswith(f"veorelay-test@{PROJECT}")
    assert next(m for m in vertex["models"] if m["model"] == FAST)["upstream_model"] == (
        "veo-3.1-fast-generate-001"
    )
    assert "ok v1" in cli("channel", "test", "v1").stdout

    cli("channel", "add", "--name", "bad", "--kind", "gemini", "--api-key", "AIzaSy-nope",
        "--base-url", url)  # fmt: skip
    failed = cli("channel", "test", "bad", ok=False)
    assert "upstream_credentials" in failed.stdout
    assert cli("channel", "show", "bad", "--json")["health"] == "credentials"
    assert cli("channel", "enable", "bad", "--json")["health"] == "healthy"  # operator acts

    updated = cli(
        "channel", "update", "g1", "--model", f"{FAST}={FAST}", "--remove-model",
        "veo-3.1-generate-preview", "--cost", f"{FAST}:720p=0.2", "--rpm", "20",
        "--clear", "max_concurrent", "--priority", "3", "--json",
    )  # fmt: skip
    assert (updated["rpm"], updated["max_concurrent"], updated["priority"]) == (20, None, 3)
    assert [m["model"] for m in updated["models"]] == [FAST]
    assert updated["models"][0]["cost_per_second_usd"]["720p"] == "0.200000"

    assert cli("channel", "disable", "g1", "--json")["enabled"] is False
    shown = cli("channel", "show", "g1")
    assert "enabled: False" in shown.stdout
    assert "disabled" in shown.stdout  # the event
    cli("channel", "delete", "bad")
    names = {c["name"]: c["enabled"] for c in cli("channel", "list", "--json")["data"]}
    # Operator commands never make channels of their own (no built-in simulator here).
    assert names == {"g1": False, "v1": True}
    cli("channel", "show", "bad", ok=False)

    secrets = [UPSTREAM_KEY, "AIzaSy-nope", json.loads(account.read_text())["private_key"]]
    private_line = secrets[2].splitlines()[1]
    everything = "\n".join(cli.outputs)
    database = (cli.data_dir / "veorelay.db").read_bytes()
    for secret in [UPSTREAM_KEY, "AIzaSy-nope", private_line]:
        assert secret not in everything
        assert secret.encode() not in database


def test_bad_channel_input_is_refused_clearly(cli: Any, tmp_path: Path) -> None:
    missing = cli("channel", "add", "--name", "x", "--kind", "gemini", ok=False)
    assert "api_keys" in missing.stderr
    not_sa = tmp_path / "not-a-key.json"
    not_sa.write_text('{"type": "authorized_user"}')
    refused = cli(
        "channel", "add", "--name", "v", "--kind", "vertex", "--credentials-file", str(not_sa),
        ok=False,
    )  # fmt: skip
    assert "service_account" in refused.stderr
    bad_cost = cli(
        "channel", "add", "--name", "c", "--kind", "gemini", "--api-key", "k", "--cost", "oops",
        ok=False,
    )  # fmt: skip
    assert "MODEL:RESOLUTION=USD" in bad_cost.stderr
    cli("channel", "add", "--name", "dup", "--kind", "gemini", "--api-key", "k")
    again = cli("channel", "add", "--name", "dup", "--kind", "gemini", "--api-key", "k", ok=False)
    assert "channel_exists" in again.stderr


@pytest.fixture(scope="module")
def admin_gateway(
    vertex_simulator: tuple[str, Path], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Gateway]:
    url, _ = vertex_simulator
    data_dir = tmp_path_factory.mktemp("channel-admin") / "data"
    env = {**gateway_env(data_dir, url), "VEORELAY_ADMIN_KEY": ADMIN_KEY}
    gateway = start_gateway(data_dir, env)
    yield gateway
    gateway.process.stop()


def admin(gateway: Gateway) -> httpx.Client:
    return httpx.Client(
        base_url=f"{gateway.url}/admin/api",
        headers={"Authorization": f"Bearer {ADMIN_KEY}"},
        timeout=30,
    )


def test_admin_api_manages_channels_without_returning_secrets(
    admin_gateway: Gateway, vertex_simulator: tuple[str, Path]
) -> None:
    url, account = vertex_simulator
    with admin(admin_gateway) as api:
        listed = api.get("/channels").json()["data"]
        assert [c["name"] for c in listed] == ["env-gemini"]  # seeded from the environment
        created = api.post(
            "/channels",
            json={
                "name": "v2",
                "kind": "vertex",
                "service_account": json.loads(account.read_text()),
                "base_url": url,
                "storage_base_url": url,
                "storage_uri": "gs://veorelay-results/videos",
                "max_concurrent": 3,
            },
        )
        assert created.status_code == 200, created.text
        body = created.json()
        assert body["storage_uri"] == "gs://veorelay-results/videos/"
        assert "service_account" not in body
        assert "secret" not in body
        tested = api.post("/channels/v2/test").json()
        assert tested["ok"] is True, tested
        assert (
            api.post("/channels", json={"name": "v2", "kind": "gemini", "api_keys": ["k"]}).json()[
                "error"
            ]["code"]
            == "channel_exists"
        )
        bad = api.post("/channels", json={"name": "x", "kind": "gemini"})
        assert bad.status_code == 400
        assert bad.json()["error"]["param"] == "api_keys"
        wrong_kind = api.patch("/channels/env-gemini", json={"project": "p"})
        assert wrong_kind.status_code == 400
        patched = api.patch("/channels/v2", json={"max_concurrent": None, "weight": 5}).json()
        assert (patched["max_concurrent"], patched["weight"]) == (None, 5)
        assert api.get("/channels/nope").status_code == 404
        assert api.delete("/channels/v2").json()["deleted"] is True
        everything = json.dumps(api.get("/channels").json())
    private_line = json.loads(account.read_text())["private_key"].splitlines()[1]
    assert private_line not in everything
    assert UPSTREAM_KEY not in everything
    assert UPSTREAM_KEY not in admin_gateway.process.log()


def test_a_model_no_channel_serves_is_refused_at_create_time(admin_gateway: Gateway) -> None:
    token, _ = admin_gateway.token()
    with admin(admin_gateway) as api:
        assert api.post("/channels/env-gemini/disable").status_code == 200
        try:
            refused = httpx.post(
                f"{admin_gateway.url}/v1/videos",
                headers={"Authorization": f"Bearer {token}"},
                json={"model": FAST, "prompt": "nobody serves this", "seconds": "4"},
                timeout=30,
            )
        finally:
            api.post("/channels/env-gemini/enable")
    assert refused.status_code == 503
    assert refused.json()["error"]["code"] == "model_unavailable"
    assert admin_gateway.query("SELECT count(*) FROM tasks") == [(0,)]
