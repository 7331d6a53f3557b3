from __future__ import annotations

import io
import zlib

import pytest
from PIL import Image

from tests.helpers import png_bytes
from veorelay.core.images import (
    MAX_IMAGE_BYTES,
    declared_size,
    image_from_bytes,
    sniff_image_type,
)
from veorelay.errors import InvalidRequest


@pytest.mark.parametrize(
    ("data", "mime"),
    [
        (png_bytes(), "image/png"),
        (b"\xff\xd8\xff\xe0" + b"\x00" * 20, "image/jpeg"),
        (b"RIFF\x00\x00\x00\x00WEBPVP8 ", "image/webp"),
        (b"GIF89a", None),
        (b"<svg>", None),
    ],
)
def test_type_comes_from_the_bytes(data: bytes, mime: str | None) -> None:
    assert sniff_image_type(data) == mime


def test_oversized_image_is_refused() -> None:
    with pytest.raises(InvalidRequest, match="20 MB"):
        image_from_bytes(png_bytes() + b"\x00" * MAX_IMAGE_BYTES)


def test_empty_image_is_refused() -> None:
    with pytest.raises(InvalidRequest, match="empty"):
        image_from_bytes(b"")


def declared_png(width: int, height: int) -> bytes:
    """A valid, tiny PNG whose header declares width x height pixels (a decompression bomb's
    first bytes): IHDR, one short IDAT, IEND."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body).to_bytes(4, "big")
        return len(body).to_bytes(4, "big") + kind + body + crc

    header = width.to_bytes(4, "big") + height.to_bytes(4, "big") + bytes([8, 2, 0, 0, 0])
    pixels = zlib.compress(b"\x00" * (1 + 3 * width))  # one row of a lot of black
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


def encoded(fmt: str, size: tuple[int, int], **options: object) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, "red").save(buffer, fmt, **options)
    return buffer.getvalue()


def test_a_png_declaring_too_many_pixels_is_refused_before_decoding() -> None:
    bomb = declared_png(13_400, 13_400)
    assert len(bomb) < 1000
    with pytest.raises(InvalidRequest, match="13400x13400"):
        image_from_bytes(bomb)


@pytest.mark.parametrize(
    ("fmt", "options"),
    [
        ("PNG", {}),
        ("JPEG", {}),
        ("JPEG", {"progressive": True}),
        ("WEBP", {}),
        ("WEBP", {"lossless": True}),
        ("WEBP", {"exif": b"Exif\x00\x00"}),
    ],
)
def test_declared_sizes_are_read_from_the_header(fmt: str, options: dict[str, object]) -> None:
    data = encoded(fmt, (333, 77), **options)
    assert declared_size(data, sniff_image_type(data) or "") == (333, 77)
