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


async def poll_load(port: int, path: str, token: str, seconds: float, clients: int) -> None:
    """Keep-alive GETs from `clients` connections over raw asyncio streams: a load generator
    this lean leaves the machine's cores to the gateway (httpx would need as much CPU as the
    server it measures)."""
    request = (
        f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n\r\n"
    ).encode()
    latencies: list[float] = []
    stop = time.monotonic() + seconds

    async def one_client() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while time.monotonic() < stop:
                start = time.perf_counter()
                writer.write(request)
                head = await reader.readuntil(b"\r\n\r\n")
                if not head.startswith(b"HTTP/1.1 200"):
                    raise RuntimeError(f"unexpected answer: {head[:80]!r}")
                length = next(
                    int(line.split(b":")[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length:")
                )
                await reader.readexactly(length)
                latencies.append(time.perf_counter() - start)
        finally:
            writer.close()

    began = time.monotonic()
    await asyncio.gather(*(one_client() for _ in range(clients)))
    elapsed = time.monotonic() - began
    latencies.sort()
    print(
        f"status polls: {len(latencies) / elapsed:,.0f}/s with {clients} clients "
        f"(p50 {statistics.median(latencies) * 1000:.1f} ms, "
        f"p99 {latencies[int(len(latencies) * 0.99)] * 1000:.1f} ms)"
    )


def content_speed(url: str, headers: dict[str, str], downloads: int) -> None:
    """Whole-file downloads one after another over one keep-alive connection."""
    size = 0
    with httpx.Client(headers=headers) as http:
        began = time.monotonic()
        for _ in range(downloads):
            with http.stream("GET", url) as response:
                for chunk in response.iter_raw(1024 * 1024):
                    size += len(chunk)
        elapsed = time.monotonic() - began
    print(
        f"content: {size / elapsed / 1e6:,.0f} MB/s over {downloads} downloads of "
        f"{size // downloads:,} bytes ({downloads / elapsed:,.0f} downloads/s)"
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
            token = headers["Authorization"].removeprefix("Bearer ")
            path = f"/v1/videos/{video['id']}"
            asyncio.run(poll_load(port, path, token, args.seconds, args.clients))
            content_speed(f"{status_url}/content", headers, downloads=50)
        finally:
            gateway.stop()


if __name__ == "__main__":
    main()
