"""Hot-path benchmarks: status polls per second and content download speed.

Starts a real gateway process (built-in simulator, fast time scale) on a free loopback port,
makes one video, then polls its status from many concurrent clients for a fixed time.
Run with `make bench`. The load generator shares the machine's cores with the gateway.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.helpers import Process, create_token, free_port  # noqa: E402


async def poll_load(url: str, headers: dict[str, str], seconds: float, clients: int) -> None:
    latencies: list[float] = []
    stop = time.monotonic() + seconds

    async def one_client(http: httpx.AsyncClient) -> None:
        while time.monotonic() < stop:
            start = time.perf_counter()
            response = await http.get(url, headers=headers)
            latencies.append(time.perf_counter() - start)
            assert response.status_code == 200

    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(limits=limits) as http:
        began = time.monotonic()
        await asyncio.gather(*(one_client(http) for _ in range(clients)))
        elapsed = time.monotonic() - began
    latencies.sort()
    print(
        f"status polls: {len(latencies) / elapsed:,.0f}/s with {clients} clients "
        f"(p50 {statistics.median(latencies) * 1000:.1f} ms, "
        f"p99 {latencies[int(len(latencies) * 0.99)] * 1000:.1f} ms)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--clients", type=int, default=32)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp) / "data"
        port = free_port()
        env = {
            "VEORELAY_DATA_DIR": str(data_dir),
            "VEORELAY_PORT": str(port),
            "VEORELAY_SIMULATOR_TIME_SCALE": "0.01",
            "VEORELAY_LOG_LEVEL": "warning",
            "VEORELAY_GEMINI_API_KEY": "",
        }
        base = f"http://127.0.0.1:{port}"
        gateway = Process(["serve"], env, Path(tmp) / "gateway.log", f"{base}/health").start()
        try:
            headers = {"Authorization": f"Bearer {create_token(env, '100')['token']}"}
            video = httpx.post(
                f"{base}/v1/videos",
                headers=headers,
                json={
                    "model": "veo-3.1-fast-generate-preview",
                    "prompt": "bench",
                    "seconds": "8",
                    "size": "1920x1080",
                },
            ).json()
            status_url = f"{base}/v1/videos/{video['id']}"
            while httpx.get(status_url, headers=headers).json()["status"] != "completed":
                time.sleep(0.1)
            asyncio.run(poll_load(status_url, headers, args.seconds, args.clients))
            began = time.monotonic()
            size = 0
            for _ in range(50):
                size += len(httpx.get(f"{status_url}/content", headers=headers).content)
            elapsed = time.monotonic() - began
            print(
                f"content: {size / elapsed / 1e6:,.0f} MB/s over 50 downloads of "
                f"{size // 50:,} bytes"
            )
        finally:
            gateway.stop()


if __name__ == "__main__":
    main()
