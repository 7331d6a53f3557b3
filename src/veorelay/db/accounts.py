"""Accounts and tokens. Token secrets are stored only as SHA-256 hashes."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import asdict, dataclass, replace
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.elements import ColumnElement

from veorelay import billing
from veorelay.core.access import TokenPolicy
from veorelay.core.pricing import BillingMode
from veorelay.db.database import ReadConnection
from veorelay.db.tables import accounts, tasks, tokens
from veorelay.db.tasks import count_active
from veorelay.errors import Conflict

SECRET_PREFIX = "sk-vr-"
DEFAULT_GROUP = "default"


def hash_secret(secret: str) -> str:
    # Secrets are 256-bit random strings, so a fast hash is enough; no salt or KDF needed.
    return hashlib.sha256(secret.encode()).hexdigest()


def new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(12)}"


@dataclass(frozen=True)
class TokenSettings:
    """What an operator sets on a token (all optional but the group and billing mode)."""

    group_name: str = DEFAULT_GROUP
    billing_mode: BillingMode = BillingMode.PER_REQUEST
    enabled: bool = True
    expires_at: float | None = None
    allowed_models: list[str] | None = None
    ip_allowlist: list[str] | None = None
    spend_limit_micros: int | None = None
    rpm_limit: int | None = None
    max_in_flight: int | None = None

    def policy(self) -> TokenPolicy:
        return TokenPolicy(
            enabled=self.enabled,
            expires_at=self.expires_at,
            allowed_models=self.allowed_models,
            ip_allowlist=self.ip_allowlist,
            spend_limit_micros=self.spend_limit_micros,
            rpm_limit=self.rpm_limit,
            max_in_flight=self.max_in_flight,
        )


_SETTINGS_COLUMNS = [tokens.c[name] for name in TokenSettings.__dataclass_fields__]


@dataclass(frozen=True)
class TokenIdentity:
    """Who a request is from, as the token cache keeps it: built once per lookup, so the
    per-request checks read ready-made fields."""

    token_id: str
    account_id: str
    name: str
    settings: TokenSettings
    policy: TokenPolicy


@dataclass(frozen=True)
class CreatedToken:
    token_id: str
    account_id: str
    secret: str
    prefix: str


def _settings(row: Any) -> TokenSettings:
    values = {name: getattr(row, name) for name in TokenSettings.__dataclass_fields__}
    values["billing_mode"] = BillingMode(values["billing_mode"])
    return TokenSettings(**values)


async def create_account(conn: AsyncConnection, name: str, balance: int, now: float) -> str:
    account_id = new_id("acct")
    await conn.execute(
        insert(accounts).values(id=account_id, name=name, balance_micros=0, created_at=now)
    )
    if balance:
        await billing.top_up(conn, account_id, balance, now)
    return account_id


async def create_token(
    conn: AsyncConnection,
    account_id: str,
    name: str,
    now: float,
    settings: TokenSettings | None = None,
) -> CreatedToken:
    secret = SECRET_PREFIX + secrets.token_urlsafe(32)
    prefix = secret[: len(SECRET_PREFIX) + 6]
    token_id = new_id("tok")
    values = asdict(settings or TokenSettings())
    await conn.execute(
        insert(tokens).values(
            id=token_id,
            account_id=account_id,
            name=name,
            secret_hash=hash_secret(secret),
            prefix=prefix,
            created_at=now,
            **values,
        )
    )
    return CreatedToken(token_id=token_id, account_id=account_id, secret=secret, prefix=prefix)


async def update_token(conn: AsyncConnection, token_id: str, **changes: Any) -> bool:
    unknown = set(changes) - set(TokenSettings.__dataclass_fields__) - {"name"}
    if unknown:
        raise ValueError(f"not token settings: {sorted(unknown)}")
    if "billing_mode" in changes:
        changes["billing_mode"] = BillingMode(changes["billing_mode"]).value
    result = await conn.execute(
        update(tokens).where(tokens.c.id == token_id, _LIVE_TOKEN).values(**changes)
    )
    return result.rowcount == 1


_LIVE_TOKEN = tokens.c.deleted_at.is_(None)
_LIVE_ACCOUNT = accounts.c.deleted_at.is_(None)
_IDENTITY = (
    select(
        tokens.c.id,
        tokens.c.account_id,
        tokens.c.name,
        accounts.c.enabled.label("account_enabled"),
        *_SETTINGS_COLUMNS,
    )
    .join(accounts, accounts.c.id == tokens.c.account_id)
    .where(_LIVE_TOKEN, _LIVE_ACCOUNT)
)


async def find_token(conn: ReadConnection, secret: str) -> TokenIdentity | None:
    """The token with this secret, unless it or its account was deleted."""
    return await _identity(conn, tokens.c.secret_hash == hash_secret(secret))


async def find_token_by_id(conn: ReadConnection, token_id: str) -> TokenIdentity | None:
    """The same, by id: a console session remembers its token's id, never its secret."""
    return await _identity(conn, tokens.c.id == token_id)


