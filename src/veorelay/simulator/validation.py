"""Validate a `predictLongRunning` body the way the Gemini API and Vertex AI do (pure).

Mirrors the rules in shared/research/upstream-protocols.md §1.2, §2.2 and §7. Unknown keys in
`parameters` are ignored, as Google's model servers do.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass, replace
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
VERTEX_MODELS = {  # model id -> launch stage
    "veo-3.1-generate-001": "GA",
    "veo-3.1-fast-generate-001": "GA",
    "veo-3.1-lite-generate-001": "PUBLIC_PREVIEW",
}
PERSON_GENERATION = ("dont_allow", "allow_adult", "allow_all")


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
    has_references: bool = False
    sample_count: int = 1
    storage_uri: str | None = None
    source_file: str | None = None  # Gemini API: the file id of the video to extend
    source_video: bytes | None = None  # Vertex AI: the MP4 to extend


EXTENSION_SECONDS = 7
MAX_SOURCE_SECONDS = {"gemini": 141.0, "vertex": 30.0}
_FILE_URI = re.compile(r"/files/([a-z0-9]+)(?::download)?(?:\?.*)?$")


def extended(render: RenderRequest, source_seconds: float, dialect: str) -> RenderRequest:
    """An extension's render: its source's length plus 7 seconds, if the source is one the
    surface extends (Gemini API: up to 141 s; Vertex AI: 1 to 30 s)."""
    longest = MAX_SOURCE_SECONDS[dialect]
    if not 1.0 <= source_seconds <= longest + 0.5:
        raise invalid(
            f"The input video must be between 1 and {longest:g} seconds long "
            f"(got {source_seconds:.1f})."
        )
    return replace(render, seconds=round(source_seconds) + EXTENSION_SECONDS)


def invalid(message: str) -> SimulatorError:
    return SimulatorError(400, "INVALID_ARGUMENT", message)


def validate_predict(model: str, body: Any, retired: frozenset[str] = frozenset()) -> RenderRequest:
    """A Gemini API `models/{model}:predictLongRunning` body."""
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
    render = _validate_body(body, vertex=False)
    if render.has_references and "-fast-" in model:
        raise invalid(f"referenceImages are not supported by {model}; use veo-3.1-generate.")
    return render


def vertex_model_not_found(resource: str) -> SimulatorError:
    return SimulatorError(
        404,
        "NOT_FOUND",
        f"Publisher Model `{resource}` was not found or your project does not have access to it.",
    )


def validate_vertex_predict(
    resource: str, model: str, body: Any, retired: frozenset[str] = frozenset()
) -> RenderRequest:
    """A Vertex AI `publishers/google/models/{model}:predictLongRunning` body."""
    if model in retired or model not in VERTEX_MODELS:
        raise vertex_model_not_found(resource)
    return _validate_body(body, vertex=True)


def _validate_body(body: Any, *, vertex: bool) -> RenderRequest:
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
    if references and aspect is not AspectRatio.LANDSCAPE:
        raise invalid("referenceImages are only supported for 16:9 videos.")
    for field in ("lastFrame", "video"):
        if field in instance and seconds != 8:
            raise invalid(f"`durationSeconds` must be 8 when {field} is given.")
    if len(references) > 3:
        raise invalid("At most 3 referenceImages are supported.")
    if "lastFrame" in instance and "image" not in instance:
        raise invalid("lastFrame requires image.")
    kinds = ("asset", "style") if vertex else ("asset",)  # STYLE is Vertex AI's only
    for ref in references:
        if str(ref.get("referenceType", "asset")).lower() not in kinds:
            raise invalid(f"referenceType must be {' or '.join(kinds)}.")
        _check_image(ref.get("image"), "referenceImages.image", vertex)
    if "image" in instance:
        _check_image(instance["image"], "image", vertex)
    if "lastFrame" in instance:
        _check_image(instance["lastFrame"], "lastFrame", vertex)
    if "video" in instance and resolution is not Resolution.P720:
        raise invalid("Video extension is only supported at 720p.")
    source_file, source_video = (
        _source(instance["video"], vertex) if "video" in instance else (None, None)
    )

    prompt = instance.get("prompt", "")
    if not isinstance(prompt, str) or (not prompt.strip() and "image" not in instance):
        raise invalid("prompt is required.")
    seed = params.get("seed")
    sample_count, storage_uri = _vertex_parameters(params) if vertex else (1, None)
    width, height = dimensions(resolution, aspect)
    return RenderRequest(
        prompt=prompt,
        seconds=seconds,
        width=width,
        height=height,
        seed=seed if isinstance(seed, int) else None,
        has_image="image" in instance,
        sample_count=sample_count,
        storage_uri=storage_uri,
        source_file=source_file,
        source_video=source_video,
        has_references=bool(references),
    )


def _source(video: Any, vertex: bool) -> tuple[str | None, bytes | None]:
    """The video to extend: on the Gemini API the URI of one of its files (a Veo video),
    on Vertex AI the MP4's bytes (the simulator cannot read Cloud Storage)."""
    if not isinstance(video, dict):
        raise invalid("video must be an object.")
    if not vertex:
        match = _FILE_URI.search(str(video.get("uri") or ""))
        if not match:
            raise invalid("video.uri must be the URI of a video generated by Veo.")
        return match.group(1), None
    if "gcsUri" in video:
        raise invalid("video.gcsUri: this simulator takes the video as bytesBase64Encoded.")
    if video.get("mimeType") != "video/mp4":
        raise invalid("video.mimeType must be video/mp4.")
    try:
        data = base64.b64decode(str(video.get("bytesBase64Encoded") or ""), validate=True)
    except (binascii.Error, ValueError):
        raise invalid("video.bytesBase64Encoded is not valid base64.") from None
    if not data:
        raise invalid("video.bytesBase64Encoded is required.")
    return None, data


