"""Pure Vertex AI wire translation: paths, the predict body, operations, probe answers.

Vertex takes the Gemini API's `predictLongRunning` body (`wire.predict_body`) plus parameters
of its own, and answers a finished operation with `response.videos[]`, each either inline
(`bytesBase64Encoded`, read by `inline.InlineVideoReader`) or in Cloud Storage (`gcsUri`).
"""

from __future__ import annotations

import base64
import re
from typing import Any
from urllib.parse import quote

from veorelay.core.models import VideoSpec
from veorelay.upstream import wire
from veorelay.upstream.base import OperationState
from veorelay.upstream.errors import ModelUnavailable, OperationLost, TaskRejected

API_VERSION = "v1"
PROBE_VERSION = "v1beta1"  # publishers.models.get is served on v1beta1
INLINE = "inline:"  # video_uri of the n-th inline video: "inline:0"
_MODEL_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_SEGMENT = r"[A-Za-z0-9][A-Za-z0-9._-]*"
_PROJECT = r"[A-Za-z0-9][A-Za-z0-9._:-]*"  # legacy ids look like "example.com:project"
_OPERATION = re.compile(
    rf"^(projects/{_PROJECT}/locations/{_SEGMENT}/publishers/google/models/{_SEGMENT})"
    rf"/operations/{_SEGMENT}$"
)
_GCS_URI = re.compile(r"^gs://([a-z0-9][a-z0-9._-]*)/(.+)$")


def default_base_url(location: str) -> str:
    if location == "global":
        return "https://aiplatform.googleapis.com"
    return f"https://{location}-aiplatform.googleapis.com"


def _model(upstream_model: str) -> str:
    if not _MODEL_ID.match(upstream_model):
        raise ModelUnavailable(f"{upstream_model!r} is not a Vertex model id")
    return upstream_model


def predict_path(project: str, location: str, upstream_model: str) -> str:
    resource = f"projects/{project}/locations/{location}/publishers/google/models"
    return f"/{API_VERSION}/{resource}/{_model(upstream_model)}:predictLongRunning"


def fetch_path(operation_name: str) -> str:
    """Polled where it lives, as google-genai does: the name's model resource (Google may
    write the project as its number there)."""
    match = _OPERATION.match(operation_name)
    if not match:
        raise OperationLost(f"{operation_name!r} is not a Vertex operation name")
    return f"/{API_VERSION}/{match.group(1)}:fetchPredictOperation"


def publisher_model_path(upstream_model: str) -> str:
    return f"/{PROBE_VERSION}/publishers/google/models/{_model(upstream_model)}"


def predict_body(spec: VideoSpec, storage_uri: str | None = None) -> dict[str, Any]:
    """The Gemini API body, plus what Vertex takes besides: generateAudio (a real parameter
    here; Veo 3.1 is sold with sound), when the channel has a bucket, storageUri, and an
    extension's source video as its MP4 bytes (whichever surface made it)."""
    body = wire.common_body(spec)
    if spec.video is not None:
        if not spec.video.data:
            raise TaskRejected(f"video {spec.video.id} to extend has no bytes")
        body["instances"][0]["video"] = {
            "bytesBase64Encoded": base64.b64encode(spec.video.data).decode("ascii"),
            "mimeType": "video/mp4",
        }
    body["parameters"]["generateAudio"] = True
    if storage_uri:
        body["parameters"]["storageUri"] = storage_uri
    return body


def operation_name(body: Any) -> str:
    name = body.get("name") if isinstance(body, dict) else None
    if not isinstance(name, str) or not _OPERATION.match(name):
        raise TaskRejected("upstream accepted the request but returned no operation name")
    return name


def parse_operation(body: Any) -> OperationState:
    """A fetched operation whose inline videos (if any) were left out by the reader."""
    body = body if isinstance(body, dict) else {}
    ended = wire.unfinished_or_failed(body)
    if ended is not None:
        return ended
    result = body.get("response")
    result = result if isinstance(result, dict) else {}
    inline = 0
    for video in result.get("videos") or []:
        if not isinstance(video, dict):
            continue
        if isinstance(video.get("gcsUri"), str) and video["gcsUri"]:
            return OperationState(done=True, video_uri=video["gcsUri"])
        if "bytesBase64Encoded" in video:
            return OperationState(done=True, video_uri=f"{INLINE}{inline}")
    reasons = [str(r) for r in result.get("raiMediaFilteredReasons") or []]
    if reasons or result.get("raiMediaFilteredCount"):
        return OperationState(done=True, filtered_reasons=reasons or ["filtered by safety rules"])
    return OperationState(done=True, error_code="NO_VIDEO", error_message="no video was returned")


def inline_index(video_uri: str) -> int | None:
    if not video_uri.startswith(INLINE):
        return None
    index = video_uri[len(INLINE) :]
    if not index.isdigit():
        raise TaskRejected(f"unusable inline video reference {video_uri!r}")
    return int(index)


def storage_path(gcs_uri: str) -> str:
    """Cloud Storage's JSON API media path of a `gs://bucket/object` (the object name is one
    path segment there, its slashes escaped)."""
    match = _GCS_URI.match(gcs_uri)
    if not match:
        raise TaskRejected(f"upstream returned an unusable Cloud Storage URI {gcs_uri!r}")
    bucket, name = match.groups()
    return f"/storage/v1/b/{bucket}/o/{quote(name, safe='')}"


def describe_publisher_model(upstream_model: str, body: Any) -> str:
    """`publishers/google/models/{m}` answered: what `channel test` reports."""
    stage = body.get("launchStage") if isinstance(body, dict) else None
    if not isinstance(stage, str) or not stage:
        return f"model {upstream_model} available"
    label = "GA" if stage == "GA" else stage.lower().replace("_", " ")
    return f"model {upstream_model} available ({label})"
