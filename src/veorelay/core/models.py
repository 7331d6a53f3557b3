"""The vocabulary of a video request: resolutions, aspect ratios, sizes, models, VideoSpec."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Resolution(StrEnum):
    P720 = "720p"
    P1080 = "1080p"
    K4 = "4k"


class AspectRatio(StrEnum):
    LANDSCAPE = "16:9"
    PORTRAIT = "9:16"


FPS = 24  # Veo renders 24 frames per second
DURATIONS: tuple[int, ...] = (4, 6, 8)
# 1080p and 4k render only at 8 seconds (both spec documents, and Google's docs).
LONG_ONLY_RESOLUTIONS: frozenset[Resolution] = frozenset({Resolution.P1080, Resolution.K4})

_LANDSCAPE_PIXELS: dict[Resolution, tuple[int, int]] = {
    Resolution.P720: (1280, 720),
    Resolution.P1080: (1920, 1080),
    Resolution.K4: (3840, 2160),
}


def dimensions(resolution: Resolution, aspect_ratio: AspectRatio) -> tuple[int, int]:
    """(width, height) in pixels of a video with this resolution and aspect ratio."""
    width, height = _LANDSCAPE_PIXELS[resolution]
    return (width, height) if aspect_ratio is AspectRatio.LANDSCAPE else (height, width)


SIZES: dict[str, tuple[Resolution, AspectRatio]] = {
    f"{w}x{h}": (resolution, aspect)
    for resolution in Resolution
    for aspect in AspectRatio
    for (w, h) in [dimensions(resolution, aspect)]
}


@dataclass(frozen=True)
class ModelInfo:
    name: str
    price_micros: int
    description: str


DEFAULT_MODELS: dict[str, ModelInfo] = {
    m.name: m
    for m in (
        ModelInfo("veo-3.1-fast-generate-preview", 300_000, "Veo 3.1 Fast"),
        ModelInfo("veo-3.1-generate-preview", 1_200_000, "Veo 3.1"),
    )
}


class ExtraInput(StrEnum):
    """Veo's inputs beyond one first frame, each off unless an operator enables it per model
    (the spec documents refuse them): asset reference images, a last frame (interpolation
    between the first and the last frame), and extending an earlier video."""

    REFERENCE_IMAGES = "reference_images"
    LAST_FRAME = "last_frame"
    EXTENSION = "extension"


MAX_REFERENCE_IMAGES = 3
EXTENSION_SECONDS = 7  # what an extension adds to its source, whatever durationSeconds says
MAX_EXTENSION_SOURCE_SECONDS = 30  # Vertex AI's limit (the Gemini API's was 141)


@dataclass(frozen=True)
class ImageInput:
    data: bytes
    mime_type: str


@dataclass(frozen=True)
class SourceVideo:
    """The earlier video an extension continues: one of the account's own completed videos.
    `uri` (Google's file, for the Gemini API) and `data` (the MP4, for Vertex AI) are filled
    in only when the task is submitted."""

    id: str
    seconds: int = 0
    uri: str | None = None
    data: bytes | None = None


@dataclass(frozen=True)
class VideoSpec:
    """A validated, normalized request: what we will ask upstream for, and bill for.

    `seconds` is the durationSeconds sent to Google; an extension's video lasts its source's
    length plus EXTENSION_SECONDS (`output_seconds`)."""

    model: str
    prompt: str
    seconds: int
    resolution: Resolution
    aspect_ratio: AspectRatio
    negative_prompt: str | None = None
    seed: int | None = None
    image: ImageInput | None = None
    last_frame: ImageInput | None = None
    reference_images: tuple[ImageInput, ...] = ()
    video: SourceVideo | None = None

    @property
    def extra_inputs(self) -> frozenset[ExtraInput]:
        """Which of Veo's extra inputs this request uses."""
        used = {
            ExtraInput.REFERENCE_IMAGES: bool(self.reference_images),
            ExtraInput.LAST_FRAME: self.last_frame is not None,
            ExtraInput.EXTENSION: self.video is not None,
        }
        return frozenset(kind for kind, yes in used.items() if yes)

    @property
    def output_seconds(self) -> int:
        if self.video is not None:
            return self.video.seconds + EXTENSION_SECONDS
        return self.seconds

    @property
    def width(self) -> int:
        return dimensions(self.resolution, self.aspect_ratio)[0]

    @property
    def height(self) -> int:
        return dimensions(self.resolution, self.aspect_ratio)[1]

    @property
    def size(self) -> str:
        return f"{self.width}x{self.height}"
