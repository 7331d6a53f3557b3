"""wrk runs: one Lua script (lua/request.lua) for every shape, its summary read as JSON."""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

SCRIPT = Path(__file__).resolve().parent / "lua" / "request.lua"
MARK = "BENCH_JSON "


@dataclass(frozen=True)
class WrkResult:
    requests: int
    seconds: float
    bytes: int
    errors: int  # connect, read, write, timeout, and non-2xx/3xx answers
    p50_ms: float
    p99_ms: float

    @property
    def rps(self) -> float:
        return self.requests / self.seconds

    @property
    def mb_per_s(self) -> float:
        return self.bytes / self.seconds / 1e6

    @property
    def ok(self) -> int:
        return self.requests - self.errors


def run_wrk(
    wrk: str,
    url: str,
    *,
    seconds: float,
    connections: int,
    threads: int = 2,
    method: str = "GET",
    body: str = "",
    token: str = "",
    timeout_s: int = 30,
) -> WrkResult:
    env = {**os.environ, "BENCH_METHOD": method, "BENCH_BODY": body, "BENCH_TOKEN": token}
    argv = [
        wrk,
        f"-t{threads}",
        f"-c{connections}",
        f"-d{seconds:g}s",
        f"--timeout={timeout_s}s",
        "-s",
        str(SCRIPT),
        url,
    ]
    out = subprocess.run(argv, env=env, capture_output=True, text=True, check=True).stdout
    line = next((x for x in out.splitlines() if x.startswith(MARK)), None)
    if line is None:
        raise RuntimeError(f"wrk printed no summary: {out[-1000:]}")
    data = json.loads(line.removeprefix(MARK))
    errors = sum(data[k] for k in ("connect", "read", "write", "status", "timeout"))
    return WrkResult(
        requests=data["requests"],
        seconds=data["duration_us"] / 1e6,
        bytes=data["bytes"],
        errors=errors,
        p50_ms=data["p50_us"] / 1000,
        p99_ms=data["p99_us"] / 1000,
    )
