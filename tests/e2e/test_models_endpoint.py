"""GET /v1/models and /v1/models/{id} on a real gateway: the unmodified openai SDK and raw
HTTP, each token seeing the models it may use at its own prices."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest

from tests.e2e.conftest import Gateway, gateway_env, start_gateway

ADMIN_KEY = "admin-models-" + "m" * 32
FAST = "veo-3.1-fast-generate-preview"
PRO = "veo-3.1-generate-preview"


class Admin:
    def __init__(self, gateway: Gateway):
        self.url = f"{gateway.url}/admin/api"
        self.headers = {"Authorization": f"Bearer {ADMIN_KEY}"}

    def __call__(self, method: str, path: str, **body: Any) -> Any:
        response = httpx.request(
            method, self.url + path, headers=self.headers, json=body or None, timeout=30
        )
        assert response.status_code == 200, response.text
        return response.json()

    def token(self, balance: str = "10", **settings: Any) -> tuple[str, str]:
        """(secret, account id) of a new account's token with these settings."""
        account = self("POST", "/accounts", name="models", balance_usd=balance)
        created = self("POST", "/tokens", account_id=account["id"], name="models", **settings)
        return created["secret"], account["id"]


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    data_dir = tmp_path_factory.mktemp("models") / "data"
    env = {
        **gateway_env(data_dir, simulator_url=None),  # the built-in simulator serves both models
        "VEORELAY_ADMIN_KEY": ADMIN_KEY,
        "VEORELAY_CACHE_SECONDS": "0",
    }
    gw = start_gateway(data_dir, env)
    yield gw
    gw.process.stop()
    assert "Traceback" not in gw.process.log()


@pytest.fixture(scope="module")
def admin(gateway: Gateway) -> Admin:
    return Admin(gateway)


def models(gateway: Gateway, token: str) -> dict[str, dict[str, Any]]:
    response = httpx.get(f"{gateway.url}/v1/models", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["object"] == "list"
    return {model["id"]: model for model in body["data"]}


def test_sdk_lists_the_enabled_models(gateway: Gateway, admin: Admin) -> None:
    client = gateway.client(admin.token()[0])
    listed = list(client.models.list())
    assert [m.id for m in listed] == [FAST, PRO]
    assert {(m.object, m.owned_by) for m in listed} == {("model", "veorelay")}
    assert all(m.created > 1_700_000_000 for m in listed)


def test_sdk_retrieves_a_model_with_its_price(gateway: Gateway, admin: Admin) -> None:
    client = gateway.client(admin.token()[0])
    model = client.models.retrieve(PRO)
    assert (model.id, model.object, model.owned_by) == (PRO, "model", "veorelay")
    extra = model.model_dump()
    assert extra["pricing"]["per_call_usd"] == "1.20"
    assert extra["pricing"]["billing_mode"] == "per_request"
    assert extra["pricing"]["multiplier"] == "1"
    assert extra["available"] is True
    assert extra["unavailable_reason"] is None


def test_sdk_gets_404_for_an_unknown_model(gateway: Gateway, admin: Admin) -> None:
    client = gateway.client(admin.token()[0])
    with pytest.raises(openai.NotFoundError) as caught:
        client.models.retrieve("gpt-4o")
    assert caught.value.code == "model_not_found"
    assert caught.value.param == "model"


def test_a_token_sees_only_its_allowed_models(gateway: Gateway, admin: Admin) -> None:
    token = admin.token(allowed_models=[FAST])[0]
    assert list(models(gateway, token)) == [FAST]
    forbidden = httpx.get(
        f"{gateway.url}/v1/models/{PRO}", headers={"Authorization": f"Bearer {token}"}
    )
    unknown = httpx.get(
        f"{gateway.url}/v1/models/veo-0", headers={"Authorization": f"Bearer {token}"}
    )
    assert forbidden.status_code == unknown.status_code == 404
    assert forbidden.json()["error"]["code"] == unknown.json()["error"]["code"] == "model_not_found"
    assert forbidden.json()["error"]["type"] == "invalid_request_error"


def test_no_token_is_401(gateway: Gateway) -> None:
    response = httpx.get(f"{gateway.url}/v1/models")
    assert response.status_code == 401
    assert response.json()["error"]["code"]


def test_prices_carry_the_group_multiplier(gateway: Gateway, admin: Admin) -> None:
    admin("PUT", "/groups/resellers", multiplier="0.85")
    token, account_id = admin.token(group="resellers")
    pricing = models(gateway, token)[FAST]["pricing"]
    assert pricing["multiplier"] == "0.85"
    assert pricing["per_call_usd"] == "0.255"
    assert pricing["per_second_usd"] == {}
    assert pricing["per_video_usd"] == {
        "720p": {"4": "0.255", "6": "0.255", "8": "0.255"},
        "1080p": {"8": "0.255"},
        "4k": {"8": "0.255"},
    }
    # ... and the listed price is what a create holds.
    client = gateway.client(token)
    video = client.videos.create(model=FAST, prompt="A quay at dawn", seconds="4")
    assert gateway.balance(account_id) == 10_000_000 - 255_000
    client.videos.poll(video.id, poll_interval_ms=50)


def test_per_second_prices_follow_the_billing_mode(gateway: Gateway, admin: Admin) -> None:
    model = "veo-per-second-test"
    admin("PUT", f"/models/{model}", per_call_usd="0.40", per_second_usd={"720p": "0.05"})
    priority = admin.token(billing_mode="pay_as_you_go_priority")[0]
    pricing = models(gateway, priority)[model]["pricing"]
    assert pricing["per_call_usd"] == "0.40"
    assert pricing["per_second_usd"] == {"720p": "0.05"}
    assert pricing["per_video_usd"] == {
        "720p": {"4": "0.20", "6": "0.30", "8": "0.40"},
        "1080p": {"8": "0.40"},
        "4k": {"8": "0.40"},
    }
    per_second = models(gateway, admin.token(billing_mode="pay_as_you_go")[0])
    assert model in per_second
    assert FAST not in per_second  # it has no per-second price
    assert per_second[model]["pricing"]["per_call_usd"] is None
    assert per_second[model]["pricing"]["per_video_usd"] == {
        "720p": {"4": "0.20", "6": "0.30", "8": "0.40"}
    }


def test_a_model_no_channel_serves_for_the_group_is_listed_unavailable(
    gateway: Gateway, admin: Admin
) -> None:
    admin("PUT", "/groups/outsiders", multiplier="1")
    outsider, insider = admin.token(group="outsiders")[0], admin.token()[0]
    admin("PATCH", "/channels/simulator", groups=["default"])
    try:
        unserved = models(gateway, outsider)[FAST]
        served = models(gateway, insider)[FAST]
    finally:
        admin("PATCH", "/channels/simulator", groups=None)
    assert unserved["available"] is False
    assert unserved["unavailable_reason"]["code"] == "model_unavailable"
    assert served["available"] is True
    assert models(gateway, outsider)[FAST]["available"] is True


def test_a_disabled_model_is_not_listed(gateway: Gateway, admin: Admin) -> None:
    model = "veo-disabled-test"
    admin("PUT", f"/models/{model}", per_call_usd="0.50")
    token = admin.token()[0]
    assert model in models(gateway, token)
    admin("PATCH", f"/models/{model}", enabled=False)
    assert model not in models(gateway, token)
    with pytest.raises(openai.NotFoundError):
        gateway.client(token).models.retrieve(model)