def _vertex_parameters(params: dict[str, Any]) -> tuple[int, str | None]:
    count = params.get("sampleCount", 1)
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= 4:
        raise invalid("sampleCount must be between 1 and 4, inclusive.")
    seed = params.get("seed")
    if seed is not None and (
        isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= 4294967295
    ):
        raise invalid("seed must be an integer between 0 and 4294967295.")
    audio = params.get("generateAudio")
    if audio is not None and not isinstance(audio, bool):
        raise invalid("generateAudio must be a boolean.")
    person = params.get("personGeneration")
    if person is not None and person not in PERSON_GENERATION:
        raise invalid("personGeneration must be one of dont_allow, allow_adult or allow_all.")
    negative = params.get("negativePrompt")
    if negative is not None and not isinstance(negative, str):
        raise invalid("negativePrompt must be a string.")
    storage_uri = params.get("storageUri")
    if storage_uri is None:
        return count, None
    if (
        not isinstance(storage_uri, str)
        or not storage_uri.startswith("gs://")
        or not storage_uri[5:].split("/", 1)[0]
    ):
        raise invalid("storageUri must be a Cloud Storage URI: gs://bucket/prefix/.")
    return count, storage_uri


def _check_image(image: Any, field: str, vertex: bool) -> None:
    if not isinstance(image, dict):
        raise invalid(f"{field} must be an object.")
    if "inlineData" in image:
        raise invalid("`inlineData` isn't supported by this model.")
    if "gcsUri" in image:
        if not vertex:
            raise invalid(f"{field}.gcsUri is not supported by the Gemini API.")
        if not str(image["gcsUri"]).startswith("gs://"):
            raise invalid(f"{field}.gcsUri must start with gs://.")
        if image.get("mimeType") not in ("image/png", "image/jpeg", "image/webp"):
            raise invalid(f"{field}.mimeType must be image/png, image/jpeg or image/webp.")
        return
    data = image.get("bytesBase64Encoded")
    if not isinstance(data, str) or not data:
        raise invalid(f"{field}.bytesBase64Encoded is required.")
    try:
        base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise invalid(f"{field}.bytesBase64Encoded is not valid base64.") from None
    if image.get("mimeType") not in ("image/png", "image/jpeg", "image/webp"):
        raise invalid(f"{field}.mimeType must be image/png, image/jpeg or image/webp.")
