"""Tokens, isolation and the one error shape, against a real gateway process."""

from __future__ import annotations

import httpx
import openai
import pytest

from tests.e2e.conftest import UPSTREAM_KEY, Gateway

FAST = "veo-3.1-fast-generate-preview"


def assert_error(response: httpx.Response, status: int, code: str) -> dict[str, object]:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["code"] == code
    assert error["message"]
    return dict(error)


def test_a_token_sees_only_its_own_tasks(gateway: Gateway) -> None:
    owner = gateway.client(gateway.token()[0])
    stranger_token = gateway.token()[0]
    stranger = gateway.client(stranger_token)
    video = owner.videos.create(model=FAST, prompt="private", seconds="4")
    with pytest.raises(openai.NotFoundError):
        stranger.videos.retrieve(video.id)
    with pytest.raises(openai.NotFoundError):
        stranger.videos.download_content(video.id)
    headers = {"Authorization": f"Bearer {stranger_token}"}
    compat = httpx.get(f"{gateway.url}/v1/video/generations/{video.id}", headers=headers)
    assert_error(compat, 404, "not_found")
    assert owner.videos.retrieve(video.id).id == video.id


@pytest.mark.parametrize(
    ("headers", "code"),
    [
        ({}, "missing_api_key"),
        ({"Authorization": "Bearer sk-vr-not-a-real-token"}, "invalid_api_key"),
        ({"Authorization": "Basic abc"}, "invalid_api_key"),
    ],
)
def test_missing_or_wrong_tokens_get_401(
    gateway: Gateway, headers: dict[str, str], code: str
) -> None:
    for response in (
        httpx.post(
            f"{gateway.url}/v1/videos", json={"model": FAST, "prompt": "x"}, headers=headers
        ),
        httpx.get(f"{gateway.url}/v1/videos/video_x", headers=headers),
        httpx.get(f"{gateway.url}/v1/videos/video_x/content", headers=headers),
    ):
        assert_error(response, 401, code)


def test_insufficient_balance_is_429_and_creates_nothing(gateway: Gateway) -> None:
    token, account = gateway.token("0.10")
    with pytest.raises(openai.RateLimitError) as info:
        gateway.client(token).videos.create(model=FAST, prompt="too poor", seconds="4")
    assert info.value.code == "insufficient_quota"
    assert gateway.query("SELECT count(*) FROM tasks WHERE account_id = ?", account) == [(0,)]
    assert gateway.balance(account) == 100_000


@pytest.mark.parametrize(
    ("body", "status", "code", "param"),
    [
        ({"model": FAST, "prompt": "x", "seconds": "5"}, 400, "INVALID_ARGUMENT", "seconds"),
        ({"model": FAST, "prompt": "x", "seconds": 4.5}, 400, "parse_request_failed", "seconds"),
        (
            {"model": FAST, "prompt": "x", "generateAudio": True},
            400,
            "INVALID_ARGUMENT",
            "generateAudio",
        ),
        ({"model": "sora-2", "prompt": "x"}, 400, "model_not_found", "model"),
        ({"model": FAST, "prompt": ""}, 400, "INVALID_ARGUMENT", "prompt"),
    ],
)
def test_bad_requests_are_400_and_free(
    gateway: Gateway, body: dict[str, object], status: int, code: str, param: str
) -> None:
    token, account = gateway.token("1")
    response = httpx.post(
        f"{gateway.url}/v1/videos", json=body, headers={"Authorization": f"Bearer {token}"}
    )
    assert assert_error(response, status, code)["param"] == param
    assert gateway.query("SELECT count(*) FROM tasks WHERE account_id = ?", account) == [(0,)]
    assert gateway.balance(account) == 1_000_000


def test_unparseable_json_and_unknown_media_types(gateway: Gateway) -> None:
    headers = {"Authorization": f"Bearer {gateway.token()[0]}"}
    bad_json = httpx.post(
        f"{gateway.url}/v1/videos",
        content=b"{nope",
        headers={**headers, "Content-Type": "application/json"},
    )
    assert_error(bad_json, 400, "parse_request_failed")
    text = httpx.post(
        f"{gateway.url}/v1/videos",
        content=b"hello",
        headers={**headers, "Content-Type": "text/plain"},
    )
    assert_error(text, 415, "unsupported_media_type")


def test_unknown_routes_use_the_error_shape(gateway: Gateway) -> None:
    assert_error(httpx.get(f"{gateway.url}/v1/nothing"), 404, "not_found")


def test_upstream_key_never_appears_in_answers_or_logs(gateway: Gateway) -> None:
    token = gateway.token()[0]
    client = gateway.client(token)
    video = client.videos.create_and_poll(
        model=FAST, prompt="keys stay secret", seconds="4", poll_interval_ms=50
    )
    answers = [
        client.videos.retrieve(video.id).model_dump_json(),
        httpx.get(
            f"{gateway.url}/v1/video/generations/{video.id}",
            headers={"Authorization": f"Bearer {token}"},
        ).text,
        httpx.get(f"{gateway.url}/openapi.json").text,
    ]
    for text in answers:
        assert UPSTREAM_KEY not in text
    log = gateway.process.log()
    assert "submitted as" in log  # the engine's debug log is there to be searched
    assert UPSTREAM_KEY not in log
    assert UPSTREAM_KEY not in "".join(str(row) for row in gateway.query("SELECT * FROM tasks"))
