"""Webhook endpoints: who gets which events where, and the secrets that sign them.

The signing secret is sealed with the SecretBox (it must be recoverable to sign) and returned
only by `create_endpoint` and `rotate_secret`; every other read leaves it out.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.elements import ColumnElement

from veorelay.core import webhooks as rules
from veorelay.db import webhooks as webhook_db
from veorelay.db.database import ReadConnection
from veorelay.db.tables import webhook_endpoints
from veorelay.secretbox import SecretBox

# Everything about an endpoint its owner may see (never a secret).
_PUBLIC = (
    webhook_endpoints.c.id,
    webhook_endpoints.c.account_id,
    webhook_endpoints.c.name,
    webhook_endpoints.c.url,
    webhook_endpoints.c.event_types,
    webhook_endpoints.c.secret_hint,
    webhook_endpoints.c.enabled,
    webhook_endpoints.c.disabled_reason,
    webhook_endpoints.c.failing_since,
    webhook_endpoints.c.created_at,
    webhook_endpoints.c.updated_at,
)
_ENDPOINT_ID = re.compile(r"we_[0-9a-f]{24}")


def is_endpoint_id(value: str) -> bool:
    return _ENDPOINT_ID.fullmatch(value) is not None


def new_secret() -> str:
    return rules.secret_text(secrets.token_bytes(rules.SECRET_BYTES))


@dataclass(frozen=True)
class Target:
    """Where and how to send: the endpoint's URL and the secrets that sign (newest first)."""

    url: str
    secrets: list[str]
    live: bool  # enabled and not deleted


def _alive(account_id: str | None) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = [webhook_endpoints.c.deleted_at.is_(None)]
    if account_id is not None:
        where.append(webhook_endpoints.c.account_id == account_id)
    return where


async def create_endpoint(
    conn: AsyncConnection,
    box: SecretBox,
    account_id: str,
    name: str,
    url: str,
    event_types: list[str],
    now: float,
) -> tuple[dict[str, Any], str]:
    """The new endpoint and its signing secret (shown once)."""
    secret = new_secret()
    endpoint_id = f"we_{secrets.token_hex(12)}"
    await conn.execute(
        insert(webhook_endpoints).values(
            id=endpoint_id,
            account_id=account_id,
            name=name,
            url=url,
            event_types=event_types,
            secret=box.seal({"secret": secret}),
            secret_hint=rules.secret_hint(secret),
            enabled=True,
            created_at=now,
            updated_at=now,
        )
    )
    endpoint = await get_endpoint(conn, endpoint_id)
    assert endpoint is not None
    return endpoint, secret


async def get_endpoint(
    conn: ReadConnection, endpoint_id: str, account_id: str | None = None
) -> dict[str, Any] | None:
    row = (
        await conn.execute(
            select(*_PUBLIC).where(webhook_endpoints.c.id == endpoint_id, *_alive(account_id))
        )
    ).first()
    return dict(row._mapping) if row else None


async def list_endpoints(
    conn: ReadConnection, account_id: str | None, after: str | None = None, limit: int = 100
) -> tuple[list[dict[str, Any]], bool]:
    """A page of endpoints, newest first, after the endpoint `after`; and whether more follow."""
    query = select(*_PUBLIC).where(*_alive(account_id))
    if after is not None:
        cursor = (
            await conn.execute(
                select(webhook_endpoints.c.created_at).where(webhook_endpoints.c.id == after)
            )
        ).scalar()
        if cursor is None:
            return [], False
        query = query.where(
            or_(
                webhook_endpoints.c.created_at < cursor,
                (webhook_endpoints.c.created_at == cursor) & (webhook_endpoints.c.id < after),
            )
        )
    rows = (
        await conn.execute(
            query.order_by(
                webhook_endpoints.c.created_at.desc(), webhook_endpoints.c.id.desc()
            ).limit(limit + 1)
        )
    ).all()
    return [dict(r._mapping) for r in rows[:limit]], len(rows) > limit


async def update_endpoint(
    conn: AsyncConnection, endpoint_id: str, account_id: str | None, now: float, **changes: Any
) -> bool:
    """Change name, url, event_types or enabled. Enabling clears the failure streak."""
    if changes.get("enabled") is True:
        changes.update(disabled_reason=None, failing_since=None)
    result = await conn.execute(
        update(webhook_endpoints)
        .where(webhook_endpoints.c.id == endpoint_id, *_alive(account_id))
        .values(updated_at=now, **changes)
    )
    if changes.get("enabled") is False:
        await webhook_db.fail_pending(conn, endpoint_id, "The endpoint was disabled.")
    return result.rowcount == 1


async def delete_endpoint(
    conn: AsyncConnection, endpoint_id: str, account_id: str | None, now: float
) -> bool:
    result = await conn.execute(
        update(webhook_endpoints)
        .where(webhook_endpoints.c.id == endpoint_id, *_alive(account_id))
        .values(deleted_at=now, enabled=False, updated_at=now)
    )
    if result.rowcount == 1:
        await webhook_db.fail_pending(conn, endpoint_id, "The endpoint was deleted.")
    return result.rowcount == 1


async def rotate_secret(
    conn: AsyncConnection,
    box: SecretBox,
    endpoint_id: str,
    account_id: str | None,
    now: float,
    keep_old_for: float,
) -> str | None:
    """A new signing secret (returned once). With `keep_old_for` > 0 the old one also signs
    until then, so a receiver can switch over without refusing a delivery."""
    row = (
        await conn.execute(
            select(webhook_endpoints.c.secret).where(
                webhook_endpoints.c.id == endpoint_id, *_alive(account_id)
            )
        )
    ).first()
    if row is None:
        return None
    secret = new_secret()
    keep = keep_old_for > 0
    await conn.execute(
        update(webhook_endpoints)
        .where(webhook_endpoints.c.id == endpoint_id)
        .values(
            secret=box.seal({"secret": secret}),
            secret_hint=rules.secret_hint(secret),
            previous_secret=row.secret if keep else None,
            previous_until=now + keep_old_for if keep else None,
            updated_at=now,
        )
    )
    return secret


async def target(conn: ReadConnection, box: SecretBox, endpoint_id: str, now: float) -> Target:
    row = (
        await conn.execute(select(webhook_endpoints).where(webhook_endpoints.c.id == endpoint_id))
    ).first()
    if row is None:
        return Target(url="", secrets=[], live=False)
    signing = [box.open(row.secret)["secret"]]
    if row.previous_secret is not None and (row.previous_until or 0.0) > now:
        signing.append(box.open(row.previous_secret)["secret"])
    return Target(url=row.url, secrets=signing, live=bool(row.enabled) and row.deleted_at is None)
