"""Base64 videos inside a streamed Vertex AI operation, read without holding them. Pure.

Without a `storageUri`, Vertex returns a finished video inside the operation JSON:
`{"done": true, "response": {"videos": [{"bytesBase64Encoded": "<~54 MB for 4K>", ...}]}}`.
`InlineVideoReader` takes that JSON a chunk at a time. It decodes the wanted
`bytesBase64Encoded` string under `response` into bytes as they arrive (JSON escapes such as
`\\/` undone, base64 decoded in whole quanta), and keeps the rest of the document, which is
small, so it can still be parsed once the stream ends.
"""

from __future__ import annotations

import binascii
import json
import re
from dataclasses import dataclass
from typing import Any

VIDEO_KEY = b"bytesBase64Encoded"
MAX_REST = 8 * 1024 * 1024  # the document without its videos; a real one is under 4 KiB
_MAX_KEY = 64
_QUOTE, _BACKSLASH = 0x22, 0x5C
_OPEN = {0x7B: "obj", 0x5B: "arr"}  # { [
_CLOSE = {0x7D, 0x5D}  # } ]
_COLON, _COMMA = 0x3A, 0x2C
_TEXT_SPECIAL = re.compile(rb'["\\]')
_ESCAPE = re.compile(rb"\\(u[0-9A-Fa-f]{4}|[^u])")
_PARTIAL_ESCAPE = re.compile(rb"\\(u[0-9A-Fa-f]{0,3})?$")
_DROPPED_ESCAPES = frozenset(b"nrtbf")  # whitespace and the like: not base64, not content
_URLSAFE = bytes.maketrans(b"-_", b"+/")


class InlineVideoError(ValueError):
    """The operation JSON or its base64 is malformed."""


@dataclass
class _Frame:
    kind: str  # "obj" or "arr"
    key: bytes | None = None
    expect_key: bool = True


class _Base64Stream:
    """Decodes base64 handed over in arbitrary pieces, four characters at a time."""

    def __init__(self) -> None:
        self._carry = b""
        self._padded = False

    def feed(self, chars: bytes) -> bytes:
        if not chars:
            return b""
        if self._padded:
            raise InlineVideoError("base64 continues after its padding")
        data = self._carry + chars.translate(_URLSAFE)
        cut = len(data) - len(data) % 4
        self._carry = data[cut:]
        if not cut:
            return b""
        self._padded = data[cut - 1] == ord("=")
        try:
            return binascii.a2b_base64(data[:cut], strict_mode=True)
        except binascii.Error as exc:
            raise InlineVideoError(f"invalid base64: {exc}") from None

    def finish(self) -> bytes:
        """The last quantum; Google pads, but proto3 JSON readers accept it unpadded."""
        if not self._carry:
            return b""
        if len(self._carry) == 1:
            raise InlineVideoError("base64 ends with a lone character")
        carry, self._carry = self._carry, b""
        return self.feed(carry + b"=" * (4 - len(carry)))


def _unescape(match: re.Match[bytes]) -> bytes:
    escape = match.group(1)
    if escape[0] == ord("u"):
        code = int(escape[1:], 16)
        if code >= 0x80:
            raise InlineVideoError("non-ASCII character in base64")
        return bytes([code])
    if escape == b"/":
        return b"/"
    if escape[0] in _DROPPED_ESCAPES:
        return b""
    raise InlineVideoError(f"unexpected escape \\{escape.decode('latin-1')} in base64")


