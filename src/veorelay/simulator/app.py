"""An ASGI app that speaks Google's Veo protocols and renders real MP4s.

One server answers both surfaces: the Gemini API (gemini.py: API keys, `models/{m}` paths, file
downloads) and Vertex AI (vertex.py: OAuth tokens from service accounts, `projects/{p}/...`
paths, Cloud Storage downloads). This module is what they share: operations and their
renders, prompt markers, random faults (faults.py), per-owner limits and counters (owners.py),
and the control endpoints under /_simulator (control.py).

Prompt markers (see docs/simulator.md) trigger failures: `[sim:rai]` a safety-filtered result,
`[sim:fail]` an operation error, `[sim:429]` a 429 on every submit, `[sim:429once]` and
`[sim:500once]` one failed submit per prompt.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from veorelay.core.models import Resolution
from veorelay.core.timing import RENDER_SECONDS
from veorelay.simulator import control, gemini, vertex
from veorelay.simulator.delivery import ConnectionReset
from veorelay.simulator.faults import FaultInjector
from veorelay.simulator.oauth import ServiceAccount, TokenAuthority
from veorelay.simulator.owners import LimitExceeded, Limits, Owners
from veorelay.simulator.render import render_cached, sweep_partial_renders
from veorelay.simulator.store import Operation, OperationStore
from veorelay.simulator.validation import RenderRequest, SimulatorError

log = logging.getLogger("veorelay.simulator")

_RESOLUTION_BY_HEIGHT = {720: Resolution.P720, 1080: Resolution.P1080, 2160: Resolution.K4}
_GEMINI_QUOTA = "You exceeded your current quota, please check your plan and billing details."
_QUOTA_IDS = {
    "rpm": "PredictLongRunningRequestsPerMinutePerProjectPerModel",
    "rpd": "PredictLongRunningRequestsPerDayPerProjectPerModel",
    "max_concurrent": "ConcurrentOperationsPerProjectPerModel",
}


@dataclass(frozen=True)
class SimulatorConfig:
    data_dir: Path
    time_scale: float = 1.0
    api_keys: frozenset[str] = frozenset()  # empty: any non-empty key is accepted
    retired_models: frozenset[str] = frozenset()  # 404 on both surfaces
    file_ttl_seconds: float = 2 * 24 * 3600.0
    render_dir: Path | None = None  # default data_dir/renders; tests share one across servers
    clock: Callable[[], float] = field(default=time.time)
    # Vertex mode: service-account JSON files whose keys may ask for tokens at POST /token
    vertex_service_accounts: tuple[Path, ...] = ()
    vertex_projects: frozenset[str] = frozenset()  # empty: each account its own project_id
    vertex_token_seconds: float = 3600.0
    # Faults and limits
    faults: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))
    fault_seed: int | None = None
    slow_seconds: float = 30.0  # how long a `slow` download stalls (times time_scale)
    # Hold each submit's answer this long after its operation exists (real seconds): the
    # window in which a gateway that dies has had its request accepted but not answered.
    submit_answer_delay: float = 0.0
    # One render per size and length whatever the prompt and seed: load tests with hundreds
    # of distinct prompts then cost a few renders, not hundreds.
    cheap_renders: bool = False
    limits: Limits = field(default_factory=Limits)  # per owner
    api_key_projects: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))


CHEAP_RENDER_PROMPT = "veorelay simulator"


class Simulator:
    def __init__(self, config: SimulatorConfig):
        self.config = config
        self.store = OperationStore(config.data_dir / "operations")
        self.render_dir = config.render_dir or config.data_dir / "renders"
        self.tokens = TokenAuthority(
            tuple(ServiceAccount.from_file(path) for path in config.vertex_service_accounts),
            config.vertex_projects,
            config.vertex_token_seconds,
            config.data_dir / "oauth-secret",
            config.clock,
        )
        self.faults = FaultInjector(dict(config.faults), config.fault_seed)
        self.owners = Owners(config.limits, config.time_scale)
        self.slow_seconds = config.slow_seconds * config.time_scale
        self.revoked_keys: set[str] = set()
        self.revoked_projects: set[str] = set()
        self._renders: dict[str, asyncio.Task[None]] = {}
        self._render_slots = asyncio.Semaphore(1)
        self._seen_once: set[str] = set()
        sweep_partial_renders(self.render_dir)

    async def hold_submit_answer(self) -> None:
        if self.config.submit_answer_delay > 0:
            await asyncio.sleep(self.config.submit_answer_delay)

    def submit(
        self,
        render: RenderRequest,
        model: str,
        operation_id: str,
        owner: str,
        *,
        dialect: str = "gemini",
        project: str = "",
        location: str = "",
    ) -> Operation:
        """Start an operation (limits, faults and markers may refuse it first), saved before
        it is answered."""
        now = self.config.clock()
        try:
            self.owners.admit(owner, now)
        except LimitExceeded as exc:
            raise self._exhausted(dialect, exc.retry_after, exc.limit) from None
        self._random_fault("submit", dialect)
        self._marker_faults(render.prompt, dialect)
        outcome = "video"
        if "[sim:rai]" in render.prompt:
            outcome = "filtered"
        elif "[sim:fail]" in render.prompt:
            outcome = "error"
        else:
            outcome = {"rai": "filtered", "error": "error"}.get(
                self.faults.draw("operation") or "", outcome
            )
        resolution = _RESOLUTION_BY_HEIGHT[min(render.width, render.height)]
        operation = Operation(
            id=operation_id,
            model=model,
            created_at=now,
            ready_at=now + RENDER_SECONDS[resolution] * self.config.time_scale,
            prompt=render.prompt,
            seed=render.seed,
            width=render.width,
            height=render.height,
            seconds=render.seconds,
            outcome=outcome,
            download_token=secrets.token_urlsafe(16),
            sample_count=render.sample_count,
            storage_uri=render.storage_uri,
            dialect=dialect,
            project=project,
            location=location,
        )
        self.store.save(operation)
        self.owners.accepted(owner, operation.ready_at, render.prompt, render.seed)
        if outcome == "video":
            self._start_render(operation)
        return operation

    def state(self, operation: Operation) -> str:
        """'running', 'error', 'filtered' or 'video' (rendered and on disk)."""
        if self.config.clock() < operation.ready_at:
            return "running"
        if operation.outcome != "video":
            return operation.outcome
        if _rendered(operation):
            return "video"
        self._start_render(operation)  # e.g. after a restart: still rendering
        return "running"

    def expired(self, operation: Operation) -> bool:
        return self.config.clock() > operation.ready_at + self.config.file_ttl_seconds

    def poll_fault(self, dialect: str) -> None:
        self._random_fault("poll", dialect)

    def download_fault(self, dialect: str) -> str | None:
        """Raise for an error answer; else the fault the bytes get (slow, truncate, reset)."""
        kind = self.faults.draw("download")
        if kind in ("500", "503"):
            raise _server_error(kind)
        return kind

    def _random_fault(self, phase: str, dialect: str) -> None:
        kind = self.faults.draw(phase)
        if kind == "429":
            raise self._exhausted(dialect, 20 * self.config.time_scale)  # Google says ~20 s
        if kind == "reset":
            raise ResetConnection()
        if kind in ("500", "503"):
            raise _server_error(kind)

    def _exhausted(self, dialect: str, retry_after: float, limit: str | None = None) -> Exception:
        details: list[dict[str, Any]] = [
            {
                "@type": "type.googleapis.com/google.rpc.RetryInfo",
                "retryDelay": _duration(retry_after),
            }
        ]
        if limit is not None:
            details.append(
                {
                    "@type": "type.googleapis.com/google.rpc.QuotaFailure",
                    "violations": [{"quotaId": _QUOTA_IDS[limit]}],
                }
            )
        message = vertex.QUOTA_MESSAGE if dialect == "vertex" else _GEMINI_QUOTA
        return SimulatorError(429, "RESOURCE_EXHAUSTED", message, details)

    def _marker_faults(self, prompt: str, dialect: str) -> None:
        if "[sim:429]" in prompt or self._first_time(prompt, "[sim:429once]"):
            raise self._exhausted(dialect, 20 * self.config.time_scale)
        if self._first_time(prompt, "[sim:500once]"):
            raise _server_error("500")

    def _first_time(self, prompt: str, marker: str) -> bool:
        if marker not in prompt or prompt in self._seen_once:
            return False
        self._seen_once.add(prompt)
        return True

    def _start_render(self, operation: Operation) -> None:
        running = self._renders.get(operation.id)
        if running is None or running.done():
            self._renders[operation.id] = asyncio.create_task(self._render(operation))

    async def _render(self, operation: Operation) -> None:
        async with self._render_slots:
            try:
                cheap = self.config.cheap_renders
                path = await asyncio.to_thread(
                    render_cached,
                    self.render_dir,
                    CHEAP_RENDER_PROMPT if cheap else operation.prompt,
                    None if cheap else operation.seed,
                    operation.width,
                    operation.height,
                    operation.seconds,
                )
            except Exception:
                log.exception("render of operation %s failed", operation.id)
                operation.outcome = "error"
            else:
                operation.render_file = str(path)
            self.store.save(operation)


class ResetConnection(Exception):
    """Answer nothing: close the connection (see delivery.ConnectionReset)."""


def _server_error(kind: str) -> SimulatorError:
    if kind == "503":
        message = "The model is overloaded. Please try again later."
        return SimulatorError(503, "UNAVAILABLE", message)
    return SimulatorError(500, "INTERNAL", "An internal error has occurred.")


def _duration(seconds: float) -> str:
    """A google.protobuf.Duration in JSON: "20s", "0.1s" (never below a millisecond)."""
    return f"{max(seconds, 0.001):.3f}".rstrip("0").rstrip(".") + "s"


def _rendered(operation: Operation) -> bool:
    return operation.render_file is not None and Path(operation.render_file).exists()


def create_simulator_app(config: SimulatorConfig) -> Starlette:
    simulator = Simulator(config)

    async def on_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, SimulatorError)
        return JSONResponse(exc.body(), status_code=exc.http_status)

    async def on_reset(request: Request, exc: Exception) -> Response:
        return ConnectionReset()

    async def not_found(request: Request, exc: Exception) -> Response:
        return JSONResponse(SimulatorError(404, "NOT_FOUND", "Not found.").body(), status_code=404)

    routes = [*gemini.routes(simulator), *vertex.routes(simulator), *control.routes(simulator)]
    app = Starlette(
        routes=routes,
        exception_handlers={SimulatorError: on_error, ResetConnection: on_reset, 404: not_found},
    )
    app.state.simulator = simulator
    return app
