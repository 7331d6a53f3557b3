"""The real google-genai SDK drives the simulator: generate_videos -> operations.get -> download."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from google import genai
from google.genai import errors, types
from google.oauth2 import service_account

from tests.helpers import free_port, server_thread
from tests.simulator.serving import serve
from tests.vertex_accounts import make_service_account
from veorelay.media.probe import probe
from veorelay.simulator.app import SimulatorConfig, create_simulator_app


def test_google_genai_sdk_gets_a_valid_mp4(tmp_path: Path) -> None:
    app = create_simulator_app(SimulatorConfig(data_dir=tmp_path / "sim", time_scale=0.005))
    with server_thread(app) as url:
        client = genai.Client(api_key="any-key", http_options=types.HttpOptions(base_url=url))
        operation = client.models.generate_videos(
            model="veo-3.1-fast-generate-preview",
            source=types.GenerateVideosSource(
                prompt="A lighthouse at dusk; waves and distant seabirds"
            ),
            config=types.GenerateVideosConfig(
                duration_seconds=6, aspect_ratio="9:16", resolution="720p"
            ),
        )
        deadline = time.monotonic() + 30
        while not operation.done:
            assert time.monotonic() < deadline
            time.sleep(0.05)
            operation = client.operations.get(operation)
        assert operation.response is not None
        video = operation.response.generated_videos[0].video
        data = client.files.download(file=video)

        with pytest.raises(errors.ClientError) as info:
            client.models.generate_videos(
                model="veo-3.1-fast-generate-preview",
                source=types.GenerateVideosSource(prompt="x"),
                config=types.GenerateVideosConfig(duration_seconds=5),
            )
        assert info.value.code == 400

    path = tmp_path / "out.mp4"
    path.write_bytes(data)
    info_ = probe(path)
    assert (info_.width, info_.height) == (720, 1280)
    assert info_.duration == pytest.approx(6.0, abs=0.1)
    assert info_.video_codec == "h264"
    assert info_.has_audio


def test_google_genai_sdk_in_vertex_mode(tmp_path: Path) -> None:
    """Google's own SDK, in Vertex mode with service-account credentials, gets inline and
    Cloud Storage results from the simulator."""
    port = free_port()
    account = make_service_account(tmp_path, "proj-a", f"http://127.0.0.1:{port}/token")
    config = SimulatorConfig(
        data_dir=tmp_path / "sim", time_scale=0.005, vertex_service_accounts=(account,)
    )
    credentials = service_account.Credentials.from_service_account_file(  # type: ignore[no-untyped-call]
        str(account), scopes=["https://www.googleapis.com/auth/cloud-platform"]
    )
    with serve(create_simulator_app(config), port) as url:
        client = genai.Client(
            vertexai=True,
            project="proj-a",
            location="us-central1",
            credentials=credentials,
            http_options=types.HttpOptions(base_url=url),
        )
        results = []
        for storage_uri in (None, "gs://bucket/out/"):
            operation = client.models.generate_videos(
                model="veo-3.1-fast-generate-001",
                source=types.GenerateVideosSource(prompt="A lighthouse at dusk"),
                config=types.GenerateVideosConfig(
                    duration_seconds=4, seed=3, output_gcs_uri=storage_uri
                ),
            )
            deadline = time.monotonic() + 30
            while not operation.done:
                assert time.monotonic() < deadline
                time.sleep(0.05)
                operation = client.operations.get(operation)
            assert operation.response is not None
            assert operation.response.generated_videos is not None
            results.append(operation.response.generated_videos[0].video)
    inline, stored = results
    assert inline is not None
    assert inline.video_bytes is not None
    assert inline.video_bytes[4:8] == b"ftyp"
    assert stored is not None
    assert stored.uri is not None
    assert stored.uri.startswith("gs://bucket/out/")
    assert stored.uri.endswith("/sample_0.mp4")
