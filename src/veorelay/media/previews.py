"""A video's previews, made with PyAV when first asked for (storage/variants.py): a thumbnail
(its first meaningful frame, WebP) and a spritesheet (a grid of frames at even intervals, JPEG).

One decoding pass makes both, so a preview costs about one decode of the video.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from veorelay.media.probe import NotAVideo

if TYPE_CHECKING:  # imported on first use (see probe.py)
    import av
    from PIL import Image

THUMBNAIL_MAX_EDGE = 1280  # a 720p video's own size; larger videos are scaled down
SPRITE_COLUMNS = 4
SPRITE_ROWS = 4
SPRITE_TILE_EDGE = 240  # the long edge of one tile: 240x135 landscape, 135x240 portrait
SCAN_SECONDS = 2.0  # the thumbnail is looked for in the first seconds only
# A frame is meaningful when it is not a flat fill (black, white, one colour): the luma of a
# small copy varies by at least this much (0-255 scale) and is neither almost black nor white.
MIN_LUMA_SPREAD = 8.0
LUMA_RANGE = (12.0, 243.0)
WEBP_QUALITY = 80
JPEG_QUALITY = 80


@dataclass(frozen=True)
class PreviewFiles:
    thumbnail: Path
    spritesheet: Path


def fitted(width: int, height: int, max_edge: int) -> tuple[int, int]:
    """(width, height) scaled so the long edge is at most `max_edge`."""
    scale = min(1.0, max_edge / max(width, height))
    return max(1, round(width * scale)), max(1, round(height * scale))


def make_previews(video: Path, out: PreviewFiles) -> None:
    """Write the thumbnail and the spritesheet of `video`; NotAVideo if it cannot be read."""
    import av

    try:
        thumbnail, tiles = _pick_frames(video)
    except av.FFmpegError as exc:
        raise NotAVideo(f"unreadable video: {exc}") from None
    thumbnail.save(out.thumbnail, "WEBP", quality=WEBP_QUALITY)
    _spritesheet(tiles).save(out.spritesheet, "JPEG", quality=JPEG_QUALITY)


def _pick_frames(video: Path) -> tuple[Image.Image, list[Image.Image]]:
    import av

    with av.open(str(video)) as container:
        if not container.streams.video:
            raise NotAVideo("the file has no video stream")
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        width, height = stream.codec_context.width, stream.codec_context.height
        duration = _duration(container, stream)
        count = SPRITE_COLUMNS * SPRITE_ROWS
        targets = [(i + 0.5) * duration / count for i in range(count)]
        tile_size = fitted(width, height, SPRITE_TILE_EDGE)
        thumb_size = fitted(width, height, THUMBNAIL_MAX_EDGE)
        thumbnail: Image.Image | None = None
        best: tuple[float, Image.Image] | None = None  # the liveliest frame scanned, as a fallback
        tiles: list[Image.Image] = []
        last = None
        for frame in container.decode(stream):
            last = frame
            time = float(frame.time or 0.0)
            if thumbnail is None and time <= SCAN_SECONDS:
                spread, meaningful = _liveliness(frame)
                if meaningful:
                    thumbnail = _image(frame, thumb_size)
                elif best is None or spread > best[0]:
                    best = (spread, _image(frame, thumb_size))
            while len(tiles) < count and time >= targets[len(tiles)]:
                tiles.append(_image(frame, tile_size))
            if len(tiles) == count and (thumbnail is not None or time > SCAN_SECONDS):
                break
        if last is None:
            raise NotAVideo("the video has no frames")
        while len(tiles) < count:  # a video shorter than its header says: repeat its end
            tiles.append(_image(last, tile_size))
        if thumbnail is None:
            assert best is not None
            thumbnail = best[1]
        return thumbnail, tiles


def _duration(container: av.container.InputContainer, stream: av.video.stream.VideoStream) -> float:
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return float(container.duration) / 1_000_000
    raise NotAVideo("the file has no duration")


def _liveliness(frame: av.VideoFrame) -> tuple[float, bool]:
    import numpy as np

    luma = frame.reformat(width=64, height=36, format="gray").to_ndarray().astype(np.float32)
    spread, mean = float(luma.std()), float(luma.mean())
    return spread, spread >= MIN_LUMA_SPREAD and LUMA_RANGE[0] < mean < LUMA_RANGE[1]


def _image(frame: av.VideoFrame, size: tuple[int, int]) -> Image.Image:
    picture: Image.Image = frame.to_image(width=size[0], height=size[1])  # type: ignore[no-untyped-call]
    return picture


def _spritesheet(tiles: list[Image.Image]) -> Image.Image:
    from PIL import Image

    width, height = tiles[0].size
    sheet = Image.new("RGB", (width * SPRITE_COLUMNS, height * SPRITE_ROWS))
    for index, tile in enumerate(tiles):
        row, column = divmod(index, SPRITE_COLUMNS)
        sheet.paste(tile, (column * width, row * height))
    return sheet
