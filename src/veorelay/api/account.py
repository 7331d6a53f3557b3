"""What a token holder can see and do about their own money."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from veorelay.api.deps import IdentityDep, ServicesDep
from veorelay.api.fields import Ref
from veorelay.api.schemas import ErrorBody
from veorelay.core.pricing import micros_to_usd
from veorelay.db import accounts, redemption, usage
from veorelay.db.usage import UsageFilter
from veorelay.errors import InvalidRequest

router = APIRouter(
    tags=["account"], responses={code: {"model": ErrorBody} for code in (400, 401, 403, 404)}
)


def _usd(micros: int) -> float:
    return float(micros_to_usd(micros))


@router.get("/v1/me", operation_id="getMe")
async def me(identity: IdentityDep, services: ServicesDep) -> dict[str, Any]:
    """The token, its settings and limits, and its account's balance."""
    async with services.db.read() as conn:
        account = await accounts.get_account(conn, identity.account_id)
        token = await accounts.get_token(conn, identity.token_id)
    assert account is not None
    assert token is not None
    return {
        "account": {
            "id": account["id"],
            "name": account["name"],
            "balance_micros": account["balance_micros"],
            "balance_usd": f"{micros_to_usd(account['balance_micros']):.6f}",
            "rpm_limit": account["rpm_limit"],
            "max_in_flight": account["max_in_flight"],
        },
        "token": {
            key: token[key]
            for key in (
                "id",
                "name",
                "prefix",
                "group_name",
                "billing_mode",
                "enabled",
                "expires_at",
                "allowed_models",
                "ip_allowlist",
                "spend_limit_micros",
                "spent_micros",
                "rpm_limit",
                "max_in_flight",
                "created_at",
            )
        },
    }


class RedeemBody(BaseModel):
    code: Annotated[Ref, Field(min_length=1)]


@router.post("/v1/redeem", operation_id="redeemCode")
async def redeem(body: RedeemBody, identity: IdentityDep, services: ServicesDep) -> dict[str, Any]:
    """Credit a redemption code to the token's account (each code works once)."""
    async with services.db.write() as conn:
        amount = await redemption.redeem(conn, identity.account_id, body.code, time.time())
        balance = await accounts.balance(conn, identity.account_id)
    return {
        "amount_usd": f"{micros_to_usd(amount):.6f}",
        "balance_usd": f"{micros_to_usd(balance):.6f}",
    }


@router.get("/v1/dashboard/billing/subscription", operation_id="billingSubscription")
async def subscription(identity: IdentityDep, services: ServicesDep) -> dict[str, Any]:
    """OpenAI's legacy shape, as one-api/new-api clients read it: remaining = hard limit - usage."""
    async with services.db.read() as conn:
        balance = await accounts.balance(conn, identity.account_id)
        used = await usage.charged_total(conn, UsageFilter(account_id=identity.account_id))
    total = _usd(balance + used)
    expires = identity.settings.expires_at
    return {
        "object": "billing_subscription",
        "has_payment_method": True,
        "soft_limit_usd": total,
        "hard_limit_usd": total,
        "system_hard_limit_usd": total,
        "access_until": int(expires) if expires else 0,
    }


@router.get("/v1/dashboard/billing/usage", operation_id="billingUsage")
async def billing_usage(
    identity: IdentityDep,
    services: ServicesDep,
    start_date: Annotated[str | None, Query(description="YYYY-MM-DD, inclusive")] = None,
    end_date: Annotated[str | None, Query(description="YYYY-MM-DD, exclusive")] = None,
) -> dict[str, Any]:
    """Charged usage in the period, in cents (`total_usage`), as OpenAI's legacy endpoint."""
    where = UsageFilter(
        account_id=identity.account_id,
        since=_day(start_date, "start_date"),
        until=_day(end_date, "end_date"),
    )
    async with services.db.read() as conn:
        used = await usage.charged_total(conn, where)
    return {"object": "list", "total_usage": _usd(used) * 100}


def _day(value: str | None, param: str) -> float | None:
    if value is None:
        return None
    try:
        return datetime.strptime(value, "%Y-%m-%d").replace(tzinfo=UTC).timestamp()
    except ValueError:
        raise InvalidRequest(f"{param} must be a date like 2026-11-01.", param=param) from None
