"""Pure Gemini API wire translation: VideoSpec <-> JSON (error bodies: see `rpc`)."""

from __future__ import annotations

import base64
import re
from typing import Any

from veorelay.core.models import ImageInput, VideoSpec
from veorelay.upstream.base import OperationState
from veorelay.upstream.errors import ModelUnavailable, TaskRejected
from veorelay.upstream.rpc import classify_error as classify_error
from veorelay.upstream.rpc import code_name

API_VERSION = "v1beta"
_FILE_ID = re.compile(r"files/([a-z0-9]+)")


def predict_path(upstream_model: str) -> str:
    return f"/{API_VERSION}/models/{upstream_model}:predictLongRunning"


def operation_path(operation_name: str) -> str:
    return f"/{API_VERSION}/{operation_name}"


def download_path(video_uri: str) -> str:
    """Our configured base, not the URI's host: only the file id is taken from Google's answer."""
    match = _FILE_ID.search(video_uri)
    if not match:
        raise TaskRejected("upstream returned a video URI without a file id")
    return f"/{API_VERSION}/files/{match.group(1)}:download"


def model_path(upstream_model: str) -> str:
    return f"/{API_VERSION}/models/{upstream_model}"


def predict_body(spec: VideoSpec) -> dict[str, Any]:
    """The `predictLongRunning` body. camelCase exactly; durationSeconds as a JSON number.

    Never sent: generateAudio (Veo 3.1 always renders audio), personGeneration (its allowed
    values differ by region and mode; Google's default is right), inlineData images (rejected).
    An extension's source goes as the URI of Google's file of it: the Gemini API takes only
    that (Vertex AI takes its bytes: `vertex_wire`).
    """
    body = common_body(spec)
    if spec.video is not None:
        if spec.video.uri is None or not _FILE_ID.search(spec.video.uri):
            raise TaskRejected(
                f"Video {spec.video.id} was not made on the Gemini API, which extends only "
                "its own videos; you have not been charged."
            )
        body["instances"][0]["video"] = {"uri": spec.video.uri}
    return body


def common_body(spec: VideoSpec) -> dict[str, Any]:
    """What both surfaces take alike: everything but an extension's source video."""
    instance: dict[str, Any] = {"prompt": spec.prompt}
    if spec.image is not None:
        instance["image"] = image_json(spec.image)
    if spec.last_frame is not None:
        instance["lastFrame"] = image_json(spec.last_frame)
    if spec.reference_images:
        instance["referenceImages"] = [
            {"image": image_json(image), "referenceType": "asset"}
            for image in spec.reference_images
        ]
    parameters: dict[str, Any] = {
        "sampleCount": 1,
        "durationSeconds": spec.seconds,
        "aspectRatio": spec.aspect_ratio.value,
        "resolution": spec.resolution.value,
    }
    if spec.negative_prompt:
        parameters["negativePrompt"] = spec.negative_prompt
    if spec.seed is not None:
        parameters["seed"] = spec.seed
    return {"instances": [instance], "parameters": parameters}


def image_json(image: ImageInput) -> dict[str, str]:
    return {
        "bytesBase64Encoded": base64.b64encode(image.data).decode("ascii"),
        "mimeType": image.mime_type,
    }


def unfinished_or_failed(body: dict[str, Any]) -> OperationState | None:
    """The state of an operation not done, or done with an error (both surfaces alike);
    None when it finished with a result to read."""
    if not body.get("done"):
        return OperationState(done=False)
    error = body.get("error")
    if isinstance(error, dict):
        return OperationState(
            done=True,
            error_code=code_name(error.get("code")),
            error_message=str(error.get("message") or "upstream operation failed"),
        )
    return None


def parse_operation(body: dict[str, Any]) -> OperationState:
    """A running operation is just {"name"}; `done` may be absent, which means not done."""
    ended = unfinished_or_failed(body)
    if ended is not None:
        return ended
    result = (body.get("response") or {}).get("generateVideoResponse") or {}
    reasons = [str(r) for r in result.get("raiMediaFilteredReasons") or []]
    for sample in result.get("generatedSamples") or []:
        uri = (sample.get("video") or {}).get("uri")
        if uri:
            return OperationState(done=True, video_uri=str(uri))
    if reasons or result.get("raiMediaFilteredCount"):
        return OperationState(done=True, filtered_reasons=reasons or ["filtered by safety rules"])
    return OperationState(done=True, error_code="NO_VIDEO", error_message="no video was returned")


def describe_model(upstream_model: str, body: Any) -> str:
    """`GET models/{m}` answered: what `channel test` reports. A model that cannot
    `predictLongRunning` cannot make videos, so it counts as unavailable."""
    body = body if isinstance(body, dict) else {}
    methods = body.get("supportedGenerationMethods")
    if isinstance(methods, list) and "predictLongRunning" not in methods:
        raise ModelUnavailable(f"model {upstream_model} does not support predictLongRunning")
    name = body.get("displayName")
    return f"model {upstream_model} available" + (f" ({name})" if name else "")
