"""`GET /v1/videos/{id}/content?variant=`: the thumbnail and spritesheet, made beside a video
when first asked for, fetched with the unmodified openai SDK, on SQLite and PostgreSQL."""

from __future__ import annotations

import io
from collections.abc import Iterator

import httpx
import openai
import pytest
from PIL import Image

from tests.e2e.conftest import BOTH_DATABASES, Gateway, gateway_env, running_gateway

FAST = "veo-3.1-fast-generate-preview"


@pytest.fixture(scope="module", params=BOTH_DATABASES)
def gateway_on(
    request: pytest.FixtureRequest, simulator: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Gateway]:
    data_dir = tmp_path_factory.mktemp("variants") / "data"
    with running_gateway(request.param, data_dir, gateway_env(data_dir, simulator)) as gw:
        yield gw


@pytest.fixture(scope="module")
def client(gateway_on: Gateway) -> openai.OpenAI:
    return gateway_on.client(gateway_on.token()[0])


@pytest.fixture(scope="module")
def videos(client: openai.OpenAI) -> dict[str, str]:
    """Finished 9:16 videos rendered side by side, one per test that needs its own:
    `shared` is only read; the others are each changed by one test."""
    created = {
        name: client.videos.create(model=FAST, prompt=name, seconds="4", size="720x1280").id
        for name in ("shared", "to_delete", "lost_previews")
    }
    for video_id in created.values():
        assert client.videos.poll(video_id, poll_interval_ms=50).status == "completed"
    return created


def stored_files(gateway: Gateway, video_id: str) -> list[str]:
    """What the storage holds for a video, named without the `<id>-<attempt>` they begin with."""
    prefix = len(f"{video_id}-12345678")
    return sorted(p.name[prefix:] for p in (gateway.data_dir / "videos").rglob(f"{video_id}-*"))


def test_openai_sdk_downloads_thumbnail_and_spritesheet(
    client: openai.OpenAI, videos: dict[str, str]
) -> None:
    video_id = videos["shared"]
    thumbnail = client.videos.download_content(video_id, variant="thumbnail")
    assert thumbnail.response.headers["content-type"] == "image/webp"
    with Image.open(io.BytesIO(thumbnail.content)) as picture:
        assert (picture.format, picture.size) == ("WEBP", (720, 1280))

    sheet = client.videos.download_content(video_id, variant="spritesheet")
    assert sheet.response.headers["content-type"] == "image/jpeg"
    with Image.open(io.BytesIO(sheet.content)) as picture:
        assert (picture.format, picture.size) == ("JPEG", (135 * 4, 240 * 4))

    mp4 = client.videos.download_content(video_id, variant="video")
    assert mp4.response.headers["content-type"] == "video/mp4"
    assert mp4.content == client.videos.download_content(video_id).content


def test_previews_answer_range_and_head(client: openai.OpenAI, videos: dict[str, str]) -> None:
    url = f"{client.base_url}videos/{videos['shared']}/content?variant=thumbnail"
    with httpx.Client(headers={"Authorization": f"Bearer {client.api_key}"}) as http:
        head = http.head(url)
        assert head.status_code == 200
        assert head.headers["content-type"] == "image/webp"
        assert f'{videos["shared"]}-thumbnail.webp"' in head.headers["content-disposition"]
        part = http.get(url, headers={"Range": "bytes=0-11"})
        assert part.status_code == 206
        assert part.content[:4] == b"RIFF"
        assert part.content[8:12] == b"WEBP"
        assert int(head.headers["content-length"]) == len(http.get(url).content)


def test_unknown_variant_is_a_400_in_the_error_shape(
    client: openai.OpenAI, videos: dict[str, str]
) -> None:
    answer = httpx.get(
        f"{client.base_url}videos/{videos['shared']}/content",
        params={"variant": "poster"},
        headers={"Authorization": f"Bearer {client.api_key}"},
    )
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert (error["type"], error["code"], error["param"]) == (
        "invalid_request_error",
        "INVALID_ARGUMENT",
        "variant",
    )
    assert "thumbnail" in error["message"]


def test_preview_of_an_unfinished_video_is_the_same_409_as_its_content(
    client: openai.OpenAI,
) -> None:
    created = client.videos.create(model=FAST, prompt="A 4K tide", seconds="8", size="3840x2160")
    for variant in ("thumbnail", "spritesheet", "video"):
        with pytest.raises(openai.ConflictError) as info:
            client.videos.download_content(created.id, variant=variant)  # type: ignore[arg-type]
        assert info.value.code == "video_not_ready"
    client.videos.delete(created.id)


def test_previews_are_made_when_first_asked_for_and_deleted_with_the_video(
    gateway_on: Gateway, client: openai.OpenAI, videos: dict[str, str]
) -> None:
    video_id = videos["to_delete"]
    assert stored_files(gateway_on, video_id) == [".mp4"]  # completing a video makes none
    with httpx.Client(headers={"Authorization": f"Bearer {client.api_key}"}) as http:
        url = f"{client.base_url}videos/{video_id}/content?variant=spritesheet"
        sheets = [http.get(url) for _ in range(2)]  # made by the first, read by the second
    assert [a.status_code for a in sheets] == [200, 200]
    assert sheets[0].content == sheets[1].content
    assert stored_files(gateway_on, video_id) == ["-spritesheet.jpg", "-thumbnail.webp", ".mp4"]
    client.videos.delete(video_id)
    assert stored_files(gateway_on, video_id) == []
    with pytest.raises(openai.NotFoundError):
        client.videos.download_content(video_id, variant="spritesheet")


def test_previews_lost_from_storage_are_made_again(
    gateway_on: Gateway, client: openai.OpenAI, videos: dict[str, str]
) -> None:
    """E.g. a video completed by an older veorelay, or previews removed by hand."""
    video_id = videos["lost_previews"]
    first = client.videos.download_content(video_id, variant="thumbnail").content
    for path in (gateway_on.data_dir / "videos").rglob(f"{video_id}-*-*"):
        path.unlink()  # the previews only: <id>-<attempt>-thumbnail.webp, -spritesheet.jpg
    assert stored_files(gateway_on, video_id) == [".mp4"]
    assert client.videos.download_content(video_id, variant="thumbnail").content == first
    assert stored_files(gateway_on, video_id) == ["-spritesheet.jpg", "-thumbnail.webp", ".mp4"]
