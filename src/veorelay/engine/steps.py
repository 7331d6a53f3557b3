"""One step of a task's life: submit, poll or download, then record the outcome.

Each step reads the task it leased, talks to its channel's upstream, and writes back through
`db.tasks.apply_transition` / `reschedule`, which compare-and-set on the task's version: if the
lease ran out and another worker moved on, our write is refused and we drop our result.

Faults (docs/channels.md): on submit, a 429 cools the channel down and the task goes back to
the queue (another channel may take it); 5xx, timeouts and resets count against the channel
and the task is queued again after a backoff; refused credentials disable the channel and a
retired model is marked unavailable on it, and the task moves. After the submit, transient
errors never fail a task: only a finished operation's error, a safety filter or the deadline do.
"""

from __future__ import annotations

import asyncio
import logging
import os
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import anyio
from sqlalchemy.ext.asyncio import AsyncConnection

from veorelay.channels import health
from veorelay.channels.clients import ChannelClients
from veorelay.core import timing
from veorelay.core.channels import Health, upstream_cost
from veorelay.core.lifecycle import Event, TaskState
from veorelay.core.models import Resolution, SourceVideo
from veorelay.db import channels as channel_db
from veorelay.db import tasks as task_db
from veorelay.db.channels import Channel
from veorelay.db.database import Database
from veorelay.db.tasks import Task
from veorelay.engine.dispatch import WAITING_FOR_CAPACITY, deadline_failure
from veorelay.media.probe import NotAVideo, verify
from veorelay.storage.base import VideoStorage, read_whole
from veorelay.upstream.base import OperationRef, UpstreamClient
from veorelay.upstream.errors import (
    CredentialRejected,
    InvalidVideo,
    ModelUnavailable,
    OperationLost,
    RetryableUpstreamError,
    TaskRejected,
    UpstreamError,
)

log = logging.getLogger("veorelay.engine")

MAX_DOWNLOAD_ATTEMPTS = 3
CONTENT_POLICY = "content_policy_violation"


# A channel that answers 429 without a RetryInfo delay waits this long (scaled).
DEFAULT_COOLDOWN_SECONDS = 30.0


@dataclass
class StepContext:
    db: Database
    storage: VideoStorage
    channels: ChannelClients
    clock: Callable[[], float]
    time_scale: float
    retention_seconds: float = 7 * 24 * 3600.0


@dataclass(frozen=True)
class Upstream:
    channel: Channel
    client: UpstreamClient


class ChannelGone(Exception):
    """The task's channel was deleted."""


class ChannelBroken(Exception):
    """The channel's client cannot be built (a secret that no longer opens, a key file
    Google's library refuses, a missing project): the operator has to fix it."""

    def __init__(self, channel: Channel, reason: str):
        super().__init__(reason)
        self.channel = channel
        self.reason = reason


# A download that keeps failing for a transient reason gives up after this many tries.
MAX_DOWNLOAD_RETRIES = 10


async def run_step(ctx: StepContext, task: Task) -> None:
    """Run the step the task's state calls for; upstream errors are turned into outcomes here."""
    try:
        upstream = await _upstream(ctx, task)
    except ChannelGone:
        await _fail(
            ctx,
            task,
            "upstream_unavailable",
            "The upstream channel this video was made on was removed; you have not been charged.",
        )
        return
    except ChannelBroken as exc:
        await _channel_broken(ctx, task, exc)
        return
    if task.state is TaskState.SUBMITTING:
        await _submit_step(ctx, task, upstream)
        return
    try:
        await _after_submit(ctx, task, upstream)
    except RetryableUpstreamError as exc:
        await _retry_later(ctx, task, upstream.channel, exc)
    except UpstreamError as exc:
        if isinstance(exc, CredentialRejected):
            async with ctx.db.write() as conn:
                await health.credentials_refused(conn, upstream.channel, exc.message, ctx.clock())
            ctx.channels.forget(upstream.channel.id)
        await _fail(ctx, task, exc.code, exc.customer_message)


async def _upstream(ctx: StepContext, task: Task) -> Upstream:
    if task.channel_id is None:
        raise ChannelGone("the task has no channel")
    channel = await ctx.channels.channel(task.channel_id)
    if channel is None or channel.deleted_at is not None:
        raise ChannelGone("it was deleted")
    try:
        return Upstream(channel, ctx.channels.client(channel))
    except Exception as exc:  # a secret that no longer opens, a malformed configuration
        raise ChannelBroken(channel, f"cannot build its client: {type(exc).__name__}") from None


async def _channel_broken(ctx: StepContext, task: Task, exc: ChannelBroken) -> None:
    """Take the channel out until an operator acts; a task not yet submitted moves to
    another channel, one rendering upstream waits (its operation is only reachable here)."""
    now = ctx.clock()
    if now > task.deadline_at:
        failure = deadline_failure(task)
        await _fail(ctx, task, failure.code, failure.message)
        return
    async with ctx.db.write() as conn:
        if exc.channel.health is not Health.CREDENTIALS:
            await health.credentials_refused(conn, exc.channel, exc.reason, now)
        if task.state is TaskState.SUBMITTING:
            await _requeue(conn, task, now, now, None)
        else:
            delay = timing.retry_backoff(task.attempts + 1, ctx.time_scale)
            await task_db.reschedule(conn, task, now, now + delay, attempts=task.attempts + 1)
    ctx.channels.forget(exc.channel.id)


