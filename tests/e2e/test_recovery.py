"""kill -9 the gateway at each point of a task's life, start it again: the task completes,
is submitted upstream once and charged once.

The gateway reaches the simulator through a loopback proxy that can hold back one kind of
upstream call, so the kill lands while a submit, a poll or a download is really in flight.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from anyio import to_thread
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.e2e.conftest import assert_ledger_balanced, gateway_env, start_gateway, start_simulator
from tests.helpers import server_thread

FAST = "veo-3.1-fast-generate-preview"


class HoldingProxy:
    """Forwards every call to the simulator, except those whose path contains `hold`: each
    waits until `released`, then gets a 503 without being forwarded, so upstream never saw it."""

    def __init__(self, target: str, hold: str | None):
        self.target, self.hold = target, hold
        self.held = threading.Event()  # a call was held back: the gateway is waiting on it
        self.released = threading.Event()
        self.app = Starlette(routes=[Route("/{path:path}", self.forward, methods=["GET", "POST"])])

    async def forward(self, request: Request) -> Response:
        if self.hold is not None and self.hold in request.url.path:
            self.held.set()
            await to_thread.run_sync(self.released.wait, 60)
            return Response(status_code=503)
        skip = {"host", "content-length", "connection", "accept-encoding"}
        async with httpx.AsyncClient(base_url=self.target) as http:
            answer = await http.request(
                request.method,
                request.url.path,
                params=request.query_params,
                headers={k: v for k, v in request.headers.items() if k not in skip},
                content=await request.body(),
            )
        kept = {k: v for k, v in answer.headers.items() if k in ("content-type", "location")}
        return Response(answer.content, status_code=answer.status_code, headers=kept)

    def pass_everything(self) -> None:
        self.hold = None
        self.released.set()


# crash point -> (the upstream call held back while the gateway dies, the task's state then)
CRASH_POINTS = {
    "queued": (None, "queued"),  # the engine is off: nothing has touched the task
    # dispatched (the intent recorded), submit sent, no answer yet
    "submitting": (":predictLongRunning", "submitting"),
    "running": ("/operations/", "running"),  # submitted; a poll in flight
    "downloading": (":download", "downloading"),  # rendered; the download request in flight
}


@pytest.fixture(scope="module")
def shared_simulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """The simulator's URL, and the folder where it keeps every operation it accepted."""
    directory = tmp_path_factory.mktemp("simulator")
    process, url = start_simulator(directory)
    yield url, directory / "sim" / "operations"
    process.stop()


@pytest.mark.parametrize("crash_point", list(CRASH_POINTS))
def test_kill_9_then_restart(
    tmp_path: Path, shared_simulator: tuple[str, Path], crash_point: str
) -> None:
    hold, state_at_kill = CRASH_POINTS[crash_point]
    simulator_url, operations = shared_simulator
    prompt = f"survives a crash while {crash_point}"
    proxy = HoldingProxy(simulator_url, hold)
    with server_thread(proxy.app) as upstream_url:
        data_dir = tmp_path / "data"
        env = gateway_env(data_dir, upstream_url)
        env["VEORELAY_ENGINE_ENABLED"] = "false" if crash_point == "queued" else "true"
        gateway = start_gateway(data_dir, env)
        try:
            token, account = gateway.token("1")
            headers = {"Authorization": f"Bearer {token}"}
            video_id = httpx.post(
                f"{gateway.url}/v1/videos",
                headers=headers,
                json={"model": FAST, "prompt": prompt, "seconds": "4", "size": "1280x720"},
            ).json()["id"]
            if hold is not None:
                assert proxy.held.wait(timeout=30), f"no {hold} call reached upstream"

            gateway.process.kill()
            assert gateway.query("SELECT state FROM tasks WHERE id = ?", video_id) == [
                (state_at_kill,)
            ]
            if state_at_kill in ("queued", "submitting"):
                assert prompt not in submitted_prompts(operations)  # upstream never saw it
            proxy.pass_everything()
            gateway.process.env["VEORELAY_ENGINE_ENABLED"] = "true"
            gateway.process.start()

            status = wait_for_status(
                gateway.url, video_id, headers, {"completed", "failed"}, timeout=30
            )
            assert status["status"] == "completed", status
            kinds = gateway.query("SELECT kind FROM ledger WHERE task_id = ? ORDER BY id", video_id)
            assert kinds == [("hold",), ("capture",)]
            assert gateway.balance(account) == 700_000  # $1 less one $0.30 video
            assert submitted_prompts(operations).count(prompt) == 1  # submitted once
            content = httpx.get(f"{gateway.url}/v1/videos/{video_id}/content", headers=headers)
            assert content.status_code == 200
            assert content.content[4:8] == b"ftyp"
        finally:
            proxy.pass_everything()
            gateway.process.stop()
    assert_ledger_balanced(gateway)


def wait_for_status(
    url: str, video_id: str, headers: dict[str, str], wanted: set[str], timeout: float
) -> dict[str, object]:
    deadline = time.monotonic() + timeout
    while True:
        video: dict[str, object] = httpx.get(f"{url}/v1/videos/{video_id}", headers=headers).json()
        if video["status"] in wanted:
            return video
        assert time.monotonic() < deadline, f"still {video['status']}, waiting for {wanted}"
        time.sleep(0.02)


def submitted_prompts(operations: Path) -> list[str]:
    """The prompt of every operation the simulator accepted (its on-disk store)."""
    return [json.loads(path.read_text())["prompt"] for path in operations.glob("*.json")]
