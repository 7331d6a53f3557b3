"""The real google-genai SDK drives the simulator: generate_videos -> operations.get -> download."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from google import genai
from google.genai import errors, types

from tests.helpers import server_thread
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
