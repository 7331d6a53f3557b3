"""The task state machine: one transition table, the only place states change.

    queued ──dispatched──▶ submitting ──submitted──▶ running ──finished──▶ downloading
      ▲                        │                                               │
      └───────requeued─────────┘                                stored ──▶ completed (capture)
    any active state ──failed──▶ failed (release);  ──cancelled──▶ cancelled (release)

`dispatched` gives a queued task a channel (engine/dispatch.py); `submitting` is the intent
recorded before the submit call, so a crash between Google accepting the request and us
recording the operation name is recognised (and counted) when the task is taken up again.

The database applies a transition with compare-and-set on (state, version), so two actors
racing on one task (engine, client cancel, deadline sweep, another replica) cannot both win.
A transition into a terminal state names its ledger settlement; `db.tasks.apply_transition`
writes both in one transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class TaskState(StrEnum):
    QUEUED = "queued"
    SUBMITTING = "submitting"
    RUNNING = "running"
    DOWNLOADING = "downloading"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


class Event(StrEnum):
    DISPATCHED = "dispatched"
    REQUEUED = "requeued"
    SUBMITTED = "submitted"
    FINISHED = "finished"
    STORED = "stored"
    FAILED = "failed"
    CANCELLED = "cancelled"


class Settlement(StrEnum):
    CAPTURE = "capture"
    RELEASE = "release"


@dataclass(frozen=True)
class Transition:
    sources: frozenset[TaskState]
    target: TaskState
    settlement: Settlement | None = None


ACTIVE_STATES: frozenset[TaskState] = frozenset(
    {TaskState.QUEUED, TaskState.SUBMITTING, TaskState.RUNNING, TaskState.DOWNLOADING}
)
# States in which a task holds one of its channel's upstream operations.
UPSTREAM_STATES: frozenset[TaskState] = frozenset({TaskState.SUBMITTING, TaskState.RUNNING})
TERMINAL_STATES: frozenset[TaskState] = frozenset(
    {TaskState.COMPLETED, TaskState.FAILED, TaskState.CANCELLED}
)

TRANSITIONS: dict[Event, Transition] = {
    Event.DISPATCHED: Transition(frozenset({TaskState.QUEUED}), TaskState.SUBMITTING),
    Event.REQUEUED: Transition(frozenset({TaskState.SUBMITTING}), TaskState.QUEUED),
    Event.SUBMITTED: Transition(frozenset({TaskState.SUBMITTING}), TaskState.RUNNING),
    Event.FINISHED: Transition(frozenset({TaskState.RUNNING}), TaskState.DOWNLOADING),
    Event.STORED: Transition(
        frozenset({TaskState.DOWNLOADING}), TaskState.COMPLETED, Settlement.CAPTURE
    ),
    Event.FAILED: Transition(ACTIVE_STATES, TaskState.FAILED, Settlement.RELEASE),
    Event.CANCELLED: Transition(ACTIVE_STATES, TaskState.CANCELLED, Settlement.RELEASE),
}


class IllegalTransition(Exception):
    """The event does not apply to the task's current state (someone else got there first)."""


def transition(state: TaskState, event: Event) -> Transition:
    step = TRANSITIONS[event]
    if state not in step.sources:
        raise IllegalTransition(f"{event} does not apply to a task in state {state}")
    return step


# Public statuses are the OpenAI Video API's four; internal states map onto them here only.
PUBLIC_STATUS: dict[TaskState, str] = {
    TaskState.QUEUED: "queued",
    TaskState.SUBMITTING: "queued",
    TaskState.RUNNING: "in_progress",
    TaskState.DOWNLOADING: "in_progress",
    TaskState.COMPLETED: "completed",
    TaskState.FAILED: "failed",
    TaskState.CANCELLED: "failed",
}
