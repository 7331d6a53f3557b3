"""One info line per HTTP request: method, path, status, duration (VEORELAY_ACCESS_LOG)."""

from __future__ import annotations

import logging
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("veorelay.access")


class AccessLog:
    """Logs when the response is finished (a streamed video counts until its last byte).
    The path is the one on the request line, still percent-encoded, so a logged line is
    always one line; the query string is left out."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not log.isEnabledFor(logging.INFO):
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # what the server answers if the app fails before responding

        async def recording_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, recording_send)
        finally:
            raw = scope.get("raw_path") or scope["path"].encode("utf-8", "backslashreplace")
            path = raw.decode("ascii", "backslashreplace")
            elapsed_ms = (time.perf_counter() - started) * 1000
            log.info("%s %s %d %.1f ms", scope["method"], path, status, elapsed_ms)
