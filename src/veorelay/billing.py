"""The append-only ledger. Every balance change is a ledger row written in the same transaction.

    topup       +amount   money in (operator)
    redemption  +amount   money in (a redemption code)
    adjustment  +/-amount an operator's correction; never below zero
    hold        -price    at create, in the transaction that inserts the task
    capture      0        at completion: the hold becomes a charge
    release     +price    at failure or cancel: the hold comes back

So for every account, balance == sum(ledger.amount_micros). A task has at most one capture
or release (a unique index enforces it, beneath the state machine's compare-and-set). A token's
`spent_micros` (held + captured) moves with its holds and releases, for its spending limit.
"""

from __future__ import annotations

from sqlalchemy import insert, update
from sqlalchemy.ext.asyncio import AsyncConnection

from veorelay.core.lifecycle import Settlement
from veorelay.db.tables import accounts, ledger, tokens
from veorelay.errors import InsufficientQuota, InvalidRequest, NotFound

CREDIT_KINDS = ("topup", "redemption", "adjustment")
_LIVE = accounts.c.deleted_at.is_(None)  # a deleted account's money can no longer move


async def top_up(
    conn: AsyncConnection, account_id: str, amount: int, now: float, note: str | None = None
) -> int:
    return await credit(conn, account_id, amount, "topup", now, note)


async def credit(
    conn: AsyncConnection,
    account_id: str,
    amount: int,
    kind: str,
    now: float,
    note: str | None = None,
) -> int:
    if kind not in CREDIT_KINDS or amount <= 0:
        raise ValueError(f"a {kind} must be a positive credit")
    return await _change(conn, account_id, None, kind, amount, now, note)


async def adjust(
    conn: AsyncConnection, account_id: str, amount: int, now: float, note: str | None = None
) -> int:
    """A signed correction. A debit larger than the balance is refused (balances stay >= 0)."""
    if amount == 0:
        raise InvalidRequest("An adjustment must not be zero.", param="amount_usd")
    result = await conn.execute(
        update(accounts)
        .where(accounts.c.id == account_id, _LIVE, accounts.c.balance_micros + amount >= 0)
        .values(balance_micros=accounts.c.balance_micros + amount)
        .returning(accounts.c.balance_micros)
    )
    balance = result.scalar_one_or_none()
    if balance is None:
        raise InvalidRequest("The adjustment would make the balance negative.", param="amount_usd")
    await _record(conn, account_id, None, "adjustment", amount, int(balance), now, note)
    return int(balance)


async def hold(
    conn: AsyncConnection, account_id: str, token_id: str, task_id: str, price: int, now: float
) -> int:
    """Take the price from the balance, or refuse if it does not cover it (nothing written)."""
    if price < 0:  # a negative hold would create money; the price checks should make it rare
        raise ValueError(f"a hold must not be negative (got {price})")
    result = await conn.execute(
        update(accounts)
        .where(accounts.c.id == account_id, accounts.c.balance_micros >= price)
        .values(balance_micros=accounts.c.balance_micros - price)
        .returning(accounts.c.balance_micros)
    )
    balance = result.scalar_one_or_none()
    if balance is None:
        raise InsufficientQuota(
            "Your balance is too low for this request; top up and retry.",
            code="insufficient_quota",
        )
    await _record(conn, account_id, task_id, "hold", -price, int(balance), now)
    await _spend(conn, token_id, price)
    return int(balance)


async def settle(
    conn: AsyncConnection,
    account_id: str,
    token_id: str,
    task_id: str,
    price: int,
    settlement: Settlement,
    now: float,
) -> None:
    if settlement is Settlement.CAPTURE:
        await _change(conn, account_id, task_id, "capture", 0, now)
    else:
        # Token row before account row, the order `create_task` locks them in: the other
        # order deadlocks on PostgreSQL when a create and a release race on one token.
        await _spend(conn, token_id, -price)
        await _change(conn, account_id, task_id, "release", price, now)


async def _spend(conn: AsyncConnection, token_id: str, amount: int) -> None:
    await conn.execute(
        update(tokens)
        .where(tokens.c.id == token_id)
        .values(spent_micros=tokens.c.spent_micros + amount)
    )


async def _change(
    conn: AsyncConnection,
    account_id: str,
    task_id: str | None,
    kind: str,
    amount: int,
    now: float,
    note: str | None = None,
) -> int:
    result = await conn.execute(
        update(accounts)
        .where(accounts.c.id == account_id, _LIVE)
        .values(balance_micros=accounts.c.balance_micros + amount)
        .returning(accounts.c.balance_micros)
    )
    balance = result.scalar_one_or_none()
    if balance is None:  # deleted (it had no money and no task in progress), or never was
        raise NotFound(f"No account {account_id!r}.", param="account_id")
    await _record(conn, account_id, task_id, kind, amount, int(balance), now, note)
    return int(balance)


async def _record(
    conn: AsyncConnection,
    account_id: str,
    task_id: str | None,
    kind: str,
    amount: int,
    balance: int,
    now: float,
    note: str | None = None,
) -> None:
    await conn.execute(
        insert(ledger).values(
            account_id=account_id,
            task_id=task_id,
            kind=kind,
            amount_micros=amount,
            balance_after_micros=balance,
            created_at=now,
            note=note,
        )
    )
