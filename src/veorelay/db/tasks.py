"""Task queries. State changes go through `apply_transition` only (compare-and-set + ledger)."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field, fields
from typing import Any

from sqlalchemy import (
    bindparam,
    case,
    delete,
    func,
    insert,
    literal,
    or_,
    select,
    tuple_,
    update,
)
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.elements import ColumnElement

from veorelay import billing
from veorelay.core.access import RPM_WINDOW_SECONDS, TokenPolicy, Usage, check_usage
from veorelay.core.lifecycle import (
    ACTIVE_STATES,
    TERMINAL_STATES,
    UPSTREAM_STATES,
    Event,
    TaskState,
    transition,
)
from veorelay.core.models import AspectRatio, ImageInput, Resolution, SourceVideo, VideoSpec
from veorelay.core.scheduling import Candidate
from veorelay.db import signals, webhooks
from veorelay.db.database import ReadConnection
from veorelay.db.tables import accounts, task_extra_images, task_inputs, tasks, tokens

# States in which the engine leases a task to run a step (queued ones are dispatched first).
STEP_STATES = ACTIVE_STATES - {TaskState.QUEUED}
_TASK_ID = re.compile(r"video_[0-9a-f]{32}")


def new_task_id() -> str:
    return f"video_{secrets.token_hex(16)}"


def is_task_id(value: str) -> bool:
    """Whether `value` could name a task; anything else is unknown without a query."""
    return _TASK_ID.fullmatch(value) is not None


@dataclass(frozen=True)
class Task:
    id: str
    account_id: str
    token_id: str
    model: str
    upstream_model: str
    prompt: str
    seconds: int
    resolution: str
    aspect_ratio: str
    negative_prompt: str | None
    seed: int | None
    has_image: bool
    price_micros: int
    state: TaskState
    version: int
    lease_until: float | None
    next_attempt_at: float
    attempts: int
    operation_name: str | None
    key_id: str | None
    video_uri: str | None
    expected_render_seconds: float
    deadline_at: float
    storage_key: str | None
    file_bytes: int | None
    error_code: str | None
    error_message: str | None
    created_at: float
    submitted_at: float | None
    completed_at: float | None
    updated_at: float
    deleted_at: float | None
    finished_at: float | None
    group_name: str = "default"
    channel_id: str | None = None
    upstream_cost_micros: int | None = None
    wait_reason: str | None = None
    submits: int = 0
    resubmits: int = 0
    expires_at: float | None = None
    request_id: str | None = None
    reference_images: int = 0
    has_last_frame: bool = False
    extends_id: str | None = None
    extends_seconds: int | None = None

    @classmethod
    def from_row(cls, row: Any) -> Task:
        return cls.from_row_mapping(dict(row._mapping))

    @classmethod
    def from_row_mapping(cls, data: dict[str, Any]) -> Task:
        data["state"] = TaskState(data["state"])
        return cls(**data)

    def spec(self, image: ImageInput | None = None, extra: ExtraImages | None = None) -> VideoSpec:
        """The request as it was made; its images only as given (they are kept until the
        task is submitted), its source video by id and length."""
        video = None
        if self.extends_id is not None:
            video = SourceVideo(id=self.extends_id, seconds=self.extends_seconds or 0)
        return VideoSpec(
            model=self.model,
            prompt=self.prompt,
            seconds=self.seconds,
            resolution=Resolution(self.resolution),
            aspect_ratio=AspectRatio(self.aspect_ratio),
            negative_prompt=self.negative_prompt,
            seed=self.seed,
            image=image,
            last_frame=extra.last_frame if extra else None,
            reference_images=extra.reference_images if extra else (),
            video=video,
        )

    @property
    def has_extra_images(self) -> bool:
        return self.has_last_frame or self.reference_images > 0


@dataclass(frozen=True)
class ExtraImages:
    last_frame: ImageInput | None = None
    reference_images: tuple[ImageInput, ...] = ()


_COLUMNS = [tasks.c[f.name] for f in fields(Task)]
TASK_COLUMNS = tuple(_COLUMNS)  # a Task's columns, for queries elsewhere that join tasks


@dataclass(frozen=True)
class NewTask:
    """Everything decided at create time: who asks, what, for how much, how long it may take."""

    spec: VideoSpec
    account_id: str
    token_id: str
    upstream_model: str
    price_micros: int
    expected_render_seconds: float
    timeout_seconds: float
    group_name: str = "default"
    policy: TokenPolicy = field(default_factory=TokenPolicy)
    request_id: str | None = None  # for the logs (logs.py)


async def create_task(
    conn: AsyncConnection, new: NewTask, now: float, task_id: str | None = None
) -> Task:
    """Check the token's and its account's limits, hold the price and insert the task (as
    `task_id`, or a new id), in the caller's transaction: all or nothing. The token's row is
    locked first, then (if it has limits) the account's, the order `billing.hold` and
    `delete_account` take them in, so concurrent creates for one token or one account see each
    other's effects (PostgreSQL; SQLite's writers are serialized anyway)."""
    token = (
        await conn.execute(
            select(tokens.c.spent_micros).where(tokens.c.id == new.token_id).with_for_update()
        )
    ).one()
    policy = new.policy
    token_usage = await _usage(
        conn, tasks.c.token_id == new.token_id, policy.rpm_limit, policy.max_in_flight, now
    )
    account_usage = Usage()
    if policy.has_account_limits:
        await conn.execute(
            select(accounts.c.id).where(accounts.c.id == new.account_id).with_for_update()
        )
        account_usage = await _usage(
            conn,
            tasks.c.account_id == new.account_id,
            policy.account_rpm_limit,
            policy.account_max_in_flight,
            now,
        )
    check_usage(
        policy,
        token=token_usage,
        account=account_usage,
        spent_micros=int(token.spent_micros),
        price_micros=new.price_micros,
        retry_in_flight_after=new.expected_render_seconds,
        now=now,
    )
    task_id = task_id or new_task_id()
    await billing.hold(conn, new.account_id, new.token_id, task_id, new.price_micros, now)
    spec = new.spec
    values = {
        "id": task_id,
        "account_id": new.account_id,
        "token_id": new.token_id,
        "model": spec.model,
        "upstream_model": new.upstream_model,
        "prompt": spec.prompt,
        "seconds": spec.seconds,
        "resolution": spec.resolution.value,
        "aspect_ratio": spec.aspect_ratio.value,
        "negative_prompt": spec.negative_prompt,
        "seed": spec.seed,
        "has_image": spec.image is not None,
        "reference_images": len(spec.reference_images),
        "has_last_frame": spec.last_frame is not None,
        "extends_id": spec.video.id if spec.video else None,
        "extends_seconds": spec.video.seconds if spec.video else None,
        "price_micros": new.price_micros,
        "group_name": new.group_name,
        "state": TaskState.QUEUED.value,
        "version": 0,
        "next_attempt_at": now,
        "attempts": 0,
        "expected_render_seconds": new.expected_render_seconds,
        "deadline_at": now + new.timeout_seconds,
        "created_at": now,
        "updated_at": now,
        "request_id": new.request_id,
    }
    row = (await conn.execute(insert(tasks).values(**values).returning(*_COLUMNS))).one()
    if spec.image is not None:
        await conn.execute(
            insert(task_inputs).values(
                task_id=task_id, mime_type=spec.image.mime_type, data=spec.image.data
            )
        )
    extra = [(LAST_FRAME, spec.last_frame)] if spec.last_frame else []
    extra += [(REFERENCE, image) for image in spec.reference_images]
    if extra:
        await conn.execute(
            insert(task_extra_images),
            [
                {
                    "task_id": task_id,
                    "position": position,
                    "kind": kind,
                    "mime_type": image.mime_type,
                    "data": image.data,
                }
                for position, (kind, image) in enumerate(extra)
            ],
        )
    await signals.notify(conn, signals.TASKS)  # engines in other processes look now
    return Task.from_row(row)


LAST_FRAME = "last_frame"
REFERENCE = "reference"


async def _usage(
    conn: AsyncConnection,
    holder: ColumnElement[bool],
    rpm_limit: int | None,
    max_in_flight: int | None,
    now: float,
) -> Usage:
    """The numbers the given limits need, of the tasks matching `holder` (none if no limit)."""
    recent: list[float] = []
    if rpm_limit is not None:
        query = select(tasks.c.created_at).where(
            holder, tasks.c.created_at > now - RPM_WINDOW_SECONDS
        )
        recent = list((await conn.execute(query)).scalars())
    in_flight = 0 if max_in_flight is None else await count_active(conn, holder)
    return Usage(recent_creates=recent, in_flight=in_flight)


async def count_active(conn: ReadConnection, *where: ColumnElement[bool]) -> int:
    """How many tasks matching `where` are queued or in progress."""
    query = select(func.count()).where(
        *where, tasks.c.state.in_([state.value for state in ACTIVE_STATES])
    )
    return int((await conn.execute(query)).scalar_one())


# Built once: the status poll is the hottest query, and building a 31-column select each time
# costs more than SQLite takes to answer it.
_BY_ID = select(*_COLUMNS).where(tasks.c.id == bindparam("task_id"))
_BY_ID_AND_ACCOUNT = _BY_ID.where(
    tasks.c.account_id == bindparam("account_id"), tasks.c.deleted_at.is_(None)
)


async def get_task(
    conn: ReadConnection, task_id: str, account_id: str | None = None
) -> Task | None:
    if account_id is None:
        result = await conn.execute(_BY_ID, {"task_id": task_id})
    else:
        result = await conn.execute(
            _BY_ID_AND_ACCOUNT, {"task_id": task_id, "account_id": account_id}
        )
    row = result.first()
    return Task.from_row(row) if row else None


async def list_tasks(
    conn: ReadConnection, account_id: str, *, after: str | None, limit: int, descending: bool
) -> tuple[list[Task], bool]:
    """A page of the account's tasks, newest first (or oldest first), after the task `after`.
    Returns the page and whether more follow. An unknown `after` gives an empty page."""
    query = select(*_COLUMNS).where(tasks.c.account_id == account_id, tasks.c.deleted_at.is_(None))
    key = tuple_(tasks.c.created_at, tasks.c.id)
    if after is not None:
        cursor = (
            await conn.execute(
                select(tasks.c.created_at, tasks.c.id).where(
                    tasks.c.id == after, tasks.c.account_id == account_id
                )
            )
        ).first()
        if cursor is None:
            return [], False
        bound = tuple_(literal(cursor.created_at), literal(cursor.id))
        query = query.where(key < bound if descending else key > bound)
    order = (
        (tasks.c.created_at.desc(), tasks.c.id.desc())
        if descending
        else (tasks.c.created_at.asc(), tasks.c.id.asc())
    )
    rows = (await conn.execute(query.order_by(*order).limit(limit + 1))).all()
    return [Task.from_row(row) for row in rows[:limit]], len(rows) > limit


async def recent_render_seconds(
    conn: ReadConnection, model: str, resolution: str, limit: int = 20
) -> list[float]:
    """How long the last completed renders of this kind took, submit to stored."""
    rows = await conn.execute(
        select(tasks.c.completed_at - tasks.c.submitted_at)
        .where(
            tasks.c.state == TaskState.COMPLETED.value,
            tasks.c.model == model,
            tasks.c.resolution == resolution,
            tasks.c.submitted_at.is_not(None),
        )
        .order_by(tasks.c.completed_at.desc())
        .limit(limit)
    )
    return [float(value) for (value,) in rows]


# A deleted video's prompt, negative prompt and image are purged; the row keeps what billing
# and usage need. Its stored file is no longer named: the caller removes `task.storage_key`.
_PURGED = {"prompt": "", "negative_prompt": None, "storage_key": None}


async def mark_deleted(conn: AsyncConnection, task: Task, now: float) -> Task | None:
    """Delete for the client: an active task is cancelled (its hold released), a finished one
    just disappears. Compare-and-set like every change; None if the task moved meanwhile."""
    if task.state in ACTIVE_STATES:
        # Compared on state alone: cancelling is legal in any active state, and the engine's
        # lease bumps (which change only the version) must not make a client's delete fail.
        # The engine's own next write then loses its compare-and-set, as it should.
        return await apply_transition(  # its settlement drops the image
            conn,
            task,
            Event.CANCELLED,
            now,
            same_version=False,
            deleted_at=now,
            error_code="cancelled",
            error_message="Cancelled by the client.",
            **_PURGED,
        )
    result = await conn.execute(
        update(tasks)
        .where(tasks.c.id == task.id, tasks.c.version == task.version)
        .values(version=task.version + 1, deleted_at=now, updated_at=now, **_PURGED)
        .returning(*_COLUMNS)
    )
    row = result.first()
    if row is None:
        return None
    await conn.execute(delete(task_inputs).where(task_inputs.c.task_id == task.id))
    return Task.from_row(row)


async def load_input(conn: ReadConnection, task_id: str) -> ImageInput | None:
    row = (
        await conn.execute(
            select(task_inputs.c.mime_type, task_inputs.c.data).where(
                task_inputs.c.task_id == task_id
            )
        )
    ).first()
    return ImageInput(data=bytes(row.data), mime_type=row.mime_type) if row else None


async def load_extra_images(conn: ReadConnection, task_id: str) -> ExtraImages | None:
    """The task's last frame and reference images, or None once they are gone (submitted)."""
    rows = list(
        await conn.execute(
            select(task_extra_images)
            .where(task_extra_images.c.task_id == task_id)
            .order_by(task_extra_images.c.position)
        )
    )
    if not rows:
        return None
    images = [(row.kind, ImageInput(data=bytes(row.data), mime_type=row.mime_type)) for row in rows]
    return ExtraImages(
        last_frame=next((image for kind, image in images if kind == LAST_FRAME), None),
        reference_images=tuple(image for kind, image in images if kind == REFERENCE),
    )


