"""Operations endpoints on a real gateway: /healthz, /readyz and /metrics.

The engine is off, so created tasks stay `queued` and every figure is stable.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.conftest import (
    Gateway,
    fresh_postgres_database,
    gateway_env,
    postgres_admin,
    start_gateway,
)
from veorelay.app import create_app
from veorelay.settings import Settings

FAST = "veo-3.1-fast-generate-preview"
QUALITY = "veo-3.1-generate-preview"
METRICS_KEY = "metrics-key-0123456789abcdef"


def quiet_env(data_dir: Path, **extra: str) -> dict[str, str]:
    return {**gateway_env(data_dir, None), "VEORELAY_ENGINE_ENABLED": "false", **extra}


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    data_dir = tmp_path_factory.mktemp("ops") / "data"
    gw = start_gateway(data_dir, quiet_env(data_dir))
    yield gw
    gw.process.stop()


Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(gateway: Gateway, headers: dict[str, str] | None = None) -> Samples:
    response = httpx.get(f"{gateway.url}/metrics", headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    assert "_created" not in response.text
    samples: Samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def create_video(gateway: Gateway, token: str, model: str) -> str:
    response = httpx.post(
        f"{gateway.url}/v1/videos",
        headers={"Authorization": f"Bearer {token}"},
        json={"model": model, "prompt": "a lighthouse at dusk", "seconds": "4"},
    )
    assert response.status_code == 200, response.text
    video_id = response.json()["id"]
    assert isinstance(video_id, str)
    return video_id


def test_healthz_answers_ok(gateway: Gateway) -> None:
    for path in ("/healthz", "/health"):
        response = httpx.get(f"{gateway.url}{path}")
        assert response.status_code == 200
        assert response.json() == {"status": "ok"}


def test_operations_endpoints_stay_out_of_the_api_document(gateway: Gateway) -> None:
    paths = httpx.get(f"{gateway.url}/openapi.json").json()["paths"]
    assert "/health" in paths
    assert not {"/healthz", "/readyz", "/metrics"} & set(paths)


def test_readyz_is_ready_when_every_check_passes(gateway: Gateway) -> None:
    response = httpx.get(f"{gateway.url}/readyz")
    assert response.status_code == 200, response.text
    assert response.json() == {
        "status": "ready",
        "checks": {"database": "ok", "migrations": "ok", "storage": "ok"},
    }


def test_readyz_names_storage_that_cannot_be_written(gateway: Gateway) -> None:
    videos = gateway.data_dir / "videos"
    aside = gateway.data_dir / "videos.aside"
    videos.rename(aside)
    videos.write_text("a file where the storage directory should be")
    try:
        response = httpx.get(f"{gateway.url}/readyz")
    finally:
        videos.unlink()
        aside.rename(videos)
    assert response.status_code == 503
    body = response.json()
    assert body["failing"] == ["storage"]
    assert body["checks"]["database"] == "ok"
    assert httpx.get(f"{gateway.url}/readyz").status_code == 200


def test_readyz_names_migrations_behind_head(gateway: Gateway) -> None:
    ((head,),) = gateway.query("SELECT version_num FROM alembic_version")
    gateway.query("UPDATE alembic_version SET version_num = ?", "0001_older")
    try:
        response = httpx.get(f"{gateway.url}/readyz")
    finally:
        gateway.query("UPDATE alembic_version SET version_num = ?", head)
    assert response.status_code == 503
    assert response.json()["failing"] == ["migrations"]
    assert httpx.get(f"{gateway.url}/readyz").status_code == 200


@pytest.mark.postgres
def test_readyz_names_the_database_when_it_is_dropped(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    with fresh_postgres_database() as url:
        gw = start_gateway(data_dir, quiet_env(data_dir, VEORELAY_DATABASE_URL=url))
        try:
            assert httpx.get(f"{gw.url}/readyz").status_code == 200
            postgres_admin(f'DROP DATABASE "{url.rsplit("/", 1)[1]}" WITH (FORCE)')
            response = httpx.get(f"{gw.url}/readyz", timeout=30)
            assert response.status_code == 503
            body = response.json()
            assert body["status"] == "unavailable"
            assert body["failing"][0] == "database"
            assert body["checks"]["database"] == "failed"
            assert body["checks"]["storage"] == "ok"
            assert httpx.get(f"{gw.url}/healthz").status_code == 200
            scraped = scrape(gw)
            assert value(scraped, "veorelay_metrics_database_up") == 0
            assert not [name for name, _ in scraped if name.startswith("veorelay_tasks")]
        finally:
            gw.process.stop()


def test_metrics_count_tasks_by_state_and_model(gateway: Gateway) -> None:
    token, _ = gateway.token(balance="100")
    before = scrape(gateway)
    for model in (FAST, FAST, QUALITY):
        create_video(gateway, token, model)
    after = scrape(gateway)

    def added(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert added("veorelay_tasks", state="queued", model=FAST) == 2
    assert added("veorelay_tasks", state="queued", model=QUALITY) == 1
    assert added("veorelay_tasks", state="completed", model=FAST) == 0
    assert added("veorelay_queue_depth") == 3
    ((queued,),) = gateway.query("SELECT COUNT(*) FROM tasks WHERE state = 'queued'")
    assert value(after, "veorelay_queue_depth") == queued

    assert added("veorelay_ledger_entries", kind="hold") == 3
    ((held,),) = gateway.query("SELECT SUM(amount_micros) FROM ledger WHERE kind = 'hold'")
    assert value(after, "veorelay_ledger_amount_micros", kind="hold") == held
    assert isinstance(held, int)
    assert held < 0


def test_metrics_show_channels_without_secrets(gateway: Gateway) -> None:
    response = httpx.get(f"{gateway.url}/metrics")
    samples = scrape(gateway)
    channels = [dict(labels) for name, labels in samples if name == "veorelay_channel_up"]
    assert {"channel": "simulator", "kind": "gemini", "health": "healthy"} in channels
    assert (
        value(samples, "veorelay_channel_up", channel="simulator", kind="gemini", health="healthy")
        == 1
    )
    ((fingerprint,),) = gateway.query("SELECT fingerprint FROM channels WHERE name = 'simulator'")
    assert isinstance(fingerprint, str)
    assert fingerprint not in response.text
    assert "veorelay-simulator" not in response.text  # the simulator channel's key


def test_metrics_label_requests_by_route_template(gateway: Gateway) -> None:
    token, _ = gateway.token(balance="100")
    video_id = create_video(gateway, token, FAST)
    headers = {"Authorization": f"Bearer {token}"}
    assert httpx.get(f"{gateway.url}/v1/videos/{video_id}", headers=headers).status_code == 200
    missing = "video_doesnotexist0123456789"
    assert httpx.get(f"{gateway.url}/v1/videos/{missing}", headers=headers).status_code == 404
    assert httpx.get(f"{gateway.url}/no/such/{video_id}").status_code == 404

    samples = scrape(gateway)
    requests = "veorelay_http_requests_total"
    template = "/v1/videos/{video_id}"
    assert value(samples, requests, method="GET", route=template, status="200") >= 1
    assert value(samples, requests, method="GET", route=template, status="404") >= 1
    assert value(samples, requests, method="POST", route="/v1/videos", status="200") >= 1
    assert value(samples, requests, method="GET", route="<unmatched>", status="404") >= 1
    routes = {dict(labels).get("route", "") for _, labels in samples}
    assert not [route for route in routes if video_id in route or missing in route]
    count = value(
        samples, "veorelay_http_request_duration_seconds_count", method="GET", route=template
    )
    assert count >= 2


def test_metrics_require_the_key_when_one_is_set(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    gw = start_gateway(data_dir, quiet_env(data_dir, VEORELAY_METRICS_KEY=METRICS_KEY))
    try:
        url = f"{gw.url}/metrics"
        assert httpx.get(url).status_code == 401
        wrong = httpx.get(url, headers={"Authorization": "Bearer not-the-key"})
        assert wrong.status_code == 401
        assert wrong.json()["error"]["type"] == "authentication_error"
        assert "veorelay_tasks" not in wrong.text
        samples = scrape(gw, headers={"Authorization": f"Bearer {METRICS_KEY}"})
        assert value(samples, "veorelay_metrics_database_up") == 1
    finally:
        gw.process.stop()
    shutil.rmtree(data_dir, ignore_errors=True)


async def test_metrics_without_a_key_refuse_clients_off_loopback(tmp_path: Path) -> None:
    # Every socket here is on loopback, so the client's address is set in the ASGI scope.
    app = create_app(Settings(data_dir=tmp_path / "data", engine_enabled=False))
    async with app.router.lifespan_context(app):
        remote = await get_metrics_as(app, "203.0.113.7")
        local = await get_metrics_as(app, "::1")
    assert remote.status_code == 403
    assert remote.json()["error"]["type"] == "permission_error"
    assert "veorelay_queue_depth" not in remote.text
    assert local.status_code == 200
    assert "veorelay_queue_depth 0.0" in local.text


async def get_metrics_as(app: FastAPI, host: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=app, client=(host, 4000))
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as http:
        return await http.get("/metrics")
