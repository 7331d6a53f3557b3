"""A 4K-sized inline result (40 MB of video, ~54 MB of base64 in the operation JSON) goes
through poll and download without the client ever holding it.

The simulator renders real but small videos, so here the operation is served by a stand-in
that streams a generated 54 MB answer; the token flow is still the simulator's.
"""

from __future__ import annotations

import base64
import hashlib
import json
import random
import tracemalloc
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import StreamingResponse
from starlette.routing import Mount, Route

from tests.helpers import server_thread
from tests.vertex_accounts import make_service_account
from veorelay.simulator.app import SimulatorConfig, create_simulator_app
from veorelay.upstream.base import OperationRef
from veorelay.upstream.vertex import VertexClient

PROJECT, LOCATION, MODEL = "proj-a", "us-central1", "veo-3.1-generate-001"
NAME = (
    f"projects/{PROJECT}/locations/{LOCATION}/publishers/google/models/{MODEL}"
    "/operations/5f0c4a8e-6f55-4f8e-9d7c-2b1d3c4e5f60"
)
PIECE, PIECES = 3 * 16_384, 854  # 40.0 MiB of video in 48 KiB pieces


def video_pieces() -> AsyncIterator[bytes]:
    async def pieces() -> AsyncIterator[bytes]:
        rng = random.Random(4)
        for _ in range(PIECES):
            yield rng.randbytes(PIECE)

    return pieces()


class BigOperation:
    def __init__(self) -> None:
        self.sent: list[int] = []  # base64 bytes handed to the server, per request

    async def endpoint(self, request: Request) -> StreamingResponse:
        self.sent.append(0)
        at = len(self.sent) - 1
        assert (await request.json()) == {"operationName": NAME}
        assert request.headers["authorization"].startswith("Bearer ")

        async def body() -> AsyncIterator[bytes]:
            yield json.dumps({"name": NAME, "done": True})[:-1].encode()
            yield b', "response": {"@type": "type.googleapis.com/x", "videos": [{'
            yield b'"mimeType": "video/mp4", "bytesBase64Encoded": "'
            count = 0
            async for piece in video_pieces():
                count += 1
                if count % 16 == 0 and await request.is_disconnected():
                    return
                self.sent[at] += PIECE * 4 // 3
                yield base64.b64encode(piece)
            yield b'"}], "raiMediaFilteredCount": 0}}'

        return StreamingResponse(body(), media_type="application/json")


async def test_a_54_mb_operation_is_polled_and_downloaded_in_little_memory(
    tmp_path: Path,
) -> None:
    account = make_service_account(tmp_path, PROJECT, "http://placeholder/token")
    sim = create_simulator_app(
        SimulatorConfig(data_dir=tmp_path / "sim", vertex_service_accounts=(account,))
    )
    operation = BigOperation()
    fetch = f"/v1/{NAME.rpartition('/operations/')[0]}:fetchPredictOperation"
    app = Starlette(
        routes=[Route(fetch, operation.endpoint, methods=["POST"]), Mount("/", app=sim)],
    )
    expected = hashlib.sha256()
    async for piece in video_pieces():
        expected.update(piece)

    with server_thread(app) as url:
        info = json.loads(account.read_text()) | {"token_uri": f"{url}/token"}
        async with httpx.AsyncClient(timeout=60) as http:
            client = VertexClient(http, info, PROJECT, LOCATION, base_url=url)
            ref = OperationRef(NAME, PROJECT)
            await client.poll(ref)  # the token is fetched outside the measurement
            tracemalloc.start()
            try:
                state = await client.poll(ref)
                _, poll_peak = tracemalloc.get_traced_memory()
                tracemalloc.reset_peak()
                got, size = hashlib.sha256(), 0
                assert state.video_uri is not None
                async with client.download(ref, state.video_uri) as chunks:
                    async for chunk in chunks:
                        got.update(chunk)
                        size += len(chunk)
                _, download_peak = tracemalloc.get_traced_memory()
            finally:
                tracemalloc.stop()

    assert state.succeeded
    assert state.video_uri == "inline:0"
    assert size == PIECE * PIECES
    assert got.hexdigest() == expected.hexdigest()
    assert len(operation.sent) == 3  # two polls and the download's fetch
    whole = PIECES * PIECE * 4 // 3
    assert operation.sent[2] == whole
    assert max(operation.sent[:2]) < whole / 4  # a poll hangs up once it sees the video
    assert poll_peak < 2 * 1024 * 1024, poll_peak
    assert download_peak < 8 * 1024 * 1024, download_peak
