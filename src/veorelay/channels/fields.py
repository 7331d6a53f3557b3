"""Validating what an operator gives for a channel (pure), and keeping the settings-made
channels in step with the models on offer."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from veorelay.core.channels import DEFAULT_UPSTREAM_MODELS, ChannelKind, default_cost
from veorelay.db import channels as channel_db
from veorelay.db.channels import ChannelModel
from veorelay.errors import InvalidRequest
from veorelay.secretbox import fingerprint

SA_FIELDS = ("client_email", "private_key", "token_uri")
MAX_KEYS = 10


def service_account(value: Mapping[str, Any] | str) -> dict[str, Any]:
    """A service-account key (the JSON file's content), checked for what google-auth needs."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise InvalidRequest(
                "service_account is not valid JSON.", param="service_account"
            ) from None
    if not isinstance(value, Mapping) or value.get("type") != "service_account":
        raise InvalidRequest(
            'service_account must be a service-account key file ("type": "service_account").',
            param="service_account",
        )
    missing = [name for name in SA_FIELDS if not isinstance(value.get(name), str)]
    if missing:
        raise InvalidRequest(
            f"service_account lacks {', '.join(missing)}.", param="service_account"
        )
    for name in ("client_email", "project_id"):  # shown (fingerprint) and stored (project)
        text = value.get(name)
        if text is not None and (
            not isinstance(text, str) or len(text) > 200 or not text.isprintable()
        ):
            raise InvalidRequest(f"service_account {name} is not valid.", param="service_account")
    # google-auth itself must accept it (a key that does not parse fails here, not at the
    # first submit). Imported here: it is slow to import and only Vertex needs it.
    from veorelay.upstream.tokens import ServiceAccountTokens

    try:
        ServiceAccountTokens(value)
    except ValueError as exc:
        raise InvalidRequest(f"service_account: {exc}.", param="service_account") from None
    return dict(value)


def api_keys(value: list[str]) -> list[str]:
    keys = [key.strip() for key in value if key.strip()]
    if not keys:
        raise InvalidRequest("A gemini channel needs at least one API key.", param="api_keys")
    if len(keys) > MAX_KEYS:
        raise InvalidRequest(
            f"At most {MAX_KEYS} keys: they are one project's (its limits are shared); "
            "add more projects as more channels.",
            param="api_keys",
        )
    if any(not key.isascii() or not key.isprintable() for key in keys):
        raise InvalidRequest("API keys are printable ASCII.", param="api_keys")
    return list(dict.fromkeys(keys))


def secret_fingerprint(kind: ChannelKind, secret: Mapping[str, Any]) -> str:
    """What identifies the credentials without revealing them."""
    if kind is ChannelKind.GEMINI:
        return ",".join(fingerprint(key) for key in secret["api_keys"])
    account = secret["service_account"]
    return f"{account['client_email']} key {fingerprint(account['private_key'])}"


def gcs_uri(value: str | None) -> str | None:
    if value is None or value == "":
        return None
    if not value.startswith("gs://") or len(value) <= len("gs://"):
        raise InvalidRequest("storage_uri must look like gs://bucket/prefix/.", param="storage_uri")
    return value if value.endswith("/") else value + "/"


def model_map(
    kind: ChannelKind, offered: list[str], given: Mapping[str, str | None] | None
) -> dict[str, str]:
    """Public model -> upstream id. Not given: every model on offer with the kind's default
    id. A None value (in an update) removes the model."""
    if given is None:
        return {m: DEFAULT_UPSTREAM_MODELS[kind].get(m, m) for m in offered}
    found: dict[str, str] = {}
    for public, upstream in given.items():
        if upstream is not None:
            found[public] = upstream or DEFAULT_UPSTREAM_MODELS[kind].get(public, public)
    return found


def with_costs(
    models: Mapping[str, str],
    costs: Mapping[str, Mapping[Any, int]],
    previous: Mapping[str, ChannelModel] | None = None,
) -> list[ChannelModel]:
    """The channel's model rows: a given cost wins, else what it had for the same upstream
    id, else Google's list price for the upstream id."""
    rows = []
    for public, upstream in sorted(models.items()):
        before = (previous or {}).get(public)
        cost = (
            dict(before.cost_per_second)
            if before is not None and before.upstream_model == upstream
            else default_cost(upstream)
        )
        cost.update(costs.get(public, {}))
        available = before is None or before.upstream_model != upstream or before.available
        reason = None if available or before is None else before.unavailable_reason
        rows.append(ChannelModel(public, upstream, cost, available, reason))
    return rows


async def offer_on_settings_channels(conn: AsyncConnection, model: str, now: float) -> None:
    """A model newly on offer is served by the channels made from settings (the simulator,
    `env-gemini`) as they serve every model; operator-made channels list theirs explicitly."""
    from veorelay.channels.seed import ENV_CHANNEL, SIMULATOR_CHANNEL

    for channel in await channel_db.list_channels(conn):
        if channel.name in (ENV_CHANNEL, SIMULATOR_CHANNEL) and model not in channel.models:
            upstream = DEFAULT_UPSTREAM_MODELS[channel.kind].get(model, model)
            rows = [*channel.models.values(), ChannelModel(model, upstream, default_cost(upstream))]
            await channel_db.replace_models(conn, channel.id, rows)
            await channel_db.update_channel(conn, channel.id, updated_at=now)
