"""Validate a `predictLongRunning` body the way the Gemini API does (pure).

Mirrors the rules in shared/research/upstream-protocols.md §1.2 and §7. Unknown keys in
`parameters` are ignored, as Google's model servers do.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any

from veorelay.core.models import AspectRatio, Resolution, dimensions

KNOWN_MODELS = frozenset(
    {
        "veo-3.1-generate-preview",
        "veo-3.1-fast-generate-preview",
        "veo-3.1-lite-generate-preview",
        "veo-3.1-generate-001",
        "veo-3.1-fast-generate-001",
        "veo-3.1-lite-generate-001",
        "veo-3.0-generate-001",
        "veo-3.0-fast-generate-001",
    }
)


class SimulatorError(Exception):
    """A google.rpc.Status answer: HTTP status, canonical status name and message."""

    def __init__(
        self, http_status: int, status: str, message: str, details: list[Any] | None = None
    ):
        super().__init__(message)
        self.http_status = http_status
        self.status = status
        self.message = message
        self.details = details or []

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {
            "code": self.http_status,
            "message": self.message,
            "status": self.status,
        }
        if self.details:
            error["details"] = self.details
        return {"error": error}


@dataclass(frozen=True)
class RenderRequest:
    prompt: str
    seconds: int
    width: int
    height: int
    seed: int | None
    has_image: bool


def invalid(message: str) -> SimulatorError:
    return SimulatorError(400, "INVALID_ARGUMENT", message)


def validate_predict(model: str, body: Any, retired: frozenset[str] = frozenset()) -> RenderRequest:
    if model in retired:
        raise SimulatorError(
            404, "NOT_FOUND", f"models/{model} is no longer available to new users."
        )
    if model not in KNOWN_MODELS:
        raise SimulatorError(
            404,
            "NOT_FOUND",
            f"models/{model} is not found for API version v1beta, or is not supported for "
            "predictLongRunning.",
        )
    if not isinstance(body, dict):
        raise invalid("Invalid JSON payload received.")
    instances = body.get("instances")
    if not isinstance(instances, list) or not instances or not isinstance(instances[0], dict):
        raise invalid("instances must contain one instance.")
    instance = instances[0]
    params = body.get("parameters") or {}
    if not isinstance(params, dict):
        raise invalid("parameters must be an object.")

    seconds = params.get("durationSeconds", 8)
    if isinstance(seconds, bool) or not isinstance(seconds, int) or seconds not in (4, 6, 8):
        raise invalid(
            "The number value for `durationSeconds` is out of bound. Please provide a value "
            "between 4 and 8, inclusive."
        )
    try:
        aspect = AspectRatio(params.get("aspectRatio", "16:9"))
    except ValueError:
        raise invalid("aspectRatio must be 16:9 or 9:16.") from None
    try:
        resolution = Resolution(params.get("resolution", "720p"))
    except ValueError:
        raise invalid("resolution must be one of 720p, 1080p or 4k.") from None
    references = instance.get("referenceImages") or []
    if not isinstance(references, list) or not all(isinstance(r, dict) for r in references):
        raise invalid("referenceImages must be a list of objects.")
    if resolution is not Resolution.P720 and seconds != 8:
        raise invalid(f"Resolution {resolution} is only supported for 8 second videos.")
    if references and seconds != 8:
        raise invalid("referenceImages are only supported for 8 second videos.")
    if len(references) > 3:
        raise invalid("At most 3 referenceImages are supported.")
    if "lastFrame" in instance and "image" not in instance:
        raise invalid("lastFrame requires image.")
    for ref in references:
        if str(ref.get("referenceType", "asset")).lower() not in ("asset", "style"):
            raise invalid("referenceType must be asset.")
        _check_image(ref.get("image"), "referenceImages.image")
    if "image" in instance:
        _check_image(instance["image"], "image")
    if "lastFrame" in instance:
        _check_image(instance["lastFrame"], "lastFrame")
    if "video" in instance and resolution is not Resolution.P720:
        raise invalid("Video extension is only supported at 720p.")

    prompt = instance.get("prompt", "")
    if not isinstance(prompt, str) or (not prompt.strip() and "image" not in instance):
        raise invalid("prompt is required.")
    seed = params.get("seed")
    width, height = dimensions(resolution, aspect)
    return RenderRequest(
        prompt=prompt,
        seconds=seconds,
        width=width,
        height=height,
        seed=seed if isinstance(seed, int) else None,
        has_image="image" in instance,
    )


def _check_image(image: Any, field: str) -> None:
    if not isinstance(image, dict):
        raise invalid(f"{field} must be an object.")
    if "inlineData" in image:
        raise invalid("`inlineData` isn't supported by this model.")
    if "gcsUri" in image:
        raise invalid(f"{field}.gcsUri is not supported by the Gemini API.")
    data = image.get("bytesBase64Encoded")
    if not isinstance(data, str) or not data:
        raise invalid(f"{field}.bytesBase64Encoded is required.")
    try:
        base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise invalid(f"{field}.bytesBase64Encoded is not valid base64.") from None
    if image.get("mimeType") not in ("image/png", "image/jpeg", "image/webp"):
        raise invalid(f"{field}.mimeType must be image/png, image/jpeg or image/webp.")
