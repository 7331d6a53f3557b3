"""Google-like limits and counters per owner: one Gemini API project or one Vertex project.

An owner is `gemini:<project>` for keys grouped with `--api-key-project`, `gemini:<key
fingerprint>` for any other key (each key its own project), and `vertex:<project>`. Limits
count submits: requests per minute and per day (those let through, even if a fault then
answers them, as Google counts requests), and operations running at once (from submit until
done). Windows scale with the simulator's time scale.
"""

from __future__ import annotations

import hashlib
from collections import deque
from dataclasses import asdict, dataclass, field
from typing import Any

MINUTE = 60.0
DAY = 86400.0


def fingerprint(key: str) -> str:
    """How a key is named in stats and logs: never the key itself."""
    return hashlib.sha256(key.encode()).hexdigest()[:12]


@dataclass(frozen=True)
class Limits:
    rpm: int | None = None
    rpd: int | None = None
    max_concurrent: int | None = None


class LimitExceeded(Exception):
    def __init__(self, limit: str, retry_after: float):
        super().__init__(limit)
        self.limit = limit
        self.retry_after = retry_after


@dataclass
class OwnerStats:
    submits: int = 0
    max_concurrent_seen: int = 0
    max_submits_in_window: int = 0
    refused_for_limits: int = 0
    duplicate_submits: int = 0


@dataclass
class _Owner:
    stats: OwnerStats = field(default_factory=OwnerStats)
    attempts: deque[float] = field(default_factory=deque)  # submits in the current window
    minute: deque[float] = field(default_factory=deque)  # accepted, last minute
    day: deque[float] = field(default_factory=deque)  # accepted, last day
    running: list[float] = field(default_factory=list)  # ready_at of unfinished operations
    seen: set[tuple[str, int | None]] = field(default_factory=set)
    keys: set[str] = field(default_factory=set)  # fingerprints, Gemini only


class Owners:
    def __init__(self, limits: Limits, time_scale: float):
        self.limits = limits
        self.window = MINUTE * time_scale
        self._day = DAY * time_scale
        self._owners: dict[str, _Owner] = {}
        self._seen: set[tuple[str, int | None]] = set()
        self.duplicate_submits = 0

    def note_key(self, owner: str, key: str) -> None:
        self._get(owner).keys.add(fingerprint(key))

    def admit(self, owner: str, now: float) -> None:
        """Count a submit attempt; raise LimitExceeded (counted) if it is over a limit."""
        state = self._get(owner)
        _prune(state.attempts, now - self.window)
        state.attempts.append(now)
        stats = state.stats
        stats.max_submits_in_window = max(stats.max_submits_in_window, len(state.attempts))
        _prune(state.minute, now - self.window)
        _prune(state.day, now - self._day)
        state.running = [ready for ready in state.running if ready > now]
        limits = self.limits
        try:
            if limits.max_concurrent is not None and len(state.running) >= limits.max_concurrent:
                raise LimitExceeded("max_concurrent", min(state.running) - now)
            if limits.rpm is not None and len(state.minute) >= limits.rpm:
                raise LimitExceeded("rpm", state.minute[0] + self.window - now)
            if limits.rpd is not None and len(state.day) >= limits.rpd:
                raise LimitExceeded("rpd", state.day[0] + self._day - now)
        except LimitExceeded:
            stats.refused_for_limits += 1
            raise
        state.minute.append(now)  # let through: it counts, even if a fault then answers it
        if limits.rpd is not None:
            state.day.append(now)

    def accepted(self, owner: str, ready_at: float, prompt: str, seed: int | None) -> None:
        """An operation was created for an admitted submit."""
        state = self._get(owner)
        state.running.append(ready_at)
        stats = state.stats
        stats.submits += 1
        stats.max_concurrent_seen = max(stats.max_concurrent_seen, len(state.running))
        key = (prompt, seed)
        if key in state.seen:
            stats.duplicate_submits += 1
        state.seen.add(key)
        if key in self._seen:
            self.duplicate_submits += 1
        self._seen.add(key)

    def snapshot(self) -> dict[str, dict[str, Any]]:
        result: dict[str, dict[str, Any]] = {}
        for name, state in sorted(self._owners.items()):
            entry: dict[str, Any] = asdict(state.stats)
            if state.keys:
                entry["keys"] = sorted(state.keys)
            result[name] = entry
        return result

    def _get(self, owner: str) -> _Owner:
        return self._owners.setdefault(owner, _Owner())


def _prune(times: deque[float], before: float) -> None:
    while times and times[0] <= before:
        times.popleft()
