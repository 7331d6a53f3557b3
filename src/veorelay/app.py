"""create_app(settings) -> the gateway's ASGI app. Importing this module starts nothing.

The lifespan opens the database (migrating it), storage, the upstream HTTP client and, unless
disabled, the task engine. With no Gemini key configured it also starts the built-in simulator
on a loopback port and says so loudly.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import socket
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager

import httpx
import uvicorn
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from veorelay import __version__
from veorelay.access_log import AccessLog
from veorelay.api import (
    account,
    admin,
    compat,
    gemini_native,
    health,
    metrics,
    models,
    videos,
    webhooks,
)
from veorelay.api.auth import TokenCache
from veorelay.api.cors import PublicCors
from veorelay.api.limits import BodyReadTimeout, BodySizeLimit, NoNulInUrl
from veorelay.api.openapi import openapi_document
from veorelay.channels.clients import ChannelClients
from veorelay.channels.seed import seed_channels
from veorelay.console import console_router
from veorelay.console.guard import SignInRequired
from veorelay.console.render import error_page, wants_page
from veorelay.db import catalog, signals
from veorelay.db import channels as channel_db
from veorelay.db.database import Database
from veorelay.db.migrate import upgrade
from veorelay.engine.metrics import EngineMetrics
from veorelay.engine.retention import ORPHAN_GRACE_SECONDS, RetentionPolicy
from veorelay.engine.webhooks import WebhookSender
from veorelay.engine.worker import Engine
from veorelay.errors import (
    AuthenticationFailed,
    InvalidRequest,
    NotFound,
    ParseRequestFailed,
    VeorelayError,
)
from veorelay.estimates import RenderTimeEstimator
from veorelay.logs import RequestIds
from veorelay.pricebook import PriceBook
from veorelay.secretbox import SecretBox
from veorelay.services import Services
from veorelay.settings import Settings
from veorelay.storage.factory import open_storage, storage_description

log = logging.getLogger("veorelay")

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
    app.state.http_metrics = metrics.HttpMetrics()
    app.add_middleware(metrics.RequestMetrics, metrics=app.state.http_metrics)
    if settings.cors_origins:  # outside the limits: a browser can read their 400s, 408s, 413s
        app.add_middleware(PublicCors, origins=settings.cors_origins)
    if settings.access_log:  # it sees every answer, the 400s and 413s above too
        app.add_middleware(AccessLog)
    app.add_middleware(RequestIds)  # outermost: every line about a request carries its id
    app.include_router(videos.router)
    app.include_router(compat.router)
    app.include_router(gemini_native.router)
    app.include_router(models.router)
    app.include_router(account.router)
    app.include_router(webhooks.router)
    app.include_router(admin.router)
    app.include_router(health.router)
    app.include_router(metrics.router)
    if settings.console:
        app.include_router(console_router())

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
    settings: Settings,
    *,
    with_engine: bool | None = None,
    seed_upstream: bool = True,
    listen: bool = True,
) -> AsyncIterator[Services]:
    """Everything `serve`, `worker` and the operator commands run on. Only a running engine
    talks upstream, so only then is the upstream client (or the built-in simulator) started.
    `listen`: follow other processes' signals (PostgreSQL only; see db/signals.py)."""
    db = Database(settings.resolved_database_url)
    log.info("data directory: %s", settings.data_dir.resolve())
    log.info("database: %s", settings.database_description)
    await upgrade(db)
    storage = await open_storage(settings)
    log.info("storage: %s", storage_description(settings))
    secret_key = settings.secret_key.get_secret_value() if settings.secret_key else None
    box = SecretBox.from_settings(secret_key, settings.data_dir)
    prices = settings.price_table()
    async with db.write() as conn:
        await catalog.seed_models(conn, prices, time.time())
        # Operator commands leave the channels alone: a shell with another key in its
        # environment must not rewrite the gateway's `env-gemini` channel.
        needs_simulator = seed_upstream and await seed_channels(
            conn, settings, box, prices, time.time()
        )
    services = Services(
        settings=settings,
        db=db,
        storage=storage,
        prices=PriceBook(db, settings.cache_seconds),
        render_times=RenderTimeEstimator(db, settings.effective_engine_time_scale),
        tokens=TokenCache(ttl=settings.cache_seconds),
        secrets=box,
    )
    listener = None
    if listen and not db.is_sqlite:
        handlers = {signals.TASKS: services.wake_engine, signals.CHANGES: services.forget_cached}
        listener = asyncio.create_task(signals.Listener(db.url, handlers).run_forever())
    try:
        if settings.engine_enabled if with_engine is None else with_engine:
            async with _running_engine(settings, services, needs_simulator):
                yield services
        else:
            log.info("upstream: none in this process (the task engine is off)")
            yield services
    finally:
        if listener is not None:
            listener.cancel()
            await asyncio.gather(listener, return_exceptions=True)
        await storage.aclose()
        await db.dispose()


