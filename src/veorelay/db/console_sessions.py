"""Web console sessions (a random cookie secret, kept here only as its SHA-256) and the
username/password logins a token holder can make."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
from dataclasses import dataclass

from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from veorelay.db.accounts import hash_secret, new_id
from veorelay.db.database import ReadConnection
from veorelay.db.tables import console_logins, console_sessions


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


# Console logins: a username and password that sign in as one token (see tables.py).
_SCRYPT = {"n": 2**14, "r": 8, "p": 1}


def hash_password(password: str, salt: bytes | None = None) -> str:
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, dklen=32, **_SCRYPT)
    return f"scrypt${salt.hex()}${digest.hex()}"


def password_matches(password: str, stored: str) -> bool:
    _, salt, _digest = stored.split("$")
    return hmac.compare_digest(hash_password(password, bytes.fromhex(salt)), stored)


@dataclass(frozen=True)
class ConsoleLogin:
    id: str
    username: str
    account_id: str
    token_id: str
    created_at: float


async def create_login(
    conn: AsyncConnection,
    *,
    username: str,
    password: str,
    account_id: str,
    token_id: str,
    now: float,
) -> bool:
    """False if the username is taken (by anyone: usernames are global)."""
    taken = (
        await conn.execute(select(console_logins.c.id).where(console_logins.c.username == username))
    ).first()
    if taken is not None:
        return False
    await conn.execute(
        insert(console_logins).values(
            id=new_id("login"),
            username=username,
            password_hash=await asyncio.to_thread(hash_password, password),
            account_id=account_id,
            token_id=token_id,
            created_at=now,
        )
    )
    return True


async def check_login(conn: ReadConnection, username: str, password: str) -> str | None:
    """The token id a username and password sign in as, or None. A missing user costs the
    same scrypt as a wrong password, so timing does not tell which usernames exist."""
    row = (
        await conn.execute(
            select(console_logins.c.password_hash, console_logins.c.token_id).where(
                console_logins.c.username == username
            )
        )
    ).first()
    stored = _DUMMY_HASH if row is None else row.password_hash
    # scrypt takes tens of milliseconds on purpose: off the event loop.
    matches = await asyncio.to_thread(password_matches, password, stored)
    return str(row.token_id) if row is not None and matches else None


async def list_logins(conn: ReadConnection, account_id: str) -> list[ConsoleLogin]:
    rows = await conn.execute(
        select(console_logins)
        .where(console_logins.c.account_id == account_id)
        .order_by(console_logins.c.created_at)
    )
    return [
        ConsoleLogin(
            id=r.id,
            username=r.username,
            account_id=r.account_id,
            token_id=r.token_id,
            created_at=r.created_at,
        )
        for r in rows
    ]


async def delete_login(conn: AsyncConnection, account_id: str, login_id: str) -> bool:
    result = await conn.execute(
        delete(console_logins).where(
            console_logins.c.id == login_id, console_logins.c.account_id == account_id
        )
    )
    return result.rowcount == 1


# Checked against when a username does not exist: it costs a real scrypt, and matches nothing.
_DUMMY_HASH = f"scrypt${'00' * 16}${'00' * 32}"
