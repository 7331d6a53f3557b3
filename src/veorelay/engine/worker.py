"""The engine's loop: lease due tasks, run one step each, repeat. Several may run at once.

`run_forever` is what `serve` and `veorelay worker` run, until `stop()`; `run_until_idle`
(burst mode) runs until no task is active, which makes tests deterministic without sleeps.

Stopping never cancels a database transaction half-way if the steps finish within the drain
time: on SQLite a statement cut off by a cancellation can leave its connection holding the
write lock until the garbage collector closes it, and every other writer then times out.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from pathlib import Path

from veorelay.channels.clients import ChannelClients
from veorelay.core.lifecycle import TaskState
from veorelay.db import tasks as task_db
from veorelay.db.database import Database
from veorelay.db.tasks import Task
from veorelay.engine import maintenance, retention
from veorelay.engine.dispatch import dispatch
from veorelay.engine.events import wait_for_event
from veorelay.engine.metrics import EngineMetrics
from veorelay.engine.retention import RetentionPolicy
from veorelay.engine.steps import StepContext, run_step
from veorelay.logs import REQUEST_ID, TASK_ID
from veorelay.storage.base import VideoStorage

log = logging.getLogger("veorelay.engine")
AFTER_SUBMIT = frozenset({TaskState.RUNNING, TaskState.DOWNLOADING})
# Due work that could not be leased (another worker holds it) is looked at again this soon.
MIN_WAIT = 0.01


# A download in progress writes to its spool file continually; one untouched this long was
# left by a process that died (other live workers may share the spool directory).
STALE_SPOOL_SECONDS = 3600.0


def sweep_spool(spool: Path, now: float) -> int:
    """Remove partial downloads a crashed process left behind. Returns how many."""
    removed = 0
    for partial in spool.glob("*.part"):
        with contextlib.suppress(FileNotFoundError):
            if partial.stat().st_mtime < now - STALE_SPOOL_SECONDS:
                partial.unlink()
                removed += 1
    return removed


class Engine:
    def __init__(
        self,
        db: Database,
        storage: VideoStorage,
        channels: ChannelClients,
        *,
        time_scale: float = 1.0,
        concurrency: int = 16,
        submit_concurrency: int = 4,
        maintenance_seconds: float = 60.0,
        tick_seconds: float = 1.0,
        lease_seconds: float = 30.0,
        drain_seconds: float = 10.0,
        retention: RetentionPolicy | None = None,
        clock: Callable[[], float] = time.time,
        metrics: EngineMetrics | None = None,
    ):
        self.retention = retention or RetentionPolicy()
        self.ctx = StepContext(
            db=db,
            storage=storage,
            channels=channels,
            clock=clock,
            time_scale=time_scale,
            retention_seconds=self.retention.retention_seconds,
        )
        self.concurrency = concurrency
        # Submits in flight at once: a crash can leave at most this many requests that Google
        # accepted but we did not record (they are submitted again, and rendered twice).
        self.submit_concurrency = submit_concurrency
        self.maintenance_seconds = maintenance_seconds
        self._submitting: set[asyncio.Task[None]] = set()
        self._maintained_at = 0.0
        self._reconciled_at = 0.0
        self.tick_seconds = tick_seconds
        self.lease_seconds = lease_seconds
        self.drain_seconds = drain_seconds
        self._wakeup = asyncio.Event()
        self._stopping = asyncio.Event()
        self._running: set[asyncio.Task[None]] = set()
        self.metrics = metrics or EngineMetrics()

    def wake(self) -> None:
        """New work arrived (e.g. a task was created in this process): look now, not next tick."""
        self._wakeup.set()

    def stop(self) -> None:
        """Make `run_forever` return at its next safe point: it leases nothing more and gives
        the steps in flight up to `drain_seconds` to finish."""
        self._stopping.set()
        self._wakeup.set()

    async def run_forever(self) -> None:
        log.info("engine started (concurrency %d)", self.concurrency)
        swept = await asyncio.to_thread(sweep_spool, self.ctx.storage.spool_dir(), time.time())
        if swept:
            log.info("removed %d download(s) left unfinished by a crash", swept)
        try:
            while not self._stopping.is_set():
                try:
                    await self._maintain()
                    await self._lease_and_start()
                    await self._sleep_until_due()
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.exception("engine loop error; retrying")
                    await asyncio.sleep(self.tick_seconds)
        finally:
            await self._drain()

    async def _drain(self) -> None:
        """On shutdown, let steps in flight finish for a while before cancelling them: a submit
        cut off after Google accepted it would be submitted (and rendered) again later."""
        if self._running:
            log.info(
                "engine stopping: waiting up to %.0f s for %d step(s)",
                self.drain_seconds,
                len(self._running),
            )
            await asyncio.wait(self._running, timeout=self.drain_seconds)
        for step in list(self._running):
            step.cancel()
        await asyncio.gather(*self._running, return_exceptions=True)

    async def run_until_idle(self, max_seconds: float = 60.0) -> None:
        deadline = time.monotonic() + max_seconds
        while time.monotonic() < deadline:
            await self._lease_and_start()
            if self._running:
                await asyncio.wait(self._running, return_when=asyncio.FIRST_COMPLETED)
                continue
            async with self.ctx.db.read() as conn:
                due = await task_db.next_due_at(conn)
            if due is None:
                return
            await asyncio.sleep(min(max(due - self.ctx.clock(), 0.005), 0.5))
        raise TimeoutError("engine still had active tasks when the burst timed out")

    async def _maintain(self) -> None:
        now = self.ctx.clock()
        if now - self._maintained_at < self.maintenance_seconds:
            return
        self._maintained_at = now
        await maintenance.probe_unreachable(self.ctx.db, self.ctx.channels, now)
        await maintenance.prune(self.ctx.db, now)
        try:  # a store that is down must not keep the engine from its tasks
            await self._retain(now)
        except Exception as exc:
            log.warning(
                "retention round failed (next round retries): %s: %s", type(exc).__name__, exc
            )

    async def _retain(self, now: float) -> None:
        policy = self.retention
        await retention.sweep_expired(self.ctx.db, self.ctx.storage, now, policy.retention_seconds)
        if policy.prune_tasks_after_seconds is not None:
            await retention.prune_tasks(self.ctx.db, now, policy.prune_tasks_after_seconds)
        if now - self._reconciled_at >= policy.reconcile_seconds:
            self._reconciled_at = now
            await retention.reconcile(
                self.ctx.db, self.ctx.storage, now, policy.orphan_grace_seconds
            )

    async def _lease_and_start(self) -> None:
        free = self.concurrency - len(self._running)
        if free <= 0:
            return
        submit_room = self.submit_concurrency - len(self._submitting)
        if submit_room > 0:
            await dispatch(
                self.ctx.db,
                self.ctx.clock(),
                submit_room,
                self.tick_seconds,
                minute_seconds=60.0 * self.ctx.time_scale,
            )
        async with self.ctx.db.write() as conn:  # submits within the submit limit, then the rest
            now = self.ctx.clock()
            leased = await task_db.lease_due(
                conn,
                now,
                self.lease_seconds,
                min(free, self.submit_concurrency - len(self._submitting)),
                frozenset({TaskState.SUBMITTING}),
            )
            leased += await task_db.lease_due(
                conn, now, self.lease_seconds, free - len(leased), AFTER_SUBMIT
            )
        for task in leased:
            step = asyncio.create_task(self._run_leased(task))
            self._running.add(step)
            if task.state is TaskState.SUBMITTING:
                self._submitting.add(step)
            step.add_done_callback(self._step_done)

    def _step_done(self, step: asyncio.Task[None]) -> None:
        self._running.discard(step)
        self._submitting.discard(step)
        self._wakeup.set()  # a slot is free, and the step may have made more work due

    async def _run_leased(self, task: Task) -> None:
        TASK_ID.set(task.id)  # this asyncio task's own context: every line of the step
        REQUEST_ID.set(task.request_id)
        step_over = asyncio.Event()
        heartbeat = asyncio.create_task(self._keep_lease(task, step_over))
        started, outcome = time.perf_counter(), "ok"
        try:
            await run_step(self.ctx, task)
        except Exception:
            outcome = "crashed"
            log.exception("task %s: step crashed; it will be retried when its lease ends", task.id)
        finally:
            step_over.set()  # the heartbeat ends between renewals, never inside one
            await heartbeat
            self.metrics.step(task.state.value, outcome, time.perf_counter() - started)
        if task.state is TaskState.DOWNLOADING and outcome == "ok":
            async with self.ctx.db.read() as conn:
                now = await task_db.get_task(conn, task.id)
            if now is not None and now.state is TaskState.COMPLETED:
                self.metrics.completed(task.operation_name)

    async def _keep_lease(self, task: Task, step_over: asyncio.Event) -> None:
        while not await wait_for_event(step_over, self.lease_seconds / 3):
            try:
                async with self.ctx.db.write() as conn:
                    until = self.ctx.clock() + self.lease_seconds
                    if not await task_db.renew_lease(conn, task, until):
                        return  # someone else moved the task on; our step's write will lose
            except Exception:  # a database hiccup must not end the heartbeat unnoticed
                log.exception("task %s: could not renew its lease; trying again", task.id)

    async def _sleep_until_due(self) -> None:
        """Wait until a leased step finishes (if every slot is busy), new work is announced,
        or the next task falls due; at most one tick. Always yields to the event loop."""
        self._wakeup.clear()
        if self._stopping.is_set():
            return
        if len(self._running) >= self.concurrency:
            wait = self.tick_seconds  # a finishing step sets the wake-up
        else:
            async with self.ctx.db.read() as conn:
                due = await task_db.next_due_at(conn)
            now = self.ctx.clock()
            wait = (
                self.tick_seconds
                if due is None
                else min(max(due - now, MIN_WAIT), self.tick_seconds)
            )
        await wait_for_event(self._wakeup, wait)
