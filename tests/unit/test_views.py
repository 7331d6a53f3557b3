"""Task rows -> public JSON: progress and status as a client sees them (no servers)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from veorelay.api.views import task_progress, video
from veorelay.core.lifecycle import TaskState
from veorelay.db.tasks import Task

NOW = 1_800_000_000.0
BASE = Task(
    id="video_" + "0" * 32,
    account_id="acct",
    token_id="tok",
    model="veo-3.1-fast-generate-preview",
    upstream_model="veo-3.1-fast-generate-preview",
    prompt="a lighthouse",
    seconds=8,
    resolution="4k",
    aspect_ratio="9:16",
    negative_prompt=None,
    seed=7,
    has_image=False,
    price_micros=300_000,
    state=TaskState.QUEUED,
    version=0,
    lease_until=None,
    next_attempt_at=NOW,
    attempts=0,
    operation_name=None,
    key_id=None,
    video_uri=None,
    expected_render_seconds=100.0,
    deadline_at=NOW + 1800,
    storage_key=None,
    file_bytes=None,
    error_code=None,
    error_message=None,
    created_at=NOW - 100,
    submitted_at=None,
    completed_at=None,
    updated_at=NOW,
    deleted_at=None,
    finished_at=None,
)


@pytest.mark.parametrize(
    ("changes", "progress"),
    [
        ({}, 0),  # queued: nothing submitted yet, however long it waits
        ({"state": TaskState.RUNNING, "submitted_at": NOW - 50}, 50),
        ({"state": TaskState.RUNNING, "submitted_at": NOW - 500}, 98),  # overdue: never 100
        ({"state": TaskState.DOWNLOADING, "submitted_at": NOW - 80}, 99),
        ({"state": TaskState.COMPLETED, "submitted_at": NOW - 80}, 100),
        # A failure keeps the estimate it had when it ended, instead of jumping back to 0.
        ({"state": TaskState.FAILED, "submitted_at": NOW - 80, "finished_at": NOW - 40}, 40),
        ({"state": TaskState.CANCELLED, "finished_at": NOW - 40}, 0),  # never submitted
    ],
)
def test_progress(changes: dict[str, object], progress: int) -> None:
    assert task_progress(replace(BASE, **changes), NOW) == progress  # type: ignore[arg-type]


def test_the_video_object_reports_the_normalized_request() -> None:
    shown = video(BASE, NOW)
    assert (shown.size, shown.seconds, shown.resolution, shown.aspect_ratio) == (
        "2160x3840",
        "8",
        "4k",
        "9:16",
    )
    assert (shown.status, shown.object, shown.task_id, shown.seed) == (
        "queued",
        "video",
        BASE.id,
        7,
    )
