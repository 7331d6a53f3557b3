"""What the engine of this process did: steps and upstream calls, timed and by outcome.

Per process (unlike the task figures in api/metrics.py, read from the shared database): a
gateway that runs the engine shows them at /metrics, and `veorelay worker` serves them on
VEORELAY_WORKER_METRICS_PORT.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import TypeVar

from prometheus_client import Counter, Histogram
from prometheus_client.registry import Collector

from veorelay.core.models import VideoSpec
from veorelay.upstream.base import OperationRef, OperationState, UpstreamClient
from veorelay.upstream.errors import UpstreamError

_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)
Result = TypeVar("Result")


class EngineMetrics:
    def __init__(self) -> None:
        self.steps = Counter(
            "veorelay_engine_steps",
            "Task steps run by this process's engine, by step and outcome.",
            ["step", "outcome"],
            registry=None,
        )
        self.step_duration = Histogram(
            "veorelay_engine_step_duration_seconds",
            "How long a task step took, by step (submitting, running, downloading).",
            ["step"],
            buckets=_BUCKETS,
            registry=None,
        )
        self.calls = Counter(
            "veorelay_upstream_calls",
            "Calls to Google, by channel, call and outcome (ok, or the error's code).",
            ["channel", "call", "outcome"],
            registry=None,
        )
        self.call_duration = Histogram(
            "veorelay_upstream_call_duration_seconds",
            "How long a call to Google took (a download: to its last byte), by channel and call.",
            ["channel", "call"],
            buckets=_BUCKETS,
            registry=None,
        )
        self.done_to_completed = Histogram(
            "veorelay_upstream_done_to_completed_seconds",
            "From Google reporting a video done to the task being completed (download, check, "
            "store), for videos this process saw both ends of.",
            buckets=_BUCKETS,
            registry=None,
        )
        self._done_at: dict[str, float] = {}

    def collectors(self) -> list[Collector]:
        return [
            self.steps,
            self.step_duration,
            self.calls,
            self.call_duration,
            self.done_to_completed,
        ]

    def step(self, step: str, outcome: str, seconds: float) -> None:
        self.steps.labels(step, outcome).inc()
        self.step_duration.labels(step).observe(seconds)

    def call(self, channel: str, call: str, outcome: str, seconds: float) -> None:
        self.calls.labels(channel, call, outcome).inc()
        self.call_duration.labels(channel, call).observe(seconds)

    def upstream_done(self, operation: str) -> None:
        if len(self._done_at) > 100_000:  # bounded: ends never seen (another process) pile up
            self._done_at.clear()
        self._done_at.setdefault(operation, time.monotonic())

    def completed(self, operation: str | None) -> None:
        started = self._done_at.pop(operation, None) if operation else None
        if started is not None:
            self.done_to_completed.observe(time.monotonic() - started)


class MeasuredClient:
    """An UpstreamClient that reports every call's time and outcome to EngineMetrics."""

    def __init__(self, client: UpstreamClient, channel: str, metrics: EngineMetrics) -> None:
        self._client = client
        self._channel = channel
        self._metrics = metrics

    async def probe(self, upstream_model: str) -> str:
        started = time.perf_counter()
        try:
            answer = await self._client.probe(upstream_model)
        except Exception as exc:
            self._record("probe", _outcome(exc), started)
            raise
        self._record("probe", "ok", started)
        return answer

    async def submit(self, spec: VideoSpec, upstream_model: str) -> OperationRef:
        started = time.perf_counter()
        try:
            ref = await self._client.submit(spec, upstream_model)
        except Exception as exc:
            self._record("submit", _outcome(exc), started)
            raise
        self._record("submit", "ok", started)
        return ref

    async def poll(self, ref: OperationRef) -> OperationState:
        started = time.perf_counter()
        try:
            state = await self._client.poll(ref)
        except Exception as exc:
            self._record("poll", _outcome(exc), started)
            raise
        self._record("poll", "ok", started)
        if state.done:
            self._metrics.upstream_done(ref.name)
        return state

    def download(
        self, ref: OperationRef, video_uri: str
    ) -> AbstractAsyncContextManager[AsyncIterator[bytes]]:
        return self._measured_download(ref, video_uri)

    @asynccontextmanager
    async def _measured_download(
        self, ref: OperationRef, video_uri: str
    ) -> AsyncIterator[AsyncIterator[bytes]]:
        started = time.perf_counter()
        try:
            async with self._client.download(ref, video_uri) as chunks:
                yield chunks
        except Exception as exc:
            self._record("download", _outcome(exc), started)
            raise
        self._record("download", "ok", started)

    def _record(self, call: str, outcome: str, started: float) -> None:
        self._metrics.call(self._channel, call, outcome, time.perf_counter() - started)


def _outcome(exc: BaseException) -> str:
    """Google's HTTP status where it answered (http_429 is its rate limit), else the class
    of failure (upstream_unavailable for a timeout or a reset), else the exception's name."""
    if isinstance(exc, UpstreamError):
        return f"http_{exc.http_status}" if exc.http_status else exc.code
    return type(exc).__name__
