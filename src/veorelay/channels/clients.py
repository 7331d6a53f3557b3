"""One upstream client per channel, built from its (decrypted) configuration and cached.

The engine asks for `client(channel)`; a channel edited by an operator gets a new client (the
cache key includes `updated_at`). Channel rows themselves are cached for a second, so a busy
engine does not read the channels table once per step.
"""

from __future__ import annotations

import time
from typing import Any

import httpx

from veorelay.core.channels import BUILTIN_SIMULATOR, GEMINI_BASE_URL, ChannelKind
from veorelay.db import channels as channel_db
from veorelay.db.channels import Channel
from veorelay.db.database import Database
from veorelay.engine.metrics import EngineMetrics, MeasuredClient
from veorelay.secretbox import SecretBox
from veorelay.upstream.base import UpstreamClient
from veorelay.upstream.gemini import GeminiClient

ROW_CACHE_SECONDS = 1.0


class ChannelClients:
    def __init__(
        self,
        db: Database,
        secrets: SecretBox,
        http: httpx.AsyncClient,
        simulator_url: str | None = None,
        metrics: EngineMetrics | None = None,
    ):
        self._metrics = metrics
        self._db = db
        self._secrets = secrets
        self._http = http
        self._simulator_url = simulator_url
        self._clients: dict[tuple[str, float], UpstreamClient] = {}
        self._rows: dict[str, tuple[float, Channel]] = {}

    async def channel(self, channel_id: str) -> Channel | None:
        cached = self._rows.get(channel_id)
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        async with self._db.read() as conn:
            found = await channel_db.get_channel(conn, channel_id)
        if found is not None:
            self._rows[channel_id] = (time.monotonic() + ROW_CACHE_SECONDS, found)
        return found

    def forget(self, channel_id: str) -> None:
        """Re-read the channel next time (its health or configuration just changed)."""
        self._rows.pop(channel_id, None)

    def client(self, channel: Channel) -> UpstreamClient:
        key = (channel.id, channel.updated_at)
        found = self._clients.get(key)
        if found is None:
            for stale in [k for k in self._clients if k[0] == channel.id]:
                del self._clients[stale]
            found = build_client(
                channel, self._secrets.open(channel.secret), self._http, self._simulator_url
            )
            if self._metrics is not None:
                found = MeasuredClient(found, channel.name, self._metrics)
            self._clients[key] = found
        return found


def build_client(
    channel: Channel,
    secret: dict[str, Any],
    http: httpx.AsyncClient,
    simulator_url: str | None = None,
) -> UpstreamClient:
    base_url = channel.base_url
    if base_url == BUILTIN_SIMULATOR:
        if simulator_url is None:
            raise RuntimeError("the built-in simulator is not running")
        base_url = simulator_url
    if channel.kind is ChannelKind.GEMINI:
        return GeminiClient(http, base_url or GEMINI_BASE_URL, secret["api_keys"])
    # Imported here: google-auth (and requests) take a while to import, and only Vertex
    # channels need them; every operator command would pay for it otherwise.
    from veorelay.upstream.vertex import VertexClient

    assert channel.project is not None
    assert channel.location is not None
    options: dict[str, Any] = {"base_url": base_url, "storage_uri": channel.storage_uri}
    storage_base_url = channel.storage_base_url
    if storage_base_url == BUILTIN_SIMULATOR:
        storage_base_url = simulator_url
    if storage_base_url:
        options["storage_base_url"] = storage_base_url
    return VertexClient(
        http, secret["service_account"], channel.project, channel.location, **options
    )
