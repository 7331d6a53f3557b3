"""Response shapes, for the OpenAPI document and for readers of the code."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel


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
