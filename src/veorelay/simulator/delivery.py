"""Answers that misbehave on purpose: a reset connection, a slow or truncated download.

A true reset (the connection closed with no answer at all) needs the transport, which
`veorelay simulator` offers through `AbortableProtocol` (pass it as uvicorn's `http`). Under any
other server the reset falls back to a 500 whose body is cut off.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

from starlette.responses import FileResponse, Response
from starlette.types import Receive, Scope, Send
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

ABORT = "veorelay.abort"
TRUNCATE_FRACTION = 0.6
_CHUNK = 256 * 1024


class AbortableProtocol(HttpToolsProtocol):
    """uvicorn's HTTP protocol, offering `scope["extensions"]["veorelay.abort"]`."""

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self.scope["extensions"] = {ABORT: {"abort": self.transport.abort}}


async def _abort(scope: Scope) -> bool:
    abort: Callable[[], None] | None = scope.get("extensions", {}).get(ABORT, {}).get("abort")
    if abort is None:
        return False
    abort()
    for _ in range(3):  # let the server see the connection go, so it does not answer a 500
        await asyncio.sleep(0)
    return True


class ConnectionReset(Response):
    """Close the connection without an answer."""

    def __init__(self) -> None:
        super().__init__(status_code=500)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not await _abort(scope):
            await _cut_short(send, b"Internal Server Error", 500, "text/plain")


class FaultyFile(Response):
    """A download with a fault: `slow` (stalls halfway), `truncate` (a complete HTTP answer
    with only the first part of the file) or `reset` (the connection drops halfway)."""

    def __init__(self, path: Path, media_type: str, fault: str, slow_seconds: float):
        super().__init__(status_code=200, media_type=media_type)
        self.path, self.fault, self.slow_seconds = path, fault, slow_seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        data = await asyncio.to_thread(self.path.read_bytes)
        half = len(data) // 2
        if self.fault == "truncate":
            data = data[: int(len(data) * TRUNCATE_FRACTION)]
        await send(_start(len(data), self.media_type or "application/octet-stream"))
        if self.fault == "reset":
            await send({"type": "http.response.body", "body": data[:half], "more_body": True})
            await _abort(scope)  # without it, the server closes the unfinished answer's connection
            return
        if self.fault == "slow":
            await send({"type": "http.response.body", "body": data[:half], "more_body": True})
            await asyncio.sleep(self.slow_seconds)
            data = data[half:]
        for start in range(0, len(data), _CHUNK):
            chunk = data[start : start + _CHUNK]
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})


def file_answer(path: Path, media_type: str, fault: str | None, slow_seconds: float) -> Response:
    if fault in ("slow", "truncate", "reset"):
        return FaultyFile(path, media_type, fault, slow_seconds)
    return FileResponse(path, media_type=media_type)


def _start(length: int, media_type: str) -> dict[str, Any]:
    return {
        "type": "http.response.start",
        "status": 200,
        "headers": [
            (b"content-type", media_type.encode()),
            (b"content-length", str(length).encode()),
        ],
    }


async def _cut_short(send: Send, body: bytes, status: int, media_type: str) -> None:
    start = _start(len(body) * 2, media_type)
    start["status"] = status
    await send(start)
    await send({"type": "http.response.body", "body": body, "more_body": True})