@asynccontextmanager
async def _running_engine(
    settings: Settings, services: Services, needs_simulator: bool
) -> AsyncIterator[None]:
    timeout = httpx.Timeout(settings.upstream_timeout_seconds, connect=10.0)
    async with httpx.AsyncClient(timeout=timeout) as http, contextlib.AsyncExitStack() as stack:
        simulator_url = None
        if needs_simulator:
            simulator_url = await stack.enter_async_context(_embedded_simulator(settings))
        await _log_channels(services)
        scale = settings.effective_engine_time_scale
        engine_metrics = EngineMetrics()
        services.engine = Engine(
            services.db,
            services.storage,
            ChannelClients(services.db, services.secrets, http, simulator_url, engine_metrics),
            time_scale=scale,
            concurrency=settings.engine_concurrency,
            submit_concurrency=settings.engine_submit_concurrency,
            maintenance_seconds=settings.engine_maintenance_seconds * scale,
            tick_seconds=settings.engine_tick_seconds,
            lease_seconds=settings.engine_lease_seconds,
            drain_seconds=settings.engine_drain_seconds,
            metrics=engine_metrics,
            retention=RetentionPolicy(
                retention_seconds=settings.retention_seconds,
                prune_tasks_after_seconds=settings.prune_tasks_after_seconds,
                reconcile_seconds=settings.storage_reconcile_seconds * scale,
                orphan_grace_seconds=ORPHAN_GRACE_SECONDS * scale,
            ),
        )
        hooks = await stack.enter_async_context(
            httpx.AsyncClient(timeout=settings.webhook_timeout_seconds, follow_redirects=False)
        )
        sender = WebhookSender(
            services.db,
            services.secrets,
            hooks,
            time_scale=settings.effective_webhook_time_scale,
            allow_private=settings.webhook_allow_private,
            timeout_seconds=settings.webhook_timeout_seconds,
            disable_after_seconds=settings.webhook_disable_after_seconds,
            tick_seconds=settings.engine_tick_seconds,
        )
        engine_task = asyncio.create_task(services.engine.run_forever())
        sender_task = asyncio.create_task(sender.run_forever())
        try:
            yield
        finally:
            log.info(
                "stopping: steps in flight may finish for up to %s s",
                settings.engine_drain_seconds,
            )
            sender.stop()
            services.engine.stop()
            await asyncio.gather(engine_task, sender_task, return_exceptions=True)
            log.info("task engine stopped; unfinished tasks carry on at the next start")


async def _log_channels(services: Services) -> None:
    async with services.db.read() as conn:
        live = [c for c in await channel_db.list_channels(conn) if c.enabled]
    if not live:
        log.warning("no enabled upstream channel: tasks wait until one is added (docs/channels.md)")
    for channel in live:
        log.info(
            "upstream channel %s: %s, %d model(s), health %s",
            channel.name,
            channel.kind,
            len(channel.models),
            channel.health,
        )


