"""The console's pure parts: money and time as people read them, charts, throttling,
password hashing."""

from __future__ import annotations

import pytest

from veorelay.console import charts
from veorelay.console.guard import SignInThrottle
from veorelay.console.render import duration, usd
from veorelay.db.console_sessions import hash_password, password_matches
from veorelay.errors import RateLimited

DAY = 86400


@pytest.mark.parametrize(
    ("micros", "shown"),
    [
        (0, "$0.00"),
        (300_000, "$0.30"),
        (1_200_000, "$1.20"),
        (1_500, "$0.0015"),
        (-300_000, "-$0.30"),
        (1_234_567_890_000, "$1,234,567.89"),
        (None, "—"),
    ],
)
def test_money_reads_as_dollars_and_cents(micros: int | None, shown: str) -> None:
    assert usd(micros) == shown


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [
        (None, "—"),
        (0.4, "0 s"),
        (59, "59 s"),
        (60, "1 min"),
        (75, "1 min 15 s"),
        (3720, "1 h 2 min"),
    ],
)
def test_durations_read_as_people_say_them(seconds: float | None, shown: str) -> None:
    assert duration(seconds) == shown


def test_daily_bars_scale_to_the_peak_and_fill_missing_days() -> None:
    now = 100 * DAY + 3600
    rows = [
        {"key": 100, "charged_micros": 2_000_000, "upstream_cost_micros": 500_000},
        {"key": 98, "charged_micros": 1_000_000, "upstream_cost_micros": 0},
    ]
    chart = charts.daily_bars(
        rows,
        {"charged_micros": "revenue", "upstream_cost_micros": "cost"},
        now,
        label=charts.usd_label,
        days=3,
    )
    assert chart.legend == ("revenue", "cost")
    assert [bar.series for bar in chart.bars] == [0, 1, 0, 1, 0, 1]
    heights = [bar.height for bar in chart.bars]
    assert heights[4] == charts.HEIGHT - 4  # today's revenue is the peak: full height
    assert heights[0] == pytest.approx((charts.HEIGHT - 4) / 2)
    assert heights[2:4] == [0, 0]  # day 99: nothing
    assert chart.peak == "$2.00"
    assert "revenue: $2.00" in chart.bars[4].title
    assert not chart.empty


def test_an_empty_chart_says_so() -> None:
    chart = charts.daily_bars([], {"completed": "completed"}, 10 * DAY, label=str)
    assert chart.empty
    assert {bar.height for bar in chart.bars} == {0}


def test_sign_in_throttle_counts_failures_per_address_in_a_window() -> None:
    throttle = SignInThrottle(limit=3, window=60)
    for second in range(3):
        throttle.check("10.0.0.1", second)
        throttle.failed("10.0.0.1", second)
    with pytest.raises(RateLimited) as refused:
        throttle.check("10.0.0.1", 10)
    assert refused.value.retry_after == 51
    throttle.check("10.0.0.2", 10)  # another address is not held up
    throttle.check("10.0.0.1", 61)  # the first failure has left the window


def test_passwords_are_salted_scrypt() -> None:
    first, second = hash_password("correct horse battery"), hash_password("correct horse battery")
    assert first != second
    assert first.startswith("scrypt$")
    assert password_matches("correct horse battery", first)
    assert not password_matches("correct horse batterY", first)
