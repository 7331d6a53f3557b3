"""The `veorelay` command line: run the gateway, the engine, the simulator; manage tokens;
generate a video against a running gateway."""

from __future__ import annotations

import asyncio
import logging
import signal
import socket
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Annotated

import typer
import uvicorn
from rich.console import Console

from veorelay.cli import operator
from veorelay.cli.channels import channel_app
from veorelay.cli.generate import generate
from veorelay.cli.storage import storage_app
from veorelay.cli.webhooks import webhook_app
from veorelay.settings import Settings

if TYPE_CHECKING:
    from veorelay.engine.worker import Engine

app = typer.Typer(
    help="veorelay: a self-hostable gateway for Google's Veo 3.1 video models.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
)
app.add_typer(operator.account_app, name="account")
app.add_typer(operator.token_app, name="token")
app.add_typer(operator.price_app, name="price")
app.add_typer(operator.group_app, name="group")
app.add_typer(operator.codes_app, name="redeem-codes")
app.add_typer(operator.usage_app, name="usage")
app.add_typer(channel_app, name="channel")
app.add_typer(storage_app, name="storage")
app.add_typer(webhook_app, name="webhook")
app.command()(generate)
console = Console(stderr=True)
log = logging.getLogger("veorelay")


def _setup_logging(settings: Settings) -> None:
    from veorelay.logs import setup_logging

    setup_logging(settings.log_level, settings.log_format)


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Listen address [env VEORELAY_HOST].")] = None,
    port: Annotated[int | None, typer.Option(help="Listen port [env VEORELAY_PORT].")] = None,
) -> None:
    """Run the gateway (HTTP API + task engine). Defaults: 127.0.0.1:8000, SQLite in ./data."""
    from veorelay.app import create_app

    overrides = {k: v for k, v in {"host": host, "port": port}.items() if v is not None}
    settings = Settings(**overrides)  # type: ignore[arg-type]
    _setup_logging(settings)
    server = _GatewayServer(
        uvicorn.Config(
            create_app(settings),
            host=settings.host,
            port=settings.port,
            log_config=None,  # uvicorn's lines go through the one format set up above
            log_level=settings.log_level,
            access_log=False,  # the gateway logs requests itself (VEORELAY_ACCESS_LOG)
        )
    )
    try:
        server.run()  # after a signal, uvicorn raises it again: Ctrl-C exits with 130
    finally:
        if server.started:
            log.info("veorelay stopped")
    if not server.started:
        raise typer.Exit(3)


class _GatewayServer(uvicorn.Server):
    """Says where the gateway listens once it does, and that Ctrl-C was heard."""

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started:
            for server in self.servers:
                for sock in server.sockets:
                    address, port = sock.getsockname()[:2]
                    shown = f"[{address}]" if ":" in address else address
                    log.info("veorelay is serving http://%s:%d (Ctrl-C to stop)", shown, port)

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if not self.should_exit:
            hint = "; Ctrl-C again to stop at once" if sig == signal.SIGINT else ""
            log.info("stopping (%s)%s", signal.Signals(sig).name, hint)
        super().handle_exit(sig, frame)


@app.command()
def worker() -> None:
    """Run only the task engine (no HTTP API), as a separate process beside `serve`."""
    from veorelay.app import running_services

    settings = Settings()
    _setup_logging(settings)

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):  # stop gracefully: steps in flight drain
            loop.add_signal_handler(signum, stop.set)
        async with running_services(settings, with_engine=True) as services:
            assert services.engine is not None
            if settings.worker_metrics_port:
                _serve_engine_metrics(services.engine, settings)
            await stop.wait()

    asyncio.run(run())


def _serve_engine_metrics(engine: Engine, settings: Settings) -> None:
    """The worker's own figures (steps, upstream calls) for Prometheus, on a thread."""
    from prometheus_client import CollectorRegistry, start_http_server

    registry = CollectorRegistry(auto_describe=False)
    for collector in engine.metrics.collectors():
        registry.register(collector)
    start_http_server(settings.worker_metrics_port, addr=settings.host, registry=registry)
    log.info("worker metrics: http://%s:%d/metrics", settings.host, settings.worker_metrics_port)


