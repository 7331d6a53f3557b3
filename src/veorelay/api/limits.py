"""What no request may carry, refused before any handler runs: bodies over a size limit
(before they are read or spooled to disk), bodies that stop arriving, and NUL characters in
the URL."""

from __future__ import annotations

import asyncio

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from veorelay.errors import InvalidRequest, RequestTimedOut, RequestTooLarge


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
            await JSONResponse(error.body_for(scope["path"]), status_code=413)(scope, receive, send)
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
            await JSONResponse(error.body_for(scope["path"]), status_code=413)(scope, receive, send)


class BodyReadTimeout:
    """A body whose next bytes do not arrive within `seconds` (shorter than its Content-Length,
    or a client gone quiet) is answered 408 and its connection closed, instead of holding a
    worker forever. Only the body is timed: once it is whole, waits are the app's own."""

    def __init__(self, app: ASGIApp, seconds: float):
        self.app = app
        self.seconds = seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        error = RequestTimedOut(
            f"The request body stopped arriving (nothing for {self.seconds:g} s)."
        )
        body_done = False
        timed_out = False
        started = False

        async def timed_receive() -> Message:
            nonlocal body_done, timed_out
            if body_done:
                return await receive()
            if timed_out:  # whoever asks again learns the request is over
                return {"type": "http.disconnect"}
            try:
                async with asyncio.timeout(self.seconds):
                    message = await receive()
            except TimeoutError:
                timed_out = True
                if started:  # answering already (e.g. streaming): the request is simply over
                    return {"type": "http.disconnect"}
                raise error from None
            body_done = message["type"] != "http.request" or not message.get("more_body")
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if timed_out and not started:  # e.g. a parser's own 400: the 408 below answers
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, timed_receive, guarded_send)
        except RequestTimedOut:
            if started:
                raise
        if timed_out and not started:
            response = JSONResponse(
                error.body_for(scope["path"]), status_code=408, headers=error.headers()
            )
            await response(scope, receive, send)


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
                await JSONResponse(error.body_for(scope["path"]), status_code=400)(
                    scope, receive, send
                )
                return
        await self.app(scope, receive, send)
