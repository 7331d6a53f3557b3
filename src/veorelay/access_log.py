"""One info line per HTTP request: method, path, status, duration (VEORELAY_ACCESS_LOG)."""

from __future__ import annotations

import logging

from starlette.types import ASGIApp, Receive, Scope, Send

from veorelay.answered import serve_and_observe

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

        def log_line(status: int, seconds: float) -> None:
            raw = scope.get("raw_path") or scope["path"].encode("utf-8", "backslashreplace")
            path = raw.decode("ascii", "backslashreplace")
            log.info("%s %s %d %.1f ms", scope["method"], path, status, seconds * 1000)

        await serve_and_observe(self.app, scope, receive, send, log_line)