class InlineVideoReader:
    """Feed it a streamed operation JSON. `wanted` picks which inline video (in document order)
    `feed` decodes; the others are skipped. `seen` counts inline videos begun so far, so a
    poll can stop reading at the first one: the operation is done and has a video."""

    def __init__(self, wanted: int | None = 0, *, max_rest: int = MAX_REST):
        self._wanted = wanted
        self._max_rest = max_rest
        self._stack: list[_Frame] = []
        self._string: str | None = None  # "key", "text" or "video" while inside a string
        self._escaped = False  # a key's or text's backslash ended the last chunk
        self._key = bytearray()
        self._carry = b""  # a video's escape cut by a chunk boundary
        self._decoding = False
        self._base64 = _Base64Stream()
        self._rest = bytearray()
        self.seen = 0
        self.finished = False  # the wanted video's closing quote has been read

    def feed(self, data: bytes) -> list[bytes]:
        """Read one more chunk; returns the wanted video's bytes decoded from it."""
        out: list[bytes] = []
        i, n, copy_from = 0, len(data), 0
        while i < n:
            if self._string == "video":
                i = self._video(data, i, out)
                copy_from = i - 1  # the closing quote, or past the end
                continue
            if self._string is not None:
                i = self._text(data, i)
                continue
            byte = data[i]
            if byte == _QUOTE:
                if self._in_video_position():
                    self._rest += data[copy_from : i + 1]
                    self._string = "video"
                    self._decoding = self.seen == self._wanted
                    self.seen += 1
                    i += 1
                    continue
                top = self._stack[-1] if self._stack else None
                self._string = "key" if top and top.kind == "obj" and top.expect_key else "text"
                self._key.clear()
            elif byte in _OPEN:
                self._stack.append(_Frame(_OPEN[byte]))
            elif byte in _CLOSE:
                if self._stack:
                    self._stack.pop()
            elif self._stack and byte == _COLON:
                self._stack[-1].expect_key = False
            elif self._stack and byte == _COMMA:
                top = self._stack[-1]
                top.expect_key, top.key = top.kind == "obj", None
            i += 1
        if self._string != "video":
            self._rest += data[max(copy_from, 0) :]
        if len(self._rest) > self._max_rest:
            raise InlineVideoError("operation JSON is far larger than its videos explain")
        return out

    def rest(self) -> Any:
        """The whole document with every inline video replaced by an empty string."""
        if self._string is not None or self._stack:
            raise InlineVideoError("operation JSON ended early")
        try:
            return json.loads(bytes(self._rest))
        except ValueError as exc:
            raise InlineVideoError(f"operation JSON is invalid: {exc}") from None

    def _in_video_position(self) -> bool:
        """A string value under `response` whose key is bytesBase64Encoded."""
        stack = self._stack
        return (
            len(stack) >= 2
            and stack[0].kind == "obj"
            and stack[0].key == b"response"
            and stack[-1].kind == "obj"
            and not stack[-1].expect_key
            and stack[-1].key == VIDEO_KEY
        )

    def _text(self, data: bytes, i: int) -> int:
        """Inside a key or another string value: find its end, keeping a key's name."""
        is_key = self._string == "key"
        if self._escaped:
            self._escaped = False
            if is_key:
                self._key.append(data[i])
            return i + 1
        match = _TEXT_SPECIAL.search(data, i)
        end = match.start() if match else len(data)
        if is_key and len(self._key) < _MAX_KEY:
            self._key += data[i:end]
        if match is None:
            return end
        if data[end] == _BACKSLASH:
            self._escaped = True
            if is_key:
                self._key.append(_BACKSLASH)
        else:
            if is_key:
                self._stack[-1].key = bytes(self._key)
            self._string = None
        return end + 1

    def _video(self, data: bytes, i: int, out: list[bytes]) -> int:
        """Inside an inline video: base64 never holds a quote, so the next one ends it."""
        end = data.find(b'"', i)
        closed = end != -1
        segment = self._carry + data[i : end if closed else len(data)]
        self._carry = b""
        if not closed and b"\\" in segment[-6:]:
            partial = _PARTIAL_ESCAPE.search(segment, max(0, len(segment) - 6))
            if partial:
                self._carry = segment[partial.start() :]
                segment = segment[: partial.start()]
        if self._decoding:
            if b"\\" in segment:
                segment = _ESCAPE.sub(_unescape, segment)
                if b"\\" in segment:
                    raise InlineVideoError("broken escape in base64")
            out.append(self._base64.feed(segment))
        if not closed:
            return len(data)
        if self._decoding:
            out.append(self._base64.finish())
            self.finished = True
            self._decoding = False
        self._string = None
        return end + 1
