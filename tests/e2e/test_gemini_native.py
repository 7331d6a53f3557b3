"""The real google-genai SDK, pointed at veorelay with a veorelay token as its API key, makes
videos from veorelay's own tasks: same engine, prices and storage as /v1/videos, Google's wire
format and error shape. On SQLite and PostgreSQL."""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from google import genai
from google.genai import errors, types

from tests.e2e.conftest import BOTH_DATABASES, Gateway, gateway_env, running_gateway
from tests.helpers import png_bytes
from veorelay.media.probe import probe

FAST = "veo-3.1-fast-generate-preview"


@pytest.fixture(scope="module", params=BOTH_DATABASES)
def gateway_on(
    request: pytest.FixtureRequest, simulator: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Gateway]:
    data_dir = tmp_path_factory.mktemp("gemini") / "data"
    with running_gateway(request.param, data_dir, gateway_env(data_dir, simulator)) as gw:
        yield gw


@pytest.fixture(scope="module")
def account(gateway_on: Gateway) -> tuple[str, str]:
    """(token, account id) the tests share; each checks its own balance changes."""
    return gateway_on.token("10")


def genai_client(gateway: Gateway, token: str) -> genai.Client:
    return genai.Client(
        api_key=token,
        http_options=types.HttpOptions(
            base_url=gateway.url, retry_options=types.HttpRetryOptions(attempts=1)
        ),
    )


def wait(client: genai.Client, operation: types.GenerateVideosOperation) -> Any:
    deadline = time.monotonic() + 60
    while not operation.done:
        assert time.monotonic() < deadline
        time.sleep(0.05)
        operation = client.operations.get(operation)
    return operation


def test_google_genai_sdk_makes_a_video_through_veorelay(
    gateway_on: Gateway, account: tuple[str, str], tmp_path: Path
) -> None:
    token, account_id = account
    before = gateway_on.balance(account_id)
    client = genai_client(gateway_on, token)
    operation = client.models.generate_videos(
        model=FAST,
        source=types.GenerateVideosSource(
            prompt="A lighthouse at dusk", image=types.Image(image_bytes=png_bytes(64, 36))
        ),
        config=types.GenerateVideosConfig(
            duration_seconds=6, aspect_ratio="16:9", resolution="720p", negative_prompt="fog"
        ),
    )
    assert operation.name is not None
    model, task_id = operation.name.removeprefix("models/").split("/operations/")
    assert model == FAST
    operation = wait(client, operation)
    assert operation.error is None
    assert operation.response is not None
    [generated] = operation.response.generated_videos
    assert generated.video.uri.endswith(f"/v1beta/files/{task_id[6:]}:download?alt=media")
    data = client.files.download(file=generated.video)

    (tmp_path / "out.mp4").write_bytes(data)
    info = probe(tmp_path / "out.mp4")
    assert (info.width, info.height) == (1280, 720)
    assert info.duration == pytest.approx(6, abs=0.1)
    assert info.has_audio
    # One task, the same one /v1/videos shows, held and captured once at its price.
    video = gateway_on.client(token).videos.retrieve(task_id)
    assert (video.status, video.seconds, video.model) == ("completed", "6", FAST)
    kinds = gateway_on.query("SELECT kind FROM ledger WHERE task_id = ? ORDER BY id", task_id)
    assert kinds == [("hold",), ("capture",)]
    assert gateway_on.balance(account_id) == before - 300_000


@pytest.mark.parametrize(("marker", "filtered"), [("[sim:rai]", True), ("[sim:fail]", False)])
def test_a_failed_render_is_a_finished_operation_and_not_billed(
    gateway_on: Gateway, account: tuple[str, str], marker: str, filtered: bool
) -> None:
    token, account_id = account
    before = gateway_on.balance(account_id)
    client = genai_client(gateway_on, token)
    operation = wait(
        client,
        client.models.generate_videos(
            model=FAST,
            source=types.GenerateVideosSource(prompt=f"storm {marker}"),
            config=types.GenerateVideosConfig(duration_seconds=4),
        ),
    )
    if filtered:  # as Google reports a safety filter: a response with the reasons
        assert operation.error is None
        assert operation.response.rai_media_filtered_count == 1
        assert operation.response.rai_media_filtered_reasons
        assert not operation.response.generated_videos
    else:
        assert operation.error["code"] == 13
        assert operation.error["message"]
    assert gateway_on.balance(account_id) == before


