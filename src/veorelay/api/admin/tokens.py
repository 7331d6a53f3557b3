"""Admin: tokens and their settings (group, billing mode, limits, allow-lists)."""

from __future__ import annotations

import ipaddress
import time
from typing import Any

from pydantic import BaseModel, Field, StrictBool, field_validator

from veorelay.api.admin import schemas
from veorelay.api.admin.accounts import account_json
from veorelay.api.admin.audited import audited
from veorelay.api.admin.common import Usd, admin_router, micros, money
from veorelay.api.deps import ServicesDep
from veorelay.api.fields import GroupName, ModelName, Name, Ref
from veorelay.core.pricing import BillingMode
from veorelay.db import accounts, catalog
from veorelay.db.accounts import TokenSettings
from veorelay.errors import InvalidRequest, NotFound
from veorelay.services import Services

router = admin_router()


class TokenFields(BaseModel):
    group: GroupName | None = None
    billing_mode: BillingMode | None = None
    enabled: StrictBool | None = None
    expires_at: float | None = Field(None, ge=0, le=1e11)
    allowed_models: list[ModelName] | None = Field(None, max_length=100)
    ip_allowlist: list[Ref] | None = Field(None, max_length=100)
    spend_limit_usd: Usd | None = None
    rpm_limit: int | None = Field(None, ge=1, le=1_000_000)
    max_in_flight: int | None = Field(None, ge=1, le=1_000_000)

    @field_validator("ip_allowlist")
    @classmethod
    def _cidrs(cls, value: list[str] | None) -> list[str] | None:
        for entry in value or []:
            ipaddress.ip_network(entry, strict=False)  # raises ValueError -> 400
        return value

    def changes(self) -> dict[str, Any]:
        """The settings given in the request (null clears a limit)."""
        given = self.model_dump(exclude_unset=True)
        for required in ("group", "billing_mode", "enabled", "name"):  # these cannot be cleared
            if given.get(required, "") is None:
                raise InvalidRequest(f"{required} cannot be null.", param=required)
        if "group" in given:
            given["group_name"] = given.pop("group")
        if "spend_limit_usd" in given:
            value = given.pop("spend_limit_usd")
            limit = None if value is None else micros(value, "spend_limit_usd")
            if limit is not None and limit < 0:
                raise InvalidRequest(
                    "spend_limit_usd must not be negative.", param="spend_limit_usd"
                )
            given["spend_limit_micros"] = limit
        return given


class TokenCreate(TokenFields):
    account_id: Ref
    name: Name


class TokenUpdate(TokenFields):
    name: Name | None = None


async def _check_group(services: Services, changes: dict[str, Any]) -> None:
    if changes.get("group_name") is not None:
        async with services.db.read() as conn:
            known = await catalog.group_multipliers(conn)
        if changes["group_name"] not in known:
            raise InvalidRequest(f"No group {changes['group_name']!r}.", param="group")


async def _token(services: Services, token_id: str) -> dict[str, Any]:
    async with services.db.read() as conn:
        found = await accounts.get_token(conn, token_id)
    if found is None:
        raise NotFound(f"No token {token_id!r}.", param="token_id")
    return money(found)


@router.post("/tokens", response_model=schemas.TokenCreated)
@audited("token.create")
async def create_token(body: TokenCreate, services: ServicesDep) -> dict[str, Any]:
    """Create a token; the secret is in this answer only."""
    await account_json(services, body.account_id)
    return await issue_token(services, body)


async def issue_token(
    services: Services, body: TokenCreate, new_account_balance: int | None = None
) -> dict[str, Any]:
    """Create the token, and with `new_account_balance` first an account of that name holding
    that much: everything is checked first, then written in one transaction."""
    changes = {k: v for k, v in body.changes().items() if v is not None}
    changes.pop("account_id", None)
    changes.pop("name", None)
    await _check_group(services, changes)
    settings = TokenSettings(**changes)
    now = time.time()
    async with services.db.write() as conn:
        account_id = body.account_id
        if new_account_balance is not None:
            account_id = await accounts.create_account(conn, body.name, new_account_balance, now)
        created = await accounts.create_token(conn, account_id, body.name, now, settings)
    return {"token": await _token(services, created.token_id), "secret": created.secret}


@router.get("/tokens", response_model=schemas.TokenList)
async def list_tokens(services: ServicesDep, account_id: str | None = None) -> dict[str, Any]:
    async with services.db.read() as conn:
        return {"data": [money(t) for t in await accounts.list_tokens(conn, account_id)]}


@router.get("/tokens/{token_id}", response_model=schemas.Token)
async def get_token(token_id: str, services: ServicesDep) -> dict[str, Any]:
    return await _token(services, token_id)


@router.patch("/tokens/{token_id}", response_model=schemas.Token)
@audited("token.update", "token_id", _token)
async def update_token(token_id: str, body: TokenUpdate, services: ServicesDep) -> dict[str, Any]:
    changes = body.changes()
    await _check_group(services, changes)
    if changes:
        async with services.db.write() as conn:
            if not await accounts.update_token(conn, token_id, **changes):
                raise NotFound(f"No token {token_id!r}.", param="token_id")
    return await _token(services, token_id)


@router.delete("/tokens/{token_id}", response_model=schemas.Deleted)
@audited("token.delete", "token_id", _token)
async def delete_token(token_id: str, services: ServicesDep) -> dict[str, Any]:
    """Delete a token for good: it stops working (401) and answers 404 here. Its tasks and
    usage stay attributable to its id. (To pause a token, PATCH it with enabled: false.)"""
    async with services.db.write() as conn:
        if not await accounts.delete_token(conn, token_id, time.time()):
            raise NotFound(f"No token {token_id!r}.", param="token_id")
    return {"id": token_id, "deleted": True}
