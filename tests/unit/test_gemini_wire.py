"""Google's wire format <-> veorelay's tasks, without servers: a `predictLongRunning` body is
read by the same rules as `POST /v1/videos`, and a task reads as Google's operation."""

from __future__ import annotations

import base64
from dataclasses import replace
from typing import Any

import pytest

from tests.helpers import png_bytes
from tests.unit.test_views import BASE
from veorelay.api.gemini_wire import RESPONSE_TYPE, operation, video_spec
from veorelay.core.lifecycle import TaskState
from veorelay.core.models import AspectRatio, Resolution
from veorelay.errors import InvalidRequest, ParseRequestFailed

FAST = "veo-3.1-fast-generate-preview"
MODELS = {FAST}


def body(parameters: dict[str, Any] | None = None, **instance: Any) -> dict[str, Any]:
    return {"instances": [{"prompt": "A kite", **instance}], "parameters": parameters or {}}


def test_a_full_body_becomes_the_same_spec_as_the_openai_style_request() -> None:
    image = base64.b64encode(png_bytes(36, 64)).decode()
    spec = video_spec(
        FAST,
        body(
            {
                "durationSeconds": 4,
                "aspectRatio": "9:16",
                "resolution": "720p",
                "negativePrompt": "fog",
                "seed": 3,
                "sampleCount": 1,
            },
            image={"bytesBase64Encoded": image, "mimeType": "image/png"},
        ),
        MODELS,
    )
    assert (spec.seconds, spec.aspect_ratio, spec.resolution) == (
        4,
        AspectRatio.PORTRAIT,
        Resolution.P720,
    )
    assert (spec.negative_prompt, spec.seed, spec.size) == ("fog", 3, "720x1280")
    assert spec.image is not None
    assert spec.image.mime_type == "image/png"


def test_defaults_are_the_openai_style_defaults() -> None:
    spec = video_spec(FAST, {"instances": [{"prompt": "A kite"}]}, MODELS)
    assert (spec.seconds, spec.size) == (8, "1280x720")


@pytest.mark.parametrize(
    ("request_body", "param", "message"),
    [
        (body({"durationSeconds": 5}), "durationSeconds", "durationSeconds must be one of"),
        (
            body({"durationSeconds": 6, "resolution": "4k"}),
            "durationSeconds",
            "resolution 4k requires durationSeconds=8",
        ),
        (body({"sampleCount": 2}), "parameters.sampleCount", "one video"),
        (body({"generateAudio": False}), "parameters.generateAudio", "native audio"),
        (body({"personGeneration": "allow_all"}), "parameters.personGeneration", "not supported"),
        (body(lastFrame={"bytesBase64Encoded": "aGk="}), "instances[0].lastFrame", "lastFrame"),
        (body(image={"gcsUri": "gs://b/x.png"}), "instances[0].image", "gcsUri"),
        (body(image={"bytesBase64Encoded": "aGk="}), "instances[0].image", "image must be a PNG"),
        ({"instances": []}, "instances", "exactly one"),
        ({"instances": [{"prompt": "a"}, {"prompt": "b"}]}, "instances", "exactly one"),
        ({"instances": [{}]}, "prompt", "prompt is required"),
    ],
)
def test_refused_bodies_name_googles_fields(
    request_body: dict[str, Any], param: str, message: str
) -> None:
    with pytest.raises(InvalidRequest) as info:
        video_spec(FAST, request_body, MODELS)
    assert info.value.param == param
    assert message in info.value.message
    assert "input_reference" not in info.value.message
    assert "metadata." not in info.value.message


def test_a_body_that_is_not_an_object_cannot_be_parsed() -> None:
    with pytest.raises(ParseRequestFailed):
        video_spec(FAST, ["instances"], MODELS)


NAME = f"models/{FAST}/operations/{BASE.id}"


def test_a_running_task_is_just_its_name() -> None:
    assert operation(replace(BASE, state=TaskState.RUNNING), "gw.example") == {"name": NAME}


def test_a_completed_task_points_at_its_file() -> None:
    answer = operation(replace(BASE, state=TaskState.COMPLETED), "gw.example:8000")
    assert answer["done"] is True
    assert answer["response"]["@type"] == RESPONSE_TYPE
    uri = answer["response"]["generateVideoResponse"]["generatedSamples"][0]["video"]["uri"]
    assert uri == f"https://gw.example:8000/v1beta/files/{'0' * 32}:download?alt=media"


def test_a_safety_filtered_task_is_a_filtered_response_as_google_gives() -> None:
    task = replace(
        BASE,
        state=TaskState.FAILED,
        error_code="content_policy_violation",
        error_message="Filtered.",
    )
    result = operation(task, "h")["response"]["generateVideoResponse"]
    assert result == {"raiMediaFilteredCount": 1, "raiMediaFilteredReasons": ["Filtered."]}


@pytest.mark.parametrize(
    ("code", "rpc"), [("timeout", 4), ("upstream_unavailable", 14), ("generation_failed", 13)]
)
def test_a_failed_task_is_an_operation_error(code: str, rpc: int) -> None:
    task = replace(BASE, state=TaskState.FAILED, error_code=code, error_message="Why.")
    answer = operation(task, "h")
    assert answer["done"] is True
    assert (answer["error"]["code"], answer["error"]["message"]) == (rpc, "Why.")
    assert answer["error"]["details"][0]["reason"] == code
