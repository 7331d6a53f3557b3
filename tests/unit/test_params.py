"""The request rules of the spec documents, one table row each (pure: no servers)."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from tests.helpers import png_bytes
from veorelay.core.images import image_from_bytes
from veorelay.core.models import AspectRatio, ImageInput, Resolution
from veorelay.core.params import load_json, parse_video_request
from veorelay.errors import InvalidRequest, ParseRequestFailed

MODELS = ["veo-3.1-fast-generate-preview", "veo-3.1-generate-preview"]
BASE: dict[str, Any] = {"model": "veo-3.1-fast-generate-preview", "prompt": "a lighthouse"}


def parse(files: list[ImageInput] | None = None, **fields: Any) -> Any:
    return parse_video_request({**BASE, **fields}, files or [], MODELS)


@pytest.mark.parametrize(
    ("fields", "seconds", "size"),
    [
        ({}, 8, "1280x720"),
        ({"seconds": "4"}, 4, "1280x720"),
        ({"seconds": 6}, 6, "1280x720"),  # JSON integer: a documented leniency
        ({"duration": "6", "seconds": "4"}, 6, "1280x720"),
        ({"metadata": '{"durationSeconds": 4}', "duration": "6", "seconds": "8"}, 4, "1280x720"),
        ({"metadata": {"durationSeconds": "6"}}, 6, "1280x720"),
        ({"size": "720x1280"}, 8, "720x1280"),
        ({"size": "1920x1080"}, 8, "1920x1080"),
        ({"size": "1080x1920"}, 8, "1080x1920"),
        ({"size": "3840x2160"}, 8, "3840x2160"),
        ({"size": "2160x3840"}, 8, "2160x3840"),
        ({"resolution": "1080p"}, 8, "1920x1080"),
        ({"resolution": "4k", "aspectRatio": "9:16"}, 8, "2160x3840"),
        ({"resolution": "4K"}, 8, "3840x2160"),
        ({"size": "1280x720", "resolution": "1080p"}, 8, "1920x1080"),
        ({"size": "1280x720", "aspectRatio": "9:16"}, 8, "720x1280"),
        (
            {"metadata": '{"resolution":"4k","aspectRatio":"9:16"}', "size": "1280x720"},
            8,
            "2160x3840",
        ),
        (
            {
                "seconds": "8",
                "duration": "8",
                "size": "3840x2160",
                "resolution": "4k",
                "aspectRatio": "16:9",
                "metadata": '{"durationSeconds":8,"resolution":"4k","aspectRatio":"16:9"}',
            },
            8,
            "3840x2160",
        ),
    ],
)
def test_precedence_and_normalized_size(fields: dict[str, Any], seconds: int, size: str) -> None:
    spec = parse(**fields)
    assert spec.seconds == seconds
    assert spec.size == size


@pytest.mark.parametrize(
    ("fields", "error", "param"),
    [
        ({"seconds": "5"}, InvalidRequest, "seconds"),
        ({"duration": "8", "seconds": "-1"}, InvalidRequest, "seconds"),  # overridden, still bad
        ({"metadata": {"durationSeconds": 8}, "duration": "5"}, InvalidRequest, "duration"),
        ({"metadata": {"resolution": "4k"}, "resolution": "8k"}, InvalidRequest, "resolution"),
        (
            {"aspectRatio": "9:16", "metadata": {"aspectRatio": "4:3"}},
            InvalidRequest,
            "metadata.aspectRatio",
        ),
        ({"seconds": "12"}, InvalidRequest, "seconds"),
        ({"duration": "abc"}, InvalidRequest, "duration"),
        ({"seconds": 4.0}, ParseRequestFailed, "seconds"),
        ({"seconds": True}, ParseRequestFailed, "seconds"),
        ({"metadata": '{"durationSeconds": 3}'}, InvalidRequest, "metadata.durationSeconds"),
        ({"size": "1792x1024"}, InvalidRequest, "size"),
        ({"size": "big"}, InvalidRequest, "size"),
        ({"size": 1280}, ParseRequestFailed, "size"),
        ({"resolution": "8k"}, InvalidRequest, "resolution"),
        ({"aspectRatio": "4:3"}, InvalidRequest, "aspectRatio"),
        ({"resolution": "1080p", "seconds": "4"}, InvalidRequest, "seconds"),
        ({"size": "3840x2160", "seconds": "6"}, InvalidRequest, "seconds"),
        ({"metadata": "{not json"}, ParseRequestFailed, "metadata"),
        ({"metadata": "[1, 2]"}, ParseRequestFailed, "metadata"),
        ({"model": "sora-2"}, InvalidRequest, "model"),
        ({"model": None}, InvalidRequest, "model"),
        ({"prompt": "   "}, InvalidRequest, "prompt"),
        ({"prompt": None}, InvalidRequest, "prompt"),
        ({"prompt": 42}, ParseRequestFailed, "prompt"),
        ({"prompt": "x" * 4001}, InvalidRequest, "prompt"),
        ({"generateAudio": "false"}, InvalidRequest, "generateAudio"),
        ({"generateAudio": True}, InvalidRequest, "generateAudio"),
        ({"metadata": {"generateAudio": False}}, InvalidRequest, "generateAudio"),
        ({"generate_audio": False}, InvalidRequest, "generate_audio"),
        ({"generate_audio": ""}, InvalidRequest, "generate_audio"),  # refused whatever its value
        ({"GenerateAudio": "true"}, InvalidRequest, "GenerateAudio"),
        ({"generate-audio": "true"}, InvalidRequest, "generate-audio"),
        ({"metadata": {"generate_audio": False}}, InvalidRequest, "generate_audio"),
        ({"reference_images": []}, InvalidRequest, "reference_images"),
        ({"last_frame": "x"}, InvalidRequest, "last_frame"),
        ({"Image": "x"}, InvalidRequest, "Image"),
        ({"aspect_ratio": "9:16"}, InvalidRequest, "aspect_ratio"),
        ({"negative_prompt": "blur"}, InvalidRequest, "negative_prompt"),
        ({"inputReference": "x"}, InvalidRequest, "inputReference"),
        ({"metadata": {"aspect_ratio": "9:16"}}, InvalidRequest, "metadata.aspect_ratio"),
        ({"metadata": {"duration_seconds": 4}}, InvalidRequest, "metadata.duration_seconds"),
        ({"referenceImages": []}, InvalidRequest, "referenceImages"),
        ({"lastFrame": "x"}, InvalidRequest, "lastFrame"),
        ({"video": "x"}, InvalidRequest, "video"),
        ({"seed": "-1"}, InvalidRequest, "seed"),
        ({"seed": str(2**32)}, InvalidRequest, "seed"),
        ({"seed": [1]}, ParseRequestFailed, "seed"),
        ({"input_reference": "https://example.com/cat.png"}, InvalidRequest, "input_reference"),
        ({"input_reference[image_url]": "http://x/y.png"}, InvalidRequest, "input_reference"),
        ({"input_reference[file_id]": "file_123"}, InvalidRequest, "input_reference"),
        ({"input_reference": {"file_id": "file_123"}}, InvalidRequest, "input_reference"),
        ({"input_reference": "not base64 !!"}, InvalidRequest, "input_reference"),
        (
            {"input_reference": base64.b64encode(b"GIF89a....").decode()},
            InvalidRequest,
            "input_reference",
        ),
    ],
)
def test_rejections_name_the_parameter(
    fields: dict[str, Any], error: type[Exception], param: str
) -> None:
    with pytest.raises(error) as info:
        parse(**fields)
    assert type(info.value) is error
    assert info.value.param == param  # type: ignore[attr-defined]


def test_a_refused_field_is_refused_under_any_spelling() -> None:
    with pytest.raises(InvalidRequest) as info:
        parse(generate_audio="false")
    assert info.value.message.startswith("generate_audio: generateAudio is not supported")


def test_a_supported_field_spelled_otherwise_names_the_spelling_that_works() -> None:
    with pytest.raises(InvalidRequest) as info:
        parse(aspect_ratio="9:16")
    assert info.value.message == (
        "aspect_ratio is not a parameter of this API; did you mean aspectRatio?"
    )
    # Empty, as multipart clients send unset fields, it asks for nothing: not refused.
    assert parse(aspect_ratio="", negative_prompt=None).aspect_ratio is AspectRatio.LANDSCAPE
    # Fields that are no spelling of ours stay ignored, as OpenAI-style clients send extras.
    assert parse(user="u-1", n="1", quality="high").seconds == 8


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        (
            {"resolution": "1080p", "seconds": "4"},
            "resolution 1080p requires seconds=8 (got 4)",
        ),
        (
            {"resolution": "1080p", "duration": "4"},
            "resolution 1080p requires duration=8 (got 4)",
        ),
        (
            {"size": "1920x1080", "duration": "6"},
            "size 1920x1080 (1080p) requires duration=8 (got 6)",
        ),
        (
            {"metadata": {"resolution": "4k", "durationSeconds": "4"}},
            "metadata.resolution 4k requires metadata.durationSeconds=8 (got 4)",
        ),
    ],
)
def test_the_long_only_error_names_the_fields_the_client_used(
    fields: dict[str, Any], message: str
) -> None:
    with pytest.raises(InvalidRequest) as info:
        parse(**fields)
    assert info.value.message.startswith(message)


def test_error_codes_follow_the_documents() -> None:
    with pytest.raises(ParseRequestFailed) as parse_error:
        parse(seconds=4.5)
    assert parse_error.value.code == "parse_request_failed"
    with pytest.raises(InvalidRequest) as invalid:
        parse(seconds="5")
    assert invalid.value.code == "INVALID_ARGUMENT"
    assert '"4", "6" or "8"' in invalid.value.message


def test_optional_fields_are_carried() -> None:
    spec = parse(negativePrompt="blurry, watermark", seed="88888")
    assert spec.negative_prompt == "blurry, watermark"
    assert spec.seed == 88888
    assert spec.resolution is Resolution.P720
    assert spec.aspect_ratio is AspectRatio.LANDSCAPE


@pytest.mark.parametrize(
    "field",
    ["input_reference", "input_reference[image_url]"],
)
@pytest.mark.parametrize("as_data_url", [True, False])
def test_image_as_base64_or_data_url(field: str, as_data_url: bool) -> None:
    encoded = base64.b64encode(png_bytes()).decode()
    value = f"data:image/png;base64,{encoded}" if as_data_url else encoded
    spec = parse(**{field: value})
    assert spec.image is not None
    assert spec.image.mime_type == "image/png"
    assert spec.image.data == png_bytes()


def test_image_as_openai_sdk_dict() -> None:
    url = "data:image/png;base64," + base64.b64encode(png_bytes()).decode()
    spec = parse(input_reference={"image_url": url})
    assert spec.image is not None


def test_uploaded_file_is_the_image() -> None:
    spec = parse(files=[image_from_bytes(png_bytes())])
    assert spec.image is not None


def test_more_than_one_image_is_refused() -> None:
    encoded = base64.b64encode(png_bytes()).decode()
    with pytest.raises(InvalidRequest, match="one input_reference"):
        parse(files=[image_from_bytes(png_bytes())], input_reference=encoded)
    with pytest.raises(InvalidRequest, match="one input_reference"):
        parse(files=[image_from_bytes(png_bytes()), image_from_bytes(png_bytes())])


def test_json_nested_past_the_cap_is_a_parse_error() -> None:
    with pytest.raises(ParseRequestFailed, match="nested more than 32"):
        load_json("[" * 33 + "]" * 33, "The body")
    with pytest.raises(ParseRequestFailed, match="nested more than 32"):
        load_json("[" * 5000 + "]" * 5000, "The body")  # json.loads itself would recurse out
    assert load_json("[" * 32 + "]" * 32, "The body") == json.loads("[" * 32 + "]" * 32)
