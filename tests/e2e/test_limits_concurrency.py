"""Per-token and per-account limits under 30 concurrent creates, over HTTP, on SQLite and
PostgreSQL.

The engine is off, so every accepted task stays in flight and nothing but the creates moves
money; token settings are read fresh on each request (no cache).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import (
    BOTH_DATABASES,
    Gateway,
    assert_ledger_balanced,
    gateway_env,
    running_gateway,
)

ADMIN_KEY = "admin-" + "l" * 40
RUSH = 30
PRICE = 300_000  # a 4 s 720p fast video


@pytest.fixture(scope="module", params=BOTH_DATABASES)
def gateway(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Gateway]:
    data_dir = tmp_path_factory.mktemp(f"limits-{request.param}") / "data"
    env = {
        **gateway_env(data_dir, simulator_url=None),
        "VEORELAY_ENGINE_ENABLED": "false",
        "VEORELAY_ADMIN_KEY": ADMIN_KEY,
        "VEORELAY_CACHE_SECONDS": "0",
    }
    with running_gateway(request.param, data_dir, env) as gw:
        yield gw


def admin(gateway: Gateway, method: str, path: str, **body: Any) -> dict[str, Any]:
    answer = httpx.request(
        method,
        f"{gateway.url}/admin/api{path}",
        json=body,
        headers={"Authorization": f"Bearer {ADMIN_KEY}"},
    )
    assert answer.status_code == 200, answer.text
    result: dict[str, Any] = answer.json()
    return result


def new_token(gateway: Gateway, account: str, **settings: Any) -> str:
    return str(
        admin(gateway, "POST", "/tokens", account_id=account, name="rush", **settings)["secret"]
    )


def token_with(gateway: Gateway, **settings: Any) -> tuple[str, str]:
    """(secret, account id): a new $10 account, and a token with these settings (admin API)."""
    account = admin(gateway, "POST", "/accounts", name="rush", balance_usd="10")["id"]
    return new_token(gateway, account, **settings), account


def rush(gateway: Gateway, *secrets: str) -> list[httpx.Response]:
    """RUSH creates at once, each on its own connection, taking turns with the secrets."""

    async def create(http: httpx.AsyncClient, secret: str) -> httpx.Response:
        return await http.post(
            f"{gateway.url}/v1/videos",
            json={"model": "veo-3.1-fast-generate-preview", "prompt": "rush", "seconds": "4"},
            headers={"Authorization": f"Bearer {secret}"},
        )

    async def run() -> list[httpx.Response]:
        async with httpx.AsyncClient(limits=httpx.Limits(max_connections=RUSH), timeout=60) as http:
            turns = [secrets[i % len(secrets)] for i in range(RUSH)]
            return await asyncio.gather(*(create(http, secret) for secret in turns))

    return asyncio.run(run())


def assert_accepted_exactly(
    gateway: Gateway, account: str, responses: list[httpx.Response], accepted: int, code: str
) -> list[httpx.Response]:
    """`accepted` creates got 200, the others 429 with `code`; exactly the accepted ones were
    written and held. Returns the refusals."""
    statuses = [r.status_code for r in responses]
    assert (statuses.count(200), statuses.count(429)) == (accepted, RUSH - accepted)
    refused = [r for r in responses if r.status_code == 429]
    assert {r.json()["error"]["code"] for r in refused} == {code}
    ids = {r.json()["id"] for r in responses if r.status_code == 200}
    tasks = gateway.query("SELECT id, state FROM tasks WHERE account_id = ?", account)
    assert sorted(tasks) == sorted((task_id, "queued") for task_id in ids)
    holds = gateway.query(
        "SELECT count(*) FROM ledger WHERE account_id = ? AND kind = 'hold'", account
    )
    assert holds == [(accepted,)]
    assert gateway.balance(account) == 10_000_000 - accepted * PRICE
    assert_ledger_balanced(gateway)
    return refused


def test_rpm_limit(gateway: Gateway) -> None:
    secret, account = token_with(gateway, rpm_limit=5)
    responses = rush(gateway, secret)
    refused = assert_accepted_exactly(gateway, account, responses, 5, "rpm_limit_exceeded")
    assert all(1 <= int(r.headers["Retry-After"]) <= 60 for r in refused)


def test_max_in_flight(gateway: Gateway) -> None:
    secret, account = token_with(gateway, max_in_flight=3)
    responses = rush(gateway, secret)
    refused = assert_accepted_exactly(gateway, account, responses, 3, "too_many_in_flight")
    assert all(int(r.headers["Retry-After"]) >= 1 for r in refused)


def test_spend_limit(gateway: Gateway) -> None:
    secret, account = token_with(gateway, spend_limit_usd="1.20")  # exactly four videos
    responses = rush(gateway, secret)
    assert_accepted_exactly(gateway, account, responses, 4, "token_spend_limit_reached")
    spent = gateway.query("SELECT spent_micros FROM tokens WHERE account_id = ?", account)
    assert spent == [(4 * PRICE,)]


def test_account_rpm_limit_over_its_tokens(gateway: Gateway) -> None:
    account = admin(gateway, "POST", "/accounts", name="rush", balance_usd="10", rpm_limit=5)
    assert (account["rpm_limit"], account["max_in_flight"]) == (5, None)
    secrets = [new_token(gateway, account["id"]) for _ in range(3)]
    responses = rush(gateway, *secrets)
    refused = assert_accepted_exactly(gateway, account["id"], responses, 5, "rpm_limit_exceeded")
    assert all(1 <= int(r.headers["Retry-After"]) <= 60 for r in refused)
    assert "This account may create 5 videos a minute." in refused[0].json()["error"]["message"]


def test_account_max_in_flight_over_its_tokens(gateway: Gateway) -> None:
    secret, account = token_with(gateway, max_in_flight=20)  # the token's own, not reached
    other = new_token(gateway, account)
    changed = admin(gateway, "PATCH", f"/accounts/{account}", max_in_flight=3)
    assert changed["max_in_flight"] == 3
    responses = rush(gateway, secret, other)
    refused = assert_accepted_exactly(gateway, account, responses, 3, "too_many_in_flight")
    assert all(int(r.headers["Retry-After"]) >= 1 for r in refused)
    assert "This account may have 3 videos" in refused[0].json()["error"]["message"]
    me = httpx.get(f"{gateway.url}/v1/me", headers={"Authorization": f"Bearer {other}"})
    assert me.json()["account"]["max_in_flight"] == 3
    cleared = admin(gateway, "PATCH", f"/accounts/{account}", max_in_flight=None)
    assert cleared["max_in_flight"] is None
    again = rush(gateway, secret, other)  # 15 a token: within the token's own 20
    assert [r.status_code for r in again] == [200] * RUSH
