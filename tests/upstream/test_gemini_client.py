"""The Gemini adapter over real loopback HTTP: where the key goes, and where it does not."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from tests.helpers import server_thread
from veorelay.simulator.app import SimulatorConfig, create_simulator_app
from veorelay.upstream.base import OperationRef
from veorelay.upstream.errors import CredentialRejected, ModelUnavailable
from veorelay.upstream.gemini import GeminiClient, key_id

KEY = "AIzaSy-adapter-test-key"
VIDEO = b"\x00\x00\x00\x18ftypmp42" + b"\x01" * 100_000


class Recorder:
    def __init__(self) -> None:
        self.keys: list[str | None] = []


@pytest.fixture
def storage() -> Iterator[tuple[str, Recorder]]:
    """Another origin (like Google's signed storage URLs) that serves the bytes."""
    seen = Recorder()

    async def blob(request: Request) -> Response:
        seen.keys.append(request.headers.get("x-goog-api-key"))
        return Response(VIDEO, media_type="video/mp4")

    with server_thread(Starlette(routes=[Route("/blob", blob)])) as url:
        yield url, seen


@pytest.fixture
def google(storage: tuple[str, Recorder]) -> Iterator[tuple[str, Recorder]]:
    """The API origin: its file download redirects to the storage origin."""
    storage_url, _ = storage
    seen = Recorder()

    async def download(request: Request) -> Response:
        seen.keys.append(request.headers.get("x-goog-api-key"))
        return RedirectResponse(f"{storage_url}/blob?sig=abc", status_code=302)

    routes = [Route("/v1beta/files/{file_id}:download", download)]
    with server_thread(Starlette(routes=routes)) as url:
        yield url, seen


async def test_the_key_is_not_sent_to_another_origin_on_redirect(
    google: tuple[str, Recorder], storage: tuple[str, Recorder]
) -> None:
    google_url, google_seen = google
    _, storage_seen = storage
    async with httpx.AsyncClient() as http:
        client = GeminiClient(http, google_url, [KEY])
        ref = OperationRef("models/veo/operations/abc123", key_id(KEY))
        uri = "https://generativelanguage.googleapis.com/v1beta/files/abc123:download?alt=media"
        received = bytearray()
        async with client.download(ref, uri) as chunks:
            async for chunk in chunks:
                received += chunk
    assert bytes(received) == VIDEO
    assert google_seen.keys == [KEY]  # the API origin gets the key
    assert storage_seen.keys == [None]  # the redirect target never does


@pytest.fixture
def simulator(tmp_path: Path) -> Iterator[str]:
    """The real simulator in Gemini mode, knowing one key, with one preview model retired."""
    config = SimulatorConfig(
        data_dir=tmp_path / "sim",
        api_keys=frozenset({KEY}),
        retired_models=frozenset({"veo-3.1-generate-preview"}),
    )
    with server_thread(create_simulator_app(config)) as url:
        yield url


async def test_probe_reports_the_model_google_serves(simulator: str) -> None:
    async with httpx.AsyncClient() as http:
        client = GeminiClient(http, simulator, [KEY])
        answer = await client.probe("veo-3.1-fast-generate-preview")
    assert answer == "model veo-3.1-fast-generate-preview available (Veo 3.1 Fast Preview)"


async def test_probe_of_a_retired_model_is_model_unavailable(simulator: str) -> None:
    async with httpx.AsyncClient() as http:
        with pytest.raises(ModelUnavailable):
            await GeminiClient(http, simulator, [KEY]).probe("veo-3.1-generate-preview")


async def test_probe_with_a_key_google_refuses_is_credential_rejected(simulator: str) -> None:
    async with httpx.AsyncClient() as http:
        with pytest.raises(CredentialRejected) as caught:
            await GeminiClient(http, simulator, ["AIzaSy-not-a-known-key"]).probe(
                "veo-3.1-fast-generate-preview"
            )
    assert "AIzaSy-not-a-known-key" not in str(caught.value)
