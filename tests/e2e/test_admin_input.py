"""Hostile values at the admin API, on SQLite and PostgreSQL: every one a 400 in the one error
shape, nothing written. (PostgreSQL refuses NUL in text and over-long strings where SQLite
stores them; the API must refuse them first, the same way on both.)"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import (
    BOTH_DATABASES,
    Gateway,
    gateway_env,
    running_gateway,
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
        if "json" in kwargs:  # escaped to ASCII, so even a lone surrogate can be sent
            kwargs["content"] = json.dumps(kwargs.pop("json"))
            headers["Content-Type"] = "application/json"
        return httpx.request(method, self.url + path, headers=headers, timeout=30, **kwargs)

    def ok(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self(method, path, **kwargs)
        assert response.status_code == 200, response.text
        return response.json()


@pytest.fixture(scope="module", params=BOTH_DATABASES)
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
    with running_gateway(request.param, data_dir, env) as gw:
        Admin(gw).ok("POST", "/accounts", json={"name": "bystander", "balance_usd": "5"})
        yield gw


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


# --- issue 13, item 5: what PostgreSQL cannot store is refused on both databases ------------

NUL = "a\x00b"
SURROGATE = "a\ud800b"  # json.dumps writes it as an escape, so it can be sent


@pytest.fixture
def account_id(admin: Admin) -> str:
    return str(admin.ok("POST", "/accounts", json={"name": "target", "balance_usd": "2"})["id"])


@pytest.mark.parametrize("text", [NUL, SURROGATE], ids=["NUL", "lone surrogate"])
def test_text_no_database_can_store_is_refused(admin: Admin, account_id: str, text: str) -> None:
    token = admin.ok("POST", "/tokens", json={"account_id": account_id, "name": "t"})["token"]
    cases: list[tuple[str, str, dict[str, Any], str]] = [
        ("POST", "/accounts", {"name": text}, "name"),
        ("PATCH", f"/accounts/{account_id}", {"name": text}, "name"),
        ("POST", f"/accounts/{account_id}/top-ups", {"amount_usd": "1", "note": text}, "note"),
        ("POST", f"/accounts/{account_id}/adjustments", {"amount_usd": "1", "note": text}, "note"),
        ("POST", "/tokens", {"account_id": account_id, "name": text}, "name"),
        ("POST", "/tokens", {"account_id": text, "name": "t"}, "account_id"),
        ("PATCH", f"/tokens/{token['id']}", {"name": text}, "name"),
        ("PATCH", f"/tokens/{token['id']}", {"group": text}, "group"),
        ("PATCH", f"/tokens/{token['id']}", {"allowed_models": [text]}, "allowed_models"),
        ("PUT", f"/models/{FAST}", {"per_call_usd": "0.3", "description": text}, "description"),
        ("PATCH", f"/models/{FAST}", {"description": text}, "description"),
        ("PATCH", f"/models/{FAST}", {"upstream_model": text}, "upstream_model"),
        ("PUT", "/groups/vip", {"description": text}, "description"),
    ]
    for method, path, body, param in cases:
        assert_refused(admin(method, path, json=body), param)
    assert admin.ok("GET", f"/accounts/{account_id}")["balance_micros"] == 2_000_000
    assert admin.ok("GET", f"/tokens/{token['id']}")["name"] == "t"


def test_a_redemption_code_no_database_can_store_is_refused(
    gateway: Gateway, admin: Admin, account_id: str
) -> None:
    secret = admin.ok("POST", "/tokens", json={"account_id": account_id, "name": "t"})["secret"]
    for code in (NUL, SURROGATE):
        response = httpx.post(
            f"{gateway.url}/v1/redeem",
            content=json.dumps({"code": code}),
            headers={"Authorization": f"Bearer {secret}", "Content-Type": "application/json"},
        )
        assert_refused(response, "code")


def test_names_longer_than_their_columns_are_refused(admin: Admin, account_id: str) -> None:
    token = admin.ok("POST", "/tokens", json={"account_id": account_id, "name": "t"})["token"]
    assert_refused(admin("PUT", "/groups/" + "g" * 61, json={"multiplier": "1"}), "name")
    assert_refused(admin("PUT", "/models/" + "m" * 101, json={"per_call_usd": "1"}), "model")
    assert_refused(admin("PATCH", "/models/" + "m" * 101, json={"per_call_usd": "1"}), "model")
    long_upstream = {"per_call_usd": "1", "upstream_model": "u" * 101}
    assert_refused(admin("PUT", "/models/m-ok", json=long_upstream), "upstream_model")
    assert_refused(admin("PATCH", f"/tokens/{token['id']}", json={"group": "g" * 61}), "group")
    assert_refused(admin("POST", "/accounts", json={"name": "n" * 201}), "name")
    assert admin.ok("PUT", "/groups/" + "g" * 60, json={"multiplier": "1"})["name"] == "g" * 60
    assert admin.ok("PUT", "/models/" + "m" * 100, json={"per_call_usd": "1"})["model"] == "m" * 100
    names = [m["model"] for m in admin.ok("GET", "/models")["data"]]
    assert "m-ok" not in names


@pytest.mark.parametrize("before_id", [2**31, 2**31 + 5, 2**63 - 1, 2**63])
def test_a_ledger_cursor_past_the_id_column_is_refused(
    admin: Admin, account_id: str, before_id: int
) -> None:
    response = admin("GET", f"/accounts/{account_id}/ledger?before_id={before_id}")
    assert_refused(response, "before_id")


def test_the_largest_ledger_cursor_is_read(admin: Admin, account_id: str) -> None:
    page = admin.ok("GET", f"/accounts/{account_id}/ledger?before_id={2**31 - 1}")
    assert [entry["kind"] for entry in page["data"]] == ["topup"]
