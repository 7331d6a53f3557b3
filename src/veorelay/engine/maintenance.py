"""Housekeeping the engine runs now and then: probe unreachable channels, prune old rows."""

from __future__ import annotations

import logging
import time

from veorelay.channels import health
from veorelay.channels.clients import ChannelClients
from veorelay.core.channels import Health
from veorelay.db import channels as channel_db
from veorelay.db import idempotency as idempotency_db
from veorelay.db import webhooks as webhook_db
from veorelay.db.channels import Channel
from veorelay.db.database import Database
from veorelay.upstream.errors import CredentialRejected, UpstreamError

log = logging.getLogger("veorelay.channels")

SUBMIT_LOG_SECONDS = 2 * 24 * 3600.0  # covers a quota day in any time zone
EVENT_LOG_SECONDS = 30 * 24 * 3600.0
WEBHOOK_LOG_SECONDS = 30 * 24 * 3600.0  # finished webhook deliveries and their attempts


async def probe(clients: ChannelClients, channel: Channel) -> str:
    """One cheap authenticated call; returns what Google answered, raises UpstreamError."""
    model = next(iter(channel.models.values()), None)
    if model is None:
        raise UpstreamError("the channel serves no model to probe")
    return await clients.client(channel).probe(model.upstream_model)


async def probe_unreachable(db: Database, clients: ChannelClients, now: float) -> None:
    """Channels out for transient faults come back by themselves once a probe passes;
    credential failures stay off until an operator acts."""
    async with db.read() as conn:
        channels = await channel_db.list_channels(conn)
    for channel in channels:
        if not channel.enabled or channel.health is not Health.UNREACHABLE:
            continue
        try:
            answer = await probe(clients, channel)
        except UpstreamError as exc:
            await _probe_failed(db, channel, exc, now)
        except Exception as exc:  # a client that cannot be built: the operator's to fix
            refused = CredentialRejected(f"cannot build the client: {type(exc).__name__}")
            await _probe_failed(db, channel, refused, now)
        else:
            async with db.write() as conn:
                await health.restore(conn, channel, f"probe passed: {answer}", time.time())
        clients.forget(channel.id)


async def _probe_failed(db: Database, channel: Channel, exc: UpstreamError, now: float) -> None:
    if isinstance(exc, CredentialRejected):
        async with db.write() as conn:
            await health.credentials_refused(conn, channel, exc.message, now)
    else:
        log.warning("channel %s: probe failed: %s", channel.name, exc.message)
        async with db.write() as conn:
            await channel_db.add_event(conn, channel.id, "probe_failed", exc.message, now)


async def prune(db: Database, now: float) -> None:
    async with db.write() as conn:
        await channel_db.prune(conn, now - SUBMIT_LOG_SECONDS, now - EVENT_LOG_SECONDS)
        await idempotency_db.prune(conn, now)
        await webhook_db.prune(conn, now - WEBHOOK_LOG_SECONDS)
