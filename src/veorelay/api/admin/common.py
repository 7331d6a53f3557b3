"""What every admin route shares: the admin-key check, the router, money in and out."""

from __future__ import annotations

import hmac
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import StrictFloat, StrictInt, StrictStr

from veorelay.api.admin.audited import ACTOR
from veorelay.api.schemas import ErrorBody
from veorelay.core.pricing import micros_to_usd, price_to_micros, usd_to_micros
from veorelay.errors import AuthenticationFailed, InvalidRequest, PermissionDenied
from veorelay.services import Services

ADMIN_SCHEME = HTTPBearer(
    auto_error=False,
    scheme_name="adminKey",
    description="The operator's key: `Authorization: Bearer $VEORELAY_ADMIN_KEY`.",
)


async def require_admin(
    request: Request,
    _scheme: Annotated[HTTPAuthorizationCredentials | None, Security(ADMIN_SCHEME)],
) -> None:
    authorization = request.headers.get("authorization")
    services: Services = request.app.state.services
    key = services.settings.admin_key
    if key is None:
        raise PermissionDenied(
            "The admin API is off; set VEORELAY_ADMIN_KEY.", code="admin_disabled"
        )
    scheme, _, secret = (authorization or "").partition(" ")
    # Bytes, not str: compare_digest refuses non-ASCII strings with a TypeError.
    if scheme.lower() != "bearer" or not hmac.compare_digest(
        secret.strip().encode(), key.get_secret_value().encode()
    ):
        raise AuthenticationFailed("Invalid admin key.", code="invalid_admin_key")
    ACTOR.set("admin-api")


def admin_router() -> APIRouter:
    """A router whose every route needs the admin key."""
    return APIRouter(
        prefix="/admin/api",
        tags=["admin"],
        dependencies=[Depends(require_admin)],
        responses={code: {"model": ErrorBody} for code in (400, 401, 403, 404, 409)},
    )


# Strict: a boolean or a list is not an amount of money.
Usd = StrictStr | StrictInt | StrictFloat
MAX_MICROS = 10**15  # a billion dollars; keeps every sum inside a 64-bit column


def micros(value: Usd, param: str) -> int:
    try:
        micros = usd_to_micros(value)
    except ValueError as exc:
        raise InvalidRequest(str(exc), param=param) from None
    if abs(micros) > MAX_MICROS:
        raise InvalidRequest(f"{param} is out of range.", param=param)
    return micros


def price_micros(value: Usd, param: str) -> int:
    """A model's price: 0 to MAX_PRICE_USD (a negative price would pay the customer)."""
    try:
        return price_to_micros(value)
    except ValueError as exc:
        raise InvalidRequest(f"{param}: {exc}.", param=param) from None


def usd(micros: int | None) -> str | None:
    return None if micros is None else f"{micros_to_usd(micros):.6f}"


def money(row: dict[str, Any]) -> dict[str, Any]:
    """Add a `*_usd` string beside every `*_micros` integer."""
    out = dict(row)
    for key, value in row.items():
        if key.endswith("_micros"):
            out[key.removesuffix("_micros") + "_usd"] = usd(value)
    return out
