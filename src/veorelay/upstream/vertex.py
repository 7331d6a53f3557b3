"""The Vertex AI adapter: Veo 3.1 through a service account, a project and a location.

Every call carries `Authorization: Bearer <access token>` (tokens.py), sent only to the
configured Vertex and Cloud Storage base URLs; a 401 gets one retry with a fresh token.
Finished videos come back inline, as base64 inside the operation JSON, or as a `gcsUri` in the
channel's bucket. Inline ones are never held whole: `poll` stops reading at the first sign of
a video and reports `inline:0`; `download` fetches the operation again and decodes the base64
as it streams in (inline.py).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import aclosing, asynccontextmanager
from typing import Any

import httpx

from veorelay.core.models import VideoSpec
from veorelay.upstream import rpc, transport, vertex_wire
from veorelay.upstream.base import OperationRef, OperationState
from veorelay.upstream.errors import OperationLost, RetryableUpstreamError, TaskRejected
from veorelay.upstream.inline import InlineVideoError, InlineVideoReader
from veorelay.upstream.tokens import ServiceAccountTokens

log = logging.getLogger("veorelay.upstream")


class VertexClient:
    def __init__(
        self,
        http: httpx.AsyncClient,
        credentials_info: dict[str, Any],
        project: str,
        location: str,
        *,
        base_url: str | None = None,
        storage_uri: str | None = None,
        storage_base_url: str = "https://storage.googleapis.com",
    ):
        """`credentials_info`: the parsed service-account key file; a ValueError says which
        fields it lacks. `storage_uri`: `gs://bucket/prefix/` for results in Cloud Storage."""
        if not project or not location:
            raise ValueError("VertexClient needs a project and a location")
        if storage_uri is not None and not storage_uri.startswith("gs://"):
            raise ValueError("storage_uri must look like gs://bucket/prefix/")
        self._http = http
        self._tokens = ServiceAccountTokens(credentials_info)
        self._project = project
        self._location = location
        self._base = (base_url or vertex_wire.default_base_url(location)).rstrip("/")
        self._storage_uri = storage_uri
        self._storage_base = storage_base_url.rstrip("/")

    def __repr__(self) -> str:
        return (
            f"VertexClient(project={self._project!r}, location={self._location!r}, "
            f"account={self._tokens.email!r})"
        )

    async def submit(self, spec: VideoSpec, upstream_model: str) -> OperationRef:
        path = vertex_wire.predict_path(self._project, self._location, upstream_model)
        body = await self._call(
            "POST",
            self._base + path,
            json=vertex_wire.predict_body(spec, self._storage_uri),
            about_model=True,
        )
        return OperationRef(name=vertex_wire.operation_name(body), key_id=self._project)

    async def poll(self, ref: OperationRef) -> OperationState:
        """Reads the operation until it knows: an inline video's first bytes are enough."""
        reader = InlineVideoReader(wanted=None)
        async with (
            self._fetch_operation(ref) as response,
            aclosing(transport.stream_chunks(response)) as chunks,
        ):
            try:
                async for chunk in chunks:
                    reader.feed(chunk)
                    if reader.seen:
                        return OperationState(done=True, video_uri=f"{vertex_wire.INLINE}0")
                return vertex_wire.parse_operation(reader.rest())
            except InlineVideoError as exc:
                raise RetryableUpstreamError(f"unreadable operation from upstream: {exc}") from None

    @asynccontextmanager
    async def download(
        self, ref: OperationRef, video_uri: str
    ) -> AsyncIterator[AsyncIterator[bytes]]:
        index = vertex_wire.inline_index(video_uri)
        if index is not None:
            async with self._fetch_operation(ref) as response:
                yield _inline_video(response, index)
            return
        url = self._storage_base + vertex_wire.storage_path(video_uri)
        async with self._open("GET", url, params={"alt": "media"}) as response:
            yield transport.stream_chunks(response)

    async def probe(self, upstream_model: str) -> str:
        """A fresh token (so the key itself is tested), then the model's card."""
        await self._tokens.token(fresh=True)
        body = await self._call(
            "GET",
            self._base + vertex_wire.publisher_model_path(upstream_model),
            headers={"x-goog-user-project": self._project},
            about_model=True,
        )
        return vertex_wire.describe_publisher_model(upstream_model, body)

    @asynccontextmanager
    async def _fetch_operation(self, ref: OperationRef) -> AsyncIterator[httpx.Response]:
        url = self._base + vertex_wire.fetch_path(ref.name)
        async with self._open("POST", url, json={"operationName": ref.name}) as response:
            yield response

    async def _call(
        self,
        method: str,
        url: str,
        *,
        json: Any = None,
        headers: dict[str, str] | None = None,
        about_model: bool = False,
    ) -> Any:
        response = await self._send(method, url, json=json, headers=headers, stream=False)
        body = rpc.json_body(response)
        if response.status_code != 200:
            raise rpc.classify_error(response.status_code, body, about_model=about_model)
        return body

    @asynccontextmanager
    async def _open(
        self, method: str, url: str, *, json: Any = None, params: dict[str, str] | None = None
    ) -> AsyncIterator[httpx.Response]:
        """A streamed 200 response, closed on the way out; anything else raised, classified."""
        response = await self._send(method, url, json=json, params=params, stream=True)
        try:
            if response.status_code != 200:
                raise await transport.streamed_error(response)
            yield response
        finally:
            await response.aclose()

    async def _send(
        self,
        method: str,
        url: str,
        *,
        stream: bool,
        json: Any = None,
        params: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        token = await self._tokens.token()
        for attempt in range(2):
            request = self._http.build_request(
                method,
                url,
                json=json,
                params=params,
                headers={**(headers or {}), "authorization": f"Bearer {token}"},
            )
            response = await transport.send(self._http, request, stream=stream)
            if response.status_code != 401 or attempt:
                return response
            await response.aclose()
            log.info("upstream refused the access token of %s; refreshing", self._tokens.email)
            token = await self._tokens.token(rejected=token)
        raise AssertionError("unreachable")


async def _inline_video(response: httpx.Response, index: int) -> AsyncIterator[bytes]:
    reader = InlineVideoReader(wanted=index)
    try:
        async with aclosing(transport.stream_chunks(response)) as chunks:
            async for chunk in chunks:
                for piece in reader.feed(chunk):
                    if piece:
                        yield piece
                if reader.finished:
                    return
        if reader.seen > index:
            raise RetryableUpstreamError("the inline video was cut off in transfer")
        state = vertex_wire.parse_operation(reader.rest())
    except InlineVideoError as exc:
        raise RetryableUpstreamError(f"unreadable inline video: {exc}") from None
    if not state.done:
        raise TaskRejected("upstream reports the operation running again")
    raise OperationLost(f"the operation no longer holds inline video {index}")


__all__ = ["VertexClient"]
