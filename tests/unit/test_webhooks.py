"""The webhook rules: signatures both reference verifiers accept, the retry schedule, targets."""

from __future__ import annotations

import json
import time

import openai
import pytest
import standardwebhooks

from veorelay.core import webhooks as rules
from veorelay.core.webhooks import EventType
from veorelay.db.webhook_endpoints import new_secret
from veorelay.errors import InvalidRequest

SECRET = new_secret()


def signed(secrets: list[str], body: str, at: int | None = None) -> dict[str, str]:
    return rules.headers(secrets, "msg_0123", at or int(time.time()), body)


def test_an_event_verifies_with_the_openai_sdk_and_standardwebhooks() -> None:
    body = rules.event_body("evt_1", EventType.VIDEO_COMPLETED, "video_abc", 1_790_000_000.7)
    headers = signed([SECRET], body)

    event = openai.OpenAI(api_key="unused").webhooks.unwrap(body, headers, secret=SECRET)
    verified = standardwebhooks.Webhook(SECRET).verify(body, headers)

    expected = {
        "id": "evt_1",
        "object": "event",
        "created_at": 1_790_000_000,
        "type": "video.completed",
        "data": {"id": "video_abc"},
    }
    assert verified == expected
    assert event.to_dict() == expected


def test_a_changed_body_or_another_secret_is_refused_by_both() -> None:
    body = rules.event_body("evt_1", EventType.VIDEO_FAILED, "video_abc", 1.0)
    headers = signed([SECRET], body)
    tampered = body.replace("video_abc", "video_xyz")
    with pytest.raises(standardwebhooks.WebhookVerificationError):
        standardwebhooks.Webhook(SECRET).verify(tampered, headers)
    client = openai.OpenAI(api_key="unused")
    with pytest.raises(openai.InvalidWebhookSignatureError):
        client.webhooks.verify_signature(body, headers, secret=new_secret())


def test_during_a_rotation_both_secrets_verify() -> None:
    old, new = new_secret(), new_secret()
    body = rules.event_body("evt_2", EventType.VIDEO_FAILED, "video_abc", 1.0)
    headers = signed([new, old], body)
    assert headers["webhook-signature"].count("v1,") == 2
    for secret in (old, new):
        assert standardwebhooks.Webhook(secret).verify(body, headers)["type"] == "video.failed"
        openai.OpenAI(api_key="unused").webhooks.verify_signature(body, headers, secret=secret)


def test_the_body_is_compact_json_of_the_openai_event_shape() -> None:
    body = rules.event_body("evt_3", EventType.VIDEO_FAILED, "video_1", 5.0)
    assert json.loads(body)["type"] == "video.failed"
    assert " " not in body


def test_retries_go_on_for_more_than_a_day_then_stop() -> None:
    delays = []
    attempt = 1
    while (delay := rules.next_attempt_delay(attempt, 1.0)) is not None:
        delays.append(delay)
        attempt += 1
    assert sum(delays) >= 24 * 3600
    assert delays == sorted(delays)  # backing off
    assert rules.next_attempt_delay(1, 0.01) == pytest.approx(delays[0] * 0.01)


def test_an_endpoint_is_disabled_only_after_a_long_streak() -> None:
    assert not rules.should_disable(None, 1e9, 10.0)
    assert not rules.should_disable(100.0, 109.0, 10.0)
    assert rules.should_disable(100.0, 110.0, 10.0)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9000/hook",
        "http://localhost/hook",
        "https://api.localhost/hook",
        "http://10.1.2.3/",
        "http://192.168.0.10/",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/",
        "http://[::ffff:127.0.0.1]/",
        "http://printer.local/",
    ],
)
def test_private_and_loopback_targets_are_refused_unless_allowed(url: str) -> None:
    with pytest.raises(InvalidRequest) as refused:
        rules.check_target(url, allow_private=False)
    assert refused.value.code == "webhook_target_refused"
    assert rules.check_target(url, allow_private=True) == url


@pytest.mark.parametrize(
    "url",
    ["ftp://example.com/", "example.com/hook", "http:///nohost", "https://u:p@example.com/"],
)
def test_malformed_urls_are_refused(url: str) -> None:
    with pytest.raises(InvalidRequest):
        rules.check_target(url, allow_private=True)


def test_public_names_and_addresses_are_accepted() -> None:
    assert rules.check_target("https://hooks.example.com/x", allow_private=False)
    assert rules.check_target("http://8.8.8.8/x", allow_private=False)
    assert rules.is_public_address("2001:4860:4860::8888")
    assert not rules.is_public_address("fd00::1")
