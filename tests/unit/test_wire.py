"""Gemini wire translation (pure)."""

from __future__ import annotations

import base64
from dataclasses import replace

import pytest

from tests.helpers import png_bytes
from veorelay.core.models import AspectRatio, ImageInput, Resolution, SourceVideo, VideoSpec
from veorelay.upstream import wire
from veorelay.upstream.errors import (
    CredentialRejected,
    ModelUnavailable,
    OperationLost,
    RetryableUpstreamError,
    TaskRejected,
)


def test_body_is_camel_case_with_numeric_duration() -> None:
    spec = VideoSpec(
        "m",
        "waves",
        6,
        Resolution.P720,
        AspectRatio.PORTRAIT,
        negative_prompt="blurry",
        seed=7,
        image=ImageInput(png_bytes(), "image/png"),
    )
    body = wire.predict_body(spec)
    assert body["parameters"] == {
        "sampleCount": 1,
        "durationSeconds": 6,
        "aspectRatio": "9:16",
        "resolution": "720p",
        "negativePrompt": "blurry",
        "seed": 7,
    }
    image = body["instances"][0]["image"]
    assert set(image) == {"bytesBase64Encoded", "mimeType"}  # never inlineData
    assert base64.b64decode(image["bytesBase64Encoded"]) == png_bytes()
    assert "generateAudio" not in body["parameters"]


def test_running_operation_without_done_is_running() -> None:
    assert not wire.parse_operation({"name": "models/m/operations/abc"}).done


def test_done_operation_with_video() -> None:
    uri = "https://generativelanguage.googleapis.com/v1beta/files/qu4d28uipuqh:download?alt=media"
    state = wire.parse_operation(
        {
            "name": "x",
            "done": True,
            "response": {"generateVideoResponse": {"generatedSamples": [{"video": {"uri": uri}}]}},
        }
    )
    assert state.succeeded
    assert wire.download_path(state.video_uri or "") == "/v1beta/files/qu4d28uipuqh:download"


def test_filtered_operation_is_not_success() -> None:
    state = wire.parse_operation(
        {
            "done": True,
            "response": {
                "generateVideoResponse": {
                    "raiMediaFilteredCount": 1,
                    "raiMediaFilteredReasons": ["audio issue"],
                }
            },
        }
    )
    assert state.done
    assert not state.succeeded
    assert state.filtered_reasons == ["audio issue"]


def test_done_without_video_or_reasons_is_a_failure() -> None:
    state = wire.parse_operation({"done": True, "response": {"generateVideoResponse": {}}})
    assert not state.succeeded
    assert state.error_code == "NO_VIDEO"


def test_operation_error_maps_rpc_code() -> None:
    state = wire.parse_operation({"done": True, "error": {"code": 13, "message": "boom"}})
    assert (state.error_code, state.error_message) == ("INTERNAL", "boom")


@pytest.mark.parametrize(
    ("status", "body", "about_model", "kind"),
    [
        (429, {"error": {"status": "RESOURCE_EXHAUSTED"}}, False, RetryableUpstreamError),
        (500, {"error": {"status": "INTERNAL"}}, False, RetryableUpstreamError),
        (503, "not json", False, RetryableUpstreamError),
        (400, {"error": {"status": "INVALID_ARGUMENT"}}, False, TaskRejected),
        (403, {"error": {"status": "PERMISSION_DENIED"}}, False, CredentialRejected),
        (
            400,
            {"error": {"status": "INVALID_ARGUMENT", "details": [{"reason": "API_KEY_INVALID"}]}},
            False,
            CredentialRejected,
        ),
        (404, {"error": {"status": "NOT_FOUND"}}, True, ModelUnavailable),
        (404, {"error": {"status": "NOT_FOUND"}}, False, OperationLost),
    ],
)
def test_error_classification(status: int, body: object, about_model: bool, kind: type) -> None:
    assert type(wire.classify_error(status, body, about_model=about_model)) is kind


def test_retry_delay_comes_from_retry_info() -> None:
    error = wire.classify_error(
        429,
        {
            "error": {
                "details": [
                    {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "20s"}
                ]
            }
        },
    )
    assert isinstance(error, RetryableUpstreamError)
    assert error.retry_after == 20.0


def test_extra_inputs_in_googles_shape() -> None:
    first, last, ref = (
        ImageInput(png_bytes(color=c), "image/png") for c in ("red", "blue", "green")
    )
    interpolation = VideoSpec(
        "m", "p", 8, Resolution.P720, AspectRatio.LANDSCAPE, image=first, last_frame=last
    )
    instance = wire.predict_body(interpolation)["instances"][0]
    assert instance["lastFrame"] == {
        "bytesBase64Encoded": base64.b64encode(last.data).decode(),
        "mimeType": "image/png",
    }
    assert "image" in instance
    refs = VideoSpec("m", "p", 8, Resolution.P720, AspectRatio.LANDSCAPE, reference_images=(ref,))
    (entry,) = wire.predict_body(refs)["instances"][0]["referenceImages"]
    assert entry == {"image": wire.image_json(ref), "referenceType": "asset"}


def test_extension_sends_googles_file_uri_only_for_a_gemini_made_video() -> None:
    uri = "https://generativelanguage.googleapis.com/v1beta/files/abc123:download?alt=media"
    made_here = SourceVideo("video_a", 8, uri=uri, data=b"mp4")
    spec = VideoSpec("m", "p", 8, Resolution.P720, AspectRatio.LANDSCAPE, video=made_here)
    assert wire.predict_body(spec)["instances"][0]["video"] == {"uri": uri}
    on_vertex = replace(spec, video=replace(made_here, uri="inline:0"))
    with pytest.raises(TaskRejected, match="not made on the Gemini API"):
        wire.predict_body(on_vertex)
