"""Veo's extra inputs end to end: the unmodified openai SDK (extra_body) against the gateway
and the Gemini-speaking simulator, on SQLite and PostgreSQL. The operator enables them on
veo-3.1-generate-preview only (admin API), with a $0.10 surcharge."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest
from openai.types import Video

from tests.e2e.conftest import BOTH_DATABASES, Gateway, gateway_env, running_gateway
from tests.helpers import png_bytes
from veorelay.media.probe import probe

ADMIN_KEY = "admin-" + "x" * 40
PRO = "veo-3.1-generate-preview"
FAST = "veo-3.1-fast-generate-preview"
PNG = base64.b64encode(png_bytes()).decode()
DATA_URL = f"data:image/png;base64,{PNG}"


@pytest.fixture(scope="module", params=BOTH_DATABASES)
def gateway(
    request: pytest.FixtureRequest, simulator: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Gateway]:
    data_dir = tmp_path_factory.mktemp(f"extra-{request.param}") / "data"
    env = {**gateway_env(data_dir, simulator), "VEORELAY_ADMIN_KEY": ADMIN_KEY}
    with running_gateway(request.param, data_dir, env) as gw:
        enabled = httpx.patch(
            f"{gw.url}/admin/api/models/{PRO}",
            json={
                "extra_inputs": ["reference_images", "last_frame", "extension"],
                "extra_input_surcharge_usd": "0.10",
            },
            headers={"Authorization": f"Bearer {ADMIN_KEY}"},
        )
        assert enabled.status_code == 200, enabled.text
        assert enabled.json()["extra_inputs"] == ["extension", "last_frame", "reference_images"]
        assert enabled.json()["extra_input_surcharge_usd"] == "0.100000"
        yield gw


_clients: list[openai.OpenAI] = []


@pytest.fixture(autouse=True)
def _close_clients() -> Iterator[None]:
    yield
    while _clients:
        _clients.pop().close()


def new_client(gateway: Gateway) -> tuple[openai.OpenAI, str]:
    """A client of a new $10 account, made with the admin API (quicker than the CLI); closed
    after the test."""
    headers = {"Authorization": f"Bearer {ADMIN_KEY}"}
    account = httpx.post(
        f"{gateway.url}/admin/api/accounts",
        json={"name": "e", "balance_usd": "10"},
        headers=headers,
    ).json()["id"]
    token = httpx.post(
        f"{gateway.url}/admin/api/tokens",
        json={"account_id": account, "name": "e"},
        headers=headers,
    ).json()["secret"]
    _clients.append(gateway.client(token))
    return _clients[-1], account


def mp4_shape(client: openai.OpenAI, video_id: str, path: Path) -> tuple[int, int, int]:
    client.videos.download_content(video_id).write_to_file(path)
    info = probe(path)
    return info.width, info.height, round(info.duration)


def test_refused_on_a_model_that_has_not_enabled_them(gateway: Gateway) -> None:
    client, _ = new_client(gateway)
    for field, value in [
        ("referenceImages", json.dumps([PNG])),
        ("lastFrame", PNG),
        ("video", "video_" + "0" * 32),
    ]:
        with pytest.raises(openai.BadRequestError) as refused:
            client.videos.create(model=FAST, prompt="x", extra_body={field: value})
        error = refused.value.body
        assert isinstance(error, dict)
        assert (error["param"], error["type"]) == (field, "invalid_request_error")
        assert "not supported" in error["message"]


def test_reference_images_render_and_add_the_surcharge(gateway: Gateway, tmp_path: Path) -> None:
    client, account = new_client(gateway)
    created = client.videos.create(  # multipart: the list travels as JSON text
        model=PRO,
        prompt="A red kite, as in the pictures",
        size="1280x720",
        extra_body={"referenceImages": json.dumps([PNG, {"image": DATA_URL}])},
    )
    video = client.videos.poll(created.id, poll_interval_ms=50)
    assert video.status == "completed", video.error
    assert mp4_shape(client, video.id, tmp_path / "refs.mp4") == (1280, 720, 8)
    assert gateway.balance(account) == 10_000_000 - 1_300_000
    ((count, images_left),) = gateway.query(
        "SELECT reference_images, (SELECT count(*) FROM task_extra_images e "
        "WHERE e.task_id = tasks.id) FROM tasks WHERE id = ?",
        video.id,
    )
    assert (count, images_left) == (2, 0)  # stored until submitted, then deleted


def test_first_and_last_frame_as_json(gateway: Gateway, tmp_path: Path) -> None:
    client, _ = new_client(gateway)
    body = {
        "model": PRO,
        "prompt": "From dawn to dusk",
        "size": "720x1280",
        "input_reference": DATA_URL,
        "lastFrame": base64.b64encode(png_bytes(36, 64, "red")).decode(),
    }
    created = client.post("/videos", body=body, cast_to=Video)
    video = client.videos.poll(created.id, poll_interval_ms=50)
    assert video.status == "completed", video.error
    assert mp4_shape(client, video.id, tmp_path / "frames.mp4") == (720, 1280, 8)


def test_extension_of_an_own_completed_video(gateway: Gateway, tmp_path: Path) -> None:
    client, account = new_client(gateway)
    first = client.videos.create_and_poll(
        model=PRO, prompt="A paper boat sets off", seconds="4", poll_interval_ms=50
    )
    assert first.status == "completed", first.error
    created = client.videos.create(
        model=PRO, prompt="It drifts out to sea", extra_body={"video": first.id}
    )
    assert created.seconds == "11"  # the stitched length: 4 + 7
    video = client.videos.poll(created.id, poll_interval_ms=50)
    assert video.status == "completed", video.error
    assert mp4_shape(client, video.id, tmp_path / "longer.mp4") == (1280, 720, 11)
    assert gateway.balance(account) == 10_000_000 - 1_200_000 - 1_300_000


def test_extension_needs_an_own_completed_video(gateway: Gateway) -> None:
    client, _ = new_client(gateway)
    failed = client.videos.create_and_poll(
        model=PRO, prompt="Doomed [sim:fail]", poll_interval_ms=50
    )
    assert failed.status == "failed"
    with pytest.raises(openai.ConflictError) as unfinished:
        client.videos.create(model=PRO, prompt="more", extra_body={"video": failed.id})
    assert unfinished.value.code == "video_not_completed"

    stranger, _ = new_client(gateway)
    with pytest.raises(openai.NotFoundError) as foreign:
        stranger.videos.create(model=PRO, prompt="mine now", extra_body={"video": failed.id})
    assert foreign.value.body == {
        "message": f"No video found with id {failed.id!r}.",
        "type": "invalid_request_error",
        "param": "video",
        "code": "not_found",
    }
