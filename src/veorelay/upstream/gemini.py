"""The Gemini API adapter. The same code talks to Google and to the simulator.

Keys travel only in the `x-goog-api-key` header (never in a URL, so never in a log line), and
only to the configured base URL's origin: a download redirect to another host goes without it.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import httpx

from veorelay.core.models import VideoSpec
from veorelay.upstream import rpc, transport, wire
from veorelay.upstream.base import OperationRef, OperationState
from veorelay.upstream.errors import (
    CredentialRejected,
    RetryableUpstreamError,
    TaskRejected,
    UpstreamError,
)

MAX_REDIRECTS = 5
KEY_BENCH_SECONDS = 600.0  # a rejected key is tried last for this long
log = logging.getLogger("veorelay.upstream")


def key_id(key: str) -> str:
    """A stable, non-secret name for a key, stored on tasks instead of the key itself."""
    return hashlib.sha256(key.encode()).hexdigest()[:12]


class GeminiClient:
    def __init__(self, http: httpx.AsyncClient, base_url: str, keys: Sequence[str]):
        if not keys:
            raise ValueError("GeminiClient needs at least one API key")
        self._http = http
        self._base = httpx.URL(base_url.rstrip("/") + "/")
        self._keys = {key_id(k): k for k in keys}
        self._kids = list(self._keys)
        self._submits = 0  # the rotation: submit n starts at key n mod the number of keys
        self._benched_until: dict[str, float] = {}

    async def submit(self, spec: VideoSpec, upstream_model: str) -> OperationRef:
        """Submit with the next key in rotation; a key Google rejects is benched for a while
        and the next one tried, so one bad key does not fail its share of the tasks."""
        payload = wire.predict_body(spec)
        rejected: CredentialRejected | None = None
        for kid in self._submit_order():
            try:
                body = await self._call(
                    "POST", wire.predict_path(upstream_model), kid, json=payload, about_model=True
                )
            except CredentialRejected as exc:
                self._benched_until[kid] = time.monotonic() + KEY_BENCH_SECONDS
                log.error("upstream rejected API key %s (%s); benched", kid, exc.message)
                rejected = exc
                continue
            name = body.get("name") if isinstance(body, dict) else None
            if not isinstance(name, str) or "/operations/" not in name:
                raise TaskRejected("upstream accepted the request but returned no operation name")
            return OperationRef(name=name, key_id=kid)
        assert rejected is not None
        raise rejected

    def _submit_order(self) -> list[str]:
        """Every key once, starting at the rotation's next one; benched keys last."""
        at = self._submits % len(self._kids)
        self._submits += 1
        rotated = self._kids[at:] + self._kids[:at]
        now = time.monotonic()
        return sorted(rotated, key=lambda kid: self._benched_until.get(kid, 0.0) > now)

    async def probe(self, upstream_model: str) -> str:
        """One cheap authenticated call for `channel test`: does Google serve this model to the
        first key in rotation? Raises the classified UpstreamError when not."""
        now = time.monotonic()
        kid = next((k for k in self._kids if self._benched_until.get(k, 0.0) <= now), self._kids[0])
        body = await self._call("GET", wire.model_path(upstream_model), kid, about_model=True)
        return wire.describe_model(upstream_model, body)

    async def poll(self, ref: OperationRef) -> OperationState:
        body = await self._call("GET", wire.operation_path(ref.name), ref.key_id)
        return wire.parse_operation(body if isinstance(body, dict) else {})

    @asynccontextmanager
    async def download(
        self, ref: OperationRef, video_uri: str
    ) -> AsyncIterator[AsyncIterator[bytes]]:
        url = self._base.join(wire.download_path(video_uri).lstrip("/")).copy_add_param(
            "alt", "media"
        )
        key = self._key(ref.key_id)
        for _ in range(MAX_REDIRECTS + 1):
            headers = {"x-goog-api-key": key} if self._same_origin(url) else {}
            request = self._http.build_request("GET", url, headers=headers)
            response = await transport.send(self._http, request, stream=True)
            if response.is_redirect and "location" in response.headers:
                await response.aclose()
                url = url.join(response.headers["location"])
                continue
            try:
                if response.status_code != 200:
                    raise await transport.streamed_error(response)
                yield transport.stream_chunks(response)
            finally:
                await response.aclose()
            return
        raise RetryableUpstreamError("too many redirects while downloading the video")

    async def _call(
        self, method: str, path: str, kid: str, *, json: Any = None, about_model: bool = False
    ) -> Any:
        request = self._http.build_request(
            method,
            self._base.join(path.lstrip("/")),
            json=json,
            headers={"x-goog-api-key": self._key(kid)},
        )
        response = await transport.send(self._http, request, stream=False)
        body = rpc.json_body(response)
        if response.status_code != 200:
            raise rpc.classify_error(response.status_code, body, about_model=about_model)
        return body

    def _key(self, kid: str) -> str:
        """The key that created the operation; if it was rotated out, another of the
        channel's keys: they belong to one project, which owns the operation."""
        return self._keys.get(kid) or self._keys[self._kids[0]]

    def _same_origin(self, url: httpx.URL) -> bool:
        return (url.scheme, url.host, url.port) == (
            self._base.scheme,
            self._base.host,
            self._base.port,
        )


__all__ = ["GeminiClient", "UpstreamError", "key_id"]