async def _after_submit(ctx: StepContext, task: Task, upstream: Upstream) -> None:
    if ctx.clock() > task.deadline_at and task.state is TaskState.RUNNING:
        # Decided: an operation still running at the deadline is abandoned and the task fails
        # (released). If Google finishes it later we never fetch it, so nobody pays for or
        # receives a video they were told failed. Once Google reports it done (downloading),
        # the deadline no longer applies: the video exists and is fetched.
        failure = deadline_failure(task)
        await _fail(ctx, task, failure.code, failure.message)
    elif task.state is TaskState.RUNNING:
        await _poll(ctx, task, upstream.client)
    elif task.state is TaskState.DOWNLOADING:
        await _download(ctx, task, upstream)


async def _submit_step(ctx: StepContext, task: Task, upstream: Upstream) -> None:
    """Submit, turning a fault into the channel's health change and the task's next move."""
    channel = upstream.channel
    if ctx.clock() > task.deadline_at:
        failure = deadline_failure(task)
        await _fail(ctx, task, failure.code, failure.message)
        return
    try:
        await _submit(ctx, task, upstream)
    except RetryableUpstreamError as exc:
        now = ctx.clock()
        async with ctx.db.write() as conn:
            if exc.http_status == 429:
                wait = exc.retry_after or DEFAULT_COOLDOWN_SECONDS * ctx.time_scale
                await health.cool_down(conn, channel, timing.jittered(wait), exc.message, now)
                # Google does not count a refused request against the quota; neither do we.
                await channel_db.forget_one_submit(conn, channel.id)
                await _requeue(conn, task, now, now, WAITING_FOR_CAPACITY)
            else:
                await health.transient_fault(conn, channel, exc.message, now)
                delay = timing.retry_backoff(task.attempts + 1, ctx.time_scale, exc.retry_after)
                log.warning(
                    "task %s: submit to channel %s failed (%s); queued again in %.2f s",
                    task.id,
                    channel.name,
                    exc.message,
                    delay,
                )
                await _requeue(conn, task, now, now + delay, None, attempts=task.attempts + 1)
        ctx.channels.forget(channel.id)
    except CredentialRejected as exc:
        now = ctx.clock()
        async with ctx.db.write() as conn:
            await health.credentials_refused(conn, channel, exc.message, now)
            await _requeue(conn, task, now, now, None)
        ctx.channels.forget(channel.id)
    except ModelUnavailable as exc:
        now = ctx.clock()
        async with ctx.db.write() as conn:
            await health.model_gone(conn, channel, task.model, exc.message, now)
            await _requeue(conn, task, now, now, None)
        ctx.channels.forget(channel.id)
    except UpstreamError as exc:  # the request itself was refused: the task fails
        await _fail(ctx, task, exc.code, exc.customer_message)


async def _source_video(ctx: StepContext, task: Task, video: SourceVideo) -> SourceVideo:
    """The video an extension continues, as both surfaces take it: Google's file URI of it
    and its MP4 from our storage. Deleted meanwhile: the task fails (not billed)."""
    async with ctx.db.read() as conn:
        source = await task_db.get_task(conn, video.id, task.account_id)
    data = None
    if source is not None and source.storage_key is not None:
        data = await read_whole(ctx.storage, source.storage_key)
    if source is None or data is None:
        raise TaskRejected(
            f"The video to extend ({video.id}) was deleted before this one started; "
            "you have not been charged."
        )
    return replace(video, uri=source.video_uri, data=data)


async def _requeue(
    conn: AsyncConnection,
    task: Task,
    now: float,
    due: float,
    wait_reason: str | None,
    **values: Any,
) -> None:
    await task_db.apply_transition(
        conn,
        task,
        Event.REQUEUED,
        now,
        channel_id=None,
        next_attempt_at=due,
        wait_reason=wait_reason,
        **values,
    )


async def _submit(ctx: StepContext, task: Task, upstream: Upstream) -> None:
    async with ctx.db.read() as conn:
        current = await task_db.get_task(conn, task.id)
        image = await task_db.load_input(conn, task.id) if task.has_image else None
        extra = await task_db.load_extra_images(conn, task.id) if task.has_extra_images else None
    if (
        current is None
        or current.state is not TaskState.SUBMITTING
        or (task.has_image and image is None)
        or (task.has_extra_images and extra is None)
    ):
        log.info("task %s: cancelled before its submit; not sent", task.id)
        return
    spec = task.spec(image, extra)
    if spec.video is not None:
        spec = replace(spec, video=await _source_video(ctx, task, spec.video))
    ref = await upstream.client.submit(spec, task.upstream_model)
    now = ctx.clock()
    async with ctx.db.write() as conn:
        moved = await task_db.apply_transition(
            conn,
            task,
            Event.SUBMITTED,
            now,
            operation_name=ref.name,
            key_id=ref.key_id,
            submitted_at=now,
            attempts=0,
            wait_reason=None,
            next_attempt_at=now + timing.first_poll_delay(task.expected_render_seconds),
        )
        await health.succeeded(conn, upstream.channel, now)
    if moved is None:
        log.warning(
            "task %s: changed during submit (cancelled, or lease lost); operation %s orphaned",
            task.id,
            ref.name,
        )
    else:
        log.info("task %s: submitted as %s", task.id, ref.name)


