"""Pure Gemini API wire translation: VideoSpec <-> JSON, error bodies -> UpstreamError."""

from __future__ import annotations

import base64
import re
from typing import Any

from veorelay.core.models import VideoSpec
from veorelay.upstream.base import OperationState
from veorelay.upstream.errors import (
    CredentialRejected,
    ModelUnavailable,
    OperationLost,
    RetryableUpstreamError,
    TaskRejected,
    UpstreamError,
)

API_VERSION = "v1beta"
_FILE_ID = re.compile(r"files/([a-z0-9]+)")
_DELAY = re.compile(r"^(\d+(?:\.\d+)?)s$")
# google.rpc.Code numbers an operation's `error.code` may carry.
RPC_CODES = {3: "INVALID_ARGUMENT", 8: "RESOURCE_EXHAUSTED", 13: "INTERNAL", 14: "UNAVAILABLE"}


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


def predict_body(spec: VideoSpec) -> dict[str, Any]:
    """The `predictLongRunning` body. camelCase exactly; durationSeconds as a JSON number.

    Never sent: generateAudio (Veo 3.1 always renders audio), personGeneration (its allowed
    values differ by region and mode; Google's default is right), inlineData images (rejected).
    """
    instance: dict[str, Any] = {"prompt": spec.prompt}
    if spec.image is not None:
        instance["image"] = {
            "bytesBase64Encoded": base64.b64encode(spec.image.data).decode("ascii"),
            "mimeType": spec.image.mime_type,
        }
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


def parse_operation(body: dict[str, Any]) -> OperationState:
    """A running operation is just {"name"}; `done` may be absent, which means not done."""
    if not body.get("done"):
        return OperationState(done=False)
    error = body.get("error")
    if isinstance(error, dict):
        code = error.get("code")
        status = RPC_CODES.get(code, str(code)) if isinstance(code, int) else str(code)
        return OperationState(
            done=True,
            error_code=status,
            error_message=str(error.get("message") or "upstream operation failed"),
        )
    result = (body.get("response") or {}).get("generateVideoResponse") or {}
    reasons = [str(r) for r in result.get("raiMediaFilteredReasons") or []]
    for sample in result.get("generatedSamples") or []:
        uri = (sample.get("video") or {}).get("uri")
        if uri:
            return OperationState(done=True, video_uri=str(uri))
    if reasons or result.get("raiMediaFilteredCount"):
        return OperationState(done=True, filtered_reasons=reasons or ["filtered by safety rules"])
    return OperationState(done=True, error_code="NO_VIDEO", error_message="no video was returned")


def classify_error(http_status: int, body: Any, *, about_model: bool = False) -> UpstreamError:
    """One place decides what an upstream HTTP error means for the task."""
    error = body.get("error") if isinstance(body, dict) else None
    error = error if isinstance(error, dict) else {}
    status = str(error.get("status") or "")
    message = f"{http_status} {status}: {error.get('message') or 'no message'}".strip()
    reasons = {d.get("reason") for d in error.get("details") or [] if isinstance(d, dict)}
    if http_status == 429 or http_status >= 500 or http_status == 408:
        return RetryableUpstreamError(
            message, http_status=http_status, retry_after=_retry_delay(error)
        )
    if http_status in (401, 403) or "API_KEY_INVALID" in reasons:
        return CredentialRejected(message, http_status=http_status)
    if http_status == 404:
        if about_model:
            return ModelUnavailable(message, http_status=http_status)
        return OperationLost(message, http_status=http_status)
    return TaskRejected(message, http_status=http_status)


def _retry_delay(error: dict[str, Any]) -> float | None:
    for detail in error.get("details") or []:
        if isinstance(detail, dict) and str(detail.get("@type", "")).endswith("RetryInfo"):
            match = _DELAY.match(str(detail.get("retryDelay", "")))
            if match:
                return float(match.group(1))
    return None
