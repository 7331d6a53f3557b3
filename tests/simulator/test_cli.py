"""`veorelay simulator` with its fault, limit and Vertex flags, run as a subprocess."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import google.auth.transport.requests
import httpx
import pytest
from google.oauth2 import service_account

from tests.helpers import Process, free_port
from tests.vertex_accounts import make_service_account

MODEL = "veo-3.1-fast-generate-preview"


def test_simulator_command_wires_every_flag(tmp_path: Path) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    account = make_service_account(tmp_path, "proj-a", f"{url}/token")
    args = [
        "simulator",
        "--port",
        str(port),
        "--data-dir",
        str(tmp_path / "sim"),
        "--time-scale",
        "0.01",
        "--api-key",
        "k1",
        "--api-key",
        "k2",
        "--api-key-project",
        "k1=p1",
        "--api-key-project",
        "k2=p1",
        "--max-concurrent",
        "1",
        "--rpm",
        "5",
        "--rpd",
        "100",
        "--faults",
        "reset=0",
        "--fault-seed",
        "3",
        "--retired-model",
        "veo-3.1-lite-generate-preview",
        "--vertex-service-account",
        str(account),
        "--vertex-projects",
        "proj-a,proj-c",
        "--vertex-token-seconds",
        "120",
    ]
    env = {"VEORELAY_LOG_LEVEL": "debug"}
    process = Process(args, env, tmp_path / "sim.log", f"{url}/_simulator/stats").start()
    try:
        with httpx.Client(base_url=url) as client:
            body = {"instances": [{"prompt": "x [sim:fail]"}], "parameters": {"durationSeconds": 4}}
            path = f"/v1beta/models/{MODEL}:predictLongRunning"
            first = client.post(path, json=body, headers={"x-goog-api-key": "k1"})
            assert first.status_code == 200
            shared = client.post(path, json=body, headers={"x-goog-api-key": "k2"})
            assert shared.status_code == 429  # k2 shares p1's one running operation
            retired = client.get(
                "/v1beta/models/veo-3.1-lite-generate-preview", headers={"x-goog-api-key": "k1"}
            )
            assert retired.status_code == 404
            stats = client.get("/_simulator/stats").json()
            assert stats["owners"]["gemini:p1"]["refused_for_limits"] == 1
            assert stats["owners"]["gemini:p1"]["duplicate_submits"] == 0

            credentials = service_account.Credentials.from_service_account_file(  # type: ignore[no-untyped-call]
                str(account), scopes=["https://www.googleapis.com/auth/cloud-platform"]
            )
            credentials.refresh(google.auth.transport.requests.Request())
            headers = {"Authorization": f"Bearer {credentials.token}"}
            probe = client.get(
                "/v1beta1/publishers/google/models/veo-3.1-generate-001", headers=headers
            )
            assert probe.status_code == 200
            vertex = "/v1/projects/{}/locations/us-central1/publishers/google/models/{}"
            model = "veo-3.1-generate-001:predictLongRunning"
            ok = client.post(vertex.format("proj-c", model), json=body, headers=headers)
            assert ok.status_code == 200
            assert (
                client.post(vertex.format("proj-b", model), json=body, headers=headers).status_code
                == 403
            )
            secret = "AIzaSyQueryKeyThatMustNotBeLogged"
            client.get(f"/v1beta/models/{MODEL}?key={secret}")
            client.post("/_simulator/keys/revoke", json={"key": secret})
        assert secret not in process.log()
    finally:
        process.stop()


def test_reset_fault_closes_connections_under_the_command(tmp_path: Path) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    args = ["simulator", "--port", str(port), "--data-dir", str(tmp_path), "--faults", "reset=1"]
    process = Process(args, {}, tmp_path / "sim.log", f"{url}/_simulator/stats").start()
    try:
        body = {"instances": [{"prompt": "x"}]}
        with pytest.raises(httpx.RemoteProtocolError, match="without sending a response"):
            httpx.post(
                f"{url}/v1beta/models/{MODEL}:predictLongRunning",
                json=body,
                headers={"x-goog-api-key": "k"},
            )
        assert httpx.get(f"{url}/_simulator/stats").json()["faults"]["reset"] == 1
        assert "Exception" not in process.log()
    finally:
        process.stop()


@pytest.mark.parametrize(
    "bad",
    [
        ["--faults", "teapot=0.5"],
        ["--faults", "429=2"],
        ["--api-key-project", "nokey"],
        ["--vertex-service-account", "/no/such/file.json"],
        ["--vertex-service-account", __file__],
    ],
)
def test_bad_flags_are_refused(tmp_path: Path, bad: list[str]) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "veorelay", "simulator", "--data-dir", str(tmp_path), *bad],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "Invalid value" in result.stderr
