"""The webhook outbox: deliveries, their attempts log, leasing (rules in core/webhooks.py).

`enqueue` runs inside `db.tasks.apply_transition`, so an event is written in the transaction
that ends its task: committed together or not at all. Deliveries are leased like tasks, so
several engines share the work and a crashed one's deliveries are taken up when leases end.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from veorelay.core import webhooks as rules
from veorelay.core.lifecycle import TaskState
from veorelay.core.webhooks import DeliveryState
from veorelay.db.database import ReadConnection
from veorelay.db.tables import webhook_attempts, webhook_deliveries, webhook_endpoints

_DELIVERY = tuple(c for c in webhook_deliveries.c if c.name != "lease_until")
# Attempts of one delivery shown with it, newest first.
ATTEMPTS_SHOWN = 20


_DELIVERY_ID = re.compile(r"msg_[0-9a-f]{32}")


def is_delivery_id(value: str) -> bool:
    return _DELIVERY_ID.fullmatch(value) is not None


@dataclass(frozen=True)
class Delivery:
    id: str
    endpoint_id: str
    event_type: str
    task_id: str
    body: str
    attempts: int
    created_at: float
    lease_until: float | None  # the lease taken; its holder alone may record the outcome


async def enqueue(
    conn: AsyncConnection, account_id: str, task_id: str, state: TaskState, now: float
) -> int:
    """Write the event a task's end raises for every live endpoint of its account that wants
    it (in the caller's transaction). Returns how many deliveries were written."""
    event = rules.EVENT_OF_STATE.get(state)
    if event is None:
        return 0
    rows = await conn.execute(
        select(webhook_endpoints.c.id, webhook_endpoints.c.event_types).where(
            webhook_endpoints.c.account_id == account_id,
            webhook_endpoints.c.enabled.is_(True),
            webhook_endpoints.c.deleted_at.is_(None),
        )
    )
    targets = [r.id for r in rows if event.value in r.event_types]
    if not targets:
        return 0
    event_id = f"evt_{secrets.token_hex(16)}"
    body = rules.event_body(event_id, event, task_id, now)
    await conn.execute(
        insert(webhook_deliveries),
        [
            {
                "id": f"msg_{secrets.token_hex(16)}",
                "endpoint_id": endpoint_id,
                "account_id": account_id,
                "event_id": event_id,
                "event_type": event.value,
                "task_id": task_id,
                "body": body,
                "state": DeliveryState.PENDING.value,
                "attempts": 0,
                "next_attempt_at": now,
                "created_at": now,
            }
            for endpoint_id in targets
        ],
    )
    return len(targets)


def _due(now: float) -> tuple[Any, ...]:
    return (
        webhook_deliveries.c.state == DeliveryState.PENDING.value,
        webhook_deliveries.c.next_attempt_at <= now,
        or_(webhook_deliveries.c.lease_until.is_(None), webhook_deliveries.c.lease_until < now),
    )


async def lease_due(
    conn: AsyncConnection, now: float, lease_seconds: float, limit: int
) -> list[Delivery]:
    """Take up to `limit` due deliveries for `lease_seconds` (PostgreSQL skips locked rows)."""
    if limit <= 0:
        return []
    # Picked first, then updated: as a subquery of the UPDATE, PostgreSQL may run the
    # LIMITed, SKIP LOCKED select more than once and so lease more than `limit` rows.
    picked = (
        await conn.execute(
            select(webhook_deliveries.c.id)
            .where(*_due(now))
            .order_by(webhook_deliveries.c.next_attempt_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    ).scalars()
    ids = list(picked)
    if not ids:
        return []
    result = await conn.execute(
        update(webhook_deliveries)
        .where(webhook_deliveries.c.id.in_(ids), *_due(now))
        .values(lease_until=now + lease_seconds)
        .returning(
            webhook_deliveries.c.id,
            webhook_deliveries.c.endpoint_id,
            webhook_deliveries.c.event_type,
            webhook_deliveries.c.task_id,
            webhook_deliveries.c.body,
            webhook_deliveries.c.attempts,
            webhook_deliveries.c.created_at,
            webhook_deliveries.c.lease_until,
        )
    )
    return [Delivery(**row._mapping) for row in result]


async def next_due_at(conn: ReadConnection) -> float | None:
    """When the earliest pending delivery falls due (a leased one: when its lease ends)."""
    row = (
        await conn.execute(
            select(webhook_deliveries.c.next_attempt_at, webhook_deliveries.c.lease_until)
            .where(webhook_deliveries.c.state == DeliveryState.PENDING.value)
            .order_by(webhook_deliveries.c.next_attempt_at)
            .limit(1)
        )
    ).first()
    return None if row is None else float(max(row.next_attempt_at, row.lease_until or 0.0))


@dataclass(frozen=True)
class Outcome:
    """What one attempt got: an HTTP status, or why no answer came."""

    status: int | None
    error: str | None
    duration_ms: int

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


async def record_attempt(
    conn: AsyncConnection,
    delivery: Delivery,
    outcome: Outcome,
    now: float,
    *,
    time_scale: float,
    disable_after: float,
) -> DeliveryState | None:
    """Log the attempt and move the delivery on: delivered, retried later, or failed. A
    success ends the endpoint's failure streak; a streak of `disable_after` seconds disables
    it (and fails its pending deliveries). Returns None, changing nothing, if the lease was
    lost meanwhile (another worker has taken the delivery over)."""
    this = (webhook_deliveries.c.id == delivery.id) & (
        webhook_deliveries.c.lease_until == delivery.lease_until
    )
    held = await conn.execute(select(webhook_deliveries.c.id).where(this).with_for_update())
    if held.first() is None:
        return None
    await conn.execute(
        insert(webhook_attempts).values(
            delivery_id=delivery.id,
            endpoint_id=delivery.endpoint_id,
            at=now,
            status=outcome.status,
            error=outcome.error,
            duration_ms=outcome.duration_ms,
        )
    )
    attempts = delivery.attempts + 1
    common = {
        "attempts": attempts,
        "lease_until": None,
        "last_status": outcome.status,
        "last_error": outcome.error,
    }
    if outcome.ok:
        await conn.execute(
            update(webhook_deliveries)
            .where(this)
            .values(state=DeliveryState.DELIVERED.value, delivered_at=now, **common)
        )
        await conn.execute(
            update(webhook_endpoints)
            .where(webhook_endpoints.c.id == delivery.endpoint_id)
            .values(failing_since=None)
        )
        return DeliveryState.DELIVERED
    delay = rules.next_attempt_delay(attempts, time_scale)
    state = DeliveryState.PENDING if delay is not None else DeliveryState.FAILED
    await conn.execute(
        update(webhook_deliveries)
        .where(this)
        .values(state=state.value, next_attempt_at=now + (delay or 0.0), **common)
    )
    endpoint = webhook_endpoints.c.id == delivery.endpoint_id
    await conn.execute(
        update(webhook_endpoints)
        .where(endpoint, webhook_endpoints.c.failing_since.is_(None))
        .values(failing_since=now)
    )
    since = (await conn.execute(select(webhook_endpoints.c.failing_since).where(endpoint))).scalar()
    if rules.should_disable(since, now, disable_after):
        await conn.execute(
            update(webhook_endpoints)
            .where(endpoint)
            .values(
                enabled=False,
                disabled_reason="Every delivery attempt failed for too long; "
                "enable the endpoint again once it answers 2xx.",
                updated_at=now,
            )
        )
        await fail_pending(conn, delivery.endpoint_id, "The endpoint was disabled.")
        return DeliveryState.FAILED
    return state


async def give_up(conn: AsyncConnection, delivery: Delivery, reason: str) -> None:
    """The endpoint is gone or off: the delivery fails without an attempt."""
    await conn.execute(
        update(webhook_deliveries)
        .where(webhook_deliveries.c.id == delivery.id)
        .values(state=DeliveryState.FAILED.value, lease_until=None, last_error=reason)
    )


async def fail_pending(conn: AsyncConnection, endpoint_id: str, reason: str) -> None:
    await conn.execute(
        update(webhook_deliveries)
        .where(
            webhook_deliveries.c.endpoint_id == endpoint_id,
            webhook_deliveries.c.state == DeliveryState.PENDING.value,
        )
        .values(state=DeliveryState.FAILED.value, lease_until=None, last_error=reason)
    )


async def list_deliveries(
    conn: ReadConnection, endpoint_id: str, limit: int = 50
) -> list[dict[str, Any]]:
    """The endpoint's delivery log, newest first, each with its latest attempts."""
    rows = (
        await conn.execute(
            select(*_DELIVERY)
            .where(webhook_deliveries.c.endpoint_id == endpoint_id)
            .order_by(webhook_deliveries.c.created_at.desc(), webhook_deliveries.c.id.desc())
            .limit(limit)
        )
    ).all()
    out = []
    for row in rows:
        delivery = dict(row._mapping)
        delivery["attempt_log"] = await _attempts(conn, delivery["id"])
        out.append(delivery)
    return out


async def _attempts(conn: ReadConnection, delivery_id: str) -> list[dict[str, Any]]:
    rows = await conn.execute(
        select(
            webhook_attempts.c.at,
            webhook_attempts.c.status,
            webhook_attempts.c.error,
            webhook_attempts.c.duration_ms,
        )
        .where(webhook_attempts.c.delivery_id == delivery_id)
        .order_by(webhook_attempts.c.id.desc())
        .limit(ATTEMPTS_SHOWN)
    )
    return [dict(r._mapping) for r in rows]


async def redeliver(
    conn: AsyncConnection, endpoint_id: str, delivery_id: str, now: float
) -> dict[str, Any] | None:
    """Send a delivery again now, with a fresh retry schedule and the same `webhook-id`."""
    result = await conn.execute(
        update(webhook_deliveries)
        .where(
            webhook_deliveries.c.id == delivery_id,
            webhook_deliveries.c.endpoint_id == endpoint_id,
        )
        .values(
            state=DeliveryState.PENDING.value,
            attempts=0,
            next_attempt_at=now,
            lease_until=None,
            delivered_at=None,
        )
        .returning(*_DELIVERY)
    )
    row = result.first()
    return dict(row._mapping) if row else None


async def prune(conn: AsyncConnection, before: float) -> None:
    """Forget finished deliveries (and their attempts) created before `before`."""
    old = select(webhook_deliveries.c.id).where(
        webhook_deliveries.c.created_at < before,
        webhook_deliveries.c.state != DeliveryState.PENDING.value,
    )
    await conn.execute(delete(webhook_attempts).where(webhook_attempts.c.delivery_id.in_(old)))
    await conn.execute(delete(webhook_deliveries).where(webhook_deliveries.c.id.in_(old)))
