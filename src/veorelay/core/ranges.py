"""The HTTP Range header a download may carry (RFC 9110 §14), for stores that serve ranges
themselves. Only one range is honoured; anything else is answered with the whole video, which
RFC 9110 allows a server to do."""

from __future__ import annotations

import re
from dataclasses import dataclass

_ONE_RANGE = re.compile(r"bytes=(\d*)-(\d*)")


@dataclass(frozen=True)
class ByteRange:
    """`first`-`last` inclusive; `first` None is a suffix (the last `last` bytes); `last` None
    runs to the end."""

    first: int | None
    last: int | None

    def header(self) -> str:
        return f"bytes={'' if self.first is None else self.first}-" + (
            "" if self.last is None else str(self.last)
        )


def parse_range(header: str | None) -> ByteRange | None:
    """The single range asked for, or None: no header, several ranges, or one that does not
    parse (all of which are answered 200 with the whole video)."""
    if header is None:
        return None
    found = _ONE_RANGE.fullmatch(header.strip().replace(" ", ""))
    if found is None:
        return None
    first, last = (int(part) if part else None for part in found.groups())
    if first is None and last is None:
        return None
    if first is not None and last is not None and last < first:
        return None
    return ByteRange(first, last)


def resolve_range(byte_range: ByteRange | None, size: int) -> tuple[int, int] | None:
    """The inclusive span of a `size`-byte video that `byte_range` names (the whole video for
    no range), or None if the range lies outside it (416)."""
    if byte_range is None:
        return (0, size - 1) if size else (0, -1)
    if byte_range.first is None:
        assert byte_range.last is not None
        if byte_range.last == 0 or size == 0:
            return None
        return max(size - byte_range.last, 0), size - 1
    if byte_range.first >= size:
        return None
    last = size - 1 if byte_range.last is None else min(byte_range.last, size - 1)
    return byte_range.first, last
