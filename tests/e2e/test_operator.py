"""The operator side over HTTP: admin API, token settings and limits, prices, redemption."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import Gateway, assert_ledger_balanced, gateway_env, start_gateway

ADMIN_KEY = "admin-" + "k" * 40
FAST = "veo-3.1-fast-generate-preview"
STANDARD = "veo-3.1-generate-preview"


class Admin:
    def __init__(self, gateway: Gateway):
        self.url = f"{gateway.url}/admin/api"
        self.headers = {"Authorization": f"Bearer {ADMIN_KEY}"}

    def __call__(self, method: str, path: str, **kwargs: Any) -> Any:
        response = httpx.request(method, self.url + path, headers=self.headers, **kwargs)
        assert response.status_code == 200, response.text
        return response.json()

    def account(self, balance: str = "10") -> str:
        return str(
            self("POST", "/accounts", json={"name": "customer", "balance_usd": balance})["id"]
        )

    def token(self, account_id: str, **settings: Any) -> str:
        body = {"account_id": account_id, "name": "t", **settings}
        return str(self("POST", "/tokens", json=body)["secret"])


@pytest.fixture(scope="module")
def operator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Gateway, Admin]]:
    data_dir = tmp_path_factory.mktemp("operator") / "data"
    env = {
        **gateway_env(data_dir, simulator_url=None),
        "VEORELAY_ADMIN_KEY": ADMIN_KEY,
        "VEORELAY_CACHE_SECONDS": "0",
    }
    gateway = start_gateway(data_dir, env)
    yield gateway, Admin(gateway)
    gateway.process.stop()
    assert_ledger_balanced(gateway)


def create(gateway: Gateway, secret: str, **fields: Any) -> httpx.Response:
    body = {"model": FAST, "prompt": "operator test", "seconds": "4", **fields}
    return httpx.post(
        f"{gateway.url}/v1/videos", json=body, headers={"Authorization": f"Bearer {secret}"}
    )


def balance(admin: Admin, account_id: str) -> int:
    return int(admin("GET", f"/accounts/{account_id}")["balance_micros"])


def test_admin_api_needs_the_admin_key(operator: tuple[Gateway, Admin]) -> None:
    _, admin = operator
    customer = admin.token(admin.account())
    for headers in ({}, {"Authorization": f"Bearer {customer}"}, {"Authorization": "Bearer x"}):
        response = httpx.get(f"{admin.url}/accounts", headers=headers)
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "invalid_admin_key"


def test_a_non_ascii_admin_key_is_simply_wrong(operator: tuple[Gateway, Admin]) -> None:
    _, admin = operator
    response = httpx.get(
        f"{admin.url}/accounts", headers={"Authorization": "Bearer cl\u00e9".encode("latin-1")}
    )
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_admin_key"


def test_the_default_group_cannot_be_deleted(operator: tuple[Gateway, Admin]) -> None:
    _, admin = operator
    response = httpx.delete(f"{admin.url}/groups/default", headers=admin.headers)
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "group_required"
    assert "default" in {g["name"] for g in admin("GET", "/groups")["data"]}


def test_a_negative_spend_limit_is_refused(operator: tuple[Gateway, Admin]) -> None:
    _, admin = operator
    body = {"account_id": admin.account(), "name": "t", "spend_limit_usd": "-1"}
    response = httpx.post(f"{admin.url}/tokens", json=body, headers=admin.headers)
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "spend_limit_usd"


def test_top_up_adjust_and_ledger(operator: tuple[Gateway, Admin]) -> None:
    _, admin = operator
    account = admin.account("1")
    assert (
        admin("POST", f"/accounts/{account}/top-ups", json={"amount_usd": "2.50"})["balance_usd"]
        == "3.500000"
    )
    assert (
        admin(
            "POST",
            f"/accounts/{account}/adjustments",
            json={"amount_usd": -0.5, "note": "goodwill reversal"},
        )["balance_micros"]
        == 3_000_000
    )
    too_much = httpx.post(
        f"{admin.url}/accounts/{account}/adjustments",
        json={"amount_usd": "-3.000001"},
        headers=admin.headers,
    )
    assert too_much.status_code == 400
    kinds = [e["kind"] for e in admin("GET", f"/accounts/{account}/ledger")["data"]]
    assert kinds == ["adjustment", "topup", "topup"]


@pytest.mark.parametrize(
    ("billing_mode", "model_price", "fields", "expected"),
    [
        ("per_request", None, {"seconds": "8", "size": "3840x2160"}, 300_000),
        (
            "pay_as_you_go",
            {"per_call_usd": "0.3", "per_second_usd": {"720p": "0.05"}},
            {"seconds": "6"},
            300_000,
        ),
        (
            "pay_as_you_go_priority",
            {"per_call_usd": "0.3", "per_second_usd": {"720p": "0.02"}},
            {"seconds": "4"},
            80_000,
        ),
        (
            "pay_as_you_go_priority",
            {"per_call_usd": "0.3", "per_second_usd": {"720p": "0.02"}},
            {"seconds": "8", "size": "1920x1080"},
            300_000,
        ),  # no 1080p rate: per call
    ],
)
def test_billing_modes_and_prices(
    operator: tuple[Gateway, Admin],
    billing_mode: str,
    model_price: dict[str, Any] | None,
    fields: dict[str, str],
    expected: int,
) -> None:
    gateway, admin = operator
    model = f"veo-test-{billing_mode}-{expected}"
    admin(
        "PUT",
        f"/models/{model}",
        json=model_price or {"per_call_usd": "0.3"},
    )
    account = admin.account("5")
    secret = admin.token(account, billing_mode=billing_mode)
    response = create(gateway, secret, model=model, **fields)
    assert response.status_code == 200, response.text
    assert balance(admin, account) == 5_000_000 - expected


def test_pure_pay_as_you_go_without_per_second_prices_is_refused(
    operator: tuple[Gateway, Admin],
) -> None:
    gateway, admin = operator
    account = admin.account("5")
    response = create(gateway, admin.token(account, billing_mode="pay_as_you_go"))
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "billing_mode_not_supported"
    assert "pay_as_you_go" in response.json()["error"]["message"]
    assert balance(admin, account) == 5_000_000


def test_group_multiplier_applies(operator: tuple[Gateway, Admin]) -> None:
    gateway, admin = operator
    admin("PUT", "/groups/vip", json={"multiplier": "0.5", "description": "half price"})
    account = admin.account("5")
    assert create(gateway, admin.token(account, group="vip"), model=STANDARD).status_code == 200
    assert balance(admin, account) == 5_000_000 - 600_000
    missing = httpx.post(
        f"{admin.url}/tokens",
        headers=admin.headers,
        json={"account_id": account, "name": "x", "group": "nope"},
    )
    assert missing.status_code == 400


def test_spend_limit(operator: tuple[Gateway, Admin]) -> None:
    gateway, admin = operator
    secret = admin.token(admin.account("5"), spend_limit_usd="0.6")
    assert create(gateway, secret).status_code == 200
    assert create(gateway, secret).status_code == 200
    third = create(gateway, secret)
    assert third.status_code == 429
    assert third.json()["error"]["code"] == "token_spend_limit_reached"


@pytest.mark.parametrize(
    ("settings", "code"),
    [
        ({"enabled": False}, "token_disabled"),
        ({"expires_at": 1_000_000_000.0}, "token_expired"),
        ({"ip_allowlist": ["10.0.0.0/8"]}, "ip_forbidden"),
        ({"allowed_models": [STANDARD]}, "model_forbidden"),
    ],
)
def test_forbidden_tokens_get_403_with_their_own_code(
    operator: tuple[Gateway, Admin], settings: dict[str, Any], code: str
) -> None:
    gateway, admin = operator
    account = admin.account("5")
    response = create(gateway, admin.token(account, **settings))
    assert response.status_code == 403
    assert response.json()["error"]["code"] == code
    assert balance(admin, account) == 5_000_000


def test_ip_allowlist_admits_the_listed_network(operator: tuple[Gateway, Admin]) -> None:
    gateway, admin = operator
    secret = admin.token(admin.account(), ip_allowlist=["127.0.0.0/8", "::1/128"])
    assert create(gateway, secret).status_code == 200


def test_changes_to_a_token_apply(operator: tuple[Gateway, Admin]) -> None:
    gateway, admin = operator
    account = admin.account()
    secret = admin.token(account)
    token_id = admin("GET", f"/tokens?account_id={account}")["data"][0]["id"]
    assert create(gateway, secret).status_code == 200
    admin("PATCH", f"/tokens/{token_id}", json={"enabled": False})
    assert create(gateway, secret).json()["error"]["code"] == "token_disabled"
    admin("PATCH", f"/tokens/{token_id}", json={"enabled": True, "rpm_limit": 1})
    assert create(gateway, secret).status_code == 429  # one this minute already


def test_a_deleted_token_is_gone_but_its_usage_stays(operator: tuple[Gateway, Admin]) -> None:
    gateway, admin = operator
    account = admin.account()
    secret = admin.token(account)
    token_id = admin("GET", f"/tokens?account_id={account}")["data"][0]["id"]
    video_id = create(gateway, secret).json()["id"]
    assert admin("DELETE", f"/tokens/{token_id}") == {"id": token_id, "deleted": True}
    refused = create(gateway, secret)
    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == "invalid_api_key"
    gone = httpx.get(f"{admin.url}/tokens/{token_id}", headers=admin.headers)
    assert gone.status_code == 404
    assert admin("GET", f"/tokens?account_id={account}")["data"] == []
    again = httpx.delete(f"{admin.url}/tokens/{token_id}", headers=admin.headers)
    assert again.status_code == 404
    (record,) = admin("GET", f"/usage?token_id={token_id}")["data"]
    assert record["id"] == video_id


def test_rpm_and_in_flight_limits_answer_429_with_retry_after(
    operator: tuple[Gateway, Admin],
) -> None:
    gateway, admin = operator
    rpm = admin.token(admin.account(), rpm_limit=2)
    assert [create(gateway, rpm).status_code for _ in range(2)] == [200, 200]
    limited = create(gateway, rpm)
    assert limited.status_code == 429
    assert limited.json()["error"]["code"] == "rpm_limit_exceeded"
    assert 1 <= int(limited.headers["Retry-After"]) <= 60

    flight = admin.token(admin.account(), max_in_flight=1)
    assert create(gateway, flight, seconds="8", size="3840x2160").status_code == 200
    busy = create(gateway, flight)
    assert busy.status_code == 429
    assert busy.json()["error"]["code"] == "too_many_in_flight"
    assert int(busy.headers["Retry-After"]) >= 1


def test_redemption_codes(operator: tuple[Gateway, Admin]) -> None:
    gateway, admin = operator
    batch = admin("POST", "/redemption-codes", json={"amount_usd": "2", "count": 3})
    assert len(batch["codes"]) == 3
    account = admin.account("0")
    secret = admin.token(account)
    headers = {"Authorization": f"Bearer {secret}"}
    first = httpx.post(
        f"{gateway.url}/v1/redeem", json={"code": batch["codes"][0]}, headers=headers
    )
    assert first.json() == {"amount_usd": "2.000000", "balance_usd": "2.000000"}
    again = httpx.post(
        f"{gateway.url}/v1/redeem", json={"code": batch["codes"][0]}, headers=headers
    )
    assert again.status_code == 400
    assert again.json()["error"]["code"] == "code_already_redeemed"
    unknown = httpx.post(f"{gateway.url}/v1/redeem", json={"code": "vr-nope"}, headers=headers)
    assert unknown.status_code == 404
    expired = admin(
        "POST",
        "/redemption-codes",
        json={"amount_usd": "2", "count": 1, "expires_at": time.time() - 1},
    )
    late = httpx.post(
        f"{gateway.url}/v1/redeem", json={"code": expired["codes"][0]}, headers=headers
    )
    assert late.json()["error"]["code"] == "code_expired"
    assert balance(admin, account) == 2_000_000
    listed = admin("GET", f"/redemption-codes?batch_id={batch['batch_id']}")["data"]
    assert sum(1 for c in listed if c["redeemed_by"] == account) == 1
    assert all("code_hash" not in c and "code" not in c for c in listed)


def test_revoked_codes_cannot_be_redeemed(operator: tuple[Gateway, Admin]) -> None:
    gateway, admin = operator
    batch = admin("POST", "/redemption-codes", json={"amount_usd": "1", "count": 3})
    headers = {"Authorization": f"Bearer {admin.token(admin.account('0'))}"}
    code_ids = [
        c["id"] for c in admin("GET", f"/redemption-codes?batch_id={batch['batch_id']}")["data"]
    ]
    redeemed = httpx.post(
        f"{gateway.url}/v1/redeem", json={"code": batch["codes"][0]}, headers=headers
    )
    assert redeemed.status_code == 200
    first_id = next(
        i for i in code_ids if admin("GET", f"/redemption-codes/{i}")["redeemed_at"] is not None
    )
    too_late = httpx.post(f"{admin.url}/redemption-codes/{first_id}/revoke", headers=admin.headers)
    assert too_late.status_code == 409
    assert admin("POST", f"/redemption-batches/{batch['batch_id']}/revoke")["revoked"] == 2
    for code in batch["codes"][1:]:
        refused = httpx.post(f"{gateway.url}/v1/redeem", json={"code": code}, headers=headers)
        assert refused.status_code == 400
        assert refused.json()["error"]["code"] == "code_revoked"


def test_a_disabled_account_refuses_all_its_tokens(operator: tuple[Gateway, Admin]) -> None:
    gateway, admin = operator
    account = admin.account("5")
    secrets = [admin.token(account), admin.token(account)]
    admin("PATCH", f"/accounts/{account}", json={"enabled": False})
    for secret in secrets:
        refused = create(gateway, secret)
        assert refused.status_code == 403
        assert refused.json()["error"]["code"] == "account_disabled"
    assert admin("PATCH", f"/accounts/{account}", json={"enabled": True})["enabled"] is True
    assert create(gateway, secrets[0]).status_code == 200
    assert balance(admin, account) == 4_700_000  # the money stayed all along


def test_an_account_is_deleted_only_when_nothing_is_left_on_it(
    operator: tuple[Gateway, Admin],
) -> None:
    gateway, admin = operator
    account = admin.account("1")
    secret = admin.token(account)
    with_money = httpx.delete(f"{admin.url}/accounts/{account}", headers=admin.headers)
    assert with_money.status_code == 409
    assert with_money.json()["error"]["code"] == "account_has_balance"
    admin("POST", f"/accounts/{account}/adjustments", json={"amount_usd": "-1"})
    assert admin("DELETE", f"/accounts/{account}") == {"id": account, "deleted": True}
    assert create(gateway, secret).status_code == 401  # its tokens went with it
    gone = httpx.get(f"{admin.url}/accounts/{account}", headers=admin.headers)
    assert gone.status_code == 404
    assert account not in {a["id"] for a in admin("GET", "/accounts")["data"]}


def test_models_are_patched_and_deleted(operator: tuple[Gateway, Admin]) -> None:
    gateway, admin = operator
    secret = admin.token(admin.account("5"))
    admin("PUT", "/models/veo-3.1-lite-generate-preview", json={"per_call_usd": "0.1"})
    patched = admin(
        "PATCH",
        "/models/veo-3.1-lite-generate-preview",
        json={"per_second_usd": {"720p": "0.01"}, "description": "Lite"},
    )
    assert (patched["per_call_usd"], patched["per_second_usd"]) == (
        "0.100000",
        {"720p": "0.010000"},
    )
    assert create(gateway, secret, model="veo-3.1-lite-generate-preview").status_code == 200
    admin("PATCH", "/models/veo-3.1-lite-generate-preview", json={"enabled": False})
    paused = create(gateway, secret, model="veo-3.1-lite-generate-preview")
    assert paused.json()["error"]["code"] == "model_not_found"
    listed = {m["model"]: m for m in admin("GET", "/models")["data"]}
    assert listed["veo-3.1-lite-generate-preview"]["enabled"] is False
    admin("DELETE", "/models/veo-3.1-lite-generate-preview")
    assert "veo-3.1-lite-generate-preview" not in {
        m["model"] for m in admin("GET", "/models")["data"]
    }
    admin("DELETE", f"/models/{FAST}")  # a default model: it must not come back by itself
    gone = create(gateway, secret)
    assert gone.status_code == 400
    assert gone.json()["error"]["code"] == "model_not_found"
    admin("PUT", f"/models/{FAST}", json={"per_call_usd": "0.3"})  # brought back by hand
    assert create(gateway, secret).status_code == 200


def test_upstream_model_ids_are_refused_on_prices_and_point_to_channels(
    operator: tuple[Gateway, Admin],
) -> None:
    _, admin = operator
    for method in ("PUT", "PATCH"):
        response = httpx.request(
            method,
            f"{admin.url}/models/{FAST}",
            headers=admin.headers,
            json={"per_call_usd": "0.3", "upstream_model": "veo-3.1-fast-generate-001"},
        )
        assert response.status_code == 400
        error = response.json()["error"]
        assert (error["code"], error["param"]) == ("upstream_model_per_channel", "upstream_model")
        assert "channel" in error["message"]
    assert "upstream_model" not in admin("GET", "/models")["data"][0]


def test_concurrent_redeem_of_one_code_credits_once(operator: tuple[Gateway, Admin]) -> None:
    gateway, admin = operator
    code = admin("POST", "/redemption-codes", json={"amount_usd": "1", "count": 1})["codes"][0]
    accounts = [admin.account("0") for _ in range(5)]
    secrets = [admin.token(a) for a in accounts]

    async def attempt(http: httpx.AsyncClient, secret: str) -> int:
        response = await http.post(
            f"{gateway.url}/v1/redeem",
            json={"code": code},
            headers={"Authorization": f"Bearer {secret}"},
        )
        return response.status_code

    async def race() -> list[int]:
        async with httpx.AsyncClient() as http:
            return await asyncio.gather(*(attempt(http, s) for s in secrets for _ in range(4)))

    statuses = asyncio.run(race())
    assert statuses.count(200) == 1
    assert sum(balance(admin, a) for a in accounts) == 1_000_000


def test_me_and_dashboard_endpoints(operator: tuple[Gateway, Admin]) -> None:
    gateway, admin = operator
    account = admin.account("3")
    secret = admin.token(account, rpm_limit=50)
    headers = {"Authorization": f"Bearer {secret}"}
    video = create(gateway, secret).json()
    deadline = time.monotonic() + 30
    while (
        httpx.get(f"{gateway.url}/v1/videos/{video['id']}", headers=headers).json()["status"]
        != "completed"
    ):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    me = httpx.get(f"{gateway.url}/v1/me", headers=headers).json()
    assert me["account"]["balance_usd"] == "2.700000"
    assert me["token"]["rpm_limit"] == 50
    assert me["token"]["spent_micros"] == 300_000
    assert "secret_hash" not in me["token"]
    sub = httpx.get(f"{gateway.url}/v1/dashboard/billing/subscription", headers=headers).json()
    assert sub["hard_limit_usd"] == pytest.approx(3.0)
    used = httpx.get(f"{gateway.url}/v1/dashboard/billing/usage", headers=headers).json()
    assert used["total_usage"] == pytest.approx(30.0)  # cents


def test_usage_log_filters_and_csv(operator: tuple[Gateway, Admin]) -> None:
    gateway, admin = operator
    account = admin.account("5")
    secret = admin.token(account)
    ids = [create(gateway, secret).json()["id"] for _ in range(3)]
    page = admin("GET", f"/usage?account_id={account}&limit=2")
    assert [r["id"] for r in page["data"]] == ids[::-1][:2]
    assert page["has_more"] is True
    rest = admin("GET", f"/usage?account_id={account}&limit=2&after={page['last_id']}")
    assert [r["id"] for r in rest["data"]] == [ids[0]]
    row = page["data"][0]
    assert {
        "model",
        "seconds",
        "resolution",
        "quoted_usd",
        "charged_usd",
        "state",
        "error_code",
        "token_id",
    } <= set(row)
    deadline = time.monotonic() + 30
    while not all(r["finished_at"] for r in admin("GET", f"/usage?account_id={account}")["data"]):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    for record in admin("GET", f"/usage?account_id={account}")["data"]:
        assert record["state"] == "completed"
        assert record["charged_usd"] == record["quoted_usd"] == "0.300000"
        assert record["queued_seconds"] >= 0
        assert record["render_seconds"] > 0
        assert record["total_seconds"] == pytest.approx(
            record["queued_seconds"] + record["render_seconds"], abs=0.002
        )
    csv_text = httpx.get(
        f"{admin.url}/usage/export?account_id={account}", headers=admin.headers
    ).text
    lines = csv_text.strip().splitlines()
    assert lines[0].startswith("id,created_at,account_id")
    assert "total_seconds" in lines[0]
    assert len(lines) == 4  # every record, not a page
    empty = httpx.get(f"{admin.url}/usage/export?account_id=nobody", headers=admin.headers)
    assert empty.text.splitlines() == [lines[0]]  # the same header without rows
    bogus = httpx.get(f"{admin.url}/usage?status=bogus", headers=admin.headers)
    assert bogus.status_code == 400
    assert bogus.json()["error"]["param"] == "status"
    summary = admin("GET", f"/summary?account_id={account}&by=model")
    assert summary["data"][0]["key"] == FAST
    assert summary["data"][0]["tasks"] == 3
