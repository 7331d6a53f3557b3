"""Idempotency-Key on POST /v1/videos against a real gateway, on SQLite and PostgreSQL.

The engine is off, so every task stays queued and only the creates move money.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from typing import Any

import httpx
import openai
import pytest

from tests.e2e.conftest import (
    Gateway,
    assert_ledger_balanced,
    fresh_postgres_database,
    gateway_env,
    start_gateway,
)
from tests.helpers import png_bytes

ADMIN_KEY = "admin-" + "i" * 40
FAST = "veo-3.1-fast-generate-preview"
PRICE = 300_000  # a 4 s 720p fast video
BODY = {"model": FAST, "prompt": "A paper boat on a pond", "seconds": "4", "size": "1280x720"}
RUSH = 20


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def gateway(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Gateway]:
    data_dir = tmp_path_factory.mktemp(f"idempotency-{request.param}") / "data"
    env = {
        **gateway_env(data_dir, simulator_url=None),
        "VEORELAY_ENGINE_ENABLED": "false",
        "VEORELAY_ADMIN_KEY": ADMIN_KEY,
        "VEORELAY_CACHE_SECONDS": "0",
    }
    with ExitStack() as stack:
        if request.param == "postgresql":
            env["VEORELAY_DATABASE_URL"] = stack.enter_context(fresh_postgres_database())
        gw = start_gateway(data_dir, env)
        stack.callback(gw.process.stop)
        yield gw
        assert_ledger_balanced(gw)


def account_token(gateway: Gateway, balance_usd: str = "10", **settings: Any) -> tuple[str, str]:
    """(secret, account id): a new account with this balance and a token with these settings."""
    admin = f"{gateway.url}/admin/api"
    headers = {"Authorization": f"Bearer {ADMIN_KEY}"}
    account = httpx.post(
        f"{admin}/accounts", json={"name": "idem", "balance_usd": balance_usd}, headers=headers
    )
    assert account.status_code == 200, account.text
    body = {"account_id": account.json()["id"], "name": "idem", **settings}
    token = httpx.post(f"{admin}/tokens", json=body, headers=headers)
    assert token.status_code == 200, token.text
    return token.json()["secret"], account.json()["id"]


def create(
    gateway: Gateway, secret: str, key: str | bytes | None, body: dict[str, Any] = BODY
) -> httpx.Response:
    headers: dict[str, str | bytes] = {"Authorization": f"Bearer {secret}"}
    if key is not None:
        headers["Idempotency-Key"] = key
    return httpx.post(f"{gateway.url}/v1/videos", json=body, headers=headers, timeout=60)


def holds(gateway: Gateway, account: str) -> int:
    ((count,),) = gateway.query(
        "SELECT count(*) FROM ledger WHERE account_id = ? AND kind = 'hold'", account
    )
    assert isinstance(count, int)
    return count


def task_ids(gateway: Gateway, account: str) -> list[object]:
    return [row[0] for row in gateway.query("SELECT id FROM tasks WHERE account_id = ?", account)]


def new_key() -> str:
    return f"create-{uuid.uuid4()}"


def test_same_key_and_body_return_the_same_task_and_hold_once(gateway: Gateway) -> None:
    secret, account = account_token(gateway)
    key = new_key()
    first = create(gateway, secret, key)
    assert first.status_code == 200, first.text
    assert "Idempotent-Replayed" not in first.headers
    # The same request spelled differently: other key order, size as resolution + aspect ratio.
    reordered = json.dumps(
        {"aspectRatio": "16:9", "resolution": "720p", "seconds": 4, "prompt": BODY["prompt"]}
        | {"model": FAST}
    )
    again = httpx.post(
        f"{gateway.url}/v1/videos",
        content=reordered,
        headers={
            "Authorization": f"Bearer {secret}",
            "Content-Type": "application/json",
            "Idempotency-Key": key,
        },
    )
    assert again.status_code == 200, again.text
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert task_ids(gateway, account) == [first.json()["id"]]
    assert holds(gateway, account) == 1
    assert gateway.balance(account) == 10_000_000 - PRICE


def test_without_a_key_each_create_is_a_new_task(gateway: Gateway) -> None:
    secret, account = account_token(gateway)
    ids = {create(gateway, secret, None).json()["id"] for _ in range(2)}
    assert len(ids) == 2
    assert holds(gateway, account) == 2


def test_same_key_with_a_different_body_is_a_conflict(gateway: Gateway) -> None:
    secret, account = account_token(gateway)
    key = new_key()
    assert create(gateway, secret, key).status_code == 200
    other = create(gateway, secret, key, BODY | {"prompt": "A different boat"})
    assert other.status_code == 409
    assert other.json() == {
        "error": {
            "message": "The Idempotency-Key was already used with a different request.",
            "type": "invalid_request_error",
            "param": "Idempotency-Key",
            "code": "idempotency_key_reused",
        }
    }
    assert len(task_ids(gateway, account)) == 1
    assert holds(gateway, account) == 1


def test_keys_are_scoped_per_account(gateway: Gateway) -> None:
    key = new_key()
    (secret_a, account_a), (secret_b, account_b) = account_token(gateway), account_token(gateway)
    a = create(gateway, secret_a, key)
    b = create(gateway, secret_b, key, BODY | {"prompt": "Another account's boat"})
    assert (a.status_code, b.status_code) == (200, 200)
    assert a.json()["id"] != b.json()["id"]
    assert (holds(gateway, account_a), holds(gateway, account_b)) == (1, 1)


def test_twenty_concurrent_duplicates_create_one_task(gateway: Gateway) -> None:
    secret, account = account_token(gateway)
    key = new_key()
    start = threading.Barrier(RUSH)

    def one() -> httpx.Response:
        with httpx.Client(timeout=60) as http:  # a connection of its own
            start.wait()
            return http.post(
                f"{gateway.url}/v1/videos",
                json=BODY,
                headers={"Authorization": f"Bearer {secret}", "Idempotency-Key": key},
            )

    with ThreadPoolExecutor(RUSH) as pool:
        responses = list(pool.map(lambda _: one(), range(RUSH)))
    assert [r.status_code for r in responses] == [200] * RUSH, [r.text for r in responses]
    ids = {r.json()["id"] for r in responses}
    assert len(ids) == 1
    assert task_ids(gateway, account) == list(ids)
    assert holds(gateway, account) == 1
    assert gateway.balance(account) == 10_000_000 - PRICE
    replayed = [r.headers.get("Idempotent-Replayed") for r in responses]
    assert sorted(replayed, key=str) == [None] + ["true"] * (RUSH - 1)


def test_replay_skips_rate_in_flight_and_balance_checks(gateway: Gateway) -> None:
    # Money for exactly one video, one create a minute, one in flight: only a replay gets by.
    secret, account = account_token(gateway, "0.30", rpm_limit=1, max_in_flight=1)
    key = new_key()
    first = create(gateway, secret, key)
    assert first.status_code == 200, first.text
    assert create(gateway, secret, new_key()).status_code == 429
    for _ in range(3):
        again = create(gateway, secret, key)
        assert again.status_code == 200, again.text
        assert again.json()["id"] == first.json()["id"]
    assert holds(gateway, account) == 1
    assert gateway.balance(account) == 0


@pytest.mark.parametrize(
    "key",
    ["", "k" * 256, "tab\tinside", "caf\xe9".encode("latin-1")],
    ids=["empty", "too-long", "control-character", "not-ascii"],
)
def test_a_malformed_key_is_refused(gateway: Gateway, key: str | bytes) -> None:
    secret, account = account_token(gateway)
    refused = create(gateway, secret, key)
    assert refused.status_code == 400
    error = refused.json()["error"]
    assert (error["code"], error["param"]) == ("invalid_idempotency_key", "Idempotency-Key")
    assert task_ids(gateway, account) == []


def test_the_longest_key_is_accepted(gateway: Gateway) -> None:
    secret, _ = account_token(gateway)
    key = "~" + "k" * 126 + " " + "k" * 127
    first, again = create(gateway, secret, key), create(gateway, secret, key)
    assert (first.status_code, again.status_code) == (200, 200)
    assert first.json()["id"] == again.json()["id"]


def test_a_key_older_than_a_day_makes_a_new_task(gateway: Gateway) -> None:
    secret, account = account_token(gateway)
    key = new_key()
    first = create(gateway, secret, key)
    gateway.query(
        "UPDATE idempotency_keys SET created_at = created_at - 86401 WHERE account_id = ?",
        account,
    )
    later = create(gateway, secret, key, BODY | {"prompt": "Not the same request at all"})
    assert later.status_code == 200, later.text
    assert "Idempotent-Replayed" not in later.headers
    assert later.json()["id"] != first.json()["id"]
    assert holds(gateway, account) == 2
    # The key now names the new task, for another day.
    replay = create(gateway, secret, key, BODY | {"prompt": "Not the same request at all"})
    assert replay.json()["id"] == later.json()["id"]
    assert gateway.query("SELECT task_id FROM idempotency_keys WHERE account_id = ?", account) == [
        (later.json()["id"],)
    ]


def test_replaying_a_deleted_video_answers_404_like_get(gateway: Gateway) -> None:
    secret, _ = account_token(gateway)
    key = new_key()
    video_id = create(gateway, secret, key).json()["id"]
    auth = {"Authorization": f"Bearer {secret}"}
    assert httpx.delete(f"{gateway.url}/v1/videos/{video_id}", headers=auth).status_code == 200
    get = httpx.get(f"{gateway.url}/v1/videos/{video_id}", headers=auth)
    replay = create(gateway, secret, key)
    assert (get.status_code, replay.status_code) == (404, 404)
    assert replay.json() == get.json()


def test_openai_sdk_with_extra_headers(gateway: Gateway) -> None:
    secret, account = account_token(gateway)
    client = gateway.client(secret)
    key = new_key()
    image = ("ref.png", png_bytes(), "image/png")

    def create_with_sdk(prompt: str) -> Any:
        return client.videos.with_raw_response.create(
            model=FAST,
            prompt=prompt,
            seconds="8",
            size="1920x1080",
            input_reference=image,
            extra_headers={"Idempotency-Key": key},
        )

    first, again = create_with_sdk("The sky comes alive"), create_with_sdk("The sky comes alive")
    assert first.parse().id == again.parse().id  # multipart with its own boundary each time
    assert again.headers["Idempotent-Replayed"] == "true"
    other_image = ("ref.png", png_bytes(color="red"), "image/png")
    with pytest.raises(openai.ConflictError) as conflict:
        client.videos.create(
            model=FAST,
            prompt="The sky comes alive",
            seconds="8",
            size="1920x1080",
            input_reference=other_image,
            extra_headers={"Idempotency-Key": key},
        )
    assert conflict.value.code == "idempotency_key_reused"
    assert holds(gateway, account) == 1


def test_openapi_documents_the_key_and_its_answers(gateway: Gateway) -> None:
    create_op = httpx.get(f"{gateway.url}/openapi.json").json()["paths"]["/v1/videos"]["post"]
    (header,) = [p for p in create_op["parameters"] if p["name"] == "Idempotency-Key"]
    assert (header["in"], header["required"]) == ("header", False)
    assert (header["schema"]["minLength"], header["schema"]["maxLength"]) == (1, 255)
    assert {"200", "400", "404", "409"} <= set(create_op["responses"])
