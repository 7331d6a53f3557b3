"""The seam between the engine and any upstream (Gemini API, Vertex AI)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import Protocol

from veorelay.core.models import VideoSpec


@dataclass(frozen=True)
class OperationRef:
    """What we keep to find an operation again: its name and which credential created it
    (a Gemini key's id, a Vertex project: never a secret)."""

    name: str
    key_id: str


@dataclass(frozen=True)
class OperationState:
    done: bool
    video_uri: str | None = None
    error_code: str | None = None
    error_message: str | None = None
    filtered_reasons: list[str] = field(default_factory=list)

    @property
    def succeeded(self) -> bool:
        return self.done and self.video_uri is not None


class UpstreamClient(Protocol):
    async def probe(self, upstream_model: str) -> str:
        """One cheap authenticated call (`channel test`): a short description of what Google
        answered, e.g. "model veo-3.1-generate-001 available (GA)"; raises the classified
        `UpstreamError` (CredentialRejected, ModelUnavailable, ...) when it refused."""
        ...

    async def submit(self, spec: VideoSpec, upstream_model: str) -> OperationRef:
        """Start a render; raises `upstream.errors.UpstreamError` subclasses."""
        ...

    async def poll(self, ref: OperationRef) -> OperationState: ...

    def download(
        self, ref: OperationRef, video_uri: str
    ) -> AbstractAsyncContextManager[AsyncIterator[bytes]]:
        """Stream the finished video's bytes; never holds the whole file in memory."""
        ...
