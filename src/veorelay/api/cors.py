"""CORS for browser front-ends, on the public API only: the admin API never answers a browser
from another origin."""

from __future__ import annotations

from collections.abc import Sequence

from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

PUBLIC_PREFIX = "/v1/"
METHODS = ("GET", "POST", "DELETE", "HEAD")
REQUEST_HEADERS = ("Authorization", "Content-Type", "Idempotency-Key")
EXPOSED_HEADERS = ("openai-poll-after-ms", "Idempotent-Replayed", "Retry-After")


class PublicCors:
    """Starlette's CORSMiddleware for paths under /v1/; every other path passes it by. Bearer
    tokens, not cookies, so credentials are never allowed."""

    def __init__(self, app: ASGIApp, origins: Sequence[str]):
        self.app = app
        self.cors = CORSMiddleware(
            app,
            allow_origins=origins,
            allow_methods=METHODS,
            allow_headers=REQUEST_HEADERS,
            expose_headers=EXPOSED_HEADERS,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith(PUBLIC_PREFIX):
            await self.cors(scope, receive, send)
        else:
            await self.app(scope, receive, send)