@app.command()
def simulator(
    port: Annotated[int, typer.Option(help="Listen port.")] = 8089,
    host: Annotated[str, typer.Option(help="Listen address.")] = "127.0.0.1",
    time_scale: Annotated[
        float | None,
        typer.Option(help="Render-time multiplier [env VEORELAY_SIMULATOR_TIME_SCALE]."),
    ] = None,
    data_dir: Annotated[
        Path | None,
        typer.Option(help="Where operations and renders are kept [default DATA_DIR/simulator]."),
    ] = None,
    api_key: Annotated[
        list[str] | None, typer.Option(help="Accept only these keys (repeatable); default any key.")
    ] = None,
    retired_model: Annotated[
        list[str] | None,
        typer.Option(help="Answer 404 for this model on both surfaces (repeatable)."),
    ] = None,
    vertex_service_account: Annotated[
        list[Path] | None,
        typer.Option(
            help="Vertex mode: a service-account JSON whose key may get tokens at POST /token "
            "(repeatable)."
        ),
    ] = None,
    vertex_projects: Annotated[
        str | None,
        typer.Option(
            help="Vertex projects the service accounts may use, comma-separated "
            "(default: each account's own project_id)."
        ),
    ] = None,
    vertex_token_seconds: Annotated[
        float, typer.Option(help="Lifetime of the access tokens POST /token issues.")
    ] = 3600.0,
    faults: Annotated[
        str,
        typer.Option(
            help="Random fault rates per kind, e.g. 429=0.1,500=0.05,reset=0.05 (kinds: 429, "
            "500, 503, reset, slow, truncate, error, rai)."
        ),
    ] = "",
    fault_seed: Annotated[
        int | None, typer.Option(help="Seed for the fault draws, for reproducible runs.")
    ] = None,
    slow_seconds: Annotated[
        float, typer.Option(help="How long a slow download stalls (times the time scale).")
    ] = 30.0,
    cheap_renders: Annotated[
        bool,
        typer.Option(
            "--cheap-renders",
            help="One render per size and length, whatever the prompt (fast load tests).",
        ),
    ] = False,
    submit_answer_delay: Annotated[
        float,
        typer.Option(help="Seconds each submit's answer is held after its operation exists."),
    ] = 0.0,
    rpm: Annotated[
        int | None,
        typer.Option(help="Submits per minute per owner (key's project or Vertex project)."),
    ] = None,
    rpd: Annotated[int | None, typer.Option(help="Submits per day per owner.")] = None,
    max_concurrent: Annotated[
        int | None, typer.Option(help="Operations running at once per owner.")
    ] = None,
    api_key_project: Annotated[
        list[str] | None,
        typer.Option(
            help="KEY=PROJECT: keys of one project share its limits (repeatable); "
            "any other key is its own project."
        ),
    ] = None,
) -> None:
    """Run the Google simulator alone: Gemini API and Vertex AI Veo protocols, real MP4s."""
    from veorelay.simulator.app import SimulatorConfig, create_simulator_app
    from veorelay.simulator.delivery import AbortableProtocol
    from veorelay.simulator.faults import parse_faults
    from veorelay.simulator.owners import Limits

    settings = Settings()
    _setup_logging(settings)
    projects = {p.strip() for p in (vertex_projects or "").split(",") if p.strip()}
    try:
        fault_rates = parse_faults(faults)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--faults") from None
    key_projects: dict[str, str] = {}
    for item in api_key_project or ():
        key, sep, project = item.partition("=")
        if not sep or not key or not project:
            raise typer.BadParameter("expected KEY=PROJECT", param_hint="--api-key-project")
        key_projects[key] = project
    config = SimulatorConfig(
        data_dir=data_dir or settings.data_dir / "simulator",
        time_scale=time_scale if time_scale is not None else settings.simulator_time_scale,
        api_keys=frozenset(api_key or ()),
        retired_models=frozenset(retired_model or ()),
        vertex_service_accounts=tuple(vertex_service_account or ()),
        vertex_projects=frozenset(projects),
        vertex_token_seconds=vertex_token_seconds,
        faults=fault_rates,
        fault_seed=fault_seed,
        slow_seconds=slow_seconds,
        submit_answer_delay=submit_answer_delay,
        cheap_renders=cheap_renders,
        limits=Limits(rpm=rpm, rpd=rpd, max_concurrent=max_concurrent),
        api_key_projects=key_projects,
    )
    try:
        simulator_app = create_simulator_app(config)
    except (OSError, ValueError, KeyError) as exc:
        raise typer.BadParameter(
            f"cannot read a service account: {exc!r}", param_hint="--vertex-service-account"
        ) from None
    uvicorn.run(
        simulator_app,
        host=host,
        port=port,
        log_level=settings.log_level,
        access_log=False,  # its lines would show keys sent as ?key=
        http=AbortableProtocol,  # lets the `reset` fault close a connection with no answer
    )


@app.command()
def migrate() -> None:
    """Create or upgrade the database schema (serve and worker also do this at start)."""
    from veorelay.db.database import Database
    from veorelay.db.migrate import upgrade

    settings = Settings()

    async def run() -> None:
        db = Database(settings.resolved_database_url)
        try:
            await upgrade(db)
        finally:
            await db.dispose()

    asyncio.run(run())
    console.print(
        f"database {settings.database_description} is up to date", highlight=False, markup=False
    )


def main() -> None:
    app()
