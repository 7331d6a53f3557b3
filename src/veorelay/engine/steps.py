"""One step of a task's life: submit, poll or download, then record the outcome.

Each step reads the task it leased, talks to upstream, and writes back through
`db.tasks.apply_transition` / `reschedule`, which compare-and-set on the task's version: if the
lease ran out and another worker moved on, our write is refused and we drop our result.
"""

from __future__ import annotations

import asyncio
import logging
import os
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import anyio

from veorelay.core import timing
from veorelay.core.lifecycle import Event, TaskState
from veorelay.db import tasks as task_db
from veorelay.db.database import Database
from veorelay.db.tasks import Task
from veorelay.media.probe import NotAVideo, verify
from veorelay.storage.base import VideoStorage
from veorelay.upstream.base import OperationRef, UpstreamClient
from veorelay.upstream.errors import (
    InvalidVideo,
    OperationLost,
    RetryableUpstreamError,
    UpstreamError,
)

log = logging.getLogger("veorelay.engine")

MAX_DOWNLOAD_ATTEMPTS = 3
CONTENT_POLICY = "content_policy_violation"


@dataclass
class StepContext:
    db: Database
    storage: VideoStorage
    upstream: UpstreamClient
    clock: Callable[[], float]
    time_scale: float


async def run_step(ctx: StepContext, task: Task) -> None:
    """Run the step the task's state calls for; upstream errors are turned into outcomes here."""
    try:
        await _dispatch(ctx, task)
    except RetryableUpstreamError as exc:
        await _retry_later(ctx, task, exc)
    except UpstreamError as exc:
        if exc.public_message is not None:
            log.error("task %s: %s: %s", task.id, exc.code, exc.message)
        await _fail(ctx, task, exc.code, exc.customer_message)


async def _dispatch(ctx: StepContext, task: Task) -> None:
    if ctx.clock() > task.deadline_at:
        await _fail(
            ctx, task, "timeout", "The video was not ready in time; you have not been charged."
        )
    elif task.state is TaskState.QUEUED:
        await _submit(ctx, task)
    elif task.state is TaskState.RUNNING:
        await _poll(ctx, task)
    elif task.state is TaskState.DOWNLOADING:
        await _download(ctx, task)


async def _submit(ctx: StepContext, task: Task) -> None:
    async with ctx.db.read() as conn:
        image = await task_db.load_input(conn, task.id) if task.has_image else None
    ref = await ctx.upstream.submit(task.spec(image), task.upstream_model)
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
            next_attempt_at=now + timing.first_poll_delay(task.expected_render_seconds),
        )
    if moved is None:
        log.warning(
            "task %s: changed during submit (cancelled, or lease lost); operation %s orphaned",
            task.id,
            ref.name,
        )
    else:
        log.info("task %s: submitted as %s", task.id, ref.name)


async def _poll(ctx: StepContext, task: Task) -> None:
    assert task.operation_name
    assert task.key_id
    state = await ctx.upstream.poll(OperationRef(task.operation_name, task.key_id))
    now = ctx.clock()
    if not state.done:
        async with ctx.db.write() as conn:
            await task_db.reschedule(
                conn,
                task,
                now,
                now + timing.poll_interval(task.expected_render_seconds, ctx.time_scale),
                attempts=0,
            )
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


async def _download(ctx: StepContext, task: Task) -> None:
    assert task.operation_name
    assert task.key_id
    assert task.video_uri
    spool = ctx.storage.spool_dir() / f"{task.id}.{uuid.uuid4().hex}.part"
    try:
        async with (
            ctx.upstream.download(
                OperationRef(task.operation_name, task.key_id), task.video_uri
            ) as chunks,
            await anyio.open_file(spool, "wb") as handle,
        ):
            async for chunk in chunks:
                await handle.write(chunk)
        spec = task.spec()
        await asyncio.to_thread(verify, spool, spec.width, spec.height, spec.seconds)
        # Unique per attempt, so a worker that loses the race below removes only its own file.
        key = f"videos/{task.id[6:8]}/{task.id}-{uuid.uuid4().hex[:8]}.mp4"
        size = await ctx.storage.put_file(key, spool)
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
    async with ctx.db.write() as conn:
        done = await task_db.apply_transition(
            conn, task, Event.STORED, now, storage_key=key, file_bytes=size, completed_at=now
        )
    if done is None:  # cancelled, or another worker finished it first
        await ctx.storage.delete(key)
    else:
        log.info("task %s: completed (%d bytes)", task.id, size)


async def _retry_later(ctx: StepContext, task: Task, exc: RetryableUpstreamError) -> None:
    now = ctx.clock()
    attempts = task.attempts + 1
    delay = timing.retry_backoff(attempts, ctx.time_scale, exc.retry_after)
    log.warning("task %s: %s; retry %d in %.2f s", task.id, exc.message, attempts, delay)
    async with ctx.db.write() as conn:
        await task_db.reschedule(conn, task, now, now + delay, attempts=attempts)


async def _fail(ctx: StepContext, task: Task, code: str, message: str) -> None:
    async with ctx.db.write() as conn:
        moved = await task_db.apply_transition(
            conn, task, Event.FAILED, ctx.clock(), error_code=code, error_message=message
        )
    if moved is not None:
        log.info("task %s: failed (%s)", task.id, code)
