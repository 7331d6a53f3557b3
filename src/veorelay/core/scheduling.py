"""Which queued task goes to which channel now: a pure, fair planner.

The dispatcher (engine/dispatch.py) reads the queue and every channel's load inside one
transaction that locks the channel rows, calls `plan`, and writes the result back; several
engine processes therefore never overbook a channel.

Fairness: accounts take turns, the one with the least work in flight first, so one account's
burst of 500 tasks does not starve another's single task. Among the channels that can take a
task: highest priority first, then the least loaded relative to its weight.
"""

from __future__ import annotations

from collections import defaultdict, deque
from dataclasses import dataclass, replace

UNLIMITED = 1 << 30


@dataclass(frozen=True)
class ChannelSlot:
    """One channel as the planner sees it: what it serves and how much room it has now."""

    id: str
    models: frozenset[str]  # public model names it serves (and has not found retired)
    groups: frozenset[str] | None  # None: every group
    priority: int = 0
    weight: int = 1
    in_flight: int = 0  # operations submitting or running upstream
    max_concurrent: int | None = None
    submits_last_minute: int = 0
    rpm: int | None = None
    submits_today: int = 0
    rpd: int | None = None

    @property
    def room(self) -> int:
        """How many more submits it may take right now."""
        limits = [UNLIMITED]
        if self.max_concurrent is not None:
            limits.append(self.max_concurrent - self.in_flight)
        if self.rpm is not None:
            limits.append(self.rpm - self.submits_last_minute)
        if self.rpd is not None:
            limits.append(self.rpd - self.submits_today)
        return max(min(limits), 0)

    def serves(self, model: str, group: str) -> bool:
        return model in self.models and (self.groups is None or group in self.groups)

    def took_one(self) -> ChannelSlot:
        return replace(
            self,
            in_flight=self.in_flight + 1,
            submits_last_minute=self.submits_last_minute + 1,
            submits_today=self.submits_today + 1,
        )


@dataclass(frozen=True)
class Candidate:
    """A queued task waiting for a channel."""

    task_id: str
    account_id: str
    model: str
    group: str
    created_at: float


@dataclass(frozen=True)
class Assignment:
    task_id: str
    channel_id: str


def take_turns(candidates: list[Candidate], account_in_flight: dict[str, int]) -> list[Candidate]:
    """Interleave accounts: one task each per round, oldest task first within an account;
    the account with the least work in flight (then the longest-waiting) goes first."""
    by_account: dict[str, deque[Candidate]] = defaultdict(deque)
    for candidate in sorted(candidates, key=lambda c: (c.created_at, c.task_id)):
        by_account[candidate.account_id].append(candidate)
    accounts = sorted(
        by_account,
        key=lambda a: (account_in_flight.get(a, 0), by_account[a][0].created_at, a),
    )
    ordered: list[Candidate] = []
    while accounts:
        remaining = []
        for account in accounts:
            queue = by_account[account]
            ordered.append(queue.popleft())
            if queue:
                remaining.append(account)
        accounts = remaining
    return ordered


def best_channel(slots: list[ChannelSlot], model: str, group: str) -> ChannelSlot | None:
    usable = [s for s in slots if s.room > 0 and s.serves(model, group)]
    if not usable:
        return None
    return min(usable, key=lambda s: (-s.priority, s.in_flight / max(s.weight, 1), s.id))


def plan(
    candidates: list[Candidate],
    slots: list[ChannelSlot],
    account_in_flight: dict[str, int] | None = None,
) -> list[Assignment]:
    """Assign as many candidates as the channels have room for, fairly."""
    channels = {slot.id: slot for slot in slots}
    assignments = []
    for candidate in take_turns(candidates, account_in_flight or {}):
        chosen = best_channel(list(channels.values()), candidate.model, candidate.group)
        if chosen is None:
            continue
        channels[chosen.id] = chosen.took_one()
        assignments.append(Assignment(candidate.task_id, chosen.id))
    return assignments


def servable(slots: list[ChannelSlot], model: str, group: str) -> bool:
    """Whether some channel could ever take this task (room or not)."""
    return any(slot.serves(model, group) for slot in slots)
