"""A lean HTTP/1.1 load generator on raw asyncio streams, for what wrk cannot do: a fixed count
of creates (the burst, the 10,000 tasks) and latency samples taken while something else runs.
httpx would need about as much CPU as the server it measures."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class Connection:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter

    @classmethod
    async def open(cls, port: int) -> Connection:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        return cls(reader, writer)

    async def request(self, raw: bytes) -> tuple[int, bytes]:
        self.writer.write(raw)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.lower() == b"content-length":
                length = int(value)
        return status, await self.reader.readexactly(length)

    def close(self) -> None:
        self.writer.close()


def raw_request(method: str, path: str, token: str, body: str = "") -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", f"Authorization: Bearer {token}"]
    if body:
        lines += ["Content-Type: application/json", f"Content-Length: {len(body.encode())}"]
    return ("\r\n".join(lines) + "\r\n\r\n" + body).encode()


@dataclass
class Creates:
    ids: list[str] = field(default_factory=list)
    failed: int = 0
    seconds: float = 0.0


async def create_many(
    port: int, token: str, body: str, count: int, connections: int = 32
) -> Creates:
    """POST /v1/videos `count` times over `connections` keep-alive connections."""
    raw = raw_request("POST", "/v1/videos", token, body)
    result = Creates()
    left = count

    async def worker() -> None:
        nonlocal left
        conn = await Connection.open(port)
        try:
            while left > 0:
                left -= 1
                status, answer = await conn.request(raw)
                if status == 200:
                    result.ids.append(json.loads(answer)["id"])
                else:
                    result.failed += 1
        finally:
            conn.close()

    began = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(connections)))
    result.seconds = time.perf_counter() - began
    return result


async def poll_latencies(
    port: int, path: str, token: str, done: Callable[[], bool], clients: int, pause: float
) -> list[float]:
    """GET `path` from `clients` connections, each pausing `pause` s between polls (a client
    honouring a poll hint, not a flood), until `done()`; the latencies in seconds."""
    raw = raw_request("GET", path, token)
    latencies: list[float] = []

    async def client() -> None:
        conn = await Connection.open(port)
        try:
            while not done():
                start = time.perf_counter()
                status, _ = await conn.request(raw)
                latencies.append(time.perf_counter() - start)
                if status != 200:
                    raise RuntimeError(f"status poll answered {status}")
                await asyncio.sleep(pause)
        finally:
            conn.close()

    await asyncio.gather(*(client() for _ in range(clients)))
    return latencies


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]
