"""Redemption codes: made in batches by the operator, each redeemable exactly once."""

from __future__ import annotations

import secrets
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from veorelay import billing
from veorelay.db.accounts import hash_secret, new_id, public_row
from veorelay.db.database import ReadConnection
from veorelay.db.tables import redemption_codes
from veorelay.errors import InvalidRequest, NotFound

CODE_PREFIX = "vr-"


async def create_batch(
    conn: AsyncConnection, amount: int, count: int, expires_at: float | None, now: float
) -> tuple[str, list[str]]:
    """(batch id, the codes). The codes are returned only here; only their hashes are kept."""
    if amount <= 0 or not 1 <= count <= 10_000:
        raise InvalidRequest("A batch needs a positive amount and 1 to 10000 codes.")
    batch_id = new_id("batch")
    codes = [CODE_PREFIX + secrets.token_urlsafe(18) for _ in range(count)]
    await conn.execute(
        insert(redemption_codes),
        [
            {
                "id": new_id("code"),
                "batch_id": batch_id,
                "code_hash": hash_secret(code),
                "prefix": code[:9],
                "amount_micros": amount,
                "expires_at": expires_at,
                "created_at": now,
            }
            for code in codes
        ],
    )
    return batch_id, codes


async def redeem(conn: AsyncConnection, account_id: str, code: str, now: float) -> int:
    """Credit the code's amount to the account: once, whatever the races (a conditional
    update claims the code; a second claimant finds it taken). Returns the amount."""
    code_hash = hash_secret(code.strip())
    claimed = (
        await conn.execute(
            update(redemption_codes)
            .where(
                redemption_codes.c.code_hash == code_hash,
                redemption_codes.c.redeemed_at.is_(None),
                redemption_codes.c.revoked_at.is_(None),
                (redemption_codes.c.expires_at.is_(None)) | (redemption_codes.c.expires_at > now),
            )
            .values(redeemed_at=now, redeemed_by=account_id)
            .returning(redemption_codes.c.amount_micros, redemption_codes.c.id)
        )
    ).first()
    if claimed is None:
        row = (
            await conn.execute(
                select(redemption_codes.c.redeemed_at, redemption_codes.c.revoked_at).where(
                    redemption_codes.c.code_hash == code_hash
                )
            )
        ).first()
        if row is None:
            raise NotFound("No such redemption code.", param="code", code="code_not_found")
        if row.revoked_at is not None:
            raise InvalidRequest("This code has been revoked.", param="code", code="code_revoked")
        if row.redeemed_at is not None:
            raise InvalidRequest(
                "This code has already been redeemed.", param="code", code="code_already_redeemed"
            )
        raise InvalidRequest("This code has expired.", param="code", code="code_expired")
    amount = int(claimed.amount_micros)
    await billing.credit(conn, account_id, amount, "redemption", now, note=claimed.id)
    return amount


async def list_codes(conn: ReadConnection, batch_id: str | None = None) -> list[dict[str, Any]]:
    query = select(redemption_codes).order_by(redemption_codes.c.created_at)
    if batch_id is not None:
        query = query.where(redemption_codes.c.batch_id == batch_id)
    return [_public_code(row) for row in await conn.execute(query)]


async def get_code(conn: ReadConnection, code_id: str) -> dict[str, Any] | None:
    row = (
        await conn.execute(select(redemption_codes).where(redemption_codes.c.id == code_id))
    ).first()
    return _public_code(row) if row else None


async def revoke(
    conn: AsyncConnection, *, code_id: str | None, batch_id: str | None, now: float
) -> int:
    """Revoke one code, or every code of a batch, that is not redeemed yet. Returns how many."""
    if code_id is None and batch_id is None:
        raise ValueError("revoke one code or one batch, not everything")
    query = update(redemption_codes).where(
        redemption_codes.c.redeemed_at.is_(None), redemption_codes.c.revoked_at.is_(None)
    )
    if code_id is not None:
        query = query.where(redemption_codes.c.id == code_id)
    if batch_id is not None:
        query = query.where(redemption_codes.c.batch_id == batch_id)
    return (await conn.execute(query.values(revoked_at=now))).rowcount


def _public_code(row: Any) -> dict[str, Any]:
    return public_row(row, "code_hash")
