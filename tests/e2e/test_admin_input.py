"""Hostile values at the admin API, on SQLite and PostgreSQL: every one a 400 in the one error
shape, nothing written. (PostgreSQL refuses NUL in text and over-long strings where SQLite
stores them; the API must refuse them first, the same way on both.)"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import (
    Gateway,
    assert_ledger_balanced,
    fresh_postgres_database,
    gateway_env,
    start_gateway,
)

ADMIN_KEY = "admin-" + "h" * 40
FAST = "veo-3.1-fast-generate-preview"


class Admin:
    def __init__(self, gateway: Gateway):
        self.url = f"{gateway.url}/admin/api"
        self.headers = {"Authorization": f"Bearer {ADMIN_KEY}"}

    def __call__(
        self, method: str, path: str, headers: dict[str, str] | None = None, **kwargs: Any
    ) -> httpx.Response:
        headers = {**self.headers, **(headers or {})}
        return httpx.request(method, self.url + path, headers=headers, timeout=30, **kwargs)

    def ok(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self(method, path, **kwargs)
        assert response.status_code == 200, response.text
        return response.json()


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def gateway(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Gateway]:
    data_dir = tmp_path_factory.mktemp(f"admin-input-{request.param}") / "data"
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
        Admin(gw).ok("POST", "/accounts", json={"name": "bystander", "balance_usd": "5"})
        yield gw
        assert "Traceback" not in gw.process.log()
        assert_ledger_balanced(gw)


@pytest.fixture
def admin(gateway: Gateway) -> Admin:
    return Admin(gateway)


def assert_refused(response: httpx.Response, param: str | None = None) -> None:
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["type"] == "invalid_request_error"
    if param is not None:
        assert error["param"] is not None
        assert param in error["param"], error


def create(gateway: Gateway, secret: str) -> httpx.Response:
    return httpx.post(
        f"{gateway.url}/v1/videos",
        json={"model": FAST, "prompt": "price test", "seconds": "4"},
        headers={"Authorization": f"Bearer {secret}"},
    )


# --- issue 13, item 1: no negative or absurd price or multiplier ---------------------------

BAD_PRICES = ["-1", -0.3, "-0.000001", "1000.000001", 5000, "1e9", "\uff11", "NaN", "Infinity"]


@pytest.mark.parametrize("price", BAD_PRICES, ids=repr)
def test_a_bad_per_call_price_is_refused(admin: Admin, price: Any) -> None:
    before = admin.ok("GET", "/models")
    assert_refused(admin("PUT", "/models/m-new", json={"per_call_usd": price}), "per_call_usd")
    assert_refused(admin("PATCH", f"/models/{FAST}", json={"per_call_usd": price}), "per_call_usd")
    assert admin.ok("GET", "/models") == before


@pytest.mark.parametrize("price", ["-0.05", -1, "1001", "\uff10.5"], ids=repr)
def test_a_bad_per_second_price_is_refused(admin: Admin, price: Any) -> None:
    before = admin.ok("GET", "/models")
    body = {"per_call_usd": "0.3", "per_second_usd": {"720p": price}}
    assert_refused(admin("PUT", "/models/m-new", json=body), "per_second_usd")
    patch = {"per_second_usd": {"4k": price}}
    assert_refused(admin("PATCH", f"/models/{FAST}", json=patch), "per_second_usd")
    assert admin.ok("GET", "/models") == before


@pytest.mark.parametrize(
    "multiplier", ["-1", -0.5, "100.000001", 1000, "1e9", "\uff12", "NaN", "-Infinity"], ids=repr
)
def test_a_bad_group_multiplier_is_refused(admin: Admin, multiplier: Any) -> None:
    before = admin.ok("GET", "/groups")
    response = admin("PUT", "/groups/promo", json={"multiplier": multiplier})
    assert_refused(response, "multiplier")
    assert admin.ok("GET", "/groups") == before


def test_the_largest_price_and_multiplier_are_accepted(admin: Admin) -> None:
    body = {"per_call_usd": "1000", "per_second_usd": {"4k": 1000}, "enabled": False}
    assert admin.ok("PUT", "/models/m-dear", json=body)["per_call_usd"] == "1000.000000"
    assert admin.ok("PUT", "/groups/dear", json={"multiplier": "100"})["multiplier_ppm"] == 10**8
    assert admin.ok("PUT", "/groups/free", json={"multiplier": 0})["multiplier_ppm"] == 0


@pytest.mark.parametrize("amount", ["\uff11\uff10", "\u0661", "1\u00a0000"], ids=repr)
def test_money_must_be_written_in_ascii_digits(admin: Admin, amount: str) -> None:
    account = admin.ok("POST", "/accounts", json={"name": "ascii", "balance_usd": "1"})
    path = f"/accounts/{account['id']}"
    assert_refused(admin("POST", f"{path}/top-ups", json={"amount_usd": amount}), "amount_usd")
    assert_refused(admin("POST", f"{path}/adjustments", json={"amount_usd": amount}))
    assert_refused(admin("POST", "/accounts", json={"name": "x", "balance_usd": amount}))
    assert admin.ok("GET", path)["balance_micros"] == 1_000_000


def test_no_video_ever_pays_the_customer(gateway: Gateway, admin: Admin) -> None:
    """The probe's scenario: a zero price is the floor, so creating videos never adds money."""
    admin.ok("PATCH", f"/models/{FAST}", json={"per_call_usd": "0"})
    try:
        account = admin.ok("POST", "/accounts", json={"name": "free", "balance_usd": "1"})
        token = admin.ok("POST", "/tokens", json={"account_id": account["id"], "name": "f"})
        for _ in range(3):
            assert create(gateway, token["secret"]).status_code == 200
        assert admin.ok("GET", f"/accounts/{account['id']}")["balance_micros"] == 1_000_000
    finally:
        admin.ok("PATCH", f"/models/{FAST}", json={"per_call_usd": "0.3"})


# --- issue 13, item 2: JSON nested deeper than anyone needs --------------------------------


@pytest.mark.parametrize("path", ["/groups/deep", "/models/deep", "/accounts"])
def test_deeply_nested_admin_bodies_are_refused(admin: Admin, path: str) -> None:
    method = "POST" if path == "/accounts" else "PUT"
    body = '{"description": ' + '{"a": ' * 1000 + "1" + "}" * 1000 + "}"
    response = admin(method, path, content=body, headers={"Content-Type": "application/json"})
    assert_refused(response)
