"""What a token may do: who it is for, and how much (pure; the clock is an argument).

Refusals, each with its own code:
    403 account_disabled, token_disabled, token_expired, ip_forbidden, model_forbidden
    429 rpm_limit_exceeded, too_many_in_flight (with Retry-After), token_spend_limit_reached

The rate and in-flight limits exist twice, on the token and on its account (over all of the
account's tokens); either refuses with the same code, and the message says which one.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass

from veorelay.errors import PermissionDenied, RateLimited

RPM_WINDOW_SECONDS = 60.0


@dataclass(frozen=True)
class TokenPolicy:
    enabled: bool = True
    account_enabled: bool = True
    expires_at: float | None = None
    allowed_models: Sequence[str] | None = None
    ip_allowlist: Sequence[str] | None = None
    spend_limit_micros: int | None = None
    rpm_limit: int | None = None
    max_in_flight: int | None = None
    account_rpm_limit: int | None = None
    account_max_in_flight: int | None = None

    @property
    def has_account_limits(self) -> bool:
        return self.account_rpm_limit is not None or self.account_max_in_flight is not None


@dataclass(frozen=True)
class Usage:
    """A token's or an account's current numbers: its creates of the last minute (times) and
    its videos queued or in progress."""

    recent_creates: Sequence[float] = ()
    in_flight: int = 0


def check_token(policy: TokenPolicy, client_ip: str | None, now: float) -> None:
    """Checks for every request a token makes."""
    if not policy.account_enabled:
        raise PermissionDenied("This token's account is disabled.", code="account_disabled")
    if not policy.enabled:
        raise PermissionDenied("This token is disabled.", code="token_disabled")
    if policy.expires_at is not None and now >= policy.expires_at:
        raise PermissionDenied("This token has expired.", code="token_expired")
    if policy.ip_allowlist is not None and not ip_allowed(client_ip, policy.ip_allowlist):
        raise PermissionDenied(
            f"Requests from {client_ip or 'an unknown address'} are not allowed for this token.",
            code="ip_forbidden",
        )


def check_model(policy: TokenPolicy, model: str) -> None:
    if policy.allowed_models is not None and model not in policy.allowed_models:
        raise PermissionDenied(
            f"This token may not use {model}; allowed: {', '.join(policy.allowed_models)}.",
            param="model",
            code="model_forbidden",
        )


def ip_allowed(client_ip: str | None, allowlist: Sequence[str]) -> bool:
    if client_ip is None:
        return False
    try:
        address = ipaddress.ip_address(client_ip)
    except ValueError:
        return False
    return any(address in ipaddress.ip_network(entry, strict=False) for entry in allowlist)


def check_usage(
    policy: TokenPolicy,
    *,
    token: Usage,
    account: Usage,
    spent_micros: int,
    price_micros: int,
    retry_in_flight_after: float,
    now: float,
) -> None:
    """Limits checked inside the create transaction, against the token's and its account's
    current numbers."""
    limits = [
        ("token", policy.rpm_limit, policy.max_in_flight, token),
        ("account", policy.account_rpm_limit, policy.account_max_in_flight, account),
    ]
    for holder, rpm_limit, max_in_flight, usage in limits:
        _check_rate(holder, rpm_limit, max_in_flight, usage, retry_in_flight_after, now)
    if (
        policy.spend_limit_micros is not None
        and spent_micros + price_micros > policy.spend_limit_micros
    ):
        raise RateLimited(
            "This token has reached its spending limit.", code="token_spend_limit_reached"
        )


def _check_rate(
    holder: str,
    rpm_limit: int | None,
    max_in_flight: int | None,
    usage: Usage,
    retry_in_flight_after: float,
    now: float,
) -> None:
    if rpm_limit is not None:
        window = [t for t in usage.recent_creates if t > now - RPM_WINDOW_SECONDS]
        if len(window) >= rpm_limit:
            wait = min(window) + RPM_WINDOW_SECONDS - now
            raise RateLimited(
                f"This {holder} may create {rpm_limit} videos a minute.",
                code="rpm_limit_exceeded",
                retry_after=max(1.0, wait),
            )
    if max_in_flight is not None and usage.in_flight >= max_in_flight:
        raise RateLimited(
            f"This {holder} may have {max_in_flight} videos in progress at once.",
            code="too_many_in_flight",
            retry_after=max(1.0, retry_in_flight_after),
        )
