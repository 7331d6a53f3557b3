"""Task rows -> public JSON. Pure: the clock is an argument."""

from __future__ import annotations

from veorelay.api.schemas import CompatMetadata, CompatStatus, CompatStatusData, Video, VideoError
from veorelay.core import timing
from veorelay.core.lifecycle import ACTIVE_STATES, PUBLIC_STATUS, TaskState
from veorelay.core.models import FPS
from veorelay.db.tasks import Task

_COMPAT_STATUS = {
    "queued": "queued",
    "in_progress": "processing",
    "completed": "succeeded",
    "failed": "failed",
}


def task_progress(task: Task, now: float) -> int:
    if task.state is TaskState.COMPLETED:
        return 100
    if task.state is TaskState.DOWNLOADING:
        return 99
    if task.submitted_at is None:
        return 0
    # Running: the estimate now. Failed or cancelled: the estimate when it ended, so a progress
    # bar stops where it was instead of jumping back to 0.
    until = now if task.state is TaskState.RUNNING else (task.finished_at or now)
    return timing.progress(until - task.submitted_at, task.expected_render_seconds)


def task_error(task: Task) -> VideoError | None:
    if task.state is TaskState.CANCELLED:
        return VideoError(code="cancelled", message=task.error_message or "The task was cancelled.")
    if task.state is TaskState.FAILED:
        return VideoError(code=task.error_code or "failed", message=task.error_message or "failed")
    return None


_WAIT_DETAIL = {
    "upstream_capacity": "waiting for upstream capacity (every channel for this model is busy "
    "or rate-limited by Google)",
    "no_channel": "waiting for an upstream channel that serves this model",
}


def status_detail(task: Task) -> str | None:
    if task.state is TaskState.QUEUED and task.wait_reason is not None:
        return _WAIT_DETAIL.get(task.wait_reason, task.wait_reason)
    if task.state is TaskState.SUBMITTING:
        return "submitting to Google"
    return None


def video(task: Task, now: float) -> Video:
    spec = task.spec()
    return Video(
        id=task.id,
        task_id=task.id,
        model=task.model,
        status=PUBLIC_STATUS[task.state],
        progress=task_progress(task, now),
        created_at=int(task.created_at),
        completed_at=int(task.completed_at) if task.completed_at else None,
        expires_at=int(task.expires_at) if task.expires_at is not None else None,
        seconds=str(spec.output_seconds),
        size=spec.size,
        resolution=task.resolution,
        aspect_ratio=task.aspect_ratio,
        prompt=task.prompt,
        negative_prompt=task.negative_prompt,
        seed=task.seed,
        error=task_error(task),
        status_detail=status_detail(task),
    )


def poll_after_ms(task: Task) -> int | None:
    if task.state not in ACTIVE_STATES:
        return None
    hint = timing.client_poll_after_ms(task.expected_render_seconds)
    # Waiting for capacity: nothing will change soon, so ask clients to poll half as often.
    return hint * 2 if task.wait_reason is not None and task.state is TaskState.QUEUED else hint


def compat_status(task: Task, content_url: str) -> CompatStatus:
    spec = task.spec()
    status = PUBLIC_STATUS[task.state]
    data = CompatStatusData(
        task_id=task.id,
        status=_COMPAT_STATUS[status],
        url=content_url if status == "completed" else None,
        metadata=CompatMetadata(
            duration=spec.output_seconds,
            width=spec.width,
            height=spec.height,
            fps=FPS,
            seed=task.seed,
        ),
        error=task_error(task),
    )
    return CompatStatus(**data.model_dump(), data=data)
