"""What makes two creates "the same request", and which Idempotency-Keys are accepted (pure)."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from tests.helpers import png_bytes
from veorelay.core.idempotency import KEY_TTL_SECONDS, check_key, fingerprint, is_fresh
from veorelay.core.models import ImageInput
from veorelay.core.params import parse_video_request
from veorelay.errors import InvalidRequest

MODELS = ["veo-3.1-fast-generate-preview", "veo-3.1-generate-preview"]
BASE: dict[str, Any] = {"model": "veo-3.1-fast-generate-preview", "prompt": "a lighthouse"}


def print_of(files: list[ImageInput] | None = None, **fields: Any) -> str:
    return fingerprint(parse_video_request({**BASE, **fields}, files or [], MODELS))


def test_equal_requests_spelled_differently_have_one_fingerprint() -> None:
    spellings = [
        print_of(seconds="8", size="720x1280"),
        print_of(size="720x1280"),  # 8 seconds is the default
        print_of(duration=8, aspectRatio="9:16", resolution="720p"),
        print_of(metadata='{"durationSeconds": 8, "aspectRatio": "9:16"}', size="1280x720"),
        print_of(seconds=" 8 ", size="720X1280"),
    ]
    assert len(set(spellings)) == 1


@pytest.mark.parametrize(
    "change",
    [
        {"prompt": "a lighthouse at night"},
        {"model": "veo-3.1-generate-preview"},
        {"seconds": "4"},
        {"size": "1280x720"},
        {"resolution": "1080p", "seconds": "8"},
        {"negativePrompt": "fog"},
        {"seed": "7"},
    ],
)
def test_any_changed_field_changes_the_fingerprint(change: dict[str, Any]) -> None:
    assert print_of(**{"size": "720x1280"} | change) != print_of(size="720x1280")


def test_the_image_counts_by_its_bytes_whichever_way_it_came() -> None:
    blue, red = png_bytes(color="blue"), png_bytes(color="red")
    as_file = print_of([ImageInput(blue, "image/png")])
    as_data_url = print_of(
        input_reference="data:image/png;base64," + base64.b64encode(blue).decode()
    )
    assert as_file == as_data_url
    assert print_of([ImageInput(red, "image/png")]) != as_file
    assert print_of() != as_file


@pytest.mark.parametrize("key", ["a", "k" * 255, "550e8400-e29b-41d4-a716-446655440000", " ~!{}"])
def test_printable_ascii_keys_up_to_255_characters_are_accepted(key: str) -> None:
    assert check_key(key) == key


@pytest.mark.parametrize("key", ["", "k" * 256, "tab\there", "caf\xe9", "line\nbreak", "\x7f"])
def test_other_keys_are_refused(key: str) -> None:
    with pytest.raises(InvalidRequest) as refused:
        check_key(key)
    assert (refused.value.code, refused.value.param) == (
        "invalid_idempotency_key",
        "Idempotency-Key",
    )


def test_a_key_binds_for_24_hours() -> None:
    assert KEY_TTL_SECONDS == 86400
    assert is_fresh(1000.0, 1000.0 + 86399.9)
    assert not is_fresh(1000.0, 1000.0 + 86400)