class _EmbeddedServer(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield  # the outer server owns the process's signals

    async def serve(self, sockets: list[socket.socket] | None = None) -> None:
        _IN_EMBEDDED_SERVER.set(True)  # this task and the connections it spawns
        await super().serve(sockets)


# uvicorn's servers all log to "uvicorn.error". The embedded simulator's own chatter ("Started
# server process", "Uvicorn running on ...") would read as the gateway's, so its records below
# WARNING are dropped, by context rather than by level: a level is shared with the gateway's
# server, which must keep saying where it listens.
_IN_EMBEDDED_SERVER: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "in_embedded_server", default=False
)


def _not_embedded_chatter(record: logging.LogRecord) -> bool:
    return record.levelno >= logging.WARNING or not _IN_EMBEDDED_SERVER.get()


def _quiet_embedded_servers() -> None:
    uvicorn_log = logging.getLogger("uvicorn.error")
    if _not_embedded_chatter not in uvicorn_log.filters:
        uvicorn_log.addFilter(_not_embedded_chatter)


@asynccontextmanager
async def _embedded_simulator(settings: Settings) -> AsyncIterator[str]:
    # Imported here: the renderer pulls in PyAV and numpy, which only the simulator needs.
    from veorelay.simulator.app import SimulatorConfig, create_simulator_app

    config = SimulatorConfig(
        data_dir=settings.data_dir / "simulator", time_scale=settings.simulator_time_scale
    )
    _quiet_embedded_servers()
    server = _EmbeddedServer(
        uvicorn.Config(
            create_simulator_app(config),
            host="127.0.0.1",
            port=settings.simulator_port,
            log_config=None,  # leave the process's logging (levels, handlers) as it is
            log_level=None,
            access_log=False,
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
        "\n%s\n  NO GOOGLE CHANNEL CONFIGURED: veorelay is using its built-in SIMULATOR\n"
        "  as upstream (http://127.0.0.1:%d, time scale %s). Videos are synthetic test renders.\n"
        "  Add a Vertex AI project with `veorelay channel add` (docs/channels.md), or set\n"
        "  VEORELAY_GEMINI_API_KEY, to generate real videos with Google Veo.\n%s",
        "=" * 78,
        port,
        settings.simulator_time_scale,
        "=" * 78,
    )
    if settings.database_url:
        log.warning(
            "the built-in simulator keeps its operations in %s. Every gateway and worker that "
            "shares this database must use the same VEORELAY_DATA_DIR (or all must point "
            "VEORELAY_GEMINI_BASE_URL at one `veorelay simulator`): a task submitted by one "
            "process's simulator is unknown to another's, and fails there.",
            config.data_dir.resolve(),
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
    async def veorelay_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, VeorelayError)
        if wants_page(request):
            response = error_page(request, exc.status, exc.message)
            response.headers.update(exc.headers())
            return response
        return JSONResponse(
            exc.body_for(request.url.path), status_code=exc.status, headers=exc.headers()
        )

    async def sign_in_required(request: Request, exc: Exception) -> Response:
        if wants_page(request):
            return RedirectResponse("/console/sign-in", status_code=303)
        error = AuthenticationFailed("Sign in to the console again.", code="signed_out")
        return JSONResponse(error.to_body(), status_code=error.status)

    async def validation_error(request: Request, exc: Exception) -> Response:
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
        if wants_page(request):
            return error_page(request, error.status, message)
        return JSONResponse(error.body_for(request.url.path), status_code=error.status)

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        if exc.status_code == 404 and wants_page(request):
            return error_page(request, 404, "There is no such page in the console.")
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
        return JSONResponse(
            error.body_for(request.url.path), status_code=exc.status_code, headers=headers
        )

    async def unexpected_error(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return JSONResponse(
            VeorelayError("Internal server error.").body_for(request.url.path), status_code=500
        )

    app.add_exception_handler(VeorelayError, veorelay_error)
    app.add_exception_handler(SignInRequired, sign_in_required)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(Exception, unexpected_error)
