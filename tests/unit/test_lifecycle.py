from __future__ import annotations

import pytest

from veorelay.core.lifecycle import (
    PUBLIC_STATUS,
    TERMINAL_STATES,
    Event,
    IllegalTransition,
    Settlement,
    TaskState,
    transition,
)


@pytest.mark.parametrize(
    ("state", "event", "target", "settlement"),
    [
        (TaskState.QUEUED, Event.DISPATCHED, TaskState.SUBMITTING, None),
        (TaskState.SUBMITTING, Event.SUBMITTED, TaskState.RUNNING, None),
        (TaskState.SUBMITTING, Event.REQUEUED, TaskState.QUEUED, None),
        (TaskState.SUBMITTING, Event.FAILED, TaskState.FAILED, Settlement.RELEASE),
        (TaskState.RUNNING, Event.FINISHED, TaskState.DOWNLOADING, None),
        (TaskState.DOWNLOADING, Event.STORED, TaskState.COMPLETED, Settlement.CAPTURE),
        (TaskState.QUEUED, Event.FAILED, TaskState.FAILED, Settlement.RELEASE),
        (TaskState.RUNNING, Event.FAILED, TaskState.FAILED, Settlement.RELEASE),
        (TaskState.DOWNLOADING, Event.FAILED, TaskState.FAILED, Settlement.RELEASE),
        (TaskState.RUNNING, Event.CANCELLED, TaskState.CANCELLED, Settlement.RELEASE),
    ],
)
def test_allowed_transitions(
    state: TaskState, event: Event, target: TaskState, settlement: Settlement | None
) -> None:
    step = transition(state, event)
    assert step.target is target
    assert step.settlement is settlement


@pytest.mark.parametrize("state", sorted(TERMINAL_STATES))
@pytest.mark.parametrize("event", list(Event))
def test_terminal_states_never_move(state: TaskState, event: Event) -> None:
    with pytest.raises(IllegalTransition):
        transition(state, event)


@pytest.mark.parametrize(
    ("state", "event"),
    [
        (TaskState.QUEUED, Event.SUBMITTED),  # a channel first: dispatched
        (TaskState.QUEUED, Event.FINISHED),
        (TaskState.RUNNING, Event.REQUEUED),  # Google has it: it can no longer move
        (TaskState.QUEUED, Event.STORED),
        (TaskState.RUNNING, Event.SUBMITTED),
        (TaskState.RUNNING, Event.STORED),
        (TaskState.DOWNLOADING, Event.SUBMITTED),
    ],
)
def test_out_of_order_events_are_refused(state: TaskState, event: Event) -> None:
    with pytest.raises(IllegalTransition):
        transition(state, event)


def test_only_completion_captures_money() -> None:
    captures = [e for e in Event if transition_or_none(e) is Settlement.CAPTURE]
    assert captures == [Event.STORED]


def transition_or_none(event: Event) -> Settlement | None:
    for state in TaskState:
        try:
            return transition(state, event).settlement
        except IllegalTransition:
            continue
    return None


def test_every_state_has_a_public_status() -> None:
    assert set(PUBLIC_STATUS) == set(TaskState)
    assert set(PUBLIC_STATUS.values()) == {"queued", "in_progress", "completed", "failed"}
