"""The dispatcher: give queued tasks a channel, fairly, within every channel's limits.

One write transaction: lock the channel rows (so concurrent engines on PostgreSQL dispatch one
at a time and never overbook a channel), count each channel's load from the database, plan
(core/scheduling.py), and record each assignment as the task's intent to submit. Queued tasks
that cannot be served at all fail here with the reason; those past their deadline too.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncConnection

from veorelay.core import scheduling
from veorelay.core.channels import DISPATCHABLE, Health, quota_day_start
from veorelay.core.lifecycle import Event
from veorelay.core.scheduling import ChannelSlot
from veorelay.db import channels as channel_db
from veorelay.db import tasks as task_db
from veorelay.db.channels import Channel
from veorelay.db.database import Database
from veorelay.db.tasks import Task

log = logging.getLogger("veorelay.engine")

PER_ACCOUNT = 20  # queued tasks of one account the planner considers per round
WAITING_FOR_CAPACITY = "upstream_capacity"
NO_CHANNEL = "no_channel"


@dataclass(frozen=True)
class Failure:
    code: str
    message: str


def slots(
    channels: list[Channel],
    now: float,
    in_flight: dict[str, int],
    last_minute: dict[str, int],
    today: dict[str, int],
) -> list[ChannelSlot]:
    """Channels that may take work now. A cooling or unreachable channel still serves its
    models (tasks wait for it) but has no room."""
    found = []
    for channel in channels:
        if not channel.enabled or channel.health is Health.CREDENTIALS:
            continue
        open_now = channel.health in DISPATCHABLE and (channel.cooling_until or 0.0) <= now
        found.append(
            ChannelSlot(
                id=channel.id,
                models=frozenset(m for m, info in channel.models.items() if info.available),
                groups=frozenset(channel.groups) if channel.groups is not None else None,
                priority=channel.priority,
                weight=channel.weight,
                in_flight=in_flight.get(channel.id, 0),
                max_concurrent=channel.max_concurrent if open_now else 0,
                submits_last_minute=last_minute.get(channel.id, 0),
                rpm=channel.rpm,
                submits_today=today.get(channel.id, 0),
                rpd=channel.rpd,
            )
        )
    return found


def unservable(channels: list[Channel], model: str, group: str) -> Failure | None:
    """Why no channel will ever take this task without an operator's help, or None."""
    serving = [
        c
        for c in channels
        if c.enabled and model in c.models and (c.groups is None or group in c.groups)
    ]
    if any(c.health is not Health.CREDENTIALS and c.models[model].available for c in serving):
        return None
    if any(c.health is Health.CREDENTIALS for c in serving):
        return Failure(
            "upstream_credentials",
            "The gateway's upstream credentials for this model were refused, so the video "
            "could not be made. The operator has to fix them; you have not been charged.",
        )
    if serving:  # Google's own words name the operator's projects: they stay in the events
        return Failure(
            "model_unavailable",
            f"Model {model} is no longer available upstream (retired, or not enabled for "
            "this gateway's Google projects); you have not been charged.",
        )
    return None  # nothing serves it (an operator may add a channel): wait until the deadline


def deadline_failure(task: Task) -> Failure:
    """Why a task failed at its deadline: the cause it last waited for, if it never started."""
    if task.submitted_at is None and task.wait_reason == WAITING_FOR_CAPACITY:
        return Failure(
            "upstream_capacity",
            "Google had no capacity for this model before the task's deadline (every channel "
            "was busy or answered 429 RESOURCE_EXHAUSTED); you have not been charged.",
        )
    if task.submitted_at is None and task.wait_reason == NO_CHANNEL:
        return Failure(
            "upstream_unavailable",
            "No upstream channel could serve this model before the task's deadline; "
            "you have not been charged.",
        )
    return Failure("timeout", "The video was not ready in time; you have not been charged.")


async def dispatch(
    db: Database, now: float, limit: int, recheck_seconds: float, minute_seconds: float = 60.0
) -> int:
    """Assign up to `limit` queued tasks to channels. Returns how many were assigned.
    `minute_seconds` is the requests-per-minute window (scaled with the engine in tests)."""
    # First, in a transaction of its own, fail what cannot run: settling locks token and
    # account rows, which must not be taken while the channel rows are (a client's delete
    # takes them in the other order).
    async with db.write() as conn:
        await _fail_overdue(conn, now)
        await _fail_unservable(conn, await channel_db.list_channels(conn), now, limit * 4)
    async with db.write() as conn:
        channels = await channel_db.list_channels(conn, lock=True)
        candidates = await task_db.queued_candidates(
            conn, now, PER_ACCOUNT, limit * 4, WAITING_FOR_CAPACITY
        )
        if not candidates:
            return 0
        by_id = {c.id: c for c in channels}
        room = slots(
            channels,
            now,
            await channel_db.in_flight(conn),
            await channel_db.submits_since(conn, now - minute_seconds),
            await channel_db.submits_since(conn, quota_day_start(now)),
        )
        candidates = [c for c in candidates if unservable(channels, c.model, c.group) is None]
        account_load = await task_db.accounts_in_flight(conn, {c.account_id for c in candidates})
        assignable = scheduling.plan(candidates, room, account_load)
        assignments = assignable[:limit]
        # Assignable but beyond this engine's submit room: due next round, not "waiting".
        deferred = {a.task_id for a in assignable[limit:]}
        models = {c.task_id: c.model for c in candidates}
        assigned = []
        for a in assignments:
            upstream = by_id[a.channel_id].upstream_model(models[a.task_id])
            if await task_db.assign(conn, a.task_id, a.channel_id, upstream, now):
                assigned.append(a.channel_id)
        await channel_db.record_submits(conn, assigned, now)
        taken = {a.task_id for a in assignments} | deferred
        waiting = [c for c in candidates if c.task_id not in taken]
        for reason, group in (
            (
                WAITING_FOR_CAPACITY,
                [c for c in waiting if scheduling.servable(room, c.model, c.group)],
            ),
            (NO_CHANNEL, [c for c in waiting if not scheduling.servable(room, c.model, c.group)]),
        ):
            await task_db.mark_waiting(
                conn, [c.task_id for c in group], reason, now + recheck_seconds
            )
    return len(assigned)


async def _fail_overdue(conn: AsyncConnection, now: float) -> None:
    for task in await task_db.overdue_queued(conn, now):
        failure = deadline_failure(task)
        moved = await task_db.apply_transition(
            conn, task, Event.FAILED, now, error_code=failure.code, error_message=failure.message
        )
        if moved is not None:
            log.info("task %s: failed while queued (%s)", task.id, failure.code)


async def _fail_unservable(
    conn: AsyncConnection, channels: list[Channel], now: float, limit: int
) -> None:
    """Queued tasks no channel will ever take without an operator (credentials refused,
    model retired everywhere) fail now rather than at their deadline."""
    candidates = await task_db.queued_candidates(
        conn, now, PER_ACCOUNT, limit, WAITING_FOR_CAPACITY
    )
    failures = {
        c.task_id: failure
        for c in candidates
        if (failure := unservable(channels, c.model, c.group)) is not None
    }
    if not failures:
        return
    for task in await task_db.get_tasks(conn, list(failures)):
        failure = failures[task.id]
        moved = await task_db.apply_transition(
            conn, task, Event.FAILED, now, error_code=failure.code, error_message=failure.message
        )
        if moved is not None:
            log.info("task %s: failed, no channel can serve it (%s)", task.id, failure.code)
