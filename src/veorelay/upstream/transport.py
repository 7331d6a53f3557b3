"""HTTP plumbing the adapters share: transport failures become RetryableUpstreamError."""

from __future__ import annotations

from collections.abc import AsyncGenerator

import httpx

from veorelay.upstream import rpc
from veorelay.upstream.errors import RetryableUpstreamError, UpstreamError

MAX_ERROR_BODY = 256 * 1024  # an error body past this is not google.rpc.Status anyway


def transport_error(exc: httpx.TransportError, *, reading: bool = False) -> RetryableUpstreamError:
    if isinstance(exc, httpx.TimeoutException):
        return RetryableUpstreamError(f"upstream timed out ({type(exc).__name__})")
    if reading:
        return RetryableUpstreamError(f"upstream connection lost mid-answer ({type(exc).__name__})")
    return RetryableUpstreamError(f"upstream unreachable ({type(exc).__name__})")


async def send(http: httpx.AsyncClient, request: httpx.Request, *, stream: bool) -> httpx.Response:
    try:
        return await http.send(request, stream=stream, follow_redirects=False)
    except httpx.TransportError as exc:
        raise transport_error(exc) from None


async def stream_chunks(response: httpx.Response) -> AsyncGenerator[bytes, None]:
    """A streamed response's body; a connection lost half-way is a retryable failure."""
    try:
        async for chunk in response.aiter_bytes():
            yield chunk
    except httpx.TransportError as exc:
        raise transport_error(exc, reading=True) from None


async def streamed_error(response: httpx.Response, *, about_model: bool = False) -> UpstreamError:
    """Classify a non-200 streamed response, reading no more than MAX_ERROR_BODY of it."""
    body = bytearray()
    async for chunk in stream_chunks(response):
        body += chunk
        if len(body) > MAX_ERROR_BODY:
            break
    parsed = rpc.json_body(
        httpx.Response(response.status_code, content=bytes(body[:MAX_ERROR_BODY]))
    )
    return rpc.classify_error(response.status_code, parsed, about_model=about_model)
