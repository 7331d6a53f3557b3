"""Reference images: recognise them by their bytes and unpack base64 / data-URL forms (pure)."""

from __future__ import annotations

import base64
import binascii
import re

from veorelay.core.models import ImageInput
from veorelay.errors import InvalidRequest

MAX_IMAGE_BYTES = 20 * 1024 * 1024
IMAGE_PARAM = "input_reference"

_DATA_URL = re.compile(
    r"^data:(?P<mime>[\w.+-]+/[\w.+-]+)?(?P<params>(;[^,;]+)*?)(;base64)?,", re.I
)


def sniff_image_type(data: bytes) -> str | None:
    """The MIME type from the file's magic bytes, for the three formats Veo accepts."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def image_from_bytes(data: bytes) -> ImageInput:
    """Check an uploaded image by its bytes (not its claimed type) and its size."""
    if not data:
        raise InvalidRequest("input_reference is empty.", param=IMAGE_PARAM)
    if len(data) > MAX_IMAGE_BYTES:
        raise InvalidRequest(
            f"input_reference is {len(data)} bytes; the limit is {MAX_IMAGE_BYTES} (20 MB).",
            param=IMAGE_PARAM,
        )
    mime = sniff_image_type(data)
    if mime is None:
        raise InvalidRequest(
            "input_reference must be a PNG, JPEG or WebP image.", param=IMAGE_PARAM
        )
    return ImageInput(data=data, mime_type=mime)


def image_from_string(value: str) -> ImageInput:
    """A `data:` URL or raw base64. Remote URLs are refused: the documents accept none."""
    text = value.strip()
    lowered = text[:8].lower()
    if lowered.startswith(("http://", "https://")):
        raise InvalidRequest(
            "input_reference must be an uploaded file, base64 or a data: URL; "
            "remote image URLs are not accepted.",
            param=IMAGE_PARAM,
        )
    match = _DATA_URL.match(text)
    if match:
        if not text[: match.end()].lower().endswith(";base64,"):
            raise InvalidRequest("input_reference data: URL must be base64.", param=IMAGE_PARAM)
        text = text[match.end() :]
    if len(text) > (MAX_IMAGE_BYTES * 4) // 3 + 8:
        raise InvalidRequest(
            f"input_reference is larger than {MAX_IMAGE_BYTES} bytes (20 MB).", param=IMAGE_PARAM
        )
    try:
        data = base64.b64decode("".join(text.split()), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidRequest(
            "input_reference is neither a file, base64 image data nor a data: URL.",
            param=IMAGE_PARAM,
        ) from exc
    return image_from_bytes(data)
