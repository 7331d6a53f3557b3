"""Accounts and tokens. Token secrets are stored only as SHA-256 hashes."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from veorelay import billing
from veorelay.db.database import ReadConnection
from veorelay.db.tables import accounts, tokens

SECRET_PREFIX = "sk-vr-"


def hash_secret(secret: str) -> str:
    # Secrets are 256-bit random strings, so a fast hash is enough; no salt or KDF needed.
    return hashlib.sha256(secret.encode()).hexdigest()


def new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(12)}"


@dataclass(frozen=True)
class TokenIdentity:
    token_id: str
    account_id: str
    name: str
    enabled: bool


@dataclass(frozen=True)
class CreatedToken:
    token_id: str
    account_id: str
    secret: str
    prefix: str


async def create_account(conn: AsyncConnection, name: str, balance: int, now: float) -> str:
    account_id = new_id("acct")
    await conn.execute(
        insert(accounts).values(id=account_id, name=name, balance_micros=0, created_at=now)
    )
    if balance:
        await billing.top_up(conn, account_id, balance, now)
    return account_id


async def create_token(
    conn: AsyncConnection, account_id: str, name: str, now: float
) -> CreatedToken:
    secret = SECRET_PREFIX + secrets.token_urlsafe(32)
    prefix = secret[: len(SECRET_PREFIX) + 6]
    token_id = new_id("tok")
    await conn.execute(
        insert(tokens).values(
            id=token_id,
            account_id=account_id,
            name=name,
            secret_hash=hash_secret(secret),
            prefix=prefix,
            enabled=True,
            created_at=now,
        )
    )
    return CreatedToken(token_id=token_id, account_id=account_id, secret=secret, prefix=prefix)


async def find_token(conn: ReadConnection, secret: str) -> TokenIdentity | None:
    row = (
        await conn.execute(
            select(tokens.c.id, tokens.c.account_id, tokens.c.name, tokens.c.enabled).where(
                tokens.c.secret_hash == hash_secret(secret)
            )
        )
    ).first()
    if row is None:
        return None
    return TokenIdentity(
        token_id=row.id, account_id=row.account_id, name=row.name, enabled=row.enabled
    )


async def balance(conn: ReadConnection, account_id: str) -> int:
    value = (
        await conn.execute(select(accounts.c.balance_micros).where(accounts.c.id == account_id))
    ).scalar_one()
    return int(value)
