from __future__ import annotations

import io

import pytest
from PIL import Image

from tests.helpers import png_bytes
from tests.unit.test_images import declared_png
from veorelay.core.models import ImageInput
from veorelay.errors import InvalidRequest
from veorelay.media.images import check_image_decodes


def encoded(fmt: str, size: tuple[int, int] = (32, 18)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, "red").save(buffer, fmt)
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("fmt", "mime"), [("PNG", "image/png"), ("JPEG", "image/jpeg"), ("WEBP", "image/webp")]
)
def test_real_images_decode(fmt: str, mime: str) -> None:
    assert check_image_decodes(ImageInput(encoded(fmt), mime)) == (32, 18)


def test_a_truncated_image_is_refused() -> None:
    data = png_bytes(640, 360)
    with pytest.raises(InvalidRequest, match="decoded"):
        check_image_decodes(ImageInput(data[: len(data) // 2], "image/png"))


def test_magic_bytes_followed_by_garbage_are_refused() -> None:
    with pytest.raises(InvalidRequest, match="decoded"):
        check_image_decodes(ImageInput(b"\x89PNG\r\n\x1a\n" + b"garbage" * 50, "image/png"))


def test_a_decompression_bomb_is_refused() -> None:
    with pytest.raises(InvalidRequest, match="pixels"):
        check_image_decodes(ImageInput(encoded("PNG", (10_000, 6_000)), "image/png"))


def test_a_declared_decompression_bomb_is_refused_not_raised() -> None:
    """Pillow raises DecompressionBombError (not an OSError) past ~179 million pixels."""
    with pytest.raises(InvalidRequest, match="pixels"):
        check_image_decodes(ImageInput(declared_png(13_400, 13_400), "image/png"))
