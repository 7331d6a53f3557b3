"""Webhooks end to end: a real receiver on loopback, the real gateway and simulator, the
unmodified `openai` SDK and `standardwebhooks` verifying what arrives."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
import standardwebhooks
from anyio import to_thread
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.e2e.conftest import (
    BOTH_DATABASES,
    Gateway,
    assert_ledger_balanced,
    gateway_env,
    running_gateway,
    start_gateway,
)
from tests.helpers import server_thread

FAST = "veo-3.1-fast-generate-preview"
ADMIN_KEY = "webhook-admin-" + "k" * 32
WEBHOOK_ENV = {
    "VEORELAY_WEBHOOK_ALLOW_PRIVATE": "true",  # the receiver is on loopback
    # The retry schedule (5 s, 5 min, 30 min, 2 h, 5 h, …) at 1/10000: the sixth attempt
    # comes 2.7 s after the first; an endpoint failing for 6 s (60000 s scaled) is disabled.
    "VEORELAY_WEBHOOK_TIME_SCALE": "0.0001",
    "VEORELAY_WEBHOOK_DISABLE_AFTER_SECONDS": "60000",
    "VEORELAY_WEBHOOK_TIMEOUT_SECONDS": "2",
    "VEORELAY_ADMIN_KEY": ADMIN_KEY,
}
Arrival = tuple[dict[str, str], bytes]


class Receiver:
    """POST /{name}: records every request; the first `failures[name]` get a 500; while
    `held[name]` is set, a request waits for it to clear before answering."""

    def __init__(self) -> None:
        self.arrivals: dict[str, list[Arrival]] = {}
        self.failures: dict[str, int] = {}
        self.held: dict[str, threading.Event] = {}
        self._changed = threading.Condition()
        self.app = Starlette(routes=[Route("/{name}", self.receive, methods=["POST"])])
        self.url = ""

    async def receive(self, request: Request) -> Response:
        name = request.path_params["name"]
        body = await request.body()
        with self._changed:
            self.arrivals.setdefault(name, []).append((dict(request.headers), body))
            count = len(self.arrivals[name])
            self._changed.notify_all()
        release = self.held.get(name)
        if release is not None:
            await to_thread.run_sync(release.wait, 60)
        if count <= self.failures.get(name, 0):
            return Response("down", status_code=500)
        return Response(status_code=204)

    def wait_for(self, name: str, count: int, timeout: float = 60) -> list[Arrival]:
        with self._changed:
            if not self._changed.wait_for(
                lambda: len(self.arrivals.get(name, [])) >= count, timeout
            ):
                raise AssertionError(f"{name}: {len(self.arrivals.get(name, []))} of {count}")
            return list(self.arrivals[name])


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    hooks = Receiver()
    with server_thread(hooks.app) as url:
        hooks.url = url
        yield hooks
    for held in hooks.held.values():
        held.set()


@pytest.fixture(scope="module")
def hooked(simulator: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    data_dir = tmp_path_factory.mktemp("hooked") / "data"
    gw = start_gateway(data_dir, {**gateway_env(data_dir, simulator), **WEBHOOK_ENV})
    yield gw
    gw.process.stop()
    assert "Traceback" not in gw.process.log()
    assert_ledger_balanced(gw)


def api(gw: Gateway, token: str) -> httpx.Client:
    return httpx.Client(base_url=gw.url, headers={"Authorization": f"Bearer {token}"}, timeout=10)


def admin(gw: Gateway) -> httpx.Client:
    return httpx.Client(
        base_url=f"{gw.url}/admin/api",
        headers={"Authorization": f"Bearer {ADMIN_KEY}"},
        timeout=10,
    )


def account(gw: Gateway) -> tuple[str, str]:
    """(token secret, account id) of a new account with $10, made through the admin API
    (quicker than the CLI; test_the_operator_manages_any_accounts_endpoints runs the CLI)."""
    with admin(gw) as operator:
        made = operator.post("/accounts", json={"name": "hooks", "balance_usd": "10"}).json()
        token = operator.post("/tokens", json={"account_id": made["id"], "name": "hooks"})
    return token.json()["secret"], made["id"]


def eventually(check: Callable[[], Any], timeout: float = 30) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.05)


def cli(gw: Gateway, *args: str) -> Any:
    done = subprocess.run(
        [sys.executable, "-m", "veorelay", *args, "--json"],
        env={**os.environ, **gw.env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_events_verify_with_the_openai_sdk_and_standardwebhooks(
    hooked: Gateway, receiver: Receiver
) -> None:
    token, _ = account(hooked)
    client = hooked.client(token)
    endpoint = client.webhooks.create(
        name="mine",
        url=f"{receiver.url}/verified",
        event_types=["video.completed", "video.failed"],
    )
    secret = endpoint.signing_secret
    assert secret.startswith("whsec_")
    assert client.webhooks.retrieve(endpoint.id).signing_secret_hint == f"whsec_…{secret[-4:]}"

    done = client.videos.create(model=FAST, prompt="A lighthouse", seconds="4", size="1280x720")
    failed = client.videos.create(model=FAST, prompt="Storm [sim:fail]", seconds="4")

    events = {}
    for headers, body in receiver.wait_for("verified", 2):
        event = client.webhooks.unwrap(body, headers, secret=secret)
        assert standardwebhooks.Webhook(secret).verify(body, headers) == json.loads(body)
        assert headers["webhook-id"].startswith("msg_")
        events[event.to_dict()["data"]["id"]] = event.to_dict()
    assert events[done.id]["type"] == "video.completed"
    assert events[failed.id]["type"] == "video.failed"
    assert events[done.id]["object"] == "event"
    assert events[done.id]["id"].startswith("evt_")
    # The event comes only once the task's end is recorded: the video is there to fetch.
    assert client.videos.retrieve(done.id).status == "completed"
    assert client.videos.retrieve(failed.id).status == "failed"


def test_a_receiver_failing_five_times_gets_the_event_once_it_recovers(
    hooked: Gateway, receiver: Receiver
) -> None:
    receiver.failures["flaky"] = 5
    token, _ = account(hooked)
    client = hooked.client(token)
    endpoint = client.webhooks.create(
        name="flaky", url=f"{receiver.url}/flaky", event_types=["video.completed"]
    )
    video = client.videos.create(model=FAST, prompt="A river", seconds="4")

    arrivals = receiver.wait_for("flaky", 6)
    assert len({headers["webhook-id"] for headers, _ in arrivals}) == 1  # one delivery
    assert len({body for _, body in arrivals}) == 1
    headers, body = arrivals[-1]
    event = client.webhooks.unwrap(body, headers, secret=endpoint.signing_secret)
    assert event.to_dict()["data"]["id"] == video.id

    with api(hooked, token) as http:
        log = eventually(
            lambda: [
                d
                for d in http.get(f"/v1/webhook_endpoints/{endpoint.id}/deliveries").json()["data"]
                if d["state"] == "delivered"
            ]
        )
    (delivery,) = log
    assert delivery["id"] == headers["webhook-id"]
    assert delivery["attempts"] == 6
    assert [a["status"] for a in delivery["attempt_log"]] == [204, 500, 500, 500, 500, 500]
    time.sleep(0.5)
    assert len(receiver.arrivals["flaky"]) == 6  # delivered: no attempt after the 2xx
    metrics = httpx.get(f"{hooked.url}/metrics", timeout=10).text  # loopback: no key needed
    assert 'veorelay_webhook_deliveries{state="delivered"}' in metrics


def test_an_endpoint_failing_too_long_is_disabled_and_redelivered_by_hand(
    hooked: Gateway, receiver: Receiver
) -> None:
    receiver.failures["down"] = 10**6
    token, _ = account(hooked)
    client = hooked.client(token)
    created = client.webhooks.create(
        name="down", url=f"{receiver.url}/down", event_types=["video.completed"]
    )
    client.videos.create(model=FAST, prompt="A field", seconds="4")

    with api(hooked, token) as http:
        endpoint = eventually(
            lambda: (
                (e := http.get(f"/v1/webhook_endpoints/{created.id}").json())["enabled"] is False
                and e
            )
        )
        assert "failed for too long" in endpoint["disabled_reason"]
        tries = len(receiver.arrivals["down"])
        assert tries >= 6
        log = http.get(f"/v1/webhook_endpoints/{created.id}/deliveries").json()["data"]
        (delivery,) = log
        assert delivery["state"] == "failed"
        assert delivery["attempts"] == tries
        assert {a["status"] for a in delivery["attempt_log"]} == {500}

        redeliver = f"/v1/webhook_endpoints/{created.id}/deliveries/{delivery['id']}/redeliver"
        refused = http.post(redeliver)
        assert refused.status_code == 409
        assert refused.json()["error"]["code"] == "webhook_endpoint_disabled"

        receiver.failures["down"] = 0
        enabled = http.post(f"/v1/webhook_endpoints/{created.id}", json={"enabled": True})
        assert enabled.json()["enabled"] is True
        assert enabled.json()["disabled_reason"] is None
        with admin(hooked) as operator:  # the operator's view of the same log, and redelivery
            logged = operator.get(f"/webhooks/{created.id}/deliveries").json()["data"]
            assert [d["id"] for d in logged] == [delivery["id"]]
            again = operator.post(f"/webhooks/{created.id}/deliveries/{delivery['id']}/redeliver")
        assert again.json()["state"] == "pending"

        headers, body = receiver.wait_for("down", tries + 1)[-1]
        assert headers["webhook-id"] == delivery["id"]
        verified = standardwebhooks.Webhook(created.signing_secret).verify(body, headers)
        assert verified["type"] == "video.completed"
        eventually(
            lambda: (
                http.get(f"/v1/webhook_endpoints/{created.id}/deliveries").json()["data"][0][
                    "state"
                ]
                == "delivered"
            )
        )


def test_the_operator_manages_any_accounts_endpoints(hooked: Gateway, receiver: Receiver) -> None:
    token, account_id = account(hooked)
    other_token, _ = account(hooked)
    with admin(hooked) as admin_api:
        made = admin_api.post(
            "/webhooks",
            json={
                "account_id": account_id,
                "name": "ops",
                "url": f"{receiver.url}/ops",
                "event_types": ["video.failed"],
            },
        ).json()
        assert made["account_id"] == account_id
        assert made["signing_secret"].startswith("whsec_")
        unknown = admin_api.post(
            "/webhooks",
            json={
                "account_id": "acct_nope",
                "name": "x",
                "url": receiver.url,
                "event_types": ["video.failed"],
            },
        )
        assert unknown.status_code == 404
        assert (
            admin_api.patch(f"/webhooks/{made['id']}", json={"name": "renamed"}).json()["name"]
            == "renamed"
        )
        listed = admin_api.get("/webhooks", params={"account_id": account_id}).json()["data"]
        assert [e["id"] for e in listed] == [made["id"]]
        rotated = admin_api.post(f"/webhooks/{made['id']}/rotate_secret").json()
        assert rotated["signing_secret"] != made["signing_secret"]

    by_cli = cli(
        hooked, "webhook", "create", "--account", account_id, "--url", f"{receiver.url}/cli"
    )
    assert by_cli["signing_secret"].startswith("whsec_")
    assert by_cli["event_types"] == ["video.completed", "video.failed"]
    listing = cli(hooked, "webhook", "list", "--account", account_id)
    assert [e["id"] for e in listing["data"]] == [by_cli["id"], made["id"]]  # newest first
    for secret in (made["signing_secret"], rotated["signing_secret"], by_cli["signing_secret"]):
        assert secret not in json.dumps(listing)

    mine = hooked.client(token)
    assert [e.id for e in mine.webhooks.list().data] == [by_cli["id"], made["id"]]
    with pytest.raises(openai.NotFoundError):
        hooked.client(other_token).webhooks.retrieve(made["id"])
    assert hooked.client(other_token).webhooks.list().data == []
    assert mine.webhooks.update(by_cli["id"], name="renamed").name == "renamed"
    rotated_by_sdk = mine.webhooks.rotate_secret(by_cli["id"])
    assert rotated_by_sdk.signing_secret not in (by_cli["signing_secret"], None)
    assert mine.webhooks.delete(made["id"]).deleted is True
    assert [e.id for e in mine.webhooks.list().data] == [by_cli["id"]]


@pytest.mark.parametrize("database", BOTH_DATABASES)
def test_kill_9_between_the_terminal_write_and_the_delivery_still_delivers(
    database: str, simulator: str, receiver: Receiver, tmp_path: Path
) -> None:
    name = f"killed-{database}"
    receiver.held[name] = threading.Event()
    data_dir = tmp_path / "data"
    # A crashed attempt is sent again once its lease (2 x this timeout + 1 s) has ended.
    env = {
        **gateway_env(data_dir, simulator),
        **WEBHOOK_ENV,
        "VEORELAY_WEBHOOK_TIMEOUT_SECONDS": "1",
    }
    with running_gateway(database, data_dir, env) as gw:
        token, _ = account(gw)
        client = gw.client(token)
        endpoint = client.webhooks.create(
            name="k", url=f"{receiver.url}/{name}", event_types=["video.completed"]
        )
        video = client.videos.create(model=FAST, prompt="A harbour", seconds="4")
        (first, _), *_ = receiver.wait_for(name, 1)  # the task is completed; a POST in flight
        gw.process.kill()
        assert gw.query("SELECT state FROM tasks WHERE id = ?", video.id) == [("completed",)]
        assert gw.query("SELECT id, state FROM webhook_deliveries WHERE task_id = ?", video.id) == [
            (first["webhook-id"], "pending")
        ]

        receiver.held[name].set()
        gw.process.start()
        arrivals = receiver.wait_for(name, 2)
        assert {headers["webhook-id"] for headers, _ in arrivals} == {first["webhook-id"]}
        headers, body = arrivals[-1]
        event = client.webhooks.unwrap(body, headers, secret=endpoint.signing_secret)
        assert event.to_dict()["data"]["id"] == video.id
        eventually(
            lambda: (
                gw.query("SELECT state FROM webhook_deliveries WHERE task_id = ?", video.id)
                == [("delivered",)]
            )
        )
