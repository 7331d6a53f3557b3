"""Admin: accounts, their money and their ledger."""

from __future__ import annotations

import time
from typing import Annotated, Any

from fastapi import Query
from pydantic import BaseModel, StrictBool

from veorelay import billing
from veorelay.api.admin import schemas
from veorelay.api.admin.audited import audited
from veorelay.api.admin.common import Usd, admin_router, micros, money
from veorelay.api.deps import ServicesDep
from veorelay.api.fields import MAX_INT32, Name, Note, Positive32, checked
from veorelay.db import accounts, usage
from veorelay.errors import InvalidRequest, NotFound
from veorelay.services import Services

router = admin_router()


class AccountCreate(BaseModel):
    name: Name
    balance_usd: Usd = 0


class AccountUpdate(BaseModel):
    name: Name | None = None
    enabled: StrictBool | None = None


class MoneyChange(BaseModel):
    amount_usd: Usd
    note: Note | None = None


async def account_json(services: Services, account_id: str) -> dict[str, Any]:
    async with services.db.read() as conn:
        found = await accounts.get_account(conn, account_id)
    if found is None:
        raise NotFound(f"No account {account_id!r}.", param="account_id")
    return money(found)


def opening_balance(body: AccountCreate) -> int:
    balance = micros(body.balance_usd, "balance_usd")
    if balance < 0:
        raise InvalidRequest("balance_usd must not be negative.", param="balance_usd")
    return balance


@router.post("/accounts", response_model=schemas.Account)
@audited("account.create")
async def create_account(body: AccountCreate, services: ServicesDep) -> dict[str, Any]:
    balance = opening_balance(body)
    async with services.db.write() as conn:
        account_id = await accounts.create_account(conn, body.name, balance, time.time())
    return await account_json(services, account_id)


@router.get("/accounts", response_model=schemas.AccountList)
async def list_accounts(services: ServicesDep) -> dict[str, Any]:
    async with services.db.read() as conn:
        return {"data": [money(a) for a in await accounts.list_accounts(conn)]}


@router.get("/accounts/{account_id}", response_model=schemas.Account)
async def get_account(account_id: str, services: ServicesDep) -> dict[str, Any]:
    return await account_json(services, account_id)


@router.patch("/accounts/{account_id}", response_model=schemas.Account)
@audited("account.update", "account_id", account_json)
async def update_account(
    account_id: str, body: AccountUpdate, services: ServicesDep
) -> dict[str, Any]:
    """Rename, disable or enable an account. A disabled account's tokens are all refused
    (403 account_disabled); its money and history stay."""
    changes = body.model_dump(exclude_none=True)
    await account_json(services, account_id)
    if changes:
        async with services.db.write() as conn:
            await accounts.update_account(conn, account_id, **changes)
    return await account_json(services, account_id)


@router.delete("/accounts/{account_id}", response_model=schemas.Deleted)
@audited("account.delete", "account_id", account_json)
async def delete_account(account_id: str, services: ServicesDep) -> dict[str, Any]:
    """Delete an account with nothing left on it (zero balance, no video in progress), and
    its tokens. Its ledger and usage stay for the books; the id answers 404 afterwards.
    (To stop an account for a while, PATCH it with enabled: false.)"""
    async with services.db.write() as conn:
        if not await accounts.delete_account(conn, account_id, time.time()):
            raise NotFound(f"No account {account_id!r}.", param="account_id")
    return {"id": account_id, "deleted": True}


@router.post("/accounts/{account_id}/top-ups", response_model=schemas.Account)
@audited("account.top_up", "account_id", account_json)
async def top_up(account_id: str, body: MoneyChange, services: ServicesDep) -> dict[str, Any]:
    amount = micros(body.amount_usd, "amount_usd")
    if amount <= 0:
        raise InvalidRequest("A top-up must be positive.", param="amount_usd")
    await account_json(services, account_id)
    async with services.db.write() as conn:
        await billing.top_up(conn, account_id, amount, time.time(), body.note)
    return await account_json(services, account_id)


@router.post("/accounts/{account_id}/adjustments", response_model=schemas.Account)
@audited("account.adjust", "account_id", account_json)
async def adjust(account_id: str, body: MoneyChange, services: ServicesDep) -> dict[str, Any]:
    amount = micros(body.amount_usd, "amount_usd")
    await account_json(services, account_id)
    async with services.db.write() as conn:
        await billing.adjust(conn, account_id, amount, time.time(), body.note)
    return await account_json(services, account_id)


@router.get("/accounts/{account_id}/ledger", response_model=schemas.LedgerPage)
async def account_ledger(
    account_id: str,
    services: ServicesDep,
    before_id: Annotated[int | None, Query(ge=1, le=MAX_INT32)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    if before_id is not None:  # the command line calls this directly
        checked(Positive32, before_id, "before_id")
    if not 1 <= limit <= 1000:
        raise InvalidRequest("limit must be from 1 to 1000.", param="limit")
    await account_json(services, account_id)
    async with services.db.read() as conn:
        rows = await usage.ledger_page(conn, account_id, before_id=before_id, limit=limit)
    return {"data": [money(r) for r in rows]}
