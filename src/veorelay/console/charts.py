"""Bar charts as plain data for an inline SVG (no chart library, no script). Pure."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from veorelay.core.pricing import micros_to_usd

DAY = 86400  # seconds; also the console's unit for expiries and date filters
WIDTH, HEIGHT = 600, 160


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    title: str  # the tooltip: day and value
    series: int = 0  # which field: styled by the CSS class chart-s0, chart-s1, ...


@dataclass(frozen=True)
class Chart:
    bars: list[Bar]
    peak: str  # the top of the scale, as a label
    first_day: str
    last_day: str
    empty: bool
    legend: tuple[str, ...] = ()
    width: int = WIDTH
    height: int = HEIGHT


def usd_label(micros: Any) -> str:
    return f"${micros_to_usd(int(micros or 0)):,.2f}"


def daily_bars(
    rows: list[dict[str, Any]],
    fields: dict[str, str],
    now: float,
    *,
    label: Callable[[Any], str],
    days: int = 30,
) -> Chart:
    """Bars per UTC day for the last `days` days, one per field side by side (series 0, 1,
    ...), from usage summary rows keyed by day number. `fields`: field -> its legend."""
    names = tuple(fields)
    by_day = {int(row["key"]): row for row in rows}
    today = int(now // DAY)
    span = range(today - days + 1, today + 1)
    values = [[int(by_day.get(day, {}).get(name) or 0) for name in names] for day in span]
    peak = max((max(v) for v in values), default=0)
    slot = WIDTH / days
    width = (slot - 2) / len(names)
    bars = []
    for index, (day, row) in enumerate(zip(span, values, strict=True)):
        for series, value in enumerate(row):
            height = 0.0 if peak <= 0 else (HEIGHT - 4) * max(value, 0) / peak
            bars.append(
                Bar(
                    x=round(index * slot + 1 + series * width, 2),
                    y=round(HEIGHT - height, 2),
                    width=round(width, 2),
                    height=round(height, 2),
                    title=f"{_day(day)} {fields[names[series]]}: {label(value)}",
                    series=series,
                )
            )
    return Chart(
        bars=bars,
        peak=label(peak),
        first_day=_day(span[0]),
        last_day=_day(span[-1]),
        empty=peak == 0,
        legend=tuple(fields.values()),
    )


def _day(day: int) -> str:
    return datetime.fromtimestamp(day * DAY, UTC).strftime("%b %d")
