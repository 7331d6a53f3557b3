"""VertexClient end to end against the simulator's Vertex mode, over real loopback HTTP.

The service-account key is a real RSA key; google-auth signs its JWT and trades it at the
simulator's token endpoint, as it would at Google's. A thin recorder in front of the simulator
notes each request's path, status and bearer token, so the tests can see the token flow and
check that no token leaks.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import av
import httpx
import pytest

from tests.helpers import free_port, server_thread
from tests.vertex_accounts import make_service_account
from veorelay.core.models import AspectRatio, Resolution, VideoSpec
from veorelay.simulator.app import SimulatorConfig, create_simulator_app
from veorelay.upstream.base import OperationRef, OperationState
from veorelay.upstream.errors import (
    CredentialRejected,
    ModelUnavailable,
    OperationLost,
    RetryableUpstreamError,
    UpstreamError,
)
from veorelay.upstream.vertex import VertexClient

PROJECT = "proj-a"
LOCATION = "us-central1"
MODEL = "veo-3.1-fast-generate-001"
SCALE = 0.005


@dataclass
class Recorder:
    """ASGI middleware: what reached the simulator."""

    app: Any
    seen: list[tuple[str, int]] = field(default_factory=list)
    tokens: set[str] = field(default_factory=set)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        auth = dict(scope["headers"]).get(b"authorization", b"").decode()
        if auth.startswith("Bearer "):
            self.tokens.add(auth[7:])

        async def recording_send(message: Any) -> None:
            if message["type"] == "http.response.start":
                self.seen.append((scope["path"], message["status"]))
            await send(message)

        await self.app(scope, receive, recording_send)

    def count(self, path: str, status: int | None = None) -> int:
        return sum(1 for p, s in self.seen if p == path and (status is None or s == status))

    def statuses(self) -> list[int]:
        return [s for _, s in self.seen]


@dataclass
class Sim:
    url: str
    recorder: Recorder
    accounts: Path

    def info(self, account: Path | None = None) -> dict[str, Any]:
        info: dict[str, Any] = json.loads((account or self.accounts).read_text())
        info["token_uri"] = f"{self.url}/token"  # the port was not known when it was written
        return info


class Clock:
    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset


@contextmanager
def simulator(tmp_path: Path, render_cache: Path, **config: Any) -> Iterator[Sim]:
    account = make_service_account(tmp_path / "accounts", PROJECT, "http://placeholder/token")
    clock = config.pop("clock", time.time)
    sim_config = SimulatorConfig(
        data_dir=tmp_path / "sim",
        time_scale=SCALE,
        render_dir=render_cache,
        vertex_service_accounts=(account,),
        clock=clock,
        **config,
    )
    recorder = Recorder(create_simulator_app(sim_config))
    with server_thread(recorder) as url:
        yield Sim(url, recorder, account)


@pytest.fixture
def sim(tmp_path: Path, render_cache: Path) -> Iterator[Sim]:
    with simulator(tmp_path, render_cache, retired_models=frozenset({"veo-3.1-generate-001"})) as s:
        yield s


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=30) as client:
        yield client


def client_for(sim: Sim, http: httpx.AsyncClient, **options: Any) -> VertexClient:
    options.setdefault("storage_base_url", sim.url)
    return VertexClient(http, sim.info(), PROJECT, LOCATION, base_url=sim.url, **options)


def spec(prompt: str = "a lighthouse at dusk") -> VideoSpec:
    return VideoSpec(MODEL, prompt, 4, Resolution.P720, AspectRatio.LANDSCAPE, seed=3)


async def wait_done(client: VertexClient, ref: OperationRef) -> OperationState:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        state = await client.poll(ref)
        if state.done:
            return state
        await asyncio.sleep(0.05)
    raise AssertionError("the operation never finished")


async def fetch(client: VertexClient, ref: OperationRef, uri: str) -> bytes:
    data = bytearray()
    async with client.download(ref, uri) as chunks:
        async for chunk in chunks:
            data += chunk
    return bytes(data)


def assert_mp4(data: bytes, seconds: int = 4) -> None:
    assert data[4:8] == b"ftyp"
    with av.open(io.BytesIO(data)) as container:
        assert container.duration is not None
        assert abs(container.duration / 1_000_000 - seconds) < 0.2
        video = container.streams.video[0]
        assert (video.width, video.height) == (1280, 720)


async def test_an_inline_result_is_polled_then_decoded_into_a_valid_mp4(
    sim: Sim, http: httpx.AsyncClient
) -> None:
    client = client_for(sim, http)
    ref = await client.submit(spec(), MODEL)
    assert ref.key_id == PROJECT
    assert ref.name.startswith(f"projects/{PROJECT}/locations/{LOCATION}/publishers/google/")
    state = await wait_done(client, ref)
    assert state.succeeded
    assert state.video_uri == "inline:0"
    assert_mp4(await fetch(client, ref, "inline:0"))
    assert sim.recorder.count("/token") == 1  # one token served every call


async def test_a_cloud_storage_result_is_downloaded_with_the_same_token(
    sim: Sim, http: httpx.AsyncClient
) -> None:
    client = client_for(sim, http, storage_uri="gs://veorelay-results/videos/")
    ref = await client.submit(spec(), MODEL)
    state = await wait_done(client, ref)
    assert state.video_uri is not None
    assert state.video_uri.startswith("gs://veorelay-results/videos/")
    assert_mp4(await fetch(client, ref, state.video_uri))
    storage_hits = [p for p, s in sim.recorder.seen if p.startswith("/storage/v1/b/")]
    assert storage_hits
    assert sim.recorder.statuses()[-1] == 200
    assert len(sim.recorder.tokens) == 1


async def test_a_missing_storage_object_is_an_expired_result(
    sim: Sim, http: httpx.AsyncClient
) -> None:
    client = client_for(sim, http, storage_uri="gs://veorelay-results/videos/")
    ref = await client.submit(spec(), MODEL)
    await wait_done(client, ref)
    with pytest.raises(OperationLost):
        await fetch(client, ref, "gs://veorelay-results/videos/nothing/sample_0.mp4")


async def test_safety_filtered_and_failed_operations_are_done_without_a_video(
    sim: Sim, http: httpx.AsyncClient
) -> None:
    client = client_for(sim, http)
    filtered = await wait_done(client, await client.submit(spec("[sim:rai] a cat"), MODEL))
    assert not filtered.succeeded
    assert filtered.filtered_reasons
    assert "Support codes" in filtered.filtered_reasons[0]
    failed = await wait_done(client, await client.submit(spec("[sim:fail] a cat"), MODEL))
    assert (failed.done, failed.video_uri, failed.error_code) == (True, None, "INVALID_ARGUMENT")


async def test_an_unknown_operation_is_lost(sim: Sim, http: httpx.AsyncClient) -> None:
    client = client_for(sim, http)
    name = (
        f"projects/{PROJECT}/locations/{LOCATION}/publishers/google/models/{MODEL}"
        "/operations/00000000-0000-4000-8000-000000000000"
    )
    with pytest.raises(OperationLost):
        await client.poll(OperationRef(name, PROJECT))


async def test_a_429_is_retryable_after_googles_delay(sim: Sim, http: httpx.AsyncClient) -> None:
    client = client_for(sim, http)
    with pytest.raises(RetryableUpstreamError) as caught:
        await client.submit(spec("[sim:429] busy"), MODEL)
    assert caught.value.http_status == 429
    assert caught.value.retry_after == pytest.approx(20 * SCALE)


async def test_a_retired_model_is_unavailable_on_submit_and_probe(
    sim: Sim, http: httpx.AsyncClient
) -> None:
    client = client_for(sim, http)
    with pytest.raises(ModelUnavailable) as caught:
        await client.submit(spec(), "veo-3.1-generate-001")
    assert "veo-3.1-generate-001" in caught.value.message
    with pytest.raises(ModelUnavailable):
        await client.probe("veo-3.1-generate-001")


async def test_probe_reports_the_models_launch_stage(sim: Sim, http: httpx.AsyncClient) -> None:
    client = client_for(sim, http)
    assert await client.probe(MODEL) == f"model {MODEL} available (GA)"
    preview = "veo-3.1-lite-generate-001"
    assert await client.probe(preview) == f"model {preview} available (public preview)"
    assert sim.recorder.count("/token") == 2  # a probe tests the key itself: always a new token


async def test_a_service_account_google_does_not_know_is_refused(
    sim: Sim, http: httpx.AsyncClient, tmp_path: Path
) -> None:
    stranger = make_service_account(tmp_path / "stranger", PROJECT, "http://placeholder/token")
    client = VertexClient(http, sim.info(stranger), PROJECT, LOCATION, base_url=sim.url)
    with pytest.raises(CredentialRejected) as caught:
        await client.submit(spec(), MODEL)
    assert "invalid_grant" in caught.value.message
    with pytest.raises(CredentialRejected):
        await client.probe(MODEL)
    assert sim.recorder.count("/token", 400) == 2
    assert not any(p.startswith("/v1/") for p, _ in sim.recorder.seen)


async def test_another_projects_account_is_refused_by_vertex(
    sim: Sim, http: httpx.AsyncClient
) -> None:
    client = VertexClient(http, sim.info(), "proj-b", LOCATION, base_url=sim.url)
    with pytest.raises(CredentialRejected) as caught:
        await client.submit(spec(), MODEL)
    assert caught.value.http_status == 403


async def test_a_token_is_refreshed_before_it_expires(
    tmp_path: Path, render_cache: Path, http: httpx.AsyncClient
) -> None:
    with simulator(tmp_path, render_cache, vertex_token_seconds=1.0) as sim:
        client = client_for(sim, http)
        ref = await client.submit(spec(), MODEL)
        await asyncio.sleep(1.1)
        await client.poll(ref)
        assert sim.recorder.count("/token") == 2
        assert 401 not in sim.recorder.statuses()  # refreshed ahead, not after a refusal
        assert len(sim.recorder.tokens) == 2


async def test_a_token_google_stops_accepting_is_replaced_once(
    tmp_path: Path, render_cache: Path, http: httpx.AsyncClient
) -> None:
    clock = Clock()
    with simulator(tmp_path, render_cache, vertex_token_seconds=60.0, clock=clock) as sim:
        client = client_for(sim, http)
        ref = await client.submit(spec(), MODEL)
        clock.offset = 120.0  # Google's clock says the token has expired; ours does not yet
        await client.poll(ref)
        assert sim.recorder.count("/token") == 2
        assert sim.recorder.statuses().count(401) == 1


async def test_concurrent_calls_share_one_token_refresh(sim: Sim, http: httpx.AsyncClient) -> None:
    client = client_for(sim, http)
    results = await asyncio.gather(*(client.probe(MODEL) for _ in range(3)))
    assert len(set(results)) == 1
    sim.recorder.seen.clear()
    refs = await asyncio.gather(*(client.submit(spec(f"cat {i}"), MODEL) for i in range(5)))
    assert len({r.name for r in refs}) == 5
    assert sim.recorder.count("/token") == 0  # the probe's token serves them all


async def test_no_token_or_key_shows_in_reprs_errors_or_logs(
    sim: Sim, http: httpx.AsyncClient, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    client = client_for(sim, http)
    errors: list[UpstreamError] = []
    ref = await client.submit(spec(), MODEL)
    await wait_done(client, ref)
    for prompt in ("[sim:429] x", "[sim:rai] y"):
        try:
            await client.submit(spec(prompt), "veo-3.1-generate-001")
        except UpstreamError as exc:
            errors.append(exc)
    stranger = make_service_account(tmp_path / "stranger", PROJECT, "http://placeholder/token")
    try:
        await VertexClient(http, sim.info(stranger), PROJECT, LOCATION, base_url=sim.url).probe(
            MODEL
        )
    except UpstreamError as exc:
        errors.append(exc)
    assert len(errors) == 3
    secrets = [*sim.recorder.tokens, sim.info()["private_key"].splitlines()[1]]
    assert len(sim.recorder.tokens) >= 1
    shown = " ".join([repr(client), caplog.text, *(repr(e) + str(e) for e in errors)])
    for secret in secrets:
        assert secret not in shown
    assert "proj-a" in repr(client)


async def test_a_key_file_missing_fields_is_refused_without_echoing_it(
    http: httpx.AsyncClient,
) -> None:
    info = {"type": "service_account", "private_key": "-----BEGIN PRIVATE KEY-----\nabc\n"}
    with pytest.raises(ValueError, match="missing fields") as caught:
        VertexClient(http, info, PROJECT, LOCATION)
    assert "abc" not in str(caught.value)


async def test_an_unreachable_token_endpoint_is_a_transient_failure(
    sim: Sim, http: httpx.AsyncClient
) -> None:
    info = sim.info() | {"token_uri": f"http://127.0.0.1:{free_port()}/token"}
    client = VertexClient(http, info, PROJECT, LOCATION, base_url=sim.url)
    with pytest.raises(RetryableUpstreamError, match="token endpoint unreachable"):
        await client.submit(spec(), MODEL)


def set_faults(sim: Sim, **rates: float) -> None:
    sim.recorder.app.state.simulator.faults.rates = {
        k.removeprefix("f"): v for k, v in rates.items()
    }


async def test_a_connection_reset_while_polling_is_transient(
    sim: Sim, http: httpx.AsyncClient
) -> None:
    client = client_for(sim, http)
    ref = await client.submit(spec(), MODEL)
    set_faults(sim, reset=1.0)
    with pytest.raises(RetryableUpstreamError):
        await client.poll(ref)
    set_faults(sim)
    assert (await wait_done(client, ref)).succeeded


async def test_a_cloud_storage_download_dropped_halfway_is_transient(
    sim: Sim, http: httpx.AsyncClient
) -> None:
    client = client_for(sim, http, storage_uri="gs://veorelay-results/videos/")
    ref = await client.submit(spec(), MODEL)
    state = await wait_done(client, ref)
    assert state.video_uri is not None
    set_faults(sim, reset=1.0)
    with pytest.raises(RetryableUpstreamError, match="lost mid-answer"):
        await fetch(client, ref, state.video_uri)
    set_faults(sim)
    assert_mp4(await fetch(client, ref, state.video_uri))
