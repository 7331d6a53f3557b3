"""Veo's extra inputs (reference images, a last frame, an extension): refused as the spec
documents say unless the model has them enabled, then checked by Veo 3.1's rules (pure)."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from tests.helpers import png_bytes
from veorelay.core import idempotency, pricing
from veorelay.core.models import AspectRatio, ExtraInput, Resolution, SourceVideo, VideoSpec
from veorelay.core.params import extension_source, parse_video_request
from veorelay.errors import Conflict, InvalidRequest, NotFound, ParseRequestFailed

MODEL = "veo-3.1-generate-preview"
MODELS = [MODEL, "veo-3.1-fast-generate-preview"]
ALL = {MODEL: frozenset(ExtraInput)}
PNG = base64.b64encode(png_bytes()).decode()
DATA_URL = f"data:image/png;base64,{PNG}"
BASE: dict[str, Any] = {"model": MODEL, "prompt": "a lighthouse"}


def parse(enabled: dict[str, frozenset[ExtraInput]] | None = None, **fields: Any) -> VideoSpec:
    return parse_video_request({**BASE, **fields}, [], MODELS, ALL if enabled is None else enabled)


@pytest.mark.parametrize(
    ("fields", "enabled"),
    [
        ({"referenceImages": [PNG]}, {}),
        ({"lastFrame": PNG, "input_reference": PNG}, {}),
        ({"video": "video_" + "0" * 32}, {}),
        # Enabled on another model, or another input enabled: still refused here.
        ({"referenceImages": [PNG]}, {"veo-3.1-fast-generate-preview": frozenset(ExtraInput)}),
        ({"lastFrame": PNG}, {MODEL: frozenset({ExtraInput.REFERENCE_IMAGES})}),
        ({"last_frame": PNG}, {MODEL: frozenset({ExtraInput.REFERENCE_IMAGES})}),
    ],
)
def test_refused_unless_the_model_enables_them(
    fields: dict[str, Any], enabled: dict[str, frozenset[ExtraInput]]
) -> None:
    with pytest.raises(InvalidRequest, match="not supported") as refused:
        parse(enabled, **fields)
    assert refused.value.param in fields


def test_reference_images_as_strings_or_objects() -> None:
    spec = parse(
        referenceImages=[PNG, {"image": DATA_URL, "referenceType": "ASSET"}, {"image": PNG}]
    )
    assert len(spec.reference_images) == 3
    assert {image.mime_type for image in spec.reference_images} == {"image/png"}
    assert spec.extra_inputs == {ExtraInput.REFERENCE_IMAGES}
    as_text = parse(referenceImages=f'["{PNG}"]')  # a multipart text field
    assert len(as_text.reference_images) == 1


@pytest.mark.parametrize(
    ("fields", "param", "message"),
    [
        ({"referenceImages": [PNG] * 4}, "referenceImages", "At most 3"),
        ({"referenceImages": [PNG], "seconds": "6"}, "seconds", "referenceImages requires"),
        ({"referenceImages": [PNG], "size": "720x1280"}, "referenceImages", "16:9 only"),
        (
            {"referenceImages": [{"image": PNG, "referenceType": "style"}]},
            "referenceImages[0]",
            "asset",
        ),
        ({"referenceImages": [PNG], "input_reference": PNG}, "referenceImages", "combined"),
        ({"referenceImages": ["not base64!"]}, "referenceImages[0]", "neither a file"),
        ({"lastFrame": PNG}, "lastFrame", "input_reference"),
        ({"lastFrame": PNG, "input_reference": PNG, "duration": "4"}, "duration", "lastFrame"),
        ({"video": "video_x", "seconds": "4"}, "seconds", "video requires seconds=8"),
        ({"video": "video_x", "size": "1920x1080"}, "video", "720p only"),
        ({"video": "video_x", "input_reference": PNG}, "video", "no input_reference"),
        ({"reference_images": [PNG]}, "reference_images", "did you mean referenceImages"),
    ],
)
def test_veo_rules_once_enabled(fields: dict[str, Any], param: str, message: str) -> None:
    with pytest.raises(InvalidRequest, match=message) as refused:
        parse(**fields)
    assert refused.value.param == param


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"lastFrame": 7}, "lastFrame"),
        ({"video": 7}, "video"),
        ({"referenceImages": [7]}, "referenceImages[0]"),
    ],
)
def test_wrong_types(fields: dict[str, Any], param: str) -> None:
    with pytest.raises(ParseRequestFailed) as refused:
        parse(**fields)
    assert refused.value.param == param


def test_first_and_last_frame() -> None:
    spec = parse(input_reference=PNG, lastFrame=DATA_URL)
    assert spec.image is not None
    assert spec.last_frame is not None
    assert spec.extra_inputs == {ExtraInput.LAST_FRAME}


def source(seconds: int = 8, **changes: Any) -> VideoSpec:
    values: dict[str, Any] = {
        "model": MODEL,
        "prompt": "first",
        "seconds": seconds,
        "resolution": Resolution.P720,
        "aspect_ratio": AspectRatio.LANDSCAPE,
        **changes,
    }
    return VideoSpec(**values)


def test_extension_takes_the_source_length_plus_seven_seconds() -> None:
    spec = parse(video={"id": "video_a"})
    assert spec.video == SourceVideo(id="video_a")
    extended = extension_source(spec, source(6), completed=True)
    assert extended.video == SourceVideo(id="video_a", seconds=6)
    assert (extended.seconds, extended.output_seconds) == (8, 13)
    again = extension_source(spec, extended, completed=True)  # an extension of an extension
    assert again.output_seconds == 20


def test_extension_source_rules() -> None:
    spec = parse(video="video_a")
    with pytest.raises(NotFound):
        extension_source(spec, None, completed=False)
    with pytest.raises(Conflict) as unfinished:
        extension_source(spec, source(), completed=False)
    assert unfinished.value.code == "video_not_completed"
    with pytest.raises(InvalidRequest, match="only 720p"):
        extension_source(spec, source(resolution=Resolution.P1080), completed=True)
    with pytest.raises(InvalidRequest, match="size 720x1280"):
        extension_source(spec, source(aspect_ratio=AspectRatio.PORTRAIT), completed=True)
    long = source(video=SourceVideo(id="video_b", seconds=29))  # 36 s
    with pytest.raises(InvalidRequest, match="up to 30 s"):
        extension_source(spec, long, completed=True)


def test_surcharge_once_for_any_extra_input() -> None:
    price = pricing.ModelPrice(MODEL, 1_200_000, extra_input_surcharge_micros=100_000)
    plain = parse()
    fancy = parse(referenceImages=[PNG, PNG])
    mode = pricing.BillingMode.PER_REQUEST
    assert pricing.quote(plain, price, mode, pricing.PPM) == 1_200_000
    assert pricing.quote(fancy, price, mode, pricing.PPM // 2) == 650_000


def test_fingerprint_of_plain_requests_is_unchanged_and_inputs_count() -> None:
    plain = parse()
    assert idempotency.fingerprint(plain) == idempotency.fingerprint(
        parse_video_request(BASE, [], MODELS)
    )
    one = idempotency.fingerprint(parse(referenceImages=[PNG]))
    other = idempotency.fingerprint(
        parse(referenceImages=[base64.b64encode(png_bytes(color="red")).decode()])
    )
    assert len({idempotency.fingerprint(plain), one, other}) == 3
