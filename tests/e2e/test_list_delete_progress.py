"""videos.list, videos.delete and progress with the unmodified openai SDK."""

from __future__ import annotations

import time

import httpx
import openai
import pytest

from tests.e2e.conftest import Gateway

FAST = "veo-3.1-fast-generate-preview"


def test_list_pages_through_the_accounts_videos(gateway: Gateway) -> None:
    token = gateway.token()[0]
    client = gateway.client(token)
    created = [
        client.videos.create(model=FAST, prompt=f"list {i}", seconds="4").id for i in range(5)
    ]
    other = gateway.client(gateway.token()[0])
    other.videos.create(model=FAST, prompt="someone else's", seconds="4")

    first = client.videos.list(limit=2)
    assert [v.id for v in first.data] == created[::-1][:2]
    assert first.has_more
    everything = [v.id for v in client.videos.list(limit=2)]  # the SDK follows `after`
    assert everything == created[::-1]
    oldest_first = [v.id for v in client.videos.list(limit=100, order="asc")]
    assert oldest_first == created
    assert [v.id for v in client.videos.list(after=created[2], order="asc")] == created[3:]


def test_deleting_a_running_video_cancels_it_and_releases_the_hold(gateway: Gateway) -> None:
    token, account = gateway.token("1")
    client = gateway.client(token)
    video = client.videos.create(model=FAST, prompt="cancel me", seconds="8", size="3840x2160")
    assert gateway.balance(account) == 700_000
    deleted = client.videos.delete(video.id)
    assert (deleted.id, deleted.deleted, deleted.object) == (video.id, True, "video.deleted")
    assert gateway.balance(account) == 1_000_000
    kinds = gateway.query("SELECT kind FROM ledger WHERE task_id = ? ORDER BY id", video.id)
    assert kinds == [("hold",), ("release",)]
    with pytest.raises(openai.NotFoundError):
        client.videos.retrieve(video.id)
    assert video.id not in [v.id for v in client.videos.list()]
    time.sleep(1.0)  # the engine may still have been working on it: nothing changes
    assert gateway.query("SELECT state FROM tasks WHERE id = ?", video.id) == [("cancelled",)]
    assert gateway.balance(account) == 1_000_000


def test_deleting_a_finished_video_removes_its_file(gateway: Gateway) -> None:
    token, account = gateway.token("1")
    client = gateway.client(token)
    video = client.videos.create_and_poll(
        model=FAST, prompt="keep then delete", seconds="4", poll_interval_ms=50
    )
    ((key,),) = gateway.query("SELECT storage_key FROM tasks WHERE id = ?", video.id)
    path = gateway.data_dir / "videos" / str(key)
    assert path.exists()
    assert client.videos.delete(video.id).deleted
    assert not path.exists()
    assert gateway.balance(account) == 700_000  # a finished video stays paid for
    headers = {"Authorization": f"Bearer {token}"}
    response = httpx.get(f"{gateway.url}/v1/videos/{video.id}/content", headers=headers)
    assert response.status_code == 404
    again = httpx.delete(f"{gateway.url}/v1/videos/{video.id}", headers=headers)
    assert again.status_code == 404


def test_a_stranger_cannot_delete(gateway: Gateway) -> None:
    video = gateway.client(gateway.token()[0]).videos.create(model=FAST, prompt="mine", seconds="4")
    stranger = gateway.client(gateway.token()[0])
    with pytest.raises(openai.NotFoundError):
        stranger.videos.delete(video.id)
    assert gateway.query("SELECT deleted_at FROM tasks WHERE id = ?", video.id) == [(None,)]


def test_progress_climbs_and_reaches_100_only_when_completed(gateway: Gateway) -> None:
    token = gateway.token()[0]
    headers = {"Authorization": f"Bearer {token}"}
    video = httpx.post(
        f"{gateway.url}/v1/videos",
        headers=headers,
        json={"model": FAST, "prompt": "progress", "seconds": "8", "size": "3840x2160"},
    ).json()
    seen: list[tuple[str, int]] = []
    deadline = time.monotonic() + 60
    while True:
        status = httpx.get(f"{gateway.url}/v1/videos/{video['id']}", headers=headers).json()
        seen.append((status["status"], status["progress"]))
        if status["status"] in ("completed", "failed"):
            break
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert seen[-1] == ("completed", 100)
    progress = [p for _, p in seen]
    assert progress == sorted(progress)  # monotonic
    assert all(p < 100 for s, p in seen if s != "completed")
    assert len({p for s, p in seen if s == "in_progress"}) > 3  # more than 0/50/100
