"""CORS on a real gateway: browsers of the configured origins may call /v1/, no one else's,
and never the admin API."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import Gateway, gateway_env, start_gateway

ADMIN_KEY = "admin-cors-" + "c" * 32
APP = "https://app.example.test"
DEV = "http://localhost:5173"
STRANGER = "https://evil.example.test"


@contextmanager
def cors_gateway(data_dir: Path, origins: str | None) -> Iterator[Gateway]:
    env = {
        **gateway_env(data_dir, simulator_url=None),
        "VEORELAY_ENGINE_ENABLED": "false",
        "VEORELAY_ADMIN_KEY": ADMIN_KEY,
    }
    if origins is not None:
        env["VEORELAY_CORS_ORIGINS"] = origins
    gw = start_gateway(data_dir, env)
    try:
        yield gw
    finally:
        gw.process.stop()
    assert "Traceback" not in gw.process.log()


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    with cors_gateway(tmp_path_factory.mktemp("cors") / "data", f" {APP}/ , {DEV}") as gw:
        yield gw


def preflight(gateway: Gateway, path: str, origin: str, method: str = "POST") -> httpx.Response:
    return httpx.options(
        gateway.url + path,
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": method,
            "Access-Control-Request-Headers": "authorization, content-type, idempotency-key",
        },
    )


def words(header: str | None) -> set[str]:
    return {part.strip().lower() for part in (header or "").split(",") if part.strip()}


@pytest.mark.parametrize("origin", [APP, DEV])
def test_preflight_from_an_allowed_origin_is_answered(gateway: Gateway, origin: str) -> None:
    response = preflight(gateway, "/v1/videos", origin)
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == origin
    assert {"get", "post", "delete", "head"} <= words(
        response.headers["access-control-allow-methods"]
    )
    assert {"authorization", "content-type", "idempotency-key"} <= words(
        response.headers["access-control-allow-headers"]
    )
    assert "access-control-allow-credentials" not in response.headers


def test_preflight_for_a_video_delete_is_answered(gateway: Gateway) -> None:
    response = preflight(gateway, "/v1/videos/video_abc", APP, method="DELETE")
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == APP


def test_preflight_from_another_origin_gets_no_allow_origin(gateway: Gateway) -> None:
    response = preflight(gateway, "/v1/videos", STRANGER)
    assert response.status_code == 400
    assert "access-control-allow-origin" not in response.headers


def test_an_allowed_origin_reads_answers_and_their_headers(gateway: Gateway) -> None:
    token = gateway.token()[0]
    response = httpx.get(
        f"{gateway.url}/v1/models", headers={"Origin": APP, "Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == APP
    assert words(response.headers["access-control-expose-headers"]) == {
        "openai-poll-after-ms",
        "idempotent-replayed",
        "retry-after",
    }


def test_an_allowed_origin_reads_errors_too(gateway: Gateway) -> None:
    response = httpx.get(f"{gateway.url}/v1/videos/video_none", headers={"Origin": APP})
    assert response.status_code == 401
    assert response.headers["access-control-allow-origin"] == APP


def test_another_origin_gets_answers_without_allow_origin(gateway: Gateway) -> None:
    token = gateway.token()[0]
    response = httpx.get(
        f"{gateway.url}/v1/models",
        headers={"Origin": STRANGER, "Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 200
    assert "access-control-allow-origin" not in response.headers


@pytest.mark.parametrize("method", ["GET", "POST", "DELETE"])
def test_the_admin_api_never_answers_cors(gateway: Gateway, method: str) -> None:
    answer = preflight(gateway, "/admin/api/accounts", APP, method=method)
    assert "access-control-allow-origin" not in answer.headers
    assert "access-control-allow-methods" not in answer.headers
    listed = httpx.get(
        f"{gateway.url}/admin/api/accounts",
        headers={"Origin": APP, "Authorization": f"Bearer {ADMIN_KEY}"},
    )
    assert listed.status_code == 200
    assert not any(name.startswith("access-control-") for name in listed.headers)


def test_cors_is_off_by_default(tmp_path: Path) -> None:
    with cors_gateway(tmp_path / "data", origins=None) as gw:
        answer = preflight(gw, "/v1/videos", APP)
        assert "access-control-allow-origin" not in answer.headers
        plain = httpx.get(f"{gw.url}/v1/models", headers={"Origin": APP})
        assert not any(name.startswith("access-control-") for name in plain.headers)


def test_any_origin_with_a_star(tmp_path: Path) -> None:
    with cors_gateway(tmp_path / "data", origins="*") as gw:
        answer = preflight(gw, "/v1/videos", STRANGER)
        assert answer.status_code == 200
        assert answer.headers["access-control-allow-origin"] == "*"
        plain = httpx.get(f"{gw.url}/v1/models", headers={"Origin": STRANGER})
        assert plain.headers["access-control-allow-origin"] == "*"
        admin = preflight(gw, "/admin/api/accounts", STRANGER)
        assert "access-control-allow-origin" not in admin.headers
