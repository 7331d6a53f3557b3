"""Web console sessions: a random cookie secret, kept here only as its SHA-256."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from veorelay.db.accounts import hash_secret
from veorelay.db.database import ReadConnection
from veorelay.db.tables import console_sessions


@dataclass(frozen=True)
class ConsoleSession:
    role: str  # "customer" or "operator"
    account_id: str | None
    token_id: str | None
    csrf_token: str
    expires_at: float

    @property
    def is_operator(self) -> bool:
        return self.role == "operator"


async def open_session(
    conn: AsyncConnection,
    *,
    role: str,
    account_id: str | None,
    token_id: str | None,
    now: float,
    lifetime: float,
) -> str:
    """A new session; returns the cookie's secret (shown to the browser only)."""
    secret = secrets.token_urlsafe(32)
    await conn.execute(
        insert(console_sessions).values(
            id_hash=hash_secret(secret),
            role=role,
            account_id=account_id,
            token_id=token_id,
            csrf_token=secrets.token_urlsafe(32),
            created_at=now,
            expires_at=now + lifetime,
        )
    )
    return secret


async def find_session(conn: ReadConnection, secret: str, now: float) -> ConsoleSession | None:
    row = (
        await conn.execute(
            select(console_sessions).where(
                console_sessions.c.id_hash == hash_secret(secret),
                console_sessions.c.expires_at > now,
            )
        )
    ).first()
    if row is None:
        return None
    return ConsoleSession(
        role=row.role,
        account_id=row.account_id,
        token_id=row.token_id,
        csrf_token=row.csrf_token,
        expires_at=row.expires_at,
    )


async def close_session(conn: AsyncConnection, secret: str) -> None:
    await conn.execute(
        delete(console_sessions).where(console_sessions.c.id_hash == hash_secret(secret))
    )


async def prune(conn: AsyncConnection, now: float) -> None:
    await conn.execute(delete(console_sessions).where(console_sessions.c.expires_at <= now))
