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


@dataclass(frozen=True)
class ImageInput:
    data: bytes
    mime_type: str


@dataclass(frozen=True)
class VideoSpec:
    """A validated, normalized request: what we will ask upstream for, and bill for."""

    model: str
    prompt: str
    seconds: int
    resolution: Resolution
    aspect_ratio: AspectRatio
    negative_prompt: str | None = None
    seed: int | None = None
    image: ImageInput | None = None

    @property
    def width(self) -> int:
        return dimensions(self.resolution, self.aspect_ratio)[0]

    @property
    def height(self) -> int:
        return dimensions(self.resolution, self.aspect_ratio)[1]

    @property
    def size(self) -> str:
        return f"{self.width}x{self.height}"
