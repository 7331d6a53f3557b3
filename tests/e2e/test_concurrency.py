"""Money under concurrency, over HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import assert_ledger_balanced, gateway_env, start_gateway


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def test_100_concurrent_creates_against_a_balance_for_10(
    tmp_path: Path, backend: str, request: pytest.FixtureRequest
) -> None:
    data_dir = tmp_path / "data"
    env = {**gateway_env(data_dir, simulator_url=None), "VEORELAY_ENGINE_ENABLED": "false"}
    if backend == "postgresql":
        env["VEORELAY_DATABASE_URL"] = request.getfixturevalue("postgres_database")
    gateway = start_gateway(data_dir, env)
    try:
        token, account = gateway.token("3")  # exactly ten $0.30 videos

        async def create(http: httpx.AsyncClient) -> httpx.Response:
            return await http.post(
                f"{gateway.url}/v1/videos",
                json={"model": "veo-3.1-fast-generate-preview", "prompt": "rush", "seconds": "4"},
                headers={"Authorization": f"Bearer {token}"},
            )

        async def rush() -> list[httpx.Response]:
            limits = httpx.Limits(max_connections=100)
            async with httpx.AsyncClient(limits=limits, timeout=60) as http:
                return await asyncio.gather(*(create(http) for _ in range(100)))

        responses = asyncio.run(rush())
        statuses = [r.status_code for r in responses]
        assert statuses.count(200) == 10
        assert statuses.count(429) == 90
        assert {r.json()["error"]["code"] for r in responses if r.status_code == 429} == {
            "insufficient_quota"
        }
        headers = {"Authorization": f"Bearer {token}"}
        me = httpx.get(f"{gateway.url}/v1/me", headers=headers).json()
        assert me["account"]["balance_micros"] == 0
        listed = httpx.get(f"{gateway.url}/v1/videos?limit=100", headers=headers).json()
        assert len(listed["data"]) == 10
        assert account == me["account"]["id"]
        assert gateway.balance(account) == 0  # read from the backend's own database
    finally:
        gateway.process.stop()
    assert_ledger_balanced(gateway)
