"""The unmodified openai SDK against a real gateway and simulator, end to end."""

from __future__ import annotations

import base64
from pathlib import Path

import httpx
import openai
import pytest
from openai.types import Video

from tests.e2e.conftest import Gateway
from tests.helpers import png_bytes
from veorelay.media.probe import probe

FAST = "veo-3.1-fast-generate-preview"


def check_mp4(path: Path, width: int, height: int, seconds: int) -> None:
    info = probe(path)
    assert (info.width, info.height) == (width, height)
    assert info.duration == pytest.approx(seconds, abs=0.1)
    assert info.has_audio


def test_multipart_text_to_video(gateway: Gateway, tmp_path: Path) -> None:
    client = gateway.client(gateway.token()[0])
    video = client.videos.create_and_poll(
        model=FAST, prompt="A lighthouse at dusk", seconds="4", size="720x1280", poll_interval_ms=50
    )
    assert video.status == "completed"
    assert (video.size, video.seconds, video.progress) == ("720x1280", "4", 100)
    assert video.completed_at is not None
    client.videos.download_content(video.id).write_to_file(tmp_path / "out.mp4")
    check_mp4(tmp_path / "out.mp4", 720, 1280, 4)


def test_multipart_image_to_video(gateway: Gateway, tmp_path: Path) -> None:
    client = gateway.client(gateway.token()[0])
    created = client.videos.create(
        model=FAST,
        prompt="The sky comes alive",
        seconds="8",
        size="1920x1080",
        input_reference=("ref.png", png_bytes(), "image/png"),
    )
    assert created.status == "queued"
    video = client.videos.poll(created.id, poll_interval_ms=50)
    assert video.status == "completed"
    assert client.videos.retrieve(video.id).status == "completed"
    client.videos.download_content(video.id).write_to_file(tmp_path / "out.mp4")
    check_mp4(tmp_path / "out.mp4", 1920, 1080, 8)


@pytest.mark.parametrize("with_image", [False, True])
def test_json_body(gateway: Gateway, tmp_path: Path, with_image: bool) -> None:
    # openai >= 2.27 sends videos.create as multipart only; JSON goes through the SDK's
    # low-level client.post, which is what the spec documents tell SDK users to call.
    sent: list[str] = []
    recorder = httpx.Client(
        event_hooks={"request": [lambda r: sent.append(r.headers.get("content-type", ""))]}
    )
    body: dict[str, object] = {
        "model": FAST,
        "prompt": "Waves at night",
        "seconds": "6",
        "size": "1280x720",
    }
    if with_image:
        body["input_reference"] = "data:image/png;base64," + base64.b64encode(png_bytes()).decode()
    token = gateway.token()[0]
    with openai.OpenAI(
        base_url=f"{gateway.url}/v1", api_key=token, max_retries=0, http_client=recorder
    ) as client:
        created = client.post("/videos", body=body, cast_to=Video)  # JSON, as documented
        assert sent == ["application/json"]
        video = client.videos.poll(created.id, poll_interval_ms=50)
        assert video.status == "completed"
        client.videos.download_content(video.id).write_to_file(tmp_path / "out.mp4")
    check_mp4(tmp_path / "out.mp4", 1280, 720, 6)


def test_status_compat_and_content_endpoints(gateway: Gateway) -> None:
    token = gateway.token()[0]
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=gateway.url, headers=headers) as http:
        created = http.post(
            "/v1/videos",
            json={"model": FAST, "prompt": "A 4K tide", "seconds": "8", "size": "3840x2160"},
        )
        assert created.status_code == 200
        video_id = created.json()["id"]
        assert created.json()["task_id"] == video_id
        status = http.get(f"/v1/videos/{video_id}")
        assert status.json()["status"] in ("queued", "in_progress")
        assert int(status.headers["openai-poll-after-ms"]) > 0
        early = http.get(f"/v1/videos/{video_id}/content")
        assert early.status_code == 409
        assert early.json()["error"]["code"] == "video_not_ready"
        compat = http.get(f"/v1/video/generations/{video_id}").json()
        assert compat["status"] in ("queued", "processing")
        assert compat["url"] is None

        client = gateway.client(token)
        assert client.videos.poll(video_id, poll_interval_ms=50).status == "completed"
        compat = http.get(f"/v1/video/generations/{video_id}").json()
        assert compat["code"] == "success"
        assert compat["status"] == compat["data"]["status"] == "succeeded"
        assert compat["url"].endswith(f"/v1/videos/{video_id}/content")
        assert compat["metadata"]["width"] == 3840
        head = http.head(f"/v1/videos/{video_id}/content")
        assert head.status_code == 200
        assert head.headers["content-type"] == "video/mp4"
        size = int(head.headers["content-length"])
        part = http.get(f"/v1/videos/{video_id}/content", headers={"Range": "bytes=10-19"})
        assert part.status_code == 206
        assert len(part.content) == 10
        full = http.get(f"/v1/videos/{video_id}/content")
        assert len(full.content) == size
        assert full.content[10:20] == part.content
        assert "openai-poll-after-ms" not in http.get(f"/v1/videos/{video_id}").headers


@pytest.mark.parametrize(
    ("marker", "code"),
    [("[sim:rai]", "content_policy_violation"), ("[sim:fail]", "generation_failed")],
)
def test_failed_tasks_leave_the_balance_untouched(gateway: Gateway, marker: str, code: str) -> None:
    token, account = gateway.token("2")
    client = gateway.client(token)
    video = client.videos.create_and_poll(
        model=FAST, prompt=f"storm {marker}", seconds="4", poll_interval_ms=50
    )
    assert video.status == "failed"
    assert video.error is not None
    assert video.error.code == code
    assert video.error.message
    assert gateway.balance(account) == 2_000_000
    with pytest.raises(openai.ConflictError):
        client.videos.download_content(video.id)


def test_completed_task_is_charged_once(gateway: Gateway) -> None:
    token, account = gateway.token("2")
    video = gateway.client(token).videos.create_and_poll(
        model="veo-3.1-generate-preview",
        prompt="A quiet harbour",
        seconds="4",
        poll_interval_ms=50,
    )
    assert video.status == "completed"
    assert gateway.balance(account) == 800_000
    kinds = gateway.query("SELECT kind FROM ledger WHERE task_id = ? ORDER BY id", video.id)
    assert kinds == [("hold",), ("capture",)]
