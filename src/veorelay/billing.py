"""The append-only ledger. Every balance change is a ledger row written in the same transaction.

    topup    +amount   money in
    hold     -price    at create, in the transaction that inserts the task
    capture   0        at completion: the hold becomes a charge
    release  +price    at failure or cancel: the hold comes back

So for every account, balance == sum(ledger.amount_micros). A task has at most one capture
or release (a unique index enforces it, beneath the state machine's compare-and-set).
"""

from __future__ import annotations

from sqlalchemy import insert, update
from sqlalchemy.ext.asyncio import AsyncConnection

from veorelay.core.lifecycle import Settlement
from veorelay.db.tables import accounts, ledger
from veorelay.errors import InsufficientQuota


async def top_up(conn: AsyncConnection, account_id: str, amount: int, now: float) -> int:
    if amount <= 0:
        raise ValueError("a top-up must be positive")
    return await _change(conn, account_id, None, "topup", amount, now)


async def hold(conn: AsyncConnection, account_id: str, task_id: str, price: int, now: float) -> int:
    """Take the price from the balance, or refuse if it does not cover it (nothing written)."""
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
    await _record(conn, account_id, task_id, "hold", -price, balance, now)
    return int(balance)


async def settle(
    conn: AsyncConnection,
    account_id: str,
    task_id: str,
    price: int,
    settlement: Settlement,
    now: float,
) -> None:
    if settlement is Settlement.CAPTURE:
        await _change(conn, account_id, task_id, "capture", 0, now)
    else:
        await _change(conn, account_id, task_id, "release", price, now)


async def _change(
    conn: AsyncConnection, account_id: str, task_id: str | None, kind: str, amount: int, now: float
) -> int:
    result = await conn.execute(
        update(accounts)
        .where(accounts.c.id == account_id)
        .values(balance_micros=accounts.c.balance_micros + amount)
        .returning(accounts.c.balance_micros)
    )
    balance = int(result.scalar_one())
    await _record(conn, account_id, task_id, kind, amount, balance, now)
    return balance


async def _record(
    conn: AsyncConnection,
    account_id: str,
    task_id: str | None,
    kind: str,
    amount: int,
    balance: int,
    now: float,
) -> None:
    await conn.execute(
        insert(ledger).values(
            account_id=account_id,
            task_id=task_id,
            kind=kind,
            amount_micros=amount,
            balance_after_micros=balance,
            created_at=now,
        )
    )
