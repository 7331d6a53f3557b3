"""Expected render times and the engine's polling schedule (pure; time is an argument)."""

from __future__ import annotations

import random
import statistics
from collections.abc import Sequence

from veorelay.core.models import Resolution

# Typical render seconds per resolution, from the spec documents' measurements
# (720p 60-90 s, 1080p 80-120 s, 4K 5-6 min). Both models render at about the same speed.
RENDER_SECONDS: dict[Resolution, float] = {
    Resolution.P720: 75.0,
    Resolution.P1080: 100.0,
    Resolution.K4: 330.0,
}


def expected_render_seconds(resolution: Resolution, scale: float) -> float:
    return RENDER_SECONDS[resolution] * scale


MIN_SAMPLES = 3


def learned_render_seconds(recent: Sequence[float], default: float) -> float:
    """The expected render time: the median of recent real renders once there are a few,
    else the documented typical time. The median shrugs off one stuck or instant task."""
    if len(recent) < MIN_SAMPLES:
        return default
    return float(statistics.median(recent))


def first_poll_delay(expected: float) -> float:
    """Gemini gives no progress, so the first look is shortly before the render should end."""
    return expected * 0.8


def poll_interval(expected: float, scale: float) -> float:
    """Later polls: often enough to notice completion quickly, rarely enough not to waste quota."""
    return min(max(expected / 20.0, 2.0 * scale), 15.0 * scale)


def retry_backoff(attempt: int, scale: float, retry_after: float | None = None) -> float:
    """Exponential backoff for retryable upstream errors, honouring the server's own hint."""
    backoff = min(2.0 ** max(attempt - 1, 0) * 2.0, 120.0) * scale
    if retry_after is not None:
        backoff = max(backoff, retry_after)
    return backoff


def client_poll_after_ms(expected: float) -> int:
    """The `openai-poll-after-ms` hint: a tenth of the render time, between 0.1 s and 10 s."""
    return int(min(max(expected / 10.0, 0.1), 10.0) * 1000)


def progress(elapsed: float, expected: float) -> int:
    """An honest estimate in 0..99 while rendering: never 100 before `completed`."""
    if expected <= 0:
        return 99
    fraction = elapsed / expected
    # Linear up to 90 % of the expected time, then approach 99 asymptotically.
    if fraction <= 0.9:
        return max(0, int(fraction * 100))
    overrun = fraction - 0.9
    return min(99, 90 + int(9 * (1 - 1 / (1 + 4 * overrun))))


def jittered(seconds: float, spread: float = 0.2, rng: random.Random | None = None) -> float:
    """`seconds` give or take `spread` (a fraction), so waits that start together end apart."""
    return seconds * (1.0 + (rng or random).uniform(-spread, spread))
