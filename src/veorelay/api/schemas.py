"""Response shapes, for the OpenAPI document and for readers of the code."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field


class VideoError(BaseModel):
    code: str
    message: str


class Video(BaseModel):
    """The OpenAI Video object, plus veorelay's normalized request fields."""

    id: str
    task_id: str
    object: Literal["video"] = "video"
    model: str
    status: Literal["queued", "in_progress", "completed", "failed"]
    progress: int
    created_at: int
    completed_at: int | None
    expires_at: int | None
    seconds: str
    size: str
    resolution: str
    aspect_ratio: str
    prompt: str
    negative_prompt: str | None = None
    seed: int | None = None
    remixed_from_video_id: None = None
    error: VideoError | None
    status_detail: str | None = Field(
        None,
        description="While queued: why it has not started yet, e.g. waiting for upstream "
        "capacity (every channel busy or answering 429).",
    )


class VideoList(BaseModel):
    object: Literal["list"] = "list"
    data: list[Video]
    first_id: str | None
    last_id: str | None
    has_more: bool


class VideoDeleted(BaseModel):
    id: str
    object: Literal["video.deleted"] = "video.deleted"
    deleted: Literal[True] = True


class CompatMetadata(BaseModel):
    duration: int
    width: int
    height: int
    fps: int
    seed: int | None


class CompatStatusData(BaseModel):
    task_id: str
    status: Literal["queued", "processing", "succeeded", "failed"]
    url: str | None
    format: Literal["mp4"] = "mp4"
    metadata: CompatMetadata
    error: VideoError | None


class CompatStatus(CompatStatusData):
    """new-api's status object: the fields at the top level and, for clients that unwrap
    `data`, once more under `data` (with `code: "success"`)."""

    code: Literal["success"] = "success"
    data: CompatStatusData


class ErrorDetail(BaseModel):
    message: str
    type: str
    param: str | None
    code: str | None


class ErrorBody(BaseModel):
    error: ErrorDetail


def _create_fields(image: dict[str, Any], *, nullable: bool) -> dict[str, Any]:
    """The create body's fields. An empty value (or JSON null) means "not set"."""

    def choice(*values: str, description: str = "") -> dict[str, Any]:
        return {"type": "string", "enum": ["", *values], "description": description}

    seconds = {
        "anyOf": [choice("4", "6", "8"), {"type": "integer", "enum": [4, 6, 8]}],
    }
    properties: dict[str, Any] = {
        "model": {"type": "string", "examples": ["veo-3.1-fast-generate-preview"]},
        "prompt": {"type": "string", "minLength": 1, "maxLength": 4000},
        "seconds": {**seconds, "description": "Duration; default 8."},
        "duration": {**seconds, "description": "Duration; wins over seconds."},
        "size": choice(
            "1280x720",
            "720x1280",
            "1920x1080",
            "1080x1920",
            "3840x2160",
            "2160x3840",
            description="Default 1280x720.",
        ),
        "resolution": choice("720p", "1080p", "4k", description="Wins over size."),
        "aspectRatio": choice("16:9", "9:16", description="Wins over size."),
        "metadata": {
            "description": "durationSeconds, resolution, aspectRatio; win over the fields "
            "above. A JSON object, or a JSON string of one.",
            "anyOf": [{"type": "object"}, {"type": "string"}],
        },
        "negativePrompt": {"type": "string", "maxLength": 2000},
        "seed": {
            "anyOf": [
                {"type": "string", "pattern": "^[0-9]*$"},
                {"type": "integer", "minimum": 0, "maximum": 4294967295},
            ]
        },
        "input_reference": image,
    }
    if nullable:
        properties = {
            name: schema if name in ("model", "prompt") else {"anyOf": [schema, {"type": "null"}]}
            for name, schema in properties.items()
        }
    return {"type": "object", "required": ["model", "prompt"], "properties": properties}


# The create handler reads JSON and multipart itself (see api/body.py), so the OpenAPI
# document gets its request body from here.
CREATE_VIDEO_OPENAPI: dict[str, Any] = {
    "parameters": [
        {
            "name": "Idempotency-Key",
            "in": "header",
            "required": False,
            "description": "Repeat the create safely: the same key with the same request within "
            "24 hours answers the first request's video (header Idempotent-Replayed: true) and "
            "charges once; with a different request it is a 409.",
            "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[ -~]+$"},
        }
    ],
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": _create_fields(
                    {
                        "description": "One image as base64 or a data: URL, or "
                        '{"image_url": "data:..."}.',
                        "anyOf": [
                            {"type": "string"},
                            {"type": "object", "properties": {"image_url": {"type": "string"}}},
                        ],
                    },
                    nullable=True,
                )
            },
            "multipart/form-data": {
                "schema": _create_fields(
                    {
                        "description": "One PNG, JPEG or WebP file of up to 20 MB.",
                        "type": "string",
                        "format": "binary",
                    },
                    nullable=False,
                )
            },
        },
    },
}


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for the error statuses an operation can answer, all in the one shape."""
    return {code: {"model": ErrorBody} for code in codes}
