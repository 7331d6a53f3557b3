"""Idempotent creates: what an `Idempotency-Key` may be, and what makes two requests "the same".

A key is remembered per account for `KEY_TTL_SECONDS`; a create carrying a remembered key gets
the task made the first time, provided its request has the same fingerprint. The fingerprint is
taken from the parsed request (VideoSpec), so JSON key order, number spellings, `size` against
`resolution`+`aspect_ratio`, or multipart boundaries never make two equal requests differ.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from enum import Enum
from typing import Any

from veorelay.core.models import ImageInput, SourceVideo, VideoSpec
from veorelay.errors import InvalidRequest

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
KEY_TTL_SECONDS = 24 * 3600.0
MAX_KEY_LENGTH = 255


def check_key(value: str) -> str:
    """The key as given, if it is 1-255 printable ASCII characters; else a 400."""
    if not 1 <= len(value) <= MAX_KEY_LENGTH or not all(" " <= c <= "~" for c in value):
        raise InvalidRequest(
            f"The {HEADER} header must be 1 to {MAX_KEY_LENGTH} printable ASCII characters.",
            param=HEADER,
            code="invalid_idempotency_key",
        )
    return value


def fingerprint(spec: VideoSpec) -> str:
    """sha256 (hex) of the normalized request; images count by their bytes and type. Fields
    at their defaults are left out, so a field added later does not change old fingerprints."""
    normalized: dict[str, Any] = {}
    for field in dataclasses.fields(spec):
        value = getattr(spec, field.name)
        if field.name in _LATER_FIELDS and value in (None, ()):
            continue
        normalized[field.name] = _canonical(value)
    canonical = json.dumps(normalized, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(canonical.encode()).hexdigest()


_LATER_FIELDS = ("last_frame", "reference_images", "video")


def _canonical(value: Any) -> Any:
    if isinstance(value, ImageInput):
        return {"sha256": hashlib.sha256(value.data).hexdigest(), "mime_type": value.mime_type}
    if isinstance(value, SourceVideo):
        return {"id": value.id}
    if isinstance(value, tuple):
        return [_canonical(item) for item in value]
    if isinstance(value, Enum):
        return value.value
    return value


def is_fresh(created_at: float, now: float) -> bool:
    """Whether a key stored at `created_at` still binds at `now`."""
    return now - created_at < KEY_TTL_SECONDS
