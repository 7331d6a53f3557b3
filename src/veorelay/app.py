"""create_app(settings) -> the gateway's ASGI app. Importing this module starts nothing.

The lifespan opens the database (migrating it), storage, the upstream HTTP client and, unless
disabled, the task engine. With no Gemini key configured it also starts the built-in simulator
on a loopback port and says so loudly.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager

import httpx
import uvicorn
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from veorelay import __version__
from veorelay.api import account, admin, compat, videos
from veorelay.api.auth import TokenCache
from veorelay.api.limits import BodyReadTimeout, BodySizeLimit, NoNulInUrl
from veorelay.api.openapi import openapi_document
from veorelay.db import catalog
from veorelay.db.database import Database
from veorelay.db.migrate import upgrade
from veorelay.engine.worker import Engine
from veorelay.errors import InvalidRequest, NotFound, ParseRequestFailed, VeorelayError
from veorelay.estimates import RenderTimeEstimator
from veorelay.pricebook import PriceBook
from veorelay.services import Services
from veorelay.settings import Settings
from veorelay.simulator.app import SimulatorConfig, create_simulator_app
from veorelay.storage.filesystem import FilesystemStorage
from veorelay.upstream.gemini import GeminiClient

log = logging.getLogger("veorelay")

SIMULATOR_KEY = "veorelay-simulator"
# The largest request: a 20 MB image as base64 in JSON (~27 MB), with room for the rest. Bigger
# bodies are refused while they arrive, before anything is spooled to disk.
MAX_BODY_BYTES = 34 * 1024 * 1024
_CONSTRAINT_ERRORS = {
    "greater_than",
    "greater_than_equal",
    "less_than",
    "less_than_equal",
    "literal_error",
    "enum",
    "string_too_long",
    "string_too_short",
}


def create_app(settings: Settings) -> FastAPI:
    app = FastAPI(
        title="veorelay",
        version=__version__,
        description="A gateway for Google's Veo 3.1 video models with an OpenAI-style API.",
        lifespan=lambda app: _lifespan(app, settings),
    )
    app.add_middleware(BodySizeLimit, max_bytes=MAX_BODY_BYTES)
    app.add_middleware(BodyReadTimeout, seconds=settings.body_read_timeout_seconds)
    app.add_middleware(NoNulInUrl)
    app.include_router(videos.router)
    app.include_router(compat.router)
    app.include_router(account.router)
    app.include_router(admin.router)

    @app.get("/health", operation_id="health", tags=["operations"])
    async def health() -> dict[str, str]:
        """Liveness: the process serves HTTP. (No database round trip.)"""
        return {"status": "ok"}

    _install_error_handlers(app)
    app.openapi = lambda: openapi_document(app)  # type: ignore[method-assign]
    return app


@asynccontextmanager
async def _lifespan(app: FastAPI, settings: Settings) -> AsyncIterator[None]:
    async with running_services(settings) as services:
        app.state.services = services
        yield


@asynccontextmanager
async def running_services(
    settings: Settings, *, with_engine: bool | None = None
) -> AsyncIterator[Services]:
    """Everything `serve`, `worker` and the operator commands run on. Only a running engine
    talks upstream, so only then is the upstream client (or the built-in simulator) started."""
    db = Database(settings.resolved_database_url)
    await upgrade(db)
    storage = FilesystemStorage(settings.data_dir / "videos")
    async with db.write() as conn:
        await catalog.seed_models(conn, settings.price_table(), time.time())
    services = Services(
        settings=settings,
        db=db,
        storage=storage,
        prices=PriceBook(db, settings.cache_seconds),
        render_times=RenderTimeEstimator(db, settings.effective_engine_time_scale),
        tokens=TokenCache(ttl=settings.cache_seconds),
    )
    try:
        if settings.engine_enabled if with_engine is None else with_engine:
            async with _running_engine(settings, services):
                yield services
        else:
            yield services
    finally:
        await db.dispose()


@asynccontextmanager
async def _running_engine(settings: Settings, services: Services) -> AsyncIterator[None]:
    timeout = httpx.Timeout(settings.upstream_timeout_seconds, connect=10.0)
    async with httpx.AsyncClient(timeout=timeout) as http, contextlib.AsyncExitStack() as stack:
        if settings.uses_simulator:
            base_url = await stack.enter_async_context(_embedded_simulator(settings))
            upstream = GeminiClient(http, base_url, [SIMULATOR_KEY])
        else:
            keys = [key.get_secret_value() for key in settings.gemini_api_key]
            upstream = GeminiClient(http, settings.gemini_base_url, keys)
            log.info(
                "upstream: Gemini API at %s with %d key(s)", settings.gemini_base_url, len(keys)
            )
        services.engine = Engine(
            services.db,
            services.storage,
            upstream,
            time_scale=settings.effective_engine_time_scale,
            concurrency=settings.engine_concurrency,
            tick_seconds=settings.engine_tick_seconds,
            lease_seconds=settings.engine_lease_seconds,
            drain_seconds=settings.engine_drain_seconds,
        )
        engine_task = asyncio.create_task(services.engine.run_forever())
        try:
            yield
        finally:
            engine_task.cancel()
            await asyncio.gather(engine_task, return_exceptions=True)


class _EmbeddedServer(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield  # the outer server owns the process's signals


@asynccontextmanager
async def _embedded_simulator(settings: Settings) -> AsyncIterator[str]:
    config = SimulatorConfig(
        data_dir=settings.data_dir / "simulator", time_scale=settings.simulator_time_scale
    )
    server = _EmbeddedServer(
        uvicorn.Config(
            create_simulator_app(config),
            host="127.0.0.1",
            port=settings.simulator_port,
            log_level="warning",
            lifespan="off",
        )
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
            raise RuntimeError("the built-in simulator did not start")
        await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    log.warning(
        "\n%s\n  NO GOOGLE KEY CONFIGURED: veorelay is using its built-in SIMULATOR as upstream\n"
        "  (http://127.0.0.1:%d, time scale %s). Videos are synthetic test renders.\n"
        "  Set VEORELAY_GEMINI_API_KEY to generate real videos with Google Veo.\n%s",
        "=" * 78,
        port,
        settings.simulator_time_scale,
        "=" * 78,
    )
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await asyncio.gather(task, return_exceptions=True)


def _allowed_methods(request: Request) -> list[str]:
    """Every method some route serves on this path (Starlette names only the first route's)."""
    routes = request.app.router.routes
    return [
        method
        for method in ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")
        if any(r.matches({**request.scope, "method": method})[0] is Match.FULL for r in routes)
    ]


def _install_error_handlers(app: FastAPI) -> None:
    async def veorelay_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, VeorelayError)
        return JSONResponse(exc.to_body(), status_code=exc.status, headers=exc.headers())

    async def validation_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        first = exc.errors()[0] if exc.errors() else {}
        param = ".".join(str(p) for p in first.get("loc", [])[1:]) or None
        message = f"{param or 'request'}: {first.get('msg', 'invalid')}."
        # A value of the wrong type cannot be parsed; a well-typed value out of range is
        # a constraint violation, as the spec documents' error table tells them apart.
        error: VeorelayError
        if first.get("type") in _CONSTRAINT_ERRORS:
            error = InvalidRequest(message, param=param)
        else:
            error = ParseRequestFailed(message, param=param)
        return JSONResponse(error.to_body(), status_code=error.status)

    async def http_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        if exc.status_code == 404:
            error: VeorelayError = NotFound(f"No route for {request.method} {request.url.path}.")
        elif exc.status_code == 405:
            error = InvalidRequest(
                f"{request.method} is not allowed on {request.url.path}.",
                code="method_not_allowed",
            )
        else:
            error = InvalidRequest(str(exc.detail), code="http_error")
        headers = dict(exc.headers or {})
        if exc.status_code == 405:  # RFC 9110: say which methods the path does allow
            headers["Allow"] = ", ".join(_allowed_methods(request))
        return JSONResponse(error.to_body(), status_code=exc.status_code, headers=headers)

    async def unexpected_error(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return JSONResponse(VeorelayError("Internal server error.").to_body(), status_code=500)

    app.add_exception_handler(VeorelayError, veorelay_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(Exception, unexpected_error)
