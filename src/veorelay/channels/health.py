"""A channel's health changes, each written with an event and a log line naming the channel
(never its secret). Counters are updated in SQL, so several engines' faults add up."""

from __future__ import annotations

import logging

from sqlalchemy import or_, update
from sqlalchemy.ext.asyncio import AsyncConnection

from veorelay.core.channels import UNREACHABLE_AFTER_FAULTS, Health
from veorelay.db import channels as channel_db
from veorelay.db.channels import Channel
from veorelay.db.tables import channels

log = logging.getLogger("veorelay.channels")


async def _set(
    conn: AsyncConnection,
    channel: Channel,
    health: Health,
    reason: str | None,
    now: float,
    **values: object,
) -> None:
    await channel_db.update_channel(
        conn, channel.id, health=health.value, last_error=reason, health_changed_at=now, **values
    )


async def cool_down(
    conn: AsyncConnection, channel: Channel, seconds: float, reason: str, now: float
) -> None:
    """Google answered 429: the whole bucket waits, not one key."""
    log.warning("channel %s: cooling down for %.1f s: %s", channel.name, seconds, reason)
    await _set(conn, channel, Health.COOLING, reason, now, cooling_until=now + seconds)
    await channel_db.add_event(conn, channel.id, "cooldown", f"{seconds:.1f} s: {reason}", now)


async def transient_fault(conn: AsyncConnection, channel: Channel, reason: str, now: float) -> None:
    """A 5xx, timeout or reset. After several in a row the channel is taken out and probed."""
    result = await conn.execute(
        update(channels)
        .where(channels.c.id == channel.id)
        .values(consecutive_faults=channels.c.consecutive_faults + 1, last_error=reason)
        .returning(channels.c.consecutive_faults, channels.c.health)
    )
    faults, health = result.one()
    log.warning("channel %s: transient fault %d in a row: %s", channel.name, faults, reason)
    if faults >= UNREACHABLE_AFTER_FAULTS and health != Health.CREDENTIALS.value:
        await _set(conn, channel, Health.UNREACHABLE, reason, now)
        await channel_db.add_event(
            conn, channel.id, "unreachable", f"{faults} faults in a row: {reason}", now
        )
        log.error("channel %s: unreachable; it will be probed until it answers", channel.name)


async def succeeded(conn: AsyncConnection, channel: Channel, now: float) -> None:
    """A call went through: forget the fault streak (written only when there was one), and
    end a cooldown that is over; one another worker set just now stays."""
    if channel.consecutive_faults:
        await conn.execute(
            update(channels).where(channels.c.id == channel.id).values(consecutive_faults=0)
        )
    if channel.health is Health.COOLING:
        await conn.execute(
            update(channels)
            .where(
                channels.c.id == channel.id,
                channels.c.health == Health.COOLING.value,
                or_(channels.c.cooling_until.is_(None), channels.c.cooling_until <= now),
            )
            .values(health=Health.HEALTHY.value, cooling_until=None)
        )


async def credentials_refused(
    conn: AsyncConnection, channel: Channel, reason: str, now: float
) -> None:
    log.error("channel %s: credentials refused, disabled until fixed: %s", channel.name, reason)
    await _set(conn, channel, Health.CREDENTIALS, reason, now)
    await channel_db.add_event(conn, channel.id, "credentials_refused", reason, now)


async def model_gone(
    conn: AsyncConnection, channel: Channel, model: str, reason: str, now: float
) -> None:
    log.error("channel %s: model %s unavailable: %s", channel.name, model, reason)
    await channel_db.set_model_available(conn, channel.id, model, False, reason)
    await channel_db.add_event(conn, channel.id, "model_unavailable", f"{model}: {reason}", now)


async def restore(conn: AsyncConnection, channel: Channel, why: str, now: float) -> None:
    """Back to healthy (a passed probe, or an operator's enable/test)."""
    log.info("channel %s: healthy again (%s)", channel.name, why)
    await _set(conn, channel, Health.HEALTHY, None, now, cooling_until=None, consecutive_faults=0)
    await channel_db.add_event(conn, channel.id, "healthy", why, now)
