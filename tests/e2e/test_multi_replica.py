"""The multi-machine topology on one machine: two API-only gateways and two workers, separate
processes sharing PostgreSQL and an S3 bucket (docs/deploy.md). 100 tasks go in through both
gateways; a worker is killed -9 and a gateway restarted mid-run. Every task completes once, is
charged once, downloads from either gateway, and the limits hold across the replicas."""

from __future__ import annotations

import itertools
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import Gateway, gateway_env, start_gateway, start_simulator
from tests.e2e.test_pool import assert_settled_once, stats, wait_terminal
from tests.helpers import Process
from tests.s3 import new_bucket, object_keys, s3_env

pytestmark = pytest.mark.postgres
ADMIN_KEY = "replica-admin-key-0123456789"
FAST = "veo-3.1-fast-generate-preview"
CHANNEL_CONCURRENCY = 4


def _account(gateway: Gateway, balance: str, **token: object) -> tuple[str, str]:
    admin = {"Authorization": f"Bearer {ADMIN_KEY}"}
    account = httpx.post(
        f"{gateway.url}/admin/api/accounts", json={"name": "a", "balance_usd": balance},
        headers=admin,
    ).json()  # fmt: skip
    made = httpx.post(
        f"{gateway.url}/admin/api/tokens",
        json={"account_id": account["id"], "name": "t", **token},
        headers=admin,
    )
    assert made.status_code == 200, made.text
    return made.json()["secret"], account["id"]


def _create(gateways: list[Gateway], index: int, token: str) -> httpx.Response:
    """A create through the gateway `index` picks, waiting out a restart of that gateway."""
    gateway = gateways[index % len(gateways)]
    for _ in range(300):
        try:
            return httpx.post(
                f"{gateway.url}/v1/videos",
                headers={"Authorization": f"Bearer {token}"},
                json={"model": FAST, "prompt": f"replica scene {index}", "seconds": "4"},
                timeout=30,
            )
        except httpx.TransportError:
            time.sleep(0.1)
    raise AssertionError("the gateway never came back")


def test_two_gateways_and_two_workers_on_postgresql_and_s3(
    tmp_path: Path, postgres_database: str, s3_server: str
) -> None:
    simulator, simulator_url = start_simulator(
        tmp_path, "0.01", "--cheap-renders", "--max-concurrent", str(CHANNEL_CONCURRENCY)
    )
    bucket = new_bucket(s3_server)
    shared = {
        "VEORELAY_DATABASE_URL": postgres_database,
        "VEORELAY_ADMIN_KEY": ADMIN_KEY,
        "VEORELAY_SECRET_KEY": "0" * 43 + "=",  # replicas share the key of channel secrets
        **s3_env(s3_server, bucket),
    }

    def env(name: str, **extra: str) -> dict[str, str]:
        data_dir = tmp_path / name
        return {**gateway_env(data_dir, simulator_url), **shared, **extra}

    api = {"VEORELAY_ENGINE_ENABLED": "false"}
    gateways = [start_gateway(tmp_path / f"api{i}", env(f"api{i}", **api)) for i in range(2)]
    workers = [
        Process(
            ["worker"], env=env(f"worker{i}"), log_path=tmp_path / f"worker{i}.log",
            ready_url=gateways[0].url,
        )
        for i in range(2)
    ]  # fmt: skip
    try:
        admin = {"Authorization": f"Bearer {ADMIN_KEY}"}
        limited = httpx.patch(
            f"{gateways[0].url}/admin/api/channels/env-gemini",
            json={"max_concurrent": CHANNEL_CONCURRENCY},
            headers=admin,
        )
        assert limited.status_code == 200, limited.text

        # Limits are counted in the shared database, whichever gateway a request reaches
        # (checked before the workers start, so nothing finishes meanwhile).
        rpm_token, _ = _account(gateways[0], "10", rpm_limit=3)
        answers = [_create(gateways, i, rpm_token).status_code for i in range(6)]
        assert sorted(answers) == [200] * 3 + [429] * 3
        spend_token, spender = _account(gateways[1], "10", spend_limit_usd="0.60")
        answers = [_create(gateways, i, spend_token).status_code for i in range(4)]
        assert answers.count(200) == 2
        in_flight_token, _ = _account(gateways[0], "10", max_in_flight=2)
        answers = [_create(gateways, i, in_flight_token).status_code for i in range(5)]
        assert answers.count(200) == 2

        for worker in workers:
            worker.start()
        owners = [_account(gateways[i % 2], "40") for i in range(4)]
        tokens = itertools.cycle([secret for secret, _ in owners])
        with ThreadPoolExecutor(8) as pool:
            futures = [pool.submit(_create, gateways, i, next(tokens)) for i in range(100)]
            while "submitted as" not in workers[0].log():  # it has work in hand
                time.sleep(0.1)
            workers[0].kill()  # mid-run: its leased steps are taken over when the lease ends
            gateways[1].process.stop()  # a rolling restart of one API replica
            gateways[1].process.start()
            answers = [future.result() for future in futures]
        assert [a.status_code for a in answers] == [200] * 100
        ids = [a.json()["id"] for a in answers]
        states = wait_terminal(gateways[0], ids, seconds=600)
        assert {state for state, _ in states.values()} == {"completed"}
        assert_settled_once(gateways[0], states)
        for _, account_id in owners:
            assert gateways[0].balance(account_id) == 40_000_000 - 25 * 300_000
        assert gateways[0].balance(spender) == 10_000_000 - 2 * 300_000

        # Every video downloads from either gateway, and lives in the bucket.
        for index, video_id in enumerate(ids[::10]):
            gateway = gateways[index % 2]
            token = next(s for s, a in owners if _owner(gateway, video_id) == a)
            content = httpx.get(
                f"{gateway.url}/v1/videos/{video_id}/content",
                headers={"Authorization": f"Bearer {token}"},
                timeout=30,
            )
            assert content.status_code == 200
            assert content.content[4:8] == b"ftyp"
        assert len([k for k in object_keys(s3_server, bucket) if k.endswith(".mp4")]) >= 100

        # The channel's capacity held across both workers: Google (the simulator) never
        # saw more at once, and never had to refuse one.
        counters = stats(simulator_url)["owners"]
        assert isinstance(counters, dict)
        for owner, numbers in counters.items():
            assert numbers["max_concurrent_seen"] <= CHANNEL_CONCURRENCY, (owner, numbers)
            assert numbers["refused_for_limits"] == 0, (owner, numbers)
    finally:
        for process in [*workers, *(g.process for g in gateways), simulator]:
            process.stop()


def _owner(gateway: Gateway, video_id: str) -> str:
    ((account_id,),) = gateway.query("SELECT account_id FROM tasks WHERE id = ?", video_id)
    return str(account_id)