async def _poll(ctx: StepContext, task: Task, client: UpstreamClient) -> None:
    assert task.operation_name
    assert task.key_id is not None
    state = await client.poll(OperationRef(task.operation_name, task.key_id))
    now = ctx.clock()
    if not state.done:
        # Jittered, so tasks submitted together do not poll their channel in bursts.
        interval = timing.jittered(
            timing.poll_interval(task.expected_render_seconds, ctx.time_scale)
        )
        async with ctx.db.write() as conn:
            await task_db.reschedule(conn, task, now, now + interval, attempts=0)
    elif state.video_uri is not None:
        # The download is the next step (due now), under a fresh lease of its own.
        async with ctx.db.write() as conn:
            await task_db.apply_transition(
                conn,
                task,
                Event.FINISHED,
                now,
                video_uri=state.video_uri,
                next_attempt_at=now,
                attempts=0,
            )
    elif state.filtered_reasons:
        await _fail(ctx, task, CONTENT_POLICY, " ".join(state.filtered_reasons))
    else:
        await _fail(
            ctx,
            task,
            "generation_failed",
            f"Upstream could not generate the video ({state.error_code}): {state.error_message}",
        )


async def _download(ctx: StepContext, task: Task, upstream: Upstream) -> None:
    assert task.operation_name
    assert task.key_id is not None
    assert task.video_uri
    spool = ctx.storage.spool_dir() / f"{task.id}.{uuid.uuid4().hex}.part"
    try:
        async with (
            upstream.client.download(
                OperationRef(task.operation_name, task.key_id), task.video_uri
            ) as chunks,
            await anyio.open_file(spool, "wb") as handle,
        ):
            async for chunk in chunks:
                await handle.write(chunk)
        spec = task.spec()
        await asyncio.to_thread(verify, spool, spec.width, spec.height, spec.output_seconds)
        # Unique per attempt, so a worker that loses the race below removes only its own file.
        key = f"videos/{task.id[6:8]}/{task.id}-{uuid.uuid4().hex[:8]}.mp4"
        try:
            size = await ctx.storage.put_file(key, spool)
        except Exception:
            await ctx.storage.delete(key)
            raise
    except OperationLost:
        raise OperationLost(
            "The finished video expired upstream before we could fetch it."
        ) from None
    except NotAVideo as exc:
        if task.attempts + 1 >= MAX_DOWNLOAD_ATTEMPTS:
            raise InvalidVideo(f"Upstream returned an unusable video: {exc}") from None
        raise RetryableUpstreamError(f"downloaded file is unusable: {exc}") from None
    finally:
        if spool.exists():
            os.unlink(spool)
    now = ctx.clock()
    model = upstream.channel.models.get(task.model)
    cost = (
        upstream_cost(model.cost_per_second, Resolution(task.resolution), task.seconds)
        if model is not None
        else None
    )
    async with ctx.db.write() as conn:
        done = await task_db.apply_transition(
            conn,
            task,
            Event.STORED,
            now,
            storage_key=key,
            file_bytes=size,
            completed_at=now,
            expires_at=now + ctx.retention_seconds,
            upstream_cost_micros=cost,
        )
    if done is None:  # cancelled, or another worker finished it first
        await ctx.storage.delete(key)
    else:
        log.info("task %s: completed (%d bytes)", task.id, size)


async def _retry_later(
    ctx: StepContext, task: Task, channel: Channel, exc: RetryableUpstreamError
) -> None:
    now = ctx.clock()
    attempts = task.attempts + 1
    if task.state is TaskState.DOWNLOADING and attempts >= MAX_DOWNLOAD_RETRIES:
        await _fail(
            ctx,
            task,
            "upstream_unavailable",
            "The finished video could not be fetched from upstream; you have not been charged.",
        )
        return
    delay = timing.retry_backoff(attempts, ctx.time_scale, exc.retry_after)
    log.warning(
        "task %s on channel %s: %s; retry %d in %.2f s",
        task.id,
        channel.name,
        exc.message,
        attempts,
        delay,
    )
    async with ctx.db.write() as conn:
        await task_db.reschedule(conn, task, now, now + delay, attempts=attempts)


async def _fail(ctx: StepContext, task: Task, code: str, message: str) -> None:
    async with ctx.db.write() as conn:
        moved = await task_db.apply_transition(
            conn, task, Event.FAILED, ctx.clock(), error_code=code, error_message=message
        )
    if moved is not None:
        log.info("task %s: failed (%s)", task.id, code)
