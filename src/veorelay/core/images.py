"""Reference images: recognise them by their bytes and unpack base64 / data-URL forms (pure)."""

from __future__ import annotations

import base64
import binascii
import re

from veorelay.core.models import ImageInput
from veorelay.errors import InvalidRequest

MAX_IMAGE_BYTES = 20 * 1024 * 1024
MAX_PIXELS = 50_000_000  # far beyond any useful first frame; stops decompression bombs early
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


def image_from_bytes(data: bytes, param: str = IMAGE_PARAM) -> ImageInput:
    """Check an uploaded image by its bytes (not its claimed type) and its size."""
    if not data:
        raise InvalidRequest(f"{param} is empty.", param=param)
    if len(data) > MAX_IMAGE_BYTES:
        raise InvalidRequest(
            f"{param} is {len(data)} bytes; the limit is {MAX_IMAGE_BYTES} (20 MB).",
            param=param,
        )
    mime = sniff_image_type(data)
    if mime is None:
        raise InvalidRequest(f"{param} must be a PNG, JPEG or WebP image.", param=param)
    size = declared_size(data, mime)
    if size is not None and size[0] * size[1] > MAX_PIXELS:
        raise InvalidRequest(
            f"{param} declares {size[0]}x{size[1]} pixels; "
            f"the limit is {MAX_PIXELS // 1_000_000} megapixels.",
            param=param,
        )
    return ImageInput(data=data, mime_type=mime)


def declared_size(data: bytes, mime: str) -> tuple[int, int] | None:
    """(width, height) as the image's header declares them, read without decoding anything,
    or None if the header cannot be found (the decoder then has the last word)."""
    if mime == "image/png":
        if data[12:16] != b"IHDR" or len(data) < 24:
            return None
        return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    if mime == "image/webp":
        return _webp_size(data)
    return _jpeg_size(data)


def _webp_size(data: bytes) -> tuple[int, int] | None:
    chunk = data[12:16]
    if chunk == b"VP8X" and len(data) >= 30:  # extended: a 24-bit canvas size, minus one
        return 1 + int.from_bytes(data[24:27], "little"), 1 + int.from_bytes(data[27:30], "little")
    if chunk == b"VP8L" and len(data) >= 25:  # lossless: 14 bits each, minus one
        bits = int.from_bytes(data[21:25], "little")
        return 1 + (bits & 0x3FFF), 1 + ((bits >> 14) & 0x3FFF)
    if chunk == b"VP8 " and len(data) >= 30:  # lossy: 14 bits each in the key frame header
        width = int.from_bytes(data[26:28], "little") & 0x3FFF
        return width, int.from_bytes(data[28:30], "little") & 0x3FFF
    return None


# Start-of-frame markers: baseline, progressive, lossless, arithmetic (not DHT, JPG, DAC).
_JPEG_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}


def _jpeg_size(data: bytes) -> tuple[int, int] | None:
    at = 2  # after SOI
    while at + 4 <= len(data):
        if data[at] != 0xFF:
            return None
        marker = data[at + 1]
        if marker == 0xFF:  # fill byte
            at += 1
            continue
        if marker == 0x01 or 0xD0 <= marker <= 0xD8:  # markers without a length
            at += 2
            continue
        if marker in _JPEG_SOF:
            if at + 9 > len(data):
                return None
            height = int.from_bytes(data[at + 5 : at + 7], "big")
            return int.from_bytes(data[at + 7 : at + 9], "big"), height
        if marker == 0xDA:  # start of scan: no frame header before it
            return None
        at += 2 + int.from_bytes(data[at + 2 : at + 4], "big")
    return None


def image_from_string(value: str, param: str = IMAGE_PARAM) -> ImageInput:
    """A `data:` URL or raw base64. Remote URLs are refused: the documents accept none."""
    text = value.strip()
    lowered = text[:8].lower()
    if lowered.startswith(("http://", "https://")):
        raise InvalidRequest(
            f"{param} must be an uploaded file, base64 or a data: URL; "
            "remote image URLs are not accepted.",
            param=param,
        )
    match = _DATA_URL.match(text)
    if match:
        if not text[: match.end()].lower().endswith(";base64,"):
            raise InvalidRequest(f"{param} data: URL must be base64.", param=param)
        text = text[match.end() :]
    if len(text) > (MAX_IMAGE_BYTES * 4) // 3 + 8:
        raise InvalidRequest(
            f"{param} is larger than {MAX_IMAGE_BYTES} bytes (20 MB).", param=param
        )
    try:
        data = base64.b64decode("".join(text.split()), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidRequest(
            f"{param} is neither a file, base64 image data nor a data: URL.",
            param=param,
        ) from exc
    return image_from_bytes(data, param)
