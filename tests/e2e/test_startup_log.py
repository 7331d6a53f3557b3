"""What `veorelay serve` tells its operator: where it listens, what it uses, each request."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import httpx

from tests.e2e.conftest import Gateway, gateway_env, start_gateway


def serve(tmp_path: Path, **env: str) -> Gateway:
    data_dir = tmp_path / "data"
    return start_gateway(
        data_dir, {**gateway_env(data_dir, simulator_url=None), "VEORELAY_LOG_LEVEL": "info", **env}
    )


def interrupt(gateway: Gateway) -> str:
    """Ctrl-C, as a person at the terminal would; the whole log once the process is gone."""
    assert gateway.process.proc is not None
    gateway.process.proc.send_signal(signal.SIGINT)
    assert gateway.process.proc.wait(timeout=30) == 130  # the shell's code for "interrupted"
    return gateway.process.log()


def test_serve_says_where_it_listens_what_it_uses_and_when_it_stops(tmp_path: Path) -> None:
    gateway = serve(tmp_path)
    try:
        assert httpx.get(f"{gateway.url}/health").status_code == 200
        assert httpx.get(f"{gateway.url}/v1/videos/nope").status_code == 401
    finally:
        log = interrupt(gateway)
    assert f"veorelay is serving {gateway.url} (Ctrl-C to stop)" in log
    assert f"data directory: {gateway.data_dir.resolve()}" in log
    assert f"database: sqlite+aiosqlite:///{gateway.data_dir.resolve() / 'veorelay.db'}" in log
    assert "built-in SIMULATOR" in log
    # The embedded simulator's server neither lowers the shared level nor speaks as the gateway.
    assert "Application startup complete" in log
    assert log.count("Started server process") == 1
    assert log.count("Uvicorn running on") == 1
    assert "INFO veorelay.access: GET /health 200 " in log
    assert "INFO veorelay.access: GET /v1/videos/nope 401 " in log
    assert "stopping (SIGINT); Ctrl-C again to stop at once" in log
    assert log.rstrip().endswith("veorelay stopped")


def test_access_log_can_be_turned_off(tmp_path: Path) -> None:
    gateway = serve(tmp_path, VEORELAY_ACCESS_LOG="false")
    try:
        assert httpx.get(f"{gateway.url}/health").status_code == 200
    finally:
        log = interrupt(gateway)
    assert "veorelay is serving" in log
    assert "veorelay.access" not in log
    assert "/health" not in log


def test_access_log_keeps_one_request_on_one_line(tmp_path: Path) -> None:
    gateway = serve(tmp_path)
    try:
        httpx.get(f"{gateway.url}/v1/videos/a%0Afake%20line?secret=1")
    finally:
        log = interrupt(gateway)
    assert "GET /v1/videos/a%0Afake%20line 401 " in log
    assert "secret" not in log


def test_builtin_simulator_with_a_shared_database_warns(tmp_path: Path) -> None:
    shared = tmp_path / "shared.db"
    gateway = serve(tmp_path, VEORELAY_DATABASE_URL=f"sqlite:///{shared}")
    log = interrupt(gateway)
    assert f"database: sqlite:///{shared}" in log
    assert "WARNING veorelay: the built-in simulator keeps its operations in" in log
    assert "must use the same VEORELAY_DATA_DIR" in log


def test_no_warning_for_the_builtin_simulator_with_its_own_database(tmp_path: Path) -> None:
    log = interrupt(serve(tmp_path))
    assert "must use the same VEORELAY_DATA_DIR" not in log


def test_json_logs_follow_a_request_id_from_the_create_to_the_finished_video(
    tmp_path: Path,
) -> None:
    gateway = serve(tmp_path, VEORELAY_LOG_FORMAT="json")
    try:
        token = gateway.token("2")[0]
        headers = {"Authorization": f"Bearer {token}", "X-Request-Id": "trace-42.a"}
        created = httpx.post(
            f"{gateway.url}/v1/videos",
            headers=headers,
            json={"model": "veo-3.1-fast-generate-preview", "prompt": "logs", "seconds": "4"},
        )
        assert created.headers["x-request-id"] == "trace-42.a"
        video = gateway.client(token).videos.poll(created.json()["id"])
        assert video.status == "completed"
        fresh = httpx.get(
            f"{gateway.url}/v1/videos/{video.id}", headers={**headers, "X-Request-Id": "not sane!"}
        )
        minted = fresh.headers["x-request-id"]
        assert minted.startswith("req_")
    finally:
        log = interrupt(gateway)
    lines = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    assert lines, "no JSON lines"
    assert all({"time", "level", "logger", "message"} <= line.keys() for line in lines)
    traced = [line for line in lines if line.get("request_id") == "trace-42.a"]
    messages = [line["message"] for line in traced]
    assert any(m.startswith("POST /v1/videos 200") for m in messages)  # the access line
    engine = [line for line in traced if line["logger"].startswith("veorelay.engine")]
    assert any("submitted as" in line["message"] for line in engine)
    assert any("completed" in line["message"] for line in engine)
    assert {line["task_id"] for line in engine} == {video.id}
    assert any(line.get("request_id") == minted for line in lines)
    not_json = [line for line in log.splitlines() if line.strip() and not line.startswith("{")]
    assert not not_json, not_json[:3]
