"""What a channel is, as plain data: its kind, its health, the models and costs it defaults to.

A channel is one upstream quota bucket (a Vertex AI project, or the API keys of one Gemini
project): Google's limits apply per project and model, so rotating keys inside one project buys
nothing. See docs/channels.md.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from zoneinfo import ZoneInfo

from veorelay.core.models import Resolution


class ChannelKind(StrEnum):
    GEMINI = "gemini"
    VERTEX = "vertex"


class Health(StrEnum):
    HEALTHY = "healthy"
    COOLING = "cooling"  # answered 429: no submits until `cooling_until`
    UNREACHABLE = "unreachable"  # repeated transient faults: probed, re-enabled by itself
    CREDENTIALS = "credentials"  # key or service account refused: off until an operator acts


# Health states in which the dispatcher may send work (cooling is checked against its clock).
DISPATCHABLE = frozenset({Health.HEALTHY, Health.COOLING})
# After this many transient faults in a row a channel is taken out and probed instead.
UNREACHABLE_AFTER_FAULTS = 5

GEMINI_BASE_URL = "https://generativelanguage.googleapis.com"
# The engine swaps this for the embedded simulator's loopback address.
BUILTIN_SIMULATOR = "builtin:simulator"

# Public model name -> upstream model id, per kind. The Gemini API served the preview ids
# under their own names; Vertex AI serves Veo 3.1 as the GA `-001` ids.
DEFAULT_UPSTREAM_MODELS: dict[ChannelKind, dict[str, str]] = {
    ChannelKind.GEMINI: {
        "veo-3.1-generate-preview": "veo-3.1-generate-preview",
        "veo-3.1-fast-generate-preview": "veo-3.1-fast-generate-preview",
        "veo-3.1-lite-generate-preview": "veo-3.1-lite-generate-preview",
    },
    ChannelKind.VERTEX: {
        "veo-3.1-generate-preview": "veo-3.1-generate-001",
        "veo-3.1-fast-generate-preview": "veo-3.1-fast-generate-001",
        "veo-3.1-lite-generate-preview": "veo-3.1-lite-generate-001",
    },
}

_USD = 1_000_000


def _per_second(p720: float, p1080: float, k4: float | None) -> dict[Resolution, int]:
    costs = {Resolution.P720: round(p720 * _USD), Resolution.P1080: round(p1080 * _USD)}
    if k4 is not None:
        costs[Resolution.K4] = round(k4 * _USD)
    return costs


# What Google charges per second of video (with audio), from its public price list; an
# operator overrides these per channel and model. Keyed by upstream model id.
DEFAULT_COSTS: dict[str, dict[Resolution, int]] = {
    "veo-3.1-generate-001": _per_second(0.40, 0.40, 0.60),
    "veo-3.1-generate-preview": _per_second(0.40, 0.40, 0.60),
    "veo-3.1-fast-generate-001": _per_second(0.15, 0.15, 0.35),
    "veo-3.1-fast-generate-preview": _per_second(0.15, 0.15, 0.35),
    "veo-3.1-lite-generate-001": _per_second(0.05, 0.08, None),
    "veo-3.1-lite-generate-preview": _per_second(0.05, 0.08, None),
}


def default_cost(upstream_model: str) -> dict[Resolution, int]:
    return dict(DEFAULT_COSTS.get(upstream_model, {}))


def upstream_cost(per_second: dict[Resolution, int], resolution: Resolution, seconds: int) -> int:
    """What one render costs the operator, in micro-USD (0 where no cost is known)."""
    return per_second.get(resolution, 0) * seconds


_PACIFIC = ZoneInfo("America/Los_Angeles")


def quota_day_start(now: float) -> float:
    """Google's daily quotas reset at midnight Pacific time: when did today's quota day begin?"""
    local = dt.datetime.fromtimestamp(now, _PACIFIC)
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    return midnight.timestamp()
