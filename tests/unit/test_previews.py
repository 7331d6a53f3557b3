"""Previews are made from real MP4s with PyAV: the thumbnail skips a fade-in from black, the
spritesheet is a grid of frames in time order, and a broken file is refused. They are stored
beside their video through the storage Protocol, made once however many ask at the same time,
and deleted with it."""

from __future__ import annotations

import asyncio
import shutil
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from veorelay.core.models import FPS
from veorelay.core.variants import Variant, stored_key
from veorelay.media.previews import (
    SPRITE_COLUMNS,
    SPRITE_ROWS,
    PreviewFiles,
    fitted,
    make_previews,
)
from veorelay.media.probe import NotAVideo
from veorelay.storage.filesystem import FilesystemStorage
from veorelay.storage.variants import PreviewMaker, delete_with_previews, store_previews


def write_mp4(path: Path, width: int, height: int, seconds: int, black_frames: int) -> None:
    """`black_frames` of black, then frames whose brightness encodes their index (a column
    per frame index lit white), so a picture shows when in the video it was taken."""
    with av.open(str(path), mode="w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"preset": "ultrafast"}
        total = seconds * FPS
        ramp = np.linspace(40, 200, height, dtype=np.uint8)[:, None]
        for index in range(total):
            rgb = np.zeros((height, width, 3), dtype=np.uint8)
            if index >= black_frames:
                rgb[...] = np.broadcast_to(ramp, (height, width))[..., None]
                column = int((width - 8) * index / (total - 1))
                rgb[:, column : column + 8] = 255
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            frame.pts = index
            frame.time_base = Fraction(1, FPS)
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))


def bright_column(picture: Image.Image) -> int:
    """Where the white bar is: the x of the brightest column."""
    luma = np.asarray(picture.convert("L"), dtype=np.float32)
    return int(luma.mean(axis=0).argmax())


@pytest.fixture(scope="module")
def fading_in(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("previews") / "fade.mp4"
    write_mp4(path, 320, 180, 4, black_frames=12)
    return path


def test_thumbnail_is_the_first_frame_after_a_black_fade_in(
    fading_in: Path, tmp_path: Path
) -> None:
    out = PreviewFiles(tmp_path / "t.webp", tmp_path / "s.jpg")
    make_previews(fading_in, out)
    with Image.open(out.thumbnail) as thumbnail:
        assert (thumbnail.format, thumbnail.size) == ("WEBP", (320, 180))
        luma = np.asarray(thumbnail.convert("L"), dtype=np.float32)
        assert luma.mean() > 60  # not the black opening
        # Frame 12 of 96 has its bar about an eighth of the way across.
        assert bright_column(thumbnail) == pytest.approx((320 - 8) * 12 / 95, abs=6)


def test_spritesheet_is_a_grid_of_frames_in_time_order(fading_in: Path, tmp_path: Path) -> None:
    out = PreviewFiles(tmp_path / "t.webp", tmp_path / "s.jpg")
    make_previews(fading_in, out)
    tile_width, tile_height = fitted(320, 180, 240)
    with Image.open(out.spritesheet) as sheet:
        assert sheet.format == "JPEG"
        assert sheet.size == (tile_width * SPRITE_COLUMNS, tile_height * SPRITE_ROWS)
        tiles = [
            sheet.crop(
                (c * tile_width, r * tile_height, (c + 1) * tile_width, (r + 1) * tile_height)
            )
            for r in range(SPRITE_ROWS)
            for c in range(SPRITE_COLUMNS)
        ]
        bars = [bright_column(tile) for tile in tiles[2:]]  # the first two: the black fade-in
    assert bars == sorted(bars)
    assert bars[-1] - bars[0] > tile_width // 2


def test_previews_keep_a_portrait_videos_shape(tmp_path: Path) -> None:
    video = tmp_path / "tall.mp4"
    write_mp4(video, 432, 768, 1, black_frames=0)  # the 9:16 shape, small enough to be quick
    out = PreviewFiles(tmp_path / "t.webp", tmp_path / "s.jpg")
    make_previews(video, out)
    assert fitted(2160, 3840, 1280) == (720, 1280)
    with Image.open(out.thumbnail) as thumbnail, Image.open(out.spritesheet) as sheet:
        assert thumbnail.size == (432, 768)
        assert sheet.size == (fitted(432, 768, 240)[0] * SPRITE_COLUMNS, 240 * SPRITE_ROWS)


def test_a_file_that_is_not_a_video_is_refused(tmp_path: Path) -> None:
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"\x17" * 4000)
    with pytest.raises(NotAVideo):
        make_previews(junk, PreviewFiles(tmp_path / "t.webp", tmp_path / "s.jpg"))


async def test_previews_are_stored_beside_the_video_and_deleted_with_it(
    fading_in: Path, tmp_path: Path
) -> None:
    storage = FilesystemStorage(tmp_path / "store")
    spool = storage.spool_dir() / "video.part"
    shutil.copy(fading_in, spool)
    key = "videos/ab/video_ab-12345678.mp4"
    assert await store_previews(storage, key, spool)
    await storage.put_file(key, spool)
    for variant in Variant:
        opened = await storage.open(stored_key(key, variant))
        assert opened is not None
        opened.close()
    assert list(storage.spool_dir().iterdir()) == []  # no scratch files left behind
    await delete_with_previews(storage, key)
    assert [p for p in (tmp_path / "store").rglob("*") if p.is_file()] == []


async def test_a_video_whose_previews_cannot_be_made_stores_none(tmp_path: Path) -> None:
    storage = FilesystemStorage(tmp_path / "store")
    junk = storage.spool_dir() / "junk.part"
    junk.write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"\x17" * 4000)
    assert not await store_previews(storage, "videos/ab/video_ab-12345678.mp4", junk)
    assert [p for p in (tmp_path / "store").rglob("*") if p.is_file()] == [junk]


class CountingStorage(FilesystemStorage):
    """The real filesystem backend, counting what is stored."""

    stored: list[str]

    async def put_file(self, key: str, source: Path) -> int:
        self.stored.append(key)
        return await super().put_file(key, source)


async def test_previews_asked_for_at_once_are_made_once(fading_in: Path, tmp_path: Path) -> None:
    storage = CountingStorage(tmp_path / "store")
    storage.stored = []
    key = "videos/ab/video_ab-12345678.mp4"
    shutil.copy(fading_in, storage.spool_dir() / "video.part")
    await storage.put_file(key, storage.spool_dir() / "video.part")
    maker = PreviewMaker(storage)
    assert await asyncio.gather(*(maker.ensure(key) for _ in range(8))) == [True] * 8
    assert await maker.ensure(key)  # already stored: nothing more is made
    assert sorted(storage.stored) == sorted(
        [key, stored_key(key, Variant.THUMBNAIL), stored_key(key, Variant.SPRITESHEET)]
    )
    assert list(storage.spool_dir().iterdir()) == []  # no scratch files left behind


async def test_previews_of_a_missing_or_broken_video_are_refused(tmp_path: Path) -> None:
    storage = FilesystemStorage(tmp_path / "store")
    maker = PreviewMaker(storage)
    assert not await maker.ensure("videos/ab/video_ab-12345678.mp4")  # not stored
    junk = storage.spool_dir() / "junk.part"
    junk.write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"\x17" * 4000)
    await storage.put_file("videos/cd/video_cd-12345678.mp4", junk)
    assert not await maker.ensure("videos/cd/video_cd-12345678.mp4")
    stored = [p.name for p in (tmp_path / "store").rglob("*") if p.is_file()]
    assert stored == ["video_cd-12345678.mp4"]