async def _identity(conn: ReadConnection, where: ColumnElement[bool]) -> TokenIdentity | None:
    row = (await conn.execute(_IDENTITY.where(where))).first()
    if row is None:
        return None
    settings = _settings(row)
    return TokenIdentity(
        token_id=row.id,
        account_id=row.account_id,
        name=row.name,
        settings=settings,
        policy=replace(settings.policy(), account_enabled=bool(row.account_enabled)),
    )


async def get_token(conn: ReadConnection, token_id: str) -> dict[str, Any] | None:
    row = (await conn.execute(select(tokens).where(tokens.c.id == token_id, _LIVE_TOKEN))).first()
    return _public_token(row) if row else None


async def list_tokens(conn: ReadConnection, account_id: str | None = None) -> list[dict[str, Any]]:
    query = select(tokens).where(_LIVE_TOKEN).order_by(tokens.c.created_at)
    if account_id is not None:
        query = query.where(tokens.c.account_id == account_id)
    return [_public_token(row) for row in await conn.execute(query)]


def public_row(row: Any, *hidden: str) -> dict[str, Any]:
    """A row as a dict, less the columns that never leave the database (hashes) or say
    nothing once filtered on (deleted_at of a live row)."""
    data = dict(row._mapping)
    for column in hidden:
        del data[column]
    return data


def _public_token(row: Any) -> dict[str, Any]:
    return public_row(row, "secret_hash", "deleted_at")


async def delete_token(conn: AsyncConnection, token_id: str, now: float) -> bool:
    """Soft delete: the token stops working and disappears; its rows stay for usage."""
    result = await conn.execute(
        update(tokens)
        .where(tokens.c.id == token_id, _LIVE_TOKEN)
        .values(deleted_at=now, enabled=False)
    )
    return result.rowcount == 1


async def get_account(conn: ReadConnection, account_id: str) -> dict[str, Any] | None:
    query = select(accounts).where(accounts.c.id == account_id, _LIVE_ACCOUNT)
    row = (await conn.execute(query)).first()
    return _public_account(row) if row else None


async def list_accounts(conn: ReadConnection) -> list[dict[str, Any]]:
    rows = await conn.execute(select(accounts).where(_LIVE_ACCOUNT).order_by(accounts.c.created_at))
    return [_public_account(row) for row in rows]


def _public_account(row: Any) -> dict[str, Any]:
    return public_row(row, "deleted_at")


async def update_account(conn: AsyncConnection, account_id: str, **changes: Any) -> bool:
    unknown = set(changes) - {"name", "enabled"}
    if unknown:
        raise ValueError(f"not account settings: {sorted(unknown)}")
    result = await conn.execute(
        update(accounts).where(accounts.c.id == account_id, _LIVE_ACCOUNT).values(**changes)
    )
    return result.rowcount == 1


async def delete_account(conn: AsyncConnection, account_id: str, now: float) -> bool:
    """Soft delete an account and its tokens; its ledger and usage stay. Refused (Conflict,
    nothing written) while money is on it or a video is in progress. False if no such account.

    The token rows are taken before the account row, the order `create_task` locks them in;
    after that no create can slip in, so the checks below cannot go stale."""
    await conn.execute(
        update(tokens)
        .where(tokens.c.account_id == account_id, _LIVE_TOKEN)
        .values(deleted_at=now, enabled=False)
    )
    row = (
        await conn.execute(
            update(accounts)
            .where(accounts.c.id == account_id, _LIVE_ACCOUNT)
            .values(deleted_at=now, enabled=False)
            .returning(accounts.c.balance_micros)
        )
    ).first()
    if row is None:
        return False
    if row.balance_micros != 0:
        raise Conflict(
            f"The account still holds {row.balance_micros} micro-USD; adjust it to zero first.",
            code="account_has_balance",
        )
    if await count_active(conn, tasks.c.account_id == account_id):
        raise Conflict(
            "The account has videos in progress; wait for them or cancel them first.",
            code="account_busy",
        )
    return True


async def balance(conn: ReadConnection, account_id: str) -> int:
    value = (
        await conn.execute(select(accounts.c.balance_micros).where(accounts.c.id == account_id))
    ).scalar_one()
    return int(value)
