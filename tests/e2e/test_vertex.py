"""Veo through Vertex AI end to end: the unmodified `openai` SDK against the gateway, whose
channel talks to the simulator in Vertex mode with the real google-auth service-account flow;
results inline (base64 in the operation) and through Cloud Storage."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import (
    Gateway,
    gateway_env,
    start_gateway,
    start_vertex_simulator,
)
from tests.helpers import png_bytes
from veorelay.media.probe import probe

PROJECT = "veorelay-vertex-e2e"
FAST = "veo-3.1-fast-generate-preview"


@pytest.fixture(scope="module")
def vertex_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Gateway, str]]:
    directory = tmp_path_factory.mktemp("vertex-e2e")
    simulator, url, account = start_vertex_simulator(directory, PROJECT)
    data_dir = directory / "data"
    env = gateway_env(data_dir, None)  # no Gemini key: the Vertex channel is the upstream
    env["VEORELAY_CACHE_SECONDS"] = "0"  # a price set with the CLI applies at once
    gateway = start_gateway(data_dir, env)
    added = subprocess.run(
        [sys.executable, "-m", "veorelay", "channel", "add", "--name", "vertex-1", "--kind",
         "vertex", "--credentials-file", str(account), "--location", "us-central1",
         "--base-url", url, "--storage-base-url", url, "--json"],
        env={**os.environ, **env}, capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    assert json.loads(added.stdout)["project"] == PROJECT
    yield gateway, url
    gateway.process.stop()
    simulator.stop()


def set_storage(gateway: Gateway, uri: str) -> None:
    subprocess.run(
        [sys.executable, "-m", "veorelay", "channel", "update", "vertex-1", *(
            ["--storage-uri", uri] if uri else ["--clear", "storage_uri"]
        )],
        env={**os.environ, **gateway.env}, capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip


@pytest.mark.parametrize("results", ["inline", "gcs"])
def test_openai_sdk_create_and_poll_through_vertex(
    vertex_gateway: tuple[Gateway, str], results: str, tmp_path: Path
) -> None:
    gateway, _ = vertex_gateway
    set_storage(gateway, "gs://veorelay-e2e-results/videos/" if results == "gcs" else "")
    token, account_id = gateway.token(balance="5")
    client = gateway.client(token)
    video = client.videos.create_and_poll(
        model=FAST,
        prompt=f"A lighthouse at dusk, through Vertex ({results})",
        seconds="4",
        size="1280x720",
        poll_interval_ms=100,
    )
    assert video.status == "completed", video
    path = tmp_path / "video.mp4"
    client.videos.download_content(video.id).write_to_file(path)
    info = probe(path)
    assert (info.width, info.height, round(info.duration)) == (1280, 720, 4)
    ((upstream_model, channel_name, cost),) = gateway.query(
        "SELECT tasks.upstream_model, channels.name, tasks.upstream_cost_micros FROM tasks "
        "JOIN channels ON channels.id = tasks.channel_id WHERE tasks.id = ?",
        video.id,
    )
    assert (upstream_model, channel_name) == ("veo-3.1-fast-generate-001", "vertex-1")
    assert cost == 4 * 150_000
    assert gateway.balance(account_id) == 5_000_000 - 300_000


def test_extension_and_last_frame_through_vertex(
    vertex_gateway: tuple[Gateway, str], tmp_path: Path
) -> None:
    """Enabled with the CLI; Vertex takes the source video as bytes, which the simulator
    measures: 4 s + 7 s."""
    gateway, _ = vertex_gateway
    set_storage(gateway, "")
    enabled = subprocess.run(
        [sys.executable, "-m", "veorelay", "price", "set", FAST, "--extra-input", "extension",
         "--extra-input", "last_frame", "--json"],
        env={**os.environ, **gateway.env}, capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    assert json.loads(enabled.stdout)["extra_inputs"] == ["extension", "last_frame"]
    with gateway.client(gateway.token(balance="5")[0]) as client:
        first = client.videos.create_and_poll(
            model=FAST,
            prompt="A kite rises",
            seconds="8",
            size="720x1280",
            input_reference=("first.png", png_bytes(36, 64), "image/png"),
            extra_body={"lastFrame": base64.b64encode(png_bytes(36, 64, "red")).decode()},
            poll_interval_ms=100,
        )
        assert first.status == "completed", first.error
        longer = client.videos.create_and_poll(
            model=FAST,
            prompt="It flies away",
            size="720x1280",
            extra_body={"video": first.id},
            poll_interval_ms=100,
        )
        assert (longer.status, longer.seconds) == ("completed", "15"), longer.error
        path = tmp_path / "longer.mp4"
        client.videos.download_content(longer.id).write_to_file(path)
        info = probe(path)
        assert (info.width, info.height, round(info.duration)) == (720, 1280, 15)
