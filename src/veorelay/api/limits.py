"""What no request may carry, refused before any handler runs: bodies over a size limit
(before they are read or spooled to disk) and NUL characters in the URL."""

from __future__ import annotations

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from veorelay.errors import InvalidRequest, RequestTooLarge


class BodySizeLimit:
    """A declared Content-Length over the limit is refused at once; a body without one is
    counted as it arrives and cut off at the limit. Either way: 413 in the one error shape."""

    def __init__(self, app: ASGIApp, max_bytes: int):
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        error = RequestTooLarge(f"The request body is larger than {self.max_bytes} bytes.")
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await JSONResponse(error.to_body(), status_code=413)(scope, receive, send)
            return
        received = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.max_bytes:
                raise error
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except RequestTooLarge:
            if started:
                raise
            await JSONResponse(error.to_body(), status_code=413)(scope, receive, send)


class NoNulInUrl:
    """A NUL in a path or query value can name nothing here, and PostgreSQL refuses it in
    text (a 500 from any route that looks an id up): 400 for every route at once."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            query = scope.get("query_string", b"")
            if "\x00" in scope["path"] or b"\x00" in query or b"%00" in query:
                error = InvalidRequest("The URL must not contain NUL characters.")
                await JSONResponse(error.to_body(), status_code=400)(scope, receive, send)
                return
        await self.app(scope, receive, send)
