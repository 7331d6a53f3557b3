"""The gateway with S3 storage (moto's server on loopback), end to end: the openai SDK
downloads a video stored in the bucket, Range and HEAD pass through, the presigned redirect
works, an expired video answers 404 `video_expired` and leaves the bucket."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import Gateway, gateway_env, running_gateway
from tests.e2e.test_openai_sdk import check_mp4
from tests.s3 import SECRET_ACCESS_KEY, new_bucket, object_keys, s3_client, s3_env

FAST = "veo-3.1-fast-generate-preview"
PREFIX = "tenant-1/"


@pytest.fixture(scope="module")
def bucket(s3_server: str) -> str:
    return new_bucket(s3_server)


def s3_gateway(
    tmp_path_factory: pytest.TempPathFactory, s3_server: str, bucket: str, **extra: str
) -> Iterator[Gateway]:
    data_dir = tmp_path_factory.mktemp("s3-gateway") / "data"
    env = {**gateway_env(data_dir, simulator_url=None), **s3_env(s3_server, bucket, PREFIX)}
    with running_gateway("sqlite", data_dir, {**env, **extra}) as gw:
        yield gw
        assert SECRET_ACCESS_KEY not in gw.process.log()


@pytest.fixture(scope="module")
def gateway(
    tmp_path_factory: pytest.TempPathFactory, s3_server: str, bucket: str
) -> Iterator[Gateway]:
    yield from s3_gateway(tmp_path_factory, s3_server, bucket)


@pytest.fixture(scope="module")
def redirecting(tmp_path_factory: pytest.TempPathFactory, s3_server: str) -> Iterator[Gateway]:
    # A bucket of its own: a deployment's reconciler removes every key its database does not
    # know, so two deployments never share a bucket and prefix.
    yield from s3_gateway(
        tmp_path_factory,
        s3_server,
        new_bucket(s3_server),
        VEORELAY_S3_PRESIGNED_REDIRECT_SECONDS="60",
    )


def completed(gateway: Gateway, token: str, seconds: str = "4", count: int = 1) -> list[str]:
    """`count` videos, rendered at once."""
    client = gateway.client(token)
    ids = [
        client.videos.create(model=FAST, prompt="A harbour in the fog", seconds=seconds).id
        for _ in range(count)
    ]
    for video_id in ids:
        video = client.videos.poll(video_id, poll_interval_ms=50)
        assert video.status == "completed", video.error
    return ids


def stored_key(gateway: Gateway, video_id: str) -> str:
    ((key,),) = gateway.query("SELECT storage_key FROM tasks WHERE id = ?", video_id)
    assert isinstance(key, str)
    return key


def test_the_openai_sdk_downloads_a_video_stored_in_s3(
    gateway: Gateway, s3_server: str, bucket: str, tmp_path: Path
) -> None:
    token = gateway.token()[0]
    client = gateway.client(token)
    (video_id,) = completed(gateway, token, seconds="6")
    video = client.videos.retrieve(video_id)
    assert video.completed_at is not None
    assert video.expires_at == pytest.approx(video.completed_at + 7 * 24 * 3600, abs=1)
    client.videos.download_content(video_id).write_to_file(tmp_path / "out.mp4")
    check_mp4(tmp_path / "out.mp4", 1280, 720, 6)
    key = PREFIX + stored_key(gateway, video_id)
    stem = key.removesuffix(".mp4")
    assert [k for k in object_keys(s3_server, bucket) if k.startswith(stem)] == [key]
    thumbnail = httpx.get(  # made now, from the video streamed back from the bucket
        f"{gateway.url}/v1/videos/{video_id}/content?variant=thumbnail",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert (thumbnail.status_code, thumbnail.headers["content-type"]) == (200, "image/webp")
    assert thumbnail.content[8:12] == b"WEBP"
    assert {f"{stem}-thumbnail.webp", f"{stem}-spritesheet.jpg"} <= set(
        object_keys(s3_server, bucket)
    )
    assert not list((gateway.data_dir / "videos").rglob("*.mp4"))  # nothing kept locally
    assert not list((gateway.data_dir / "spool").iterdir())
    ready = httpx.get(f"{gateway.url}/readyz")
    assert (ready.status_code, ready.json()["checks"]["storage"]) == (200, "ok")


def test_ranges_and_head_pass_through_to_s3(gateway: Gateway) -> None:
    token = gateway.token()[0]
    (video_id,) = completed(gateway, token)
    url = f"{gateway.url}/v1/videos/{video_id}/content"
    auth = {"Authorization": f"Bearer {token}"}
    whole = httpx.get(url, headers=auth)
    assert whole.status_code == 200
    assert whole.headers["accept-ranges"] == "bytes"
    assert whole.headers["content-type"] == "video/mp4"
    size = len(whole.content)
    assert whole.content[4:8] == b"ftyp"
    assert int(whole.headers["content-length"]) == size
    part = httpx.get(url, headers={**auth, "Range": "bytes=10-99"})
    assert part.status_code == 206
    assert part.headers["content-range"] == f"bytes 10-99/{size}"
    assert part.content == whole.content[10:100]
    tail = httpx.get(url, headers={**auth, "Range": "bytes=-16"})
    assert (tail.status_code, tail.content) == (206, whole.content[-16:])
    beyond = httpx.get(url, headers={**auth, "Range": f"bytes={size}-"})
    assert (beyond.status_code, beyond.headers["content-range"]) == (416, f"bytes */{size}")
    several = httpx.get(url, headers={**auth, "Range": "bytes=0-1,5-6"})  # one range only
    assert (several.status_code, several.content) == (200, whole.content)
    head = httpx.head(url, headers=auth)
    assert (head.status_code, head.headers["content-length"], head.content) == (200, str(size), b"")


def test_a_deleted_video_leaves_the_bucket(gateway: Gateway, s3_server: str, bucket: str) -> None:
    token = gateway.token()[0]
    (video_id,) = completed(gateway, token)
    key = PREFIX + stored_key(gateway, video_id)
    assert key in object_keys(s3_server, bucket)
    auth = {"Authorization": f"Bearer {token}"}
    sheet = httpx.get(
        f"{gateway.url}/v1/videos/{video_id}/content?variant=spritesheet", headers=auth
    )
    assert sheet.status_code == 200  # the previews now stored beside it
    assert httpx.delete(f"{gateway.url}/v1/videos/{video_id}", headers=auth).status_code == 200
    stem = key.removesuffix(".mp4")
    assert not [k for k in object_keys(s3_server, bucket) if k.startswith(stem)]  # previews too
    ((prompt,),) = gateway.query("SELECT prompt FROM tasks WHERE id = ?", video_id)
    assert prompt == ""


def test_an_expired_video_is_404_video_expired_and_swept(
    gateway: Gateway, s3_server: str, bucket: str
) -> None:
    token = gateway.token()[0]
    (video_id,) = completed(gateway, token)
    key = PREFIX + stored_key(gateway, video_id)
    # Its retention runs out now (instead of a week from now).
    gateway.query("UPDATE tasks SET expires_at = ? WHERE id = ?", time.time() - 1, video_id)
    answer = httpx.get(
        f"{gateway.url}/v1/videos/{video_id}/content", headers={"Authorization": f"Bearer {token}"}
    )
    assert answer.status_code == 404
    assert answer.json()["error"]["code"] == "video_expired"
    assert set(answer.json()["error"]) == {"message", "type", "param", "code"}
    deadline = time.monotonic() + 30  # the engine's maintenance sweeps every 0.6 s here
    while gateway.query("SELECT storage_key FROM tasks WHERE id = ?", video_id) != [(None,)]:
        assert time.monotonic() < deadline, "the sweeper left the expired video in the bucket"
        time.sleep(0.1)
    assert key not in object_keys(s3_server, bucket)  # removed before the task forgot it


def test_redirect_mode_sends_the_client_to_a_presigned_url(
    redirecting: Gateway, tmp_path: Path
) -> None:
    token = redirecting.token()[0]
    (video_id,) = completed(redirecting, token)
    url = f"{redirecting.url}/v1/videos/{video_id}/content"
    answer = httpx.get(url, headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 302
    location = answer.headers["location"]
    assert "X-Amz-Signature=" in location
    assert "X-Amz-Expires=60" in location
    assert token not in location
    # The SDK follows the redirect (and, to another origin, drops our token).
    client = redirecting.client(token)
    client.videos.download_content(video_id).write_to_file(tmp_path / "out.mp4")
    check_mp4(tmp_path / "out.mp4", 1280, 720, 4)
    ranged = httpx.get(location, headers={"Range": "bytes=0-7"})
    assert (ranged.status_code, ranged.content[4:8]) == (206, b"ftyp")
    gone = httpx.get(
        f"{redirecting.url}/v1/videos/video_{'0' * 32}/content",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert gone.status_code == 404


def reconcile_cli(gateway: Gateway, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "veorelay", "storage", "reconcile", "--json", *args],
        env={**os.environ, **gateway.env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_storage_reconcile_removes_unowned_objects_and_names_missing_videos(
    gateway: Gateway, s3_server: str, bucket: str
) -> None:
    token = gateway.token()[0]
    kept, lost = completed(gateway, token, count=2)
    # A crash between the upload and the `completed` write leaves an object no task names.
    orphan = f"{PREFIX}videos/zz/video_{'f' * 32}-deadbeef.mp4"
    s3_client(s3_server).put_object(Bucket=bucket, Key=orphan, Body=b"orphan")
    s3_client(s3_server).delete_object(Bucket=bucket, Key=PREFIX + stored_key(gateway, lost))

    dry = reconcile_cli(gateway, "--dry-run", "--min-age", "0")
    assert dry.returncode == 2, dry.stderr  # a completed video without its file
    assert json.loads(dry.stdout)["unowned"] == [orphan.removeprefix(PREFIX)]
    assert orphan in object_keys(s3_server, bucket)

    done = reconcile_cli(gateway, "--min-age", "0")
    report = json.loads(done.stdout)
    assert (done.returncode, report["removed"]) == (2, [orphan.removeprefix(PREFIX)])
    assert report["missing"] == [lost]
    assert orphan not in object_keys(s3_server, bucket)
    assert PREFIX + stored_key(gateway, kept) in object_keys(s3_server, bucket)
    assert SECRET_ACCESS_KEY not in done.stdout + done.stderr
