"""Small helpers the test suites share: free ports, servers in threads and processes, images."""

from __future__ import annotations

import io
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from PIL import Image

POSTGRES_URL = os.environ.get(
    "VEORELAY_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def png_bytes(width: int = 64, height: int = 36, color: str = "blue") -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), color).save(buffer, "PNG")
    return buffer.getvalue()


@contextmanager
def server_thread(app: Any) -> Iterator[str]:
    """Serve an ASGI app with uvicorn on a free loopback port, in a background thread."""
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=free_port(), log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("server did not start")
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


class Process:
    """A `veorelay` subprocess (gateway or simulator) on a loopback port, with its log."""

    def __init__(self, args: list[str], env: dict[str, str], log_path: Path, ready_url: str):
        self.args, self.env, self.log_path, self.ready_url = args, env, log_path, ready_url
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Process:
        log = open(self.log_path, "ab")  # noqa: SIM115 - the child owns it until it exits
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "veorelay", *self.args],
            env={**os.environ, **self.env},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"process exited: {self.log_path.read_text()[-3000:]}")
            try:
                httpx.get(self.ready_url, timeout=1.0)
                return self
            except httpx.TransportError:
                time.sleep(0.05)
        raise RuntimeError(f"process did not get ready: {self.log_path.read_text()[-3000:]}")

    def kill(self) -> None:
        """kill -9: no shutdown code runs."""
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def create_token(env: dict[str, str], balance: str = "10") -> dict[str, str]:
    """An account and token made with the real CLI: {"token", "account_id", ...}."""
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "veorelay",
            "token",
            "create",
            "--name",
            "test",
            "--balance",
            balance,
            "--json",
        ],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=True,
    )
    created: dict[str, str] = json.loads(out.stdout)
    return created
