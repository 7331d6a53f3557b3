"""Google-like limits per owner, the stats endpoint, and revoking keys at run time.

The simulator runs on loopback with a clock the test moves; prompts carry `[sim:fail]` so no
render runs (an operation still counts as running until it is due).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import google.auth.transport.requests
import httpx
import pytest
from google.oauth2 import service_account

from tests.helpers import free_port
from tests.simulator.serving import serve
from tests.vertex_accounts import make_service_account
from veorelay.simulator.app import SimulatorConfig, create_simulator_app
from veorelay.simulator.owners import Limits

MODEL = "veo-3.1-fast-generate-preview"
SCALE = 1 / 64  # exact in binary: a minute is 0.9375 s, a 720p render 1.171875 s


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@contextmanager
def simulator(tmp_path: Path, clock: Clock, **options: Any) -> Iterator[httpx.Client]:
    config = SimulatorConfig(data_dir=tmp_path / "sim", time_scale=SCALE, clock=clock, **options)
    with serve(create_simulator_app(config)) as url, httpx.Client(base_url=url) as client:
        yield client


def submit(
    client: httpx.Client, key: str = "k1", prompt: str = "p [sim:fail]", seed: int | None = None
) -> httpx.Response:
    params: dict[str, Any] = {"durationSeconds": 4}
    if seed is not None:
        params["seed"] = seed
    body = {"instances": [{"prompt": prompt}], "parameters": params}
    headers = {"x-goog-api-key": key}
    return client.post(f"/v1beta/models/{MODEL}:predictLongRunning", json=body, headers=headers)


def owner_of(key: str) -> str:
    return "gemini:" + hashlib.sha256(key.encode()).hexdigest()[:12]


def stats(client: httpx.Client) -> dict[str, Any]:
    body: dict[str, Any] = client.get("/_simulator/stats").json()
    return body


def test_max_concurrent_refuses_until_an_operation_is_done(tmp_path: Path) -> None:
    clock = Clock()
    with simulator(tmp_path, clock, limits=Limits(max_concurrent=2)) as client:
        assert [submit(client, prompt=f"p{i} [sim:fail]").status_code for i in range(2)] == [
            200,
            200,
        ]
        refused = submit(client, prompt="p3 [sim:fail]")
        assert refused.status_code == 429
        error = refused.json()["error"]
        assert error["status"] == "RESOURCE_EXHAUSTED"
        types = {detail["@type"].rsplit(".", 1)[1] for detail in error["details"]}
        assert types == {"RetryInfo", "QuotaFailure"}
        clock.now += 1.25  # the first two are done
        assert submit(client, prompt="p4 [sim:fail]").status_code == 200
        counters = stats(client)["owners"][owner_of("k1")]
        assert counters["max_concurrent_seen"] == 2
        assert counters["refused_for_limits"] == 1
        assert counters["submits"] == 3


def test_rpm_window_slides_with_the_time_scale(tmp_path: Path) -> None:
    clock = Clock()
    with simulator(tmp_path, clock, limits=Limits(rpm=3)) as client:
        codes = []
        for i in range(4):
            codes.append(submit(client, prompt=f"p{i} [sim:fail]").status_code)
            clock.now += 0.125
        assert codes == [200, 200, 200, 429]
        retry = submit(client, prompt="again [sim:fail]").json()["error"]["details"][0]
        assert retry["retryDelay"] == "0.438s"  # when the first submit leaves the window
        clock.now += 0.4375
        assert submit(client, prompt="later [sim:fail]").status_code == 200
        counters = stats(client)["owners"][owner_of("k1")]
        assert counters["max_submits_in_window"] == 5  # every submit attempt in the window
        assert counters["refused_for_limits"] == 2


def test_rpd_counts_a_scaled_day(tmp_path: Path) -> None:
    clock = Clock()
    with simulator(tmp_path, clock, limits=Limits(rpd=2)) as client:
        for i in range(2):
            assert submit(client, prompt=f"p{i} [sim:fail]").status_code == 200
            clock.now += 3600 * SCALE
        assert submit(client, prompt="p2 [sim:fail]").status_code == 429
        clock.now += 86400 * SCALE
        assert submit(client, prompt="p3 [sim:fail]").status_code == 200


def test_each_key_is_its_own_owner_unless_grouped(tmp_path: Path) -> None:
    clock = Clock()
    options: dict[str, Any] = {
        "limits": Limits(max_concurrent=1),
        "api_key_projects": {"k2": "shared", "k3": "shared"},
    }
    with simulator(tmp_path, clock, **options) as client:
        assert submit(client, "k1", "a [sim:fail]").status_code == 200
        assert submit(client, "k4", "b [sim:fail]").status_code == 200  # another project
        assert submit(client, "k2", "c [sim:fail]").status_code == 200
        assert submit(client, "k3", "d [sim:fail]").status_code == 429  # k2's project is busy
        body = stats(client)
        owners = body["owners"]
        assert set(owners) == {owner_of("k1"), owner_of("k4"), "gemini:shared"}
        assert owners["gemini:shared"]["keys"] == sorted(
            hashlib.sha256(k.encode()).hexdigest()[:12] for k in ("k2", "k3")
        )
        assert owners["gemini:shared"]["refused_for_limits"] == 1
        assert body["totals"] == {
            "submits": 3,
            "refused_for_limits": 1,
            "duplicate_submits": 0,
            "faults": 0,
        }
        assert body["window_seconds"] == 60


def test_duplicate_submits_are_counted_per_prompt_and_seed(tmp_path: Path) -> None:
    with simulator(tmp_path, Clock()) as client:
        for seed in (1, 1, 2, 1):
            assert submit(client, prompt="same [sim:fail]", seed=seed).status_code == 200
        assert submit(client, "k2", prompt="same [sim:fail]", seed=2).status_code == 200
        body = stats(client)
        assert body["owners"][owner_of("k1")]["duplicate_submits"] == 2
        assert body["owners"][owner_of("k2")]["duplicate_submits"] == 0
        assert body["totals"]["duplicate_submits"] == 3  # across owners too


def test_stats_never_show_a_raw_key(tmp_path: Path) -> None:
    secret = "AIzaSy-very-secret-key-123"
    with simulator(tmp_path, Clock(), limits=Limits(rpm=1)) as client:
        submit(client, secret)
        submit(client, secret)
        client.post("/_simulator/keys/revoke", json={"key": secret})
        assert secret not in client.get("/_simulator/stats").text
        assert owner_of(secret) in stats(client)["owners"]


def test_revoked_key_is_invalid_from_then_on(tmp_path: Path) -> None:
    with simulator(tmp_path, Clock(), api_keys=frozenset({"k1", "k2"})) as client:
        assert submit(client, "k1").status_code == 200
        revoked = client.post("/_simulator/keys/revoke", json={"key": "k1"})
        assert revoked.status_code == 200
        assert "k1" not in revoked.text
        refused = submit(client, "k1", "q [sim:fail]")
        assert refused.status_code == 400
        assert refused.json()["error"]["details"][0]["reason"] == "API_KEY_INVALID"
        assert submit(client, "k2", "q [sim:fail]").status_code == 200
        assert client.post("/_simulator/keys/revoke", json={}).status_code == 400


def test_vertex_project_limits_revocation_and_stats(tmp_path: Path) -> None:
    port = free_port()
    account = make_service_account(tmp_path, "proj-a", f"http://127.0.0.1:{port}/token")
    clock = Clock()
    config = SimulatorConfig(
        data_dir=tmp_path / "sim",
        time_scale=SCALE,
        clock=clock,
        vertex_service_accounts=(account,),
        limits=Limits(max_concurrent=1),
    )
    with serve(create_simulator_app(config), port) as url, httpx.Client(base_url=url) as client:
        clock.now = time.time()  # google-auth dates its JWT by the real clock
        credentials = service_account.Credentials.from_service_account_file(  # type: ignore[no-untyped-call]
            str(account), scopes=["https://www.googleapis.com/auth/cloud-platform"]
        )
        credentials.refresh(google.auth.transport.requests.Request())
        headers = {"Authorization": f"Bearer {credentials.token}"}
        path = (
            "/v1/projects/proj-a/locations/us-central1/publishers/google/models/"
            "veo-3.1-generate-001:predictLongRunning"
        )
        body = {"instances": [{"prompt": "v [sim:fail]"}], "parameters": {"durationSeconds": 4}}
        assert client.post(path, json=body, headers=headers).status_code == 200
        busy = client.post(path, json=body, headers=headers)
        assert busy.status_code == 429
        assert "Resource exhausted" in busy.json()["error"]["message"]
        counters = stats(client)["owners"]["vertex:proj-a"]
        assert counters["submits"] == 1
        assert counters["refused_for_limits"] == 1
        client.post("/_simulator/keys/revoke", json={"project": "proj-a"})
        clock.now += 100
        denied = client.post(path, json=body, headers=headers)
        assert denied.status_code == 403
        assert denied.json()["error"]["status"] == "PERMISSION_DENIED"


@pytest.mark.parametrize("limit", [Limits(rpm=2), Limits(max_concurrent=2)])
def test_a_client_within_the_limits_is_never_refused(tmp_path: Path, limit: Limits) -> None:
    clock = Clock()
    with simulator(tmp_path, clock, limits=limit) as client:
        for i in range(6):
            assert submit(client, prompt=f"p{i} [sim:fail]").status_code == 200
            clock.now += 0.46875 if limit.rpm else 0.625  # half a window; half a render
        counters = stats(client)["owners"][owner_of("k1")]
        assert counters["refused_for_limits"] == 0
        seen = counters["max_submits_in_window" if limit.rpm else "max_concurrent_seen"]
        assert seen == 2
