"""Channels made from settings at start, as prices are seeded, so the quick start stays two
commands: `VEORELAY_GEMINI_API_KEY` becomes the channel `env-gemini`; with no key and no other
channel, the channel `simulator` points at the built-in simulator."""

from __future__ import annotations

import logging
import secrets as random_secrets
from collections.abc import Iterable

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncConnection

from veorelay.channels.fields import with_costs
from veorelay.core.channels import (
    BUILTIN_SIMULATOR,
    DEFAULT_UPSTREAM_MODELS,
    ChannelKind,
    default_cost,
)
from veorelay.core.lifecycle import TaskState
from veorelay.db import channels as channel_db
from veorelay.db.channels import Channel, ChannelModel
from veorelay.db.tables import tasks
from veorelay.secretbox import SecretBox, fingerprint
from veorelay.settings import Settings

log = logging.getLogger("veorelay.channels")

ENV_CHANNEL = "env-gemini"
SIMULATOR_CHANNEL = "simulator"
SIMULATOR_KEY = "veorelay-simulator"


def new_channel_id() -> str:
    return f"ch_{random_secrets.token_hex(8)}"


def default_models(
    kind: ChannelKind, models: Iterable[str], overrides: dict[str, str] | None = None
) -> list[ChannelModel]:
    """Each public model mapped to the id this kind of channel serves it as, with Google's
    list price as its cost."""
    found = []
    for model in models:
        upstream = (overrides or {}).get(model) or DEFAULT_UPSTREAM_MODELS[kind].get(model, model)
        found.append(ChannelModel(model, upstream, default_cost(upstream)))
    return found


def key_fingerprints(keys: list[str]) -> str:
    return ",".join(fingerprint(key) for key in keys)


async def seed_channels(
    conn: AsyncConnection, settings: Settings, box: SecretBox, models: Iterable[str], now: float
) -> bool:
    """Create or refresh the settings-defined channels. Returns whether the built-in
    simulator is needed (an enabled channel points at it)."""
    live = {c.name: c for c in await channel_db.list_channels(conn)}
    keys = [key.get_secret_value() for key in settings.gemini_api_key]
    catalog = sorted(models)
    if keys:
        await _upsert_env_channel(conn, live.get(ENV_CHANNEL), settings, box, keys, catalog, now)
        simulator = live.get(SIMULATOR_CHANNEL)
        if simulator is not None and simulator.enabled and simulator.base_url == BUILTIN_SIMULATOR:
            await channel_db.update_channel(conn, simulator.id, enabled=False, updated_at=now)
            log.warning("a Google key is configured: the built-in simulator channel is disabled")
    elif not await channel_db.any_channel_ever(conn):
        # A fresh install only: once an operator has channels (even all disabled or
        # deleted), synthetic videos must never come back for their customers by themselves.
        await channel_db.insert_channel(
            conn,
            _values(
                new_channel_id(),
                SIMULATOR_CHANNEL,
                box.seal({"api_keys": [SIMULATOR_KEY]}),
                key_fingerprints([SIMULATOR_KEY]),
                BUILTIN_SIMULATOR,
                now,
            ),
            default_models(ChannelKind.GEMINI, catalog, settings.model_map),
        )
    live_now = await channel_db.list_channels(conn)
    await _adopt_tasks_from_before_channels(conn, live_now)
    return any(
        c.enabled and BUILTIN_SIMULATOR in (c.base_url, c.storage_base_url) for c in live_now
    )


async def _adopt_tasks_from_before_channels(conn: AsyncConnection, live: list[Channel]) -> None:
    """Operations started before channels existed were made with the environment's key (or
    the built-in simulator): they are polled and downloaded through that channel."""
    heir = next((c for c in live if c.name == ENV_CHANNEL and c.enabled), None) or next(
        (c for c in live if c.name == SIMULATOR_CHANNEL and c.enabled), None
    )
    if heir is not None:
        await conn.execute(
            update(tasks)
            .where(
                tasks.c.channel_id.is_(None),
                tasks.c.state.in_([TaskState.RUNNING.value, TaskState.DOWNLOADING.value]),
            )
            .values(channel_id=heir.id)
        )


async def _upsert_env_channel(
    conn: AsyncConnection,
    existing: Channel | None,
    settings: Settings,
    box: SecretBox,
    keys: list[str],
    catalog: list[str],
    now: float,
) -> None:
    models = default_models(ChannelKind.GEMINI, catalog, settings.model_map)
    prints = key_fingerprints(keys)
    if existing is None:
        await channel_db.insert_channel(
            conn,
            _values(
                new_channel_id(),
                ENV_CHANNEL,
                box.seal({"api_keys": keys}),
                prints,
                settings.gemini_base_url,
                now,
            ),
            models,
        )
        return
    changed = existing.fingerprint != prints or existing.base_url != settings.gemini_base_url
    if changed:
        await channel_db.update_channel(
            conn,
            existing.id,
            secret=box.seal({"api_keys": keys}),
            fingerprint=prints,
            base_url=settings.gemini_base_url,
            updated_at=now,
        )
    current = {m.model: m.upstream_model for m in existing.models.values()}
    wanted = {m.model: m.upstream_model for m in models}
    if current != wanted:  # keeps the operator's cost overrides where the id is unchanged
        await channel_db.replace_models(
            conn, existing.id, with_costs(wanted, {}, previous=existing.models)
        )
        await channel_db.update_channel(conn, existing.id, updated_at=now)


def _values(
    channel_id: str, name: str, sealed: str, prints: str, base_url: str, now: float
) -> dict[str, object]:
    return {
        "id": channel_id,
        "name": name,
        "kind": ChannelKind.GEMINI.value,
        "secret": sealed,
        "fingerprint": prints,
        "base_url": base_url,
        "created_at": now,
        "updated_at": now,
    }
