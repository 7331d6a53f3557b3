"""Quotes in integer micro-USD. A task keeps the price it was quoted; settling never re-prices."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation

from veorelay.core.models import VideoSpec

MICROS_PER_USD = 1_000_000


def usd_to_micros(amount: str | float | Decimal) -> int:
    """Exact conversion of a USD amount (as typed by an operator) to micro-USD."""
    try:
        value = Decimal(str(amount))
    except InvalidOperation as exc:
        raise ValueError(f"not an amount of money: {amount!r}") from exc
    micros = value * MICROS_PER_USD
    if micros != micros.to_integral_value():
        raise ValueError(f"{amount!r} has more precision than one micro-dollar")
    return int(micros)


def micros_to_usd(micros: int) -> Decimal:
    return Decimal(micros) / MICROS_PER_USD


def quote(spec: VideoSpec, per_call_micros: Mapping[str, int]) -> int:
    """Pay-per-request: one flat price per model, whatever the duration or resolution."""
    return per_call_micros[spec.model]
