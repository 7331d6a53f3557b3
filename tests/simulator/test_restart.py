"""After a kill -9, the simulator's next start removes the unfinished renders it left."""

from __future__ import annotations

import fcntl
import os
import time
from pathlib import Path

import httpx

from tests.helpers import Process, free_port
from veorelay.simulator.render import sweep_partial_renders
from veorelay.simulator.store import OperationStore

MODEL = "veo-3.1-generate-preview"


def test_sweep_removes_parts_nobody_writes_and_keeps_live_ones(tmp_path: Path) -> None:
    left = tmp_path / "left-by-a-crash.part"
    left.write_bytes(b"half an mp4")
    live = tmp_path / "being-rendered.part"
    live.write_bytes(b"")
    finished = tmp_path / "done.mp4"
    finished.write_bytes(b"mp4")
    fd = os.open(live, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # as a live render in another process holds it
        assert sweep_partial_renders(tmp_path) == 1
    finally:
        os.close(fd)
    assert not left.exists()
    assert live.exists()
    assert finished.exists()


def test_operation_store_drops_stale_partial_saves(tmp_path: Path) -> None:
    stale = tmp_path / "tmpabc.part"
    stale.write_text("{")
    os.utime(stale, (time.time() - 3600, time.time() - 3600))
    fresh = tmp_path / "tmpdef.part"
    fresh.write_text("{")
    OperationStore(tmp_path)
    assert not stale.exists()
    assert fresh.exists()  # maybe another process's save in flight


def test_kill_9_mid_render_leaves_no_part_after_restart(tmp_path: Path) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    args = ["simulator", "--port", str(port), "--data-dir", str(tmp_path), "--time-scale", "0"]
    renders = tmp_path / "renders"
    process = Process(args, {}, tmp_path / "sim.log", f"{url}/_simulator/stats").start()
    body = {
        "instances": [{"prompt": "a long render"}],
        "parameters": {"durationSeconds": 8, "resolution": "1080p"},
    }
    key = {"x-goog-api-key": "k"}
    name = httpx.post(f"{url}/v1beta/models/{MODEL}:predictLongRunning", json=body, headers=key)
    assert name.status_code == 200
    deadline = time.monotonic() + 30
    while not list(renders.glob("*.part")):
        assert time.monotonic() < deadline, "the render never started"
        time.sleep(0.01)
    process.kill()
    assert list(renders.glob("*.part")), "the kill came after the render finished"
    process.start()
    try:
        assert not list(renders.glob("*.part"))
        deadline = time.monotonic() + 60
        while True:  # the operation survives and is rendered again
            done = httpx.get(f"{url}/v1beta/{name.json()['name']}", headers=key).json()
            if done.get("done"):
                break
            assert time.monotonic() < deadline, "the operation never finished after the restart"
            time.sleep(0.1)
        assert "generatedSamples" in done["response"]["generateVideoResponse"]
        assert [p.suffix for p in renders.iterdir()] == [".mp4"]
    finally:
        process.stop()
