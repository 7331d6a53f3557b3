"""How the operator commands show values to a person (`--json` shows them as they are)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

CENT = Decimal("0.01")


def usd(amount: Any) -> str:
    """$10.00, $0.025, -$0.50: cents always, more digits only when the amount has them."""
    try:
        value = Decimal(str(amount))
    except InvalidOperation:
        return str(amount)
    shown = value.quantize(CENT) if value == value.quantize(CENT) else value.normalize()
    return f"-${-shown}" if shown < 0 else f"${shown}"


def moment(seconds: float) -> str:
    """UNIX seconds as ISO 8601 in UTC, to the second: 2026-12-02T11:32:39Z."""
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def cell(key: str, value: Any) -> str:
    """One value of a record, by what its key says it is."""
    if value is None:
        return "-"
    if key.endswith("_usd"):
        if isinstance(value, dict):
            return ", ".join(f"{name} {usd(rate)}" for name, rate in value.items()) or "-"
        return usd(value)
    if key.endswith("_at") and isinstance(value, int | float) and not isinstance(value, bool):
        return moment(value)
    if isinstance(value, list):
        return ", ".join(str(item) for item in value) or "-"
    return str(value)
