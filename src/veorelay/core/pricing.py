"""Quotes in integer micro-USD. A task keeps the price it was quoted; settling never re-prices.

Billing modes (a token's setting, as the spec documents' consoles have it):
    per_request             the model's flat per-call price
    pay_as_you_go           per-second price x seconds; refused where a model has none
    pay_as_you_go_priority  per-second where set, else the per-call price
The result is multiplied by the token's group multiplier (parts per million, 1x = 1_000_000).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from enum import StrEnum

from veorelay.core.models import Resolution, VideoSpec
from veorelay.errors import PermissionDenied

MICROS_PER_USD = 1_000_000
PPM = 1_000_000  # a multiplier of 1.0


class BillingMode(StrEnum):
    PER_REQUEST = "per_request"
    PAY_AS_YOU_GO = "pay_as_you_go"
    PAY_AS_YOU_GO_PRIORITY = "pay_as_you_go_priority"


@dataclass(frozen=True)
class ModelPrice:
    model: str
    per_call_micros: int | None
    per_second_micros: Mapping[Resolution, int] = field(default_factory=dict)
    upstream_model: str | None = None
    enabled: bool = True


class BillingModeNotSupported(PermissionDenied):
    default_code = "billing_mode_not_supported"


def usd_to_micros(amount: str | float | Decimal) -> int:
    """Exact conversion of a USD amount (as typed by an operator) to micro-USD."""
    try:
        value = Decimal(str(amount))
    except InvalidOperation as exc:
        raise ValueError(f"not an amount of money: {amount!r}") from exc
    if not value.is_finite():
        raise ValueError(f"not an amount of money: {amount!r}")
    micros = value * MICROS_PER_USD
    if micros != micros.to_integral_value():
        raise ValueError(f"{amount!r} has more precision than one micro-dollar")
    return int(micros)


def micros_to_usd(micros: int) -> Decimal:
    return Decimal(micros) / MICROS_PER_USD


def multiplier_to_ppm(multiplier: str | float | Decimal) -> int:
    value = Decimal(str(multiplier)) * PPM
    if value < 0 or value != value.to_integral_value():
        raise ValueError(f"a multiplier must be >= 0 with at most 6 decimals: {multiplier!r}")
    return int(value)


def quote(spec: VideoSpec, price: ModelPrice, mode: BillingMode, multiplier_ppm: int) -> int:
    """What this request costs this token, rounded half up to a micro-dollar."""
    base = _base_price(spec, price, mode)
    return (base * multiplier_ppm + PPM // 2) // PPM


def _base_price(spec: VideoSpec, price: ModelPrice, mode: BillingMode) -> int:
    per_second = price.per_second_micros.get(spec.resolution)
    if mode is BillingMode.PER_REQUEST:
        if price.per_call_micros is None:
            raise BillingModeNotSupported(
                f"{spec.model} has no per-call price, so a per_request token cannot use it; "
                "use a pay_as_you_go_priority token.",
                param="model",
            )
        return price.per_call_micros
    if per_second is not None:
        return per_second * spec.seconds
    if mode is BillingMode.PAY_AS_YOU_GO_PRIORITY and price.per_call_micros is not None:
        return price.per_call_micros
    raise BillingModeNotSupported(
        f"Billing mode {mode.value} is not supported for {spec.model} at {spec.resolution}: "
        "it has no per-second price. Use a per_request or pay_as_you_go_priority token.",
        param="model",
    )
