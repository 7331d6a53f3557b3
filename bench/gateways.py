"""The processes under test: the standalone simulator (the fake upstream), veorelay's gateway,
the bare ASGI reference and LiteLLM's proxy, each one process on a free loopback port."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
from procs import Server, free_port, http_ready

BENCH = Path(__file__).resolve().parent
MODEL = "veo-3.1-fast-generate-preview"
UPSTREAM_KEY = "bench-upstream-key"  # the simulator takes any key
CREATE_BODY = json.dumps(
    {"model": MODEL, "prompt": "bench", "seconds": "8", "size": "1920x1080"},
    separators=(",", ":"),
)
JSON = {"Content-Type": "application/json"}
VEORELAY = [sys.executable, "-m", "veorelay"]
TERMINAL = ("completed", "failed", "cancelled")


def start_simulator(work: Path, time_scale: float) -> tuple[Server, int]:
    """`veorelay simulator` with one cached render per size (--cheap-renders)."""
    port = free_port()
    argv = [*VEORELAY, "simulator", "--port", str(port), "--time-scale", f"{time_scale:g}"]
    argv += ["--cheap-renders", "--data-dir", str(work)]
    env = {"VEORELAY_LOG_LEVEL": "warning"}
    work.mkdir(parents=True, exist_ok=True)
    server = Server("simulator", argv, env, work / "simulator.log")
    return server.start(http_ready(f"http://127.0.0.1:{port}/")), port


@dataclass
class Gateway:
    server: Server
    port: int
    token: str
    data_dir: Path

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def task_states(self) -> dict[str, int]:
        """Tasks per state, read from the gateway's SQLite file (read-only)."""
        uri = f"file:{self.data_dir / 'veorelay.db'}?mode=ro"
        with sqlite3.connect(uri, uri=True, timeout=30) as db:
            rows = db.execute("SELECT state, count(*) FROM tasks GROUP BY state").fetchall()
        return {state: count for state, count in rows}

    def unfinished(self) -> int:
        return sum(n for state, n in self.task_states().items() if state not in TERMINAL)

    def wait_drained(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while self.unfinished():
            if time.monotonic() > deadline:
                return False
            time.sleep(0.5)
        return True

    def stored_file(self, video_id: str) -> Path:
        uri = f"file:{self.data_dir / 'veorelay.db'}?mode=ro"
        with sqlite3.connect(uri, uri=True, timeout=30) as db:
            (key,) = db.execute(
                "SELECT storage_key FROM tasks WHERE id = ?", (video_id,)
            ).fetchone()
        return self.data_dir / "videos" / key

    def make_video(self, timeout: float = 120.0) -> str:
        """One video created and waited for: the id polls and downloads use."""
        headers = {"Authorization": f"Bearer {self.token}"}
        answer = httpx.post(
            f"{self.base}/v1/videos", headers={**headers, **JSON}, content=CREATE_BODY
        )
        answer.raise_for_status()
        video_id: str = answer.json()["id"]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            status = httpx.get(f"{self.base}/v1/videos/{video_id}", headers=headers).json()
            if status["status"] == "completed":
                return video_id
            if status["status"] == "failed":
                raise RuntimeError(f"the bench video failed: {status['error']}")
            time.sleep(0.1)
        raise RuntimeError("the bench video did not complete in time")


def start_gateway(work: Path, upstream: str, engine_scale: float) -> Gateway:
    """`veorelay serve` with the simulator behind `upstream` as its Google, an account with
    ample balance and a token without limits. Tasks never time out: a slow drain is measured,
    not turned into failures."""
    work.mkdir(parents=True, exist_ok=True)
    port = free_port()
    env = {
        "VEORELAY_DATA_DIR": str(work),
        "VEORELAY_PORT": str(port),
        "VEORELAY_LOG_LEVEL": "warning",
        "VEORELAY_ACCESS_LOG": "false",
        "VEORELAY_GEMINI_API_KEY": UPSTREAM_KEY,
        "VEORELAY_GEMINI_BASE_URL": upstream,
        "VEORELAY_ENGINE_TIME_SCALE": f"{engine_scale:g}",
        "VEORELAY_TASK_TIMEOUT_SECONDS": "1e9",
    }
    made = subprocess.run(
        [*VEORELAY, "token", "create", "--name", "bench", "--balance", "100000000", "--json"],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=True,
    )
    token = json.loads(made.stdout)["token"]
    server = Server("veorelay", [*VEORELAY, "serve"], env, work / "gateway.log")
    server.start(http_ready(f"http://127.0.0.1:{port}/health"))
    return Gateway(server, port, token, work)


def start_bare_app(work: Path) -> tuple[Server, int]:
    port = free_port()
    argv = [sys.executable, str(BENCH / "bare_app.py"), str(port)]
    server = Server("bare ASGI", argv, {}, work / "bare.log")
    return server.start(http_ready(f"http://127.0.0.1:{port}/")), port


LITELLM_KEY = "sk-bench-master"


def start_litellm(litellm: str, work: Path, upstream_tls: str) -> tuple[Server, int]:
    """LiteLLM's proxy, one worker, master key only (no database), its one model Veo through
    the gemini provider at the simulator's TLS front (self-signed: ssl_verify off)."""
    work.mkdir(parents=True, exist_ok=True)
    config = work / "litellm.yaml"
    config.write_text(
        f"""model_list:
  - model_name: {MODEL}
    litellm_params:
      model: gemini/{MODEL}
      api_base: {upstream_tls}
      api_key: {UPSTREAM_KEY}
      ssl_verify: false
litellm_settings:
  ssl_verify: false
  telemetry: false
general_settings:
  master_key: {LITELLM_KEY}
"""
    )
    port = free_port()
    argv = [litellm, "--config", str(config), "--host", "127.0.0.1", "--port", str(port)]
    argv += ["--num_workers", "1"]
    env = {"LITELLM_LOG": "ERROR", "DISABLE_SCHEMA_UPDATE": "true", "LITELLM_TELEMETRY": "False"}
    server = Server("litellm", argv, env, work / "litellm.log")
    ready = http_ready(f"http://127.0.0.1:{port}/health/liveliness")
    return server.start(ready, timeout=240), port


def litellm_video(port: int, timeout: float = 120.0) -> str:
    """One video made through LiteLLM and waited for (LiteLLM asks upstream at each poll)."""
    headers = {"Authorization": f"Bearer {LITELLM_KEY}"}
    base = f"http://127.0.0.1:{port}"
    answer = httpx.post(
        f"{base}/v1/videos", headers={**headers, **JSON}, content=CREATE_BODY, timeout=60
    )
    if answer.status_code != 200:
        raise RuntimeError(f"LiteLLM create answered {answer.status_code}: {answer.text[:300]}")
    video_id: str = answer.json()["id"]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = httpx.get(f"{base}/v1/videos/{video_id}", headers=headers, timeout=60)
        if status.status_code != 200:
            raise RuntimeError(f"LiteLLM poll answered {status.status_code}: {status.text[:300]}")
        if status.json()["status"] == "completed":
            return video_id
        time.sleep(0.2)
    raise RuntimeError("the LiteLLM video did not complete in time")
