"""A request body that stops arriving (shorter than its Content-Length) is answered 408 and
its connection closed, instead of holding it forever (issue 13). Raw sockets: no client
library would send such a request."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.e2e.conftest import Gateway, gateway_env, start_gateway

ADMIN_KEY = "admin-" + "s" * 40
FAST = "veo-3.1-fast-generate-preview"
TIMEOUT = 1.0


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    data_dir = tmp_path_factory.mktemp("slow") / "data"
    env = {
        **gateway_env(data_dir, simulator_url=None),
        "VEORELAY_ENGINE_ENABLED": "false",
        "VEORELAY_ADMIN_KEY": ADMIN_KEY,
        "VEORELAY_BODY_READ_TIMEOUT_SECONDS": str(TIMEOUT),
    }
    gw = start_gateway(data_dir, env)
    yield gw
    gw.process.stop()
    assert "Traceback" not in gw.process.log()


def send_raw(gateway: Gateway, head: str, body: bytes) -> socket.socket:
    port = int(gateway.url.rsplit(":", 1)[1])
    sock = socket.create_connection(("127.0.0.1", port), timeout=10 * TIMEOUT + 10)
    sock.sendall(head.encode() + b"\r\n" + body)
    return sock


def read_to_close(sock: socket.socket) -> bytes:
    answer = b""
    while chunk := sock.recv(65536):
        answer += chunk
    return answer


@pytest.mark.parametrize(
    ("path", "content_type", "partial"),
    [
        ("/v1/videos", "application/json", b'{"model": "' + FAST.encode()),
        ("/v1/videos", "multipart/form-data; boundary=b0", b"--b0\r\nContent-Disposition: form"),
        ("/admin/api/accounts", "application/json", b'{"name": "slow'),
    ],
    ids=["json", "multipart", "admin"],
)
def test_a_body_shorter_than_its_length_is_answered_408(
    gateway: Gateway, path: str, content_type: str, partial: bytes
) -> None:
    secret = ADMIN_KEY if path.startswith("/admin") else gateway.token()[0]
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {secret}\r\n"
        f"Content-Type: {content_type}\r\nContent-Length: {len(partial) + 1000}\r\n"
    )
    began = time.monotonic()
    with send_raw(gateway, head, partial) as sock:
        answer = read_to_close(sock)  # the server closes the connection
    waited = time.monotonic() - began
    status_line, _, rest = answer.partition(b"\r\n")
    assert status_line == b"HTTP/1.1 408 Request Timeout", answer[:300]
    headers, _, body = rest.partition(b"\r\n\r\n")
    assert b"connection: close" in headers.lower()
    assert json.loads(body)["error"]["code"] == "request_timeout"
    assert TIMEOUT <= waited < TIMEOUT + 8


def test_a_slow_but_steady_body_is_read(gateway: Gateway) -> None:
    """The timeout is for silence, not for the whole body."""
    token = gateway.token()[0]
    body = json.dumps({"model": FAST, "prompt": "slowly", "seconds": "4"}).encode()
    head = (
        f"POST /v1/videos HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        "Connection: close\r\n"
    )
    pieces = [body[i : i + 10] for i in range(0, len(body), 10)]
    with send_raw(gateway, head, pieces[0]) as sock:
        for piece in pieces[1:4]:
            time.sleep(TIMEOUT * 0.6)
            sock.sendall(piece)
        sock.sendall(b"".join(pieces[4:]))
        answer = read_to_close(sock)
    assert answer.startswith(b"HTTP/1.1 200 "), answer[:300]


def test_the_server_still_answers_after_timeouts(gateway: Gateway) -> None:
    assert httpx.get(f"{gateway.url}/health").json() == {"status": "ok"}
