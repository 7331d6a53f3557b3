"""Quotes in integer micro-USD. A task keeps the price it was quoted; settling never re-prices.

Billing modes (a token's setting, as the spec documents' consoles have it):
    per_request             the model's flat per-call price
    pay_as_you_go           per-second price x seconds; refused where a model has none
    pay_as_you_go_priority  per-second where set, else the per-call price
A request using any of Veo's extra inputs (reference images, a last frame, an extension; each
enabled per model) adds the model's `extra_input_surcharge_micros` once. The result is
multiplied by the token's group multiplier (parts per million, 1x = 1_000_000).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from enum import StrEnum

from veorelay.core.models import ExtraInput, Resolution, VideoSpec
from veorelay.errors import PermissionDenied

MICROS_PER_USD = 1_000_000
PPM = 1_000_000  # a multiplier of 1.0
# Beyond any real Veo price (Google charges cents to dollars a second): a typo, not a price.
MAX_PRICE_USD = 1000  # per call, or per second
MAX_PRICE_MICROS = MAX_PRICE_USD * MICROS_PER_USD
MAX_MULTIPLIER = 100


class BillingMode(StrEnum):
    PER_REQUEST = "per_request"
    PAY_AS_YOU_GO = "pay_as_you_go"
    PAY_AS_YOU_GO_PRIORITY = "pay_as_you_go_priority"


@dataclass(frozen=True)
class ModelPrice:
    model: str
    per_call_micros: int | None
    per_second_micros: Mapping[Resolution, int] = field(default_factory=dict)
    enabled: bool = True
    extra_inputs: frozenset[ExtraInput] = frozenset()  # off unless an operator enables them
    extra_input_surcharge_micros: int = 0


class BillingModeNotSupported(PermissionDenied):
    default_code = "billing_mode_not_supported"


def usd_to_micros(amount: str | float | Decimal) -> int:
    """Exact conversion of a USD amount (as typed by an operator) to micro-USD. Only ASCII
    digits: Decimal would also read full-width and other Unicode digits."""
    if not str(amount).isascii():
        raise ValueError(f"not an amount of money (ASCII digits only): {amount!r}")
    try:
        value = Decimal(str(amount))
    except InvalidOperation as exc:
        raise ValueError(f"not an amount of money: {amount!r}") from exc
    if not value.is_finite() or abs(value.adjusted()) > 30:  # 1e999999 overflows Decimal
        raise ValueError(f"not an amount of money: {amount!r}")
    micros = value * MICROS_PER_USD
    if micros != micros.to_integral_value():
        raise ValueError(f"{amount!r} has more precision than one micro-dollar")
    return int(micros)


def micros_to_usd(micros: int) -> Decimal:
    return Decimal(micros) / MICROS_PER_USD


def price_to_micros(amount: str | float | Decimal) -> int:
    """A price (per call or per second) in micro-USD: from 0 to MAX_PRICE_USD."""
    micros = usd_to_micros(amount)
    if not 0 <= micros <= MAX_PRICE_MICROS:
        raise ValueError(f"a price must be from 0 to {MAX_PRICE_USD} USD (got {amount!r})")
    return micros


def multiplier_to_ppm(multiplier: str | float | Decimal) -> int:
    """A group multiplier in parts per million: from 0 to MAX_MULTIPLIER, 6 decimals at most."""
    text = str(multiplier)
    try:
        if not text.isascii():
            raise InvalidOperation
        value = Decimal(text) * PPM
        valid = value.is_finite() and 0 <= value <= MAX_MULTIPLIER * PPM
    except ArithmeticError:  # InvalidOperation, Overflow
        valid = False
    if not valid or value != value.to_integral_value():
        raise ValueError(
            f"a multiplier must be a number from 0 to {MAX_MULTIPLIER} "
            f"with at most 6 decimals (got {multiplier!r})"
        )
    return int(value)


def quote(spec: VideoSpec, price: ModelPrice, mode: BillingMode, multiplier_ppm: int) -> int:
    """What this request costs this token, rounded half up to a micro-dollar."""
    base = _base_price(spec, price, mode)
    if spec.extra_inputs:
        base += price.extra_input_surcharge_micros
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