def google_error(answer: httpx.Response, status: int, name: str) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    error: dict[str, Any] = answer.json()["error"]
    assert (error["code"], error["status"]) == (status, name)
    assert error["message"]
    return error


def test_errors_come_in_googles_shape(gateway_on: Gateway) -> None:
    token = gateway_on.token("0.1")[0]
    predict = f"{gateway_on.url}/v1beta/models/{FAST}:predictLongRunning"
    body: dict[str, Any] = {"instances": [{"prompt": "A kite"}], "parameters": {}}
    key = {"x-goog-api-key": token}
    with httpx.Client() as http:
        error = google_error(http.post(predict, json=body), 401, "UNAUTHENTICATED")
        assert "x-goog-api-key" in error["message"]
        google_error(
            http.post(predict, json=body, headers={"x-goog-api-key": "AIza-wrong"}),
            401,
            "UNAUTHENTICATED",
        )
        bad = {**body, "parameters": {"durationSeconds": 5}}
        error = google_error(http.post(predict, json=bad, headers=key), 400, "INVALID_ARGUMENT")
        assert error["message"].startswith("durationSeconds must be one of")
        assert error["details"][0]["metadata"] == {"param": "durationSeconds"}
        long_only = {**body, "parameters": {"durationSeconds": 4, "resolution": "1080p"}}
        error = google_error(
            http.post(predict, json=long_only, headers=key), 400, "INVALID_ARGUMENT"
        )
        assert "requires durationSeconds=8" in error["message"]
        for parameters in ({"sampleCount": 2}, {"generateAudio": True}, {"fps": 30}):
            google_error(
                http.post(predict, json={**body, "parameters": parameters}, headers=key),
                400,
                "INVALID_ARGUMENT",
            )
        not_an_image = {"instances": [{"prompt": "x", "image": {"bytesBase64Encoded": "aGk="}}]}
        error = google_error(
            http.post(predict, json=not_an_image, headers=key), 400, "INVALID_ARGUMENT"
        )
        assert error["message"] == "instances[0].image must be a PNG, JPEG or WebP image."
        poor = {**body, "parameters": {"resolution": "4k"}}  # $0.30 > $0.10
        error = google_error(http.post(predict, json=poor, headers=key), 429, "RESOURCE_EXHAUSTED")
        assert error["details"][0]["reason"] == "insufficient_quota"
        google_error(
            http.get(f"{gateway_on.url}/v1beta/models/{FAST}/operations/video_0", headers=key),
            404,
            "NOT_FOUND",
        )


def test_an_unfinished_video_cannot_be_downloaded_yet(
    gateway_on: Gateway, account: tuple[str, str]
) -> None:
    token = account[0]
    client = genai_client(gateway_on, token)
    operation = client.models.generate_videos(
        model=FAST,
        source=types.GenerateVideosSource(prompt="A 4K glacier"),
        config=types.GenerateVideosConfig(resolution="4k"),
    )
    task_id = operation.name.rsplit("/", 1)[-1]
    with pytest.raises(errors.ClientError) as info:
        client.files.download(file=f"files/{task_id[6:]}")
    assert (info.value.code, info.value.status) == (409, "FAILED_PRECONDITION")
    # Deleted through the OpenAI-style API: the same task, gone from both.
    gateway_on.client(token).videos.delete(task_id)
    with pytest.raises(errors.ClientError) as info:
        client.operations.get(operation)
    assert info.value.code == 404


def test_the_key_may_come_in_the_query_string(
    gateway_on: Gateway, account: tuple[str, str]
) -> None:
    token = account[0]
    answer = httpx.post(
        f"{gateway_on.url}/v1beta/models/{FAST}:predictLongRunning",
        params={"key": token},
        json={
            "instances": [
                {
                    "prompt": "A paper boat",
                    "image": {
                        "bytesBase64Encoded": base64.b64encode(png_bytes(36, 64)).decode(),
                        "mimeType": "image/png",
                    },
                }
            ],
            "parameters": {"aspectRatio": "9:16", "durationSeconds": 4},
        },
    )
    assert answer.status_code == 200, answer.text
    name = answer.json()["name"]
    assert name.startswith(f"models/{FAST}/operations/video_")
    status = httpx.get(f"{gateway_on.url}/v1beta/{name}", params={"key": token})
    assert status.json()["name"] == name
    assert token not in gateway_on.process.log()
