"""The customer's tokens and console logins."""

from __future__ import annotations

import time
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from veorelay.api.admin import tokens as admin_tokens
from veorelay.api.admin.common import money
from veorelay.console.charts import DAY
from veorelay.console.guard import CustomerDep, services_of
from veorelay.console.render import page
from veorelay.core.pricing import BillingMode
from veorelay.db import accounts, catalog, signals
from veorelay.db import console_sessions as session_db
from veorelay.errors import Conflict, InvalidRequest, NotFound

router = APIRouter(prefix="/console")
BILLING_MODES = {
    BillingMode.PER_REQUEST: "Pay-per-request",
    BillingMode.PAY_AS_YOU_GO_PRIORITY: "Pay-as-you-go Priority",
    BillingMode.PAY_AS_YOU_GO: "Pay-as-you-go",
}


@router.get("/tokens")
async def tokens_page(request: Request, customer: CustomerDep) -> Response:
    return await _tokens(request, customer)


async def _tokens(
    request: Request, customer: CustomerDep, created: dict[str, Any] | None = None
) -> Response:
    services = services_of(request)
    async with services.db.read() as conn:
        rows = await accounts.list_tokens(conn, customer.identity.account_id)
        groups = await _groups_open_to(conn, customer)
        logins = await session_db.list_logins(conn, customer.identity.account_id)
    names = {r["id"]: r["name"] for r in rows}
    return page(
        request,
        "tokens.html",
        tokens=[money(r) for r in rows],
        logins=[(login, names.get(login.token_id, "(deleted token)")) for login in logins],
        groups=groups,
        billing_modes=BILLING_MODES,
        created=created,
        current=customer.identity.token_id,
    )


async def _groups_open_to(conn: Any, customer: CustomerDep) -> list[str]:
    """A customer may pick a group no cheaper than their own token's: a token holder cannot
    give themselves a discount."""
    multipliers = await catalog.group_multipliers(conn)
    floor = multipliers.get(customer.identity.settings.group_name, 0)
    return sorted(name for name, ppm in multipliers.items() if ppm >= floor)


@router.post("/tokens")
async def create_token(
    request: Request,
    customer: CustomerDep,
    name: Annotated[str, Form(min_length=1, max_length=200)],
    group: Annotated[str, Form(max_length=64)],
    billing_mode: Annotated[BillingMode, Form()],
    spend_limit_usd: Annotated[str, Form(max_length=20)] = "",
    rpm_limit: Annotated[str, Form(max_length=10)] = "",
    max_in_flight: Annotated[str, Form(max_length=10)] = "",
    expires_in_days: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    services = services_of(request)
    async with services.db.read() as conn:
        if group not in await _groups_open_to(conn, customer):
            raise InvalidRequest(f"Group {group!r} is not open to this account.", param="group")
    days = _whole(expires_in_days, "expires_in_days")
    body = admin_tokens.TokenCreate(
        account_id=customer.identity.account_id,
        name=name,
        group=group,
        billing_mode=billing_mode,
        spend_limit_usd=spend_limit_usd.strip() or None,
        rpm_limit=_whole(rpm_limit, "rpm_limit"),
        max_in_flight=_whole(max_in_flight, "max_in_flight"),
        expires_at=time.time() + days * DAY if days else None,
    )
    created = await admin_tokens.issue_token(services, body)
    return await _tokens(request, customer, created=created)


def _whole(value: str, param: str) -> int | None:
    value = value.strip()
    if not value:
        return None
    if not value.isdigit() or int(value) < 1:
        raise InvalidRequest(f"{param} must be a whole number of at least 1.", param=param)
    return int(value)


async def _own_token(request: Request, customer: CustomerDep, token_id: str) -> None:
    async with services_of(request).db.read() as conn:
        found = await accounts.get_token(conn, token_id)
    if found is None or found["account_id"] != customer.identity.account_id:
        raise NotFound(f"No token {token_id!r}.", param="token_id")


@router.post("/tokens/{token_id}/disable")
async def disable_token(request: Request, token_id: str, customer: CustomerDep) -> Response:
    await _own_token(request, customer, token_id)
    services = services_of(request)
    async with services.db.write() as conn:
        await accounts.update_token(conn, token_id, enabled=False)
        await signals.notify(conn, signals.CHANGES)
    services.forget_cached()
    return RedirectResponse("/console/tokens", status_code=303)


@router.post("/tokens/{token_id}/delete")
async def delete_token(request: Request, token_id: str, customer: CustomerDep) -> Response:
    await _own_token(request, customer, token_id)
    services = services_of(request)
    async with services.db.write() as conn:
        await accounts.delete_token(conn, token_id, time.time())
        await signals.notify(conn, signals.CHANGES)
    services.forget_cached()
    return RedirectResponse("/console/tokens", status_code=303)


@router.post("/logins")
async def create_login(
    request: Request,
    customer: CustomerDep,
    username: Annotated[str, Form(min_length=3, max_length=100, pattern=r"^[A-Za-z0-9._@-]+$")],
    password: Annotated[str, Form(min_length=12, max_length=200)],
    token_id: Annotated[str, Form(max_length=64)],
) -> Response:
    """A username and password that sign in as one of the account's tokens: for a colleague
    who should use the console without holding the token's secret."""
    await _own_token(request, customer, token_id)
    async with services_of(request).db.write() as conn:
        made = await session_db.create_login(
            conn,
            username=username,
            password=password,
            account_id=customer.identity.account_id,
            token_id=token_id,
            now=time.time(),
        )
    if not made:
        raise Conflict(f"The username {username!r} is taken.", param="username")
    return RedirectResponse("/console/tokens", status_code=303)


@router.post("/logins/{login_id}/delete")
async def delete_login(request: Request, login_id: str, customer: CustomerDep) -> Response:
    async with services_of(request).db.write() as conn:
        deleted = await session_db.delete_login(conn, customer.identity.account_id, login_id)
    if not deleted:
        raise NotFound(f"No login {login_id!r}.", param="login_id")
    return RedirectResponse("/console/tokens", status_code=303)
