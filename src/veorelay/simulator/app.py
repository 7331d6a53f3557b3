"""An ASGI app that speaks Google's Veo protocols (Gemini API and Vertex AI), rendering real MP4s.

Gemini API:
    GET  /v1beta/models/{model}                        -> the model, or 404 if retired/unknown
    POST /v1beta/models/{model}:predictLongRunning     -> {"name": "models/{m}/operations/{id}"}
    GET  /v1beta/models/{model}/operations/{id}        -> {"name"} while running; done + response
    GET  /v1beta/files/{id}:download?alt=media         -> 302 to the bytes (video/mp4, Range)
Vertex AI (see vertex.py): POST /token, :predictLongRunning, :fetchPredictOperation, Cloud
Storage downloads, the publisher-model probe.

Prompt markers (see docs/simulator.md) trigger failures: `[sim:rai]` a safety-filtered result,
`[sim:fail]` an operation error, `[sim:429]` a 429 on every submit, `[sim:429once]` and
`[sim:500once]` one failed submit per prompt.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from veorelay.core.models import Resolution
from veorelay.core.timing import RENDER_SECONDS
from veorelay.simulator import vertex
from veorelay.simulator.oauth import OAuthError, ServiceAccount, TokenAuthority
from veorelay.simulator.render import render_cached
from veorelay.simulator.store import Operation, OperationStore, new_id
from veorelay.simulator.validation import (
    KNOWN_MODELS,
    RenderRequest,
    SimulatorError,
    validate_predict,
)

log = logging.getLogger("veorelay.simulator")

RESPONSE_TYPE = "type.googleapis.com/google.ai.generativelanguage.v1beta.PredictLongRunningResponse"
RAI_REASON = (
    "We encountered an issue with the audio for your prompt, which means we could not create "
    "your video. This can sometimes happen due to our safety filters or other processing issues. "
    "Please modify your request and try again. You have not been charged for this attempt."
)
_RESOLUTION_BY_HEIGHT = {720: Resolution.P720, 1080: Resolution.P1080, 2160: Resolution.K4}


@dataclass(frozen=True)
class SimulatorConfig:
    data_dir: Path
    time_scale: float = 1.0
    api_keys: frozenset[str] = frozenset()  # empty: any non-empty key is accepted
    retired_models: frozenset[str] = frozenset()
    file_ttl_seconds: float = 2 * 24 * 3600.0
    render_dir: Path | None = None  # default data_dir/renders; tests share one across servers
    clock: Callable[[], float] = field(default=time.time)
    # Vertex mode: service-account JSON files whose keys may ask for tokens at POST /token
    vertex_service_accounts: tuple[Path, ...] = ()
    vertex_projects: frozenset[str] = frozenset()  # empty: each account its own project_id
    vertex_token_seconds: float = 3600.0


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
        self._renders: dict[str, asyncio.Task[None]] = {}
        self._render_slots = asyncio.Semaphore(1)
        self._seen_once: set[str] = set()

    def submit(
        self, render: RenderRequest, model: str, operation_id: str, **vertex_fields: Any
    ) -> Operation:
        """Start an operation (markers may refuse it first), saved before it is answered."""
        dialect = vertex_fields.get("dialect", "gemini")
        self._inject_submit_faults(render.prompt, dialect)
        now = self.config.clock()
        resolution = _RESOLUTION_BY_HEIGHT[min(render.width, render.height)]
        outcome = "video"
        if "[sim:rai]" in render.prompt:
            outcome = "filtered"
        elif "[sim:fail]" in render.prompt:
            outcome = "error"
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
            **vertex_fields,
        )
        self.store.save(operation)
        if outcome == "video":
            self._start_render(operation)
        return operation

    def state(self, operation: Operation) -> str:
        """ "running", "error", "filtered" or "video" (rendered and on disk)."""
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

    async def token(self, request: Request) -> Response:
        form = await request.form()
        fields = {key: value for key, value in form.items() if isinstance(value, str)}
        endpoint = str(request.url.replace(query=""))
        try:
            return JSONResponse(self.tokens.grant(fields, endpoint))
        except OAuthError as exc:
            return JSONResponse(exc.body(), status_code=400)

    async def get_model(self, request: Request) -> Response:
        self.check_key(request)
        model = request.path_params["model"]
        if model in self.config.retired_models or model not in KNOWN_MODELS:
            raise SimulatorError(404, "NOT_FOUND", f"models/{model} is not found.")
        return JSONResponse(
            {
                "name": f"models/{model}",
                "displayName": _display_name(model),
                "supportedGenerationMethods": ["predictLongRunning"],
            }
        )

    def check_key(self, request: Request) -> None:
        key = request.headers.get("x-goog-api-key") or request.query_params.get("key")
        if not key:
            raise SimulatorError(
                403,
                "PERMISSION_DENIED",
                "Method doesn't allow unregistered callers (callers without established "
                "identity). Please use API Key or other form of API consumer identity to call "
                "this API.",
            )
        if self.config.api_keys and key not in self.config.api_keys:
            raise SimulatorError(
                400,
                "INVALID_ARGUMENT",
                "API key not valid. Please pass a valid API key.",
                [
                    {
                        "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                        "reason": "API_KEY_INVALID",
                        "domain": "googleapis.com",
                    }
                ],
            )

    async def predict(self, request: Request) -> Response:
        self.check_key(request)
        model = request.path_params["model"]
        try:
            body = await request.json()
        except ValueError:
            body = None
        render = validate_predict(model, body, self.config.retired_models)
        operation = self.submit(render, model, new_id())
        return JSONResponse({"name": operation.name})

    async def get_operation(self, request: Request) -> Response:
        self.check_key(request)
        operation = self.store.load(request.path_params["operation_id"])
        if (
            operation is None
            or operation.dialect != "gemini"
            or operation.model != request.path_params["model"]
        ):
            raise SimulatorError(404, "NOT_FOUND", "Operation not found.")
        body: dict[str, Any] = {"name": operation.name}
        state = self.state(operation)
        if state == "error":
            body.update(
                done=True,
                error={"code": 13, "message": "Video generation failed due to an internal error."},
            )
        elif state == "filtered":
            body.update(
                done=True,
                response={
                    "@type": RESPONSE_TYPE,
                    "generateVideoResponse": {
                        "raiMediaFilteredCount": 1,
                        "raiMediaFilteredReasons": [RAI_REASON],
                    },
                },
            )
        elif state == "video":
            uri = f"https://{request.url.netloc}/v1beta/files/{operation.id}:download?alt=media"
            body.update(
                done=True,
                response={
                    "@type": RESPONSE_TYPE,
                    "generateVideoResponse": {"generatedSamples": [{"video": {"uri": uri}}]},
                },
            )
        return JSONResponse(body)

    async def download(self, request: Request) -> Response:
        self.check_key(request)
        operation = self._downloadable(request.path_params["file_id"])
        target = request.url_for("file_bytes", file_id=operation.id).include_query_params(
            token=operation.download_token
        )
        return RedirectResponse(str(target), status_code=302)

    async def file_bytes(self, request: Request) -> Response:
        operation = self._downloadable(request.path_params["file_id"])
        if not secrets.compare_digest(
            request.query_params.get("token", ""), operation.download_token
        ):
            raise SimulatorError(403, "PERMISSION_DENIED", "The download link is not valid.")
        assert operation.render_file is not None
        return FileResponse(operation.render_file, media_type="video/mp4")

    def _downloadable(self, file_id: str) -> Operation:
        operation = self.store.load(file_id)
        if (
            operation is None
            or operation.dialect != "gemini"
            or self.state(operation) != "video"
            or self.expired(operation)
        ):
            raise SimulatorError(404, "NOT_FOUND", f"File files/{file_id} was not found.")
        return operation

    def _inject_submit_faults(self, prompt: str, dialect: str) -> None:
        if "[sim:429]" in prompt or self._first_time(prompt, "[sim:429once]"):
            raise SimulatorError(
                429,
                "RESOURCE_EXHAUSTED",
                vertex.QUOTA_MESSAGE
                if dialect == "vertex"
                else "You exceeded your current quota, please check your plan and billing details.",
                [
                    {
                        "@type": "type.googleapis.com/google.rpc.RetryInfo",
                        "retryDelay": f"{20 * self.config.time_scale:g}s",
                    }
                ],  # Google says ~20 s
            )
        if self._first_time(prompt, "[sim:500once]"):
            raise SimulatorError(500, "INTERNAL", "An internal error has occurred.")

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
                path = await asyncio.to_thread(
                    render_cached,
                    self.render_dir,
                    operation.prompt,
                    operation.seed,
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


def _rendered(operation: Operation) -> bool:
    return operation.render_file is not None and Path(operation.render_file).exists()


def _display_name(model: str) -> str:
    words = model.removeprefix("veo-").split("-")
    version, rest = words[0], [w for w in words[1:] if w not in ("generate",)]
    return " ".join(["Veo", version, *(w.capitalize() for w in rest)])


def create_simulator_app(config: SimulatorConfig) -> Starlette:
    simulator = Simulator(config)

    async def on_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, SimulatorError)
        return JSONResponse(exc.body(), status_code=exc.http_status)

    async def not_found(request: Request, exc: Exception) -> Response:
        return JSONResponse(SimulatorError(404, "NOT_FOUND", "Not found.").body(), status_code=404)

    routes = [
        Route("/v1beta/models/{model}:predictLongRunning", simulator.predict, methods=["POST"]),
        Route("/v1beta/models/{model}/operations/{operation_id}", simulator.get_operation),
        Route("/v1beta/models/{model}", simulator.get_model),
        Route("/v1beta/files/{file_id}:download", simulator.download),
        Route("/_sim/files/{file_id}.mp4", simulator.file_bytes, name="file_bytes"),
        Route("/token", simulator.token, methods=["POST"]),
        *vertex.routes(simulator),
    ]
    app = Starlette(routes=routes, exception_handlers={SimulatorError: on_error, 404: not_found})
    app.state.simulator = simulator
    return app
