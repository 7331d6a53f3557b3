from __future__ import annotations

from decimal import Decimal

import pytest
from pydantic import ValidationError

from veorelay.core import timing
from veorelay.core.models import AspectRatio, Resolution, VideoSpec
from veorelay.core.pricing import (
    PPM,
    BillingMode,
    BillingModeNotSupported,
    ModelPrice,
    micros_to_usd,
    multiplier_to_ppm,
    price_to_micros,
    quote,
    usd_to_micros,
)
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


PER_SECOND = {Resolution.P720: 50_000, Resolution.P1080: 60_000, Resolution.K4: 100_000}
FLAT = ModelPrice("m", per_call_micros=300_000)
BOTH = ModelPrice("m", per_call_micros=300_000, per_second_micros=PER_SECOND)
SECOND_ONLY = ModelPrice("m", per_call_micros=None, per_second_micros=PER_SECOND)
PARTIAL = ModelPrice("m", per_call_micros=300_000, per_second_micros={Resolution.P720: 50_000})


def video(seconds: int = 8, resolution: Resolution = Resolution.P720) -> VideoSpec:
    return VideoSpec("m", "p", seconds, resolution, AspectRatio.LANDSCAPE)


@pytest.mark.parametrize(
    ("price", "mode", "spec", "expected"),
    [
        # per_request: the flat price, whatever the duration or resolution
        (FLAT, BillingMode.PER_REQUEST, video(4), 300_000),
        (FLAT, BillingMode.PER_REQUEST, video(8, Resolution.K4), 300_000),
        (BOTH, BillingMode.PER_REQUEST, video(8, Resolution.K4), 300_000),
        # pay_as_you_go: per second x seconds, at the resolution's rate
        (BOTH, BillingMode.PAY_AS_YOU_GO, video(6), 300_000),
        (BOTH, BillingMode.PAY_AS_YOU_GO, video(8, Resolution.K4), 800_000),
        (SECOND_ONLY, BillingMode.PAY_AS_YOU_GO, video(4), 200_000),
        # priority: per second where set, else per call
        (BOTH, BillingMode.PAY_AS_YOU_GO_PRIORITY, video(8, Resolution.P1080), 480_000),
        (PARTIAL, BillingMode.PAY_AS_YOU_GO_PRIORITY, video(8, Resolution.P1080), 300_000),
        (FLAT, BillingMode.PAY_AS_YOU_GO_PRIORITY, video(4), 300_000),
        (SECOND_ONLY, BillingMode.PAY_AS_YOU_GO_PRIORITY, video(4), 200_000),
    ],
)
def test_billing_modes(
    price: ModelPrice, mode: BillingMode, spec: VideoSpec, expected: int
) -> None:
    assert quote(spec, price, mode, PPM) == expected


@pytest.mark.parametrize(
    ("price", "mode", "spec"),
    [
        (FLAT, BillingMode.PAY_AS_YOU_GO, video()),  # pure pay-as-you-go needs per-second
        (PARTIAL, BillingMode.PAY_AS_YOU_GO, video(8, Resolution.K4)),
        (SECOND_ONLY, BillingMode.PER_REQUEST, video()),
        (ModelPrice("m", None), BillingMode.PAY_AS_YOU_GO_PRIORITY, video()),
    ],
)
def test_unsupported_billing_modes_are_refused_by_name(
    price: ModelPrice, mode: BillingMode, spec: VideoSpec
) -> None:
    with pytest.raises(BillingModeNotSupported) as info:
        quote(spec, price, mode, PPM)
    assert info.value.status == 403
    assert info.value.code == "billing_mode_not_supported"
    assert mode.value in info.value.message or "per-call" in info.value.message


@pytest.mark.parametrize(
    ("multiplier", "expected"),
    [("1", 300_000), ("1.5", 450_000), ("0.8", 240_000), ("0", 0), ("0.333333", 100_000)],
)
def test_group_multiplier_rounds_half_up_to_a_micro(multiplier: str, expected: int) -> None:
    assert quote(video(), FLAT, BillingMode.PER_REQUEST, multiplier_to_ppm(multiplier)) == expected


def test_default_per_call_prices() -> None:
    prices = Settings().price_table()
    assert prices == {
        "veo-3.1-fast-generate-preview": 300_000,
        "veo-3.1-generate-preview": 1_200_000,
    }


def test_operator_prices_seed_new_models() -> None:
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


@pytest.mark.parametrize("usd", ["-1", "1000.000001", "\uff11", "1e999999", "NaN", -0.01])
def test_a_price_must_be_from_zero_to_a_thousand_dollars(usd: str | float) -> None:
    with pytest.raises(ValueError, match=r"money|price"):
        price_to_micros(usd)


def test_the_price_bounds_are_accepted() -> None:
    assert price_to_micros("0") == 0
    assert price_to_micros(1000) == 1_000_000_000


@pytest.mark.parametrize("multiplier", ["-1", "100.000001", "\uff12", "Infinity", "1e999999"])
def test_a_multiplier_must_be_from_zero_to_a_hundred(multiplier: str) -> None:
    with pytest.raises(ValueError, match="multiplier"):
        multiplier_to_ppm(multiplier)


def test_a_negative_price_in_the_settings_is_refused() -> None:
    with pytest.raises(ValidationError, match="price must be from 0"):
        Settings(prices={"veo-3.1-generate-preview": -0.3})