async def lease_due(
    conn: AsyncConnection,
    now: float,
    lease_seconds: float,
    limit: int,
    states: frozenset[TaskState] | None = None,
) -> list[Task]:
    """Take up to `limit` due tasks (in `states`, default every step state) for
    `lease_seconds`. Bumps each version, so a worker whose lease expired loses any later
    compare-and-set. PostgreSQL skips rows another worker locks. Queued tasks are never
    leased: the dispatcher gives them a channel first (`assign`)."""
    if limit <= 0:
        return []
    due = (
        tasks.c.state.in_([s.value for s in (states or STEP_STATES) & STEP_STATES]),
        tasks.c.next_attempt_at <= now,
        or_(tasks.c.lease_until.is_(None), tasks.c.lease_until < now),
    )
    # Two statements, not an UPDATE over a LIMITed subquery: PostgreSQL may run such a
    # subquery more than once and so lease more than `limit` rows.
    candidates = (
        select(tasks.c.id)
        .where(*due)
        .order_by(tasks.c.next_attempt_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    ids = list((await conn.execute(candidates)).scalars())
    if not ids:
        return []
    result = await conn.execute(
        update(tasks)
        .where(tasks.c.id.in_(ids), *due)
        .values(
            lease_until=now + lease_seconds,
            version=tasks.c.version + 1,
            # Counted as the lease is taken: a crash mid-submit still counts its attempt.
            submits=case(
                (tasks.c.state == TaskState.SUBMITTING.value, tasks.c.submits + 1),
                else_=tasks.c.submits,
            ),
            # A submitting task whose lease ran out: its worker died (or stalled) mid-submit,
            # so Google may have accepted a request we never recorded.
            resubmits=case(
                (
                    (tasks.c.state == TaskState.SUBMITTING.value)
                    & tasks.c.lease_until.is_not(None),
                    tasks.c.resubmits + 1,
                ),
                else_=tasks.c.resubmits,
            ),
        )
        .returning(*_COLUMNS)
    )
    return [Task.from_row(row) for row in result]


async def queued_candidates(
    conn: ReadConnection, now: float, per_account: int, limit: int, waiting_reason: str
) -> list[Candidate]:
    """Due queued tasks, at most `per_account` of each account's oldest (so one account's
    backlog cannot crowd the others out of the batch the planner sees). Tasks waiting for
    capacity (`waiting_reason`) are always due: they are postponed only so an idle engine
    does not spin, and must not lose their turn to younger tasks when a slot frees."""
    rank = (
        func.row_number()
        .over(partition_by=tasks.c.account_id, order_by=(tasks.c.created_at, tasks.c.id))
        .label("rank")
    )
    ranked = (
        select(
            tasks.c.id,
            tasks.c.account_id,
            tasks.c.model,
            tasks.c.group_name,
            tasks.c.created_at,
            rank,
        )
        .where(
            tasks.c.state == TaskState.QUEUED.value,
            or_(tasks.c.next_attempt_at <= now, tasks.c.wait_reason == waiting_reason),
        )
        .subquery()
    )
    rows = await conn.execute(
        select(ranked)
        .where(ranked.c.rank <= per_account)
        .order_by(ranked.c.rank, ranked.c.created_at)
        .limit(limit)
    )
    return [Candidate(r.id, r.account_id, r.model, r.group_name, float(r.created_at)) for r in rows]


async def accounts_in_flight(conn: ReadConnection, account_ids: set[str]) -> dict[str, int]:
    if not account_ids:
        return {}
    rows = await conn.execute(
        select(tasks.c.account_id, func.count())
        .where(
            tasks.c.account_id.in_(account_ids),
            tasks.c.state.in_([s.value for s in UPSTREAM_STATES]),
        )
        .group_by(tasks.c.account_id)
    )
    return {account: int(n) for account, n in rows}


async def assign(
    conn: AsyncConnection, task_id: str, channel_id: str, upstream_model: str, now: float
) -> bool:
    """Queued -> submitting on `channel_id`: the intent to submit, recorded before the call."""
    transition(TaskState.QUEUED, Event.DISPATCHED)
    result = await conn.execute(
        update(tasks)
        .where(tasks.c.id == task_id, tasks.c.state == TaskState.QUEUED.value)
        .values(
            state=TaskState.SUBMITTING.value,
            channel_id=channel_id,
            upstream_model=upstream_model,
            next_attempt_at=now,
            lease_until=None,
            version=tasks.c.version + 1,
            updated_at=now,
        )
    )
    return result.rowcount == 1


async def mark_waiting(
    conn: AsyncConnection, task_ids: list[str], reason: str, look_again_at: float
) -> None:
    """Queued tasks no channel could take now: say why, and look again later."""
    if task_ids:
        await conn.execute(
            update(tasks)
            .where(tasks.c.id.in_(task_ids), tasks.c.state == TaskState.QUEUED.value)
            .values(wait_reason=reason, next_attempt_at=look_again_at)
        )


async def overdue_queued(conn: ReadConnection, now: float, limit: int = 100) -> list[Task]:
    """Queued tasks that can no longer be rendered before their deadline (nobody leases them,
    so the dispatcher fails them): submitting one would make Google bill a render we would
    abandon at the deadline."""
    rows = await conn.execute(
        select(*_COLUMNS)
        .where(
            tasks.c.state == TaskState.QUEUED.value,
            tasks.c.deadline_at - tasks.c.expected_render_seconds < now,
        )
        .limit(limit)
    )
    return [Task.from_row(row) for row in rows]


async def get_tasks(conn: ReadConnection, task_ids: list[str]) -> list[Task]:
    rows = await conn.execute(select(*_COLUMNS).where(tasks.c.id.in_(task_ids)))
    return [Task.from_row(row) for row in rows]


async def next_due_at(conn: ReadConnection) -> float | None:
    """When the earliest active task becomes due (for an idle engine's sleep, and burst mode)."""
    query = (
        select(tasks.c.next_attempt_at, tasks.c.lease_until)
        .where(tasks.c.state.in_([s.value for s in ACTIVE_STATES]))
        .order_by(tasks.c.next_attempt_at)
        .limit(50)
    )
    rows = (await conn.execute(query)).all()
    if not rows:
        return None
    return float(min(max(r.next_attempt_at, r.lease_until or 0.0) for r in rows))


async def apply_transition(
    conn: AsyncConnection,
    task: Task,
    event: Event,
    now: float,
    *,
    same_version: bool = True,
    **values: Any,
) -> Task | None:
    """Move `task` along `event` if nobody changed it since we read it; settle its money in the
    same transaction, and the webhook events it raises (db/webhooks.py). Returns the new row,
    or None if we lost the race (then nothing changed)."""
    step = transition(task.state, event)
    if step.target in TERMINAL_STATES:
        values.setdefault("finished_at", now)
    guard = [tasks.c.id == task.id, tasks.c.state == task.state.value]
    if same_version:  # an engine step: refused if anyone touched the task since it leased it
        guard.append(tasks.c.version == task.version)
    result = await conn.execute(
        update(tasks)
        .where(*guard)
        .values(
            state=step.target.value,
            version=tasks.c.version + 1,
            lease_until=None,
            updated_at=now,
            **values,
        )
        .returning(*_COLUMNS)
    )
    row = result.first()
    if row is None:
        return None
    if step.settlement is not None:
        await billing.settle(
            conn, task.account_id, task.token_id, task.id, task.price_micros, step.settlement, now
        )
    if event is Event.SUBMITTED or step.settlement is not None:
        await conn.execute(delete(task_inputs).where(task_inputs.c.task_id == task.id))
        await conn.execute(delete(task_extra_images).where(task_extra_images.c.task_id == task.id))
    if step.target in TERMINAL_STATES:  # the webhook outbox, committed with the state
        await webhooks.enqueue(conn, task.account_id, task.id, step.target, now)
    return Task.from_row(row)


async def reschedule(
    conn: AsyncConnection, task: Task, now: float, next_attempt_at: float, **values: Any
) -> Task | None:
    """Keep the state, look again at `next_attempt_at`; compare-and-set like a transition."""
    result = await conn.execute(
        update(tasks)
        .where(tasks.c.id == task.id, tasks.c.version == task.version)
        .values(
            version=task.version + 1,
            lease_until=None,
            next_attempt_at=next_attempt_at,
            updated_at=now,
            **values,
        )
        .returning(*_COLUMNS)
    )
    row = result.first()
    return Task.from_row(row) if row else None


async def renew_lease(conn: AsyncConnection, task: Task, until: float) -> bool:
    result = await conn.execute(
        update(tasks)
        .where(tasks.c.id == task.id, tasks.c.version == task.version)
        .values(lease_until=until)
    )
    return result.rowcount == 1
