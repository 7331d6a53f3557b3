"""One contract, every backend: the filesystem and a real S3-compatible server (moto)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import TEST_PART_SIZE
from tests.s3 import ACCESS_KEY_ID, REGION, SECRET_ACCESS_KEY, new_bucket, s3_client
from veorelay.core.ranges import ByteRange
from veorelay.storage.base import (
    OpenedVideo,
    RangeNotSatisfiable,
    RedirectedVideo,
    StoredVideo,
    StreamedVideo,
    VideoStorage,
)
from veorelay.storage.s3 import S3Storage

KEY = "videos/ab/video_ab01-1a2b3c4d.mp4"


def spool_file(storage: VideoStorage, data: bytes, name: str = "upload.part") -> Path:
    path = storage.spool_dir() / name
    path.write_bytes(data)
    return path


async def read_all(video: StoredVideo | None) -> bytes:
    assert video is not None
    if isinstance(video, OpenedVideo):
        try:
            return video.file.read()
        finally:
            video.close()
    assert isinstance(video, StreamedVideo)
    assert video.chunks is not None
    try:
        return b"".join([chunk async for chunk in video.chunks])
    finally:
        await video.close()


async def test_a_stored_file_reads_back_whole_and_is_listed(storage: VideoStorage) -> None:
    data = os.urandom(300_000)
    before = time.time() - 5
    assert await storage.put_file(KEY, spool_file(storage, data)) == len(data)
    assert await storage.size(KEY) == len(data)
    assert await read_all(await storage.open(KEY)) == data
    (listed,) = [stored async for stored in storage.objects()]
    assert (listed.key, listed.size) == (KEY, len(data))
    assert before < listed.modified_at < time.time() + 5


async def test_a_file_of_several_parts_round_trips(storage: VideoStorage) -> None:
    data = os.urandom(2 * TEST_PART_SIZE + 12_345)
    assert await storage.put_file(KEY, spool_file(storage, data)) == len(data)
    assert await read_all(await storage.open(KEY)) == data
    if isinstance(storage, S3Storage):  # a multipart object's ETag counts its parts
        head = s3_client(storage.client.meta.endpoint_url).head_object(
            Bucket=storage.bucket, Key=storage.prefix + KEY
        )
        assert head["ETag"].strip('"').endswith("-3")


async def test_a_missing_key_is_not_stored(storage: VideoStorage) -> None:
    assert await storage.size(KEY) is None
    assert await storage.open(KEY) is None
    await storage.delete(KEY)  # deleting nothing is fine


async def test_delete_removes_that_key_and_nothing_else(storage: VideoStorage) -> None:
    other = "videos/ab/video_ab02-5e6f7a8b.mp4"
    for key in (KEY, other):
        await storage.put_file(key, spool_file(storage, key.encode()))
    await storage.delete(KEY)
    assert [stored.key async for stored in storage.objects()] == [other]
    assert await read_all(await storage.open(other)) == other.encode()


async def test_a_video_opened_before_its_delete_reads_to_the_end(
    storage: VideoStorage,
) -> None:
    data = os.urandom(3 * 1024 * 1024)
    await storage.put_file(KEY, spool_file(storage, data))
    opened = await storage.open(KEY)
    await storage.delete(KEY)
    assert await read_all(opened) == data
    assert await storage.open(KEY) is None


async def test_objects_lists_only_the_prefix_asked_for(storage: VideoStorage) -> None:
    for key in (KEY, "videos/cd/video_cd01-00000000.mp4", "other/x.bin"):
        await storage.put_file(key, spool_file(storage, b"x"))
    assert sorted([s.key async for s in storage.objects("videos/ab/")]) == [KEY]
    assert len([s async for s in storage.objects()]) == 2  # videos/ only by default


async def test_check_passes_when_the_store_is_writable(storage: VideoStorage) -> None:
    await storage.check()


async def test_check_fails_for_a_missing_bucket(s3_server: str, tmp_path: Path) -> None:
    storage = await S3Storage.connect(
        "no-such-bucket",
        spool=tmp_path,
        endpoint_url=s3_server,
        region=REGION,
        access_key_id=ACCESS_KEY_ID,
        secret_access_key=SECRET_ACCESS_KEY,
    )
    try:
        with pytest.raises(Exception, match=r"404|NoSuchBucket|Not Found"):
            await storage.check()
    finally:
        await storage.aclose()


@pytest.mark.parametrize("storage", ["s3"], indirect=True)  # files: ranges are the response's
@pytest.mark.parametrize(
    ("asked", "span"),
    [
        (ByteRange(10, 99), (10, 99)),
        (ByteRange(None, 16), (984, 999)),
        (ByteRange(990, None), (990, 999)),
    ],
)
async def test_s3_passes_a_range_through(
    storage: VideoStorage, asked: ByteRange, span: tuple[int, int]
) -> None:
    data = os.urandom(1000)
    await storage.put_file(KEY, spool_file(storage, data))
    video = await storage.open(KEY, asked)
    assert isinstance(video, StreamedVideo)
    assert (video.first, video.last, video.size, video.partial) == (*span, 1000, True)
    assert await read_all(video) == data[span[0] : span[1] + 1]
    with pytest.raises(RangeNotSatisfiable):
        await storage.open(KEY, ByteRange(1000, None))


async def test_s3_in_redirect_mode_presigns_unless_told_to_stream(
    s3_server: str, tmp_path: Path
) -> None:
    storage = await S3Storage.connect(
        new_bucket(s3_server),
        spool=tmp_path,
        endpoint_url=s3_server,
        region=REGION,
        access_key_id=ACCESS_KEY_ID,
        secret_access_key=SECRET_ACCESS_KEY,
        redirect_seconds=60,
    )
    try:
        data = os.urandom(1000)
        await storage.put_file(KEY, spool_file(storage, data))
        redirected = await storage.open(KEY, filename="video_ab01.mp4")
        assert isinstance(redirected, RedirectedVideo)
        async with httpx.AsyncClient() as http:
            answer = await http.get(redirected.url)
        assert (answer.status_code, answer.content) == (200, data)
        assert answer.headers["content-disposition"] == 'attachment; filename="video_ab01.mp4"'
        assert await read_all(await storage.open(KEY, redirect=False)) == data
        assert await storage.open("videos/ab/none.mp4") is None
    finally:
        await storage.aclose()
