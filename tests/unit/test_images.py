from __future__ import annotations

import pytest

from tests.helpers import png_bytes
from veorelay.core.images import MAX_IMAGE_BYTES, image_from_bytes, sniff_image_type
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
