"""Run an ASGI app for one HTTP request and learn, once its answer is finished, the status it
sent and how long it took: what the access log and the request metrics both record."""

from __future__ import annotations

import time
from collections.abc import Callable

from starlette.types import ASGIApp, Message, Receive, Scope, Send


async def serve_and_observe(
    app: ASGIApp,
    scope: Scope,
    receive: Receive,
    send: Send,
    observe: Callable[[int, float], None],
) -> None:
    """`observe(status, seconds)` is called when the app is done (a streamed video counts
    until its last byte), also when it failed before answering (status 500)."""
    started = time.perf_counter()
    status = 500  # what the server answers if the app fails before responding

    async def recording_send(message: Message) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        await send(message)

    try:
        await app(scope, receive, recording_send)
    finally:
        observe(status, time.perf_counter() - started)
