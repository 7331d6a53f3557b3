from __future__ import annotations

from decimal import Decimal

import pytest

from veorelay.core import timing
from veorelay.core.models import AspectRatio, Resolution, VideoSpec
from veorelay.core.pricing import micros_to_usd, quote, usd_to_micros
from veorelay.settings import Settings


@pytest.mark.parametrize(
    ("usd", "micros"),
    [("0.30", 300_000), ("1.2", 1_200_000), (5, 5_000_000), ("0.000001", 1), ("0", 0)],
)
def test_usd_to_micros_is_exact(usd: str | int, micros: int) -> None:
    assert usd_to_micros(usd) == micros
    assert micros_to_usd(micros) == Decimal(str(usd))


@pytest.mark.parametrize("bad", ["0.0000001", "abc", "1e-9"])
def test_usd_to_micros_refuses_fractions_of_a_micro(bad: str) -> None:
    with pytest.raises(ValueError, match=r"\w"):
        usd_to_micros(bad)


@pytest.mark.parametrize("resolution", list(Resolution))
@pytest.mark.parametrize("seconds", [4, 8])
def test_per_call_price_ignores_duration_and_resolution(
    resolution: Resolution, seconds: int
) -> None:
    prices = Settings().price_table()
    fast = VideoSpec(
        "veo-3.1-fast-generate-preview", "p", seconds, resolution, AspectRatio.LANDSCAPE
    )
    standard = VideoSpec("veo-3.1-generate-preview", "p", seconds, resolution, AspectRatio.PORTRAIT)
    assert quote(fast, prices) == 300_000
    assert quote(standard, prices) == 1_200_000


def test_operator_prices_override_defaults() -> None:
    prices = Settings(prices={"veo-3.1-generate-preview": 0.95, "veo-3.1-lite": 0.1}).price_table()
    assert prices["veo-3.1-generate-preview"] == 950_000
    assert prices["veo-3.1-fast-generate-preview"] == 300_000
    assert prices["veo-3.1-lite"] == 100_000


def test_progress_is_monotonic_and_never_100() -> None:
    values = [timing.progress(t / 10, 60.0) for t in range(0, 6000)]
    assert values[0] == 0
    assert values == sorted(values)
    assert max(values) <= 99  # 100 only once completed
    assert values[-1] >= 95  # long overdue: close to done, still honest


def test_poll_schedule_scales_with_render_time() -> None:
    slow = timing.expected_render_seconds(Resolution.K4, 1.0)
    fast = timing.expected_render_seconds(Resolution.P720, 1.0)
    assert timing.first_poll_delay(slow) > timing.first_poll_delay(fast)
    assert 2.0 <= timing.poll_interval(fast, 1.0) <= 15.0
    assert timing.poll_interval(fast, 0.01) < 1.0


def test_backoff_grows_and_honours_retry_after() -> None:
    delays = [timing.retry_backoff(n, 1.0) for n in range(1, 10)]
    assert delays == sorted(delays)
    assert delays[-1] <= 120.0
    assert timing.retry_backoff(1, 1.0, retry_after=30.0) == 30.0


def test_client_poll_hint_is_bounded() -> None:
    assert timing.client_poll_after_ms(75.0) == 7500
    assert timing.client_poll_after_ms(330.0) == 10_000
    assert timing.client_poll_after_ms(0.01) == 100


def test_render_time_is_learned_from_recent_completions() -> None:
    assert timing.learned_render_seconds([], 75.0) == 75.0
    assert timing.learned_render_seconds([40.0, 41.0], 75.0) == 75.0  # too few to trust
    assert timing.learned_render_seconds([40.0, 41.0, 300.0], 75.0) == 41.0  # median: outliers
