"""Downloads racing a delete of the same video, on SQLite and PostgreSQL (issue 13, item 4).

Every download either gets the whole MP4 (200, every byte, or the asked-for range as 206) or a
404 `not_found`: never a 500, a 409, or a 200 cut off after the headers.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Iterator

import httpx
import pytest

from tests.e2e.conftest import (
    BOTH_DATABASES,
    Gateway,
    gateway_env,
    running_gateway,
)

FAST = "veo-3.1-fast-generate-preview"
ROUNDS = 6
WORKERS = 8


@pytest.fixture(scope="module", params=BOTH_DATABASES)
def gateway(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Gateway]:
    data_dir = tmp_path_factory.mktemp(f"race-{request.param}") / "data"
    env = gateway_env(data_dir, simulator_url=None)  # the built-in simulator renders
    with running_gateway(request.param, data_dir, env) as gw:
        yield gw


def completed_videos(gateway: Gateway, token: str, count: int) -> list[str]:
    client = gateway.client(token)
    ids = [
        client.videos.create(model=FAST, prompt=f"race {i}", seconds="4").id for i in range(count)
    ]
    for video_id in ids:
        video = client.videos.poll(video_id, poll_interval_ms=50)
        assert video.status == "completed", video.error
    return ids


async def download(
    http: httpx.AsyncClient, video_id: str, headers: dict[str, str]
) -> tuple[int, str | None, bytes, dict[str, str]]:
    """(status, error code, body, headers), reading the body to its end."""
    async with http.stream("GET", f"/v1/videos/{video_id}/content", headers=headers) as answer:
        body = await answer.aread()
    code = answer.json()["error"]["code"] if answer.status_code >= 400 else None
    return answer.status_code, code, body, dict(answer.headers)


async def race(
    gateway: Gateway, token: str, video_id: str, whole: bytes, ranged: bool
) -> list[int]:
    """WORKERS loops downloading `video_id` until just after its delete, fired among them."""
    auth = {"Authorization": f"Bearer {token}"}
    start = len(whole) // 3
    headers = {**auth, "Range": f"bytes={start}-"} if ranged else auth
    deleted = asyncio.Event()
    async with httpx.AsyncClient(base_url=gateway.url, timeout=60) as http:

        async def delete_soon() -> int:
            await asyncio.sleep(random.uniform(0, 0.05))
            status = (await http.delete(f"/v1/videos/{video_id}", headers=auth)).status_code
            deleted.set()
            return status

        async def downloads() -> list[tuple[int, str | None, bytes, dict[str, str]]]:
            results = []
            while not deleted.is_set():
                results.append(await download(http, video_id, headers))
            results.append(await download(http, video_id, headers))  # one surely after
            return results

        status, *loops = await asyncio.gather(delete_soon(), *(downloads() for _ in range(WORKERS)))
    assert status == 200
    statuses = []
    for status, code, body, answer_headers in [result for loop in loops for result in loop]:
        statuses.append(status)
        if status == 404:
            assert code == "not_found"
            continue
        assert status == (206 if ranged else 200), (status, code)
        assert int(answer_headers["content-length"]) == len(body)
        assert body == (whole[start:] if ranged else whole)  # never cut short
    return statuses


@pytest.mark.parametrize("ranged", [False, True], ids=["whole", "range"])
def test_downloads_racing_a_delete_are_whole_or_404(gateway: Gateway, ranged: bool) -> None:
    token = gateway.token("10")[0]
    ids = completed_videos(gateway, token, ROUNDS)
    auth = {"Authorization": f"Bearer {token}"}
    statuses: list[int] = []
    for video_id in ids:
        whole = httpx.get(f"{gateway.url}/v1/videos/{video_id}/content", headers=auth).content
        assert whole[4:8] == b"ftyp"
        statuses += asyncio.run(race(gateway, token, video_id, whole, ranged))
        after = httpx.get(f"{gateway.url}/v1/videos/{video_id}/content", headers=auth)
        assert (after.status_code, after.json()["error"]["code"]) == (404, "not_found")
    assert {200 if not ranged else 206, 404} <= set(statuses)  # before and after the delete


def test_a_range_is_served_from_the_stored_file(gateway: Gateway) -> None:
    token = gateway.token("10")[0]
    (video_id,) = completed_videos(gateway, token, 1)
    url = f"{gateway.url}/v1/videos/{video_id}/content"
    auth = {"Authorization": f"Bearer {token}"}
    whole = httpx.get(url, headers=auth)
    assert whole.status_code == 200
    assert whole.headers["accept-ranges"] == "bytes"
    size = len(whole.content)
    part = httpx.get(url, headers={**auth, "Range": "bytes=10-99"})
    assert part.status_code == 206
    assert part.headers["content-range"] == f"bytes 10-99/{size}"
    assert part.content == whole.content[10:100]
    tail = httpx.get(url, headers={**auth, "Range": "bytes=-16"})
    assert (tail.status_code, tail.content) == (206, whole.content[-16:])
    beyond = httpx.get(url, headers={**auth, "Range": f"bytes={size}-"})
    assert beyond.status_code == 416
    head = httpx.head(url, headers=auth)
    assert (head.status_code, head.headers["content-length"]) == (200, str(size))
