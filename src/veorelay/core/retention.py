"""How long stored videos live, and which stored keys belong to no task. Pure: time is an
argument, and the store's listing and the tasks' keys are handed in."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


def is_expired(expires_at: float | None, now: float) -> bool:
    return expires_at is not None and expires_at <= now


@dataclass(frozen=True)
class Listed:
    key: str
    modified_at: float


class KeyFamilies:
    """The key prefixes of the videos tasks point to; a stored key belongs to a task if one of
    them is a prefix of it (the video itself, or a preview stored beside it)."""

    def __init__(self, prefixes: Iterable[str]):
        self.keys = frozenset(prefixes)
        self._lengths = sorted({len(key) for key in self.keys})

    def owns(self, stored_key: str) -> bool:
        return any(
            stored_key[:length] in self.keys
            for length in self._lengths
            if length <= len(stored_key)
        )


def orphans(listed: Iterable[Listed], referenced: KeyFamilies, older_than: float) -> list[str]:
    """Stored keys no task points to, written before `older_than`: a younger one may belong
    to a download whose `completed` is being written right now."""
    return sorted(
        item.key
        for item in listed
        if item.modified_at < older_than and not referenced.owns(item.key)
    )
