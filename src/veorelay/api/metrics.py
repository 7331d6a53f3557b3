"""`GET /metrics` in Prometheus text format, and the middleware that counts HTTP requests.

Task, channel and ledger figures are read from the database at scrape time (one grouped query
each), so every replica reports the same totals; only the HTTP figures are per process.

Access: with `VEORELAY_METRICS_KEY` set, `Authorization: Bearer <key>` is required; unset,
only loopback clients are answered (403 to others).
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
from collections.abc import Iterator

from fastapi import APIRouter, Request
from fastapi.responses import Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
)
from prometheus_client import generate_latest as render
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy.exc import SQLAlchemyError
from starlette.types import ASGIApp, Receive, Scope, Send

from veorelay import __version__
from veorelay.answered import serve_and_observe
from veorelay.api.deps import ServicesDep
from veorelay.core.channels import DISPATCHABLE
from veorelay.core.lifecycle import TaskState
from veorelay.core.webhooks import DeliveryState
from veorelay.db import ops
from veorelay.errors import AuthenticationFailed, PermissionDenied
from veorelay.services import Services

log = logging.getLogger("veorelay.metrics")
router = APIRouter(tags=["operations"])
UNMATCHED = "<unmatched>"
_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


class HttpMetrics:
    """The per-process HTTP figures; labelled by route template, never by raw path."""

    def __init__(self) -> None:
        # No `_created` series next to each counter and histogram: they double the output and
        # Prometheus does not need them. (The switch is prometheus-client's, process-wide.)
        disable_created_metrics()  # type: ignore[no-untyped-call]
        self.requests = Counter(
            "veorelay_http_requests",
            "HTTP requests answered, by method, route template and status.",
            ["method", "route", "status"],
            registry=None,
        )
        self.duration = Histogram(
            "veorelay_http_request_duration_seconds",
            "Time to the last byte of the answer, by method and route template.",
            ["method", "route"],
            buckets=_BUCKETS,
            registry=None,
        )

    def collectors(self) -> list[Collector]:
        return [self.requests, self.duration]


class RequestMetrics:
    """ASGI middleware: counts and times every HTTP request once its answer is finished."""

    def __init__(self, app: ASGIApp, metrics: HttpMetrics):
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        def count(status: int, seconds: float) -> None:
            route = getattr(scope.get("route"), "path", None) or UNMATCHED
            method = scope["method"]
            self.metrics.requests.labels(method, route, str(status)).inc()
            self.metrics.duration.labels(method, route).observe(seconds)

        await serve_and_observe(self.app, scope, receive, send, count)


class _Snapshot(Collector):
    """The database's figures, read once per scrape."""

    def __init__(self) -> None:
        self.families: list[Metric] = []

    def collect(self) -> Iterator[Metric]:
        yield from self.families


@router.get("/metrics", response_class=Response, include_in_schema=False)
async def metrics(request: Request, services: ServicesDep) -> Response:
    """Prometheus text format. Bearer `VEORELAY_METRICS_KEY`, or loopback only if it is unset."""
    key = services.settings.metrics_key
    _authorize(request, key.get_secret_value() if key else "")
    snapshot = _Snapshot()
    snapshot.families = await _database_families(services)
    registry = CollectorRegistry(auto_describe=False)
    http_metrics: HttpMetrics = request.app.state.http_metrics
    for collector in [*http_metrics.collectors(), snapshot]:
        registry.register(collector)
    return Response(render(registry), media_type=CONTENT_TYPE_LATEST)


def _authorize(request: Request, key: str) -> None:
    """An empty key counts as unset: "Bearer " must not open the endpoint."""
    if key:
        given = request.headers.get("authorization", "")
        if not hmac.compare_digest(given.encode(), f"Bearer {key}".encode()):
            raise AuthenticationFailed("A valid metrics key is required: Bearer <key>.")
        return
    host = request.client.host if request.client else ""
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise PermissionDenied(
            "/metrics answers only loopback clients unless VEORELAY_METRICS_KEY is set."
        )


async def _database_families(services: Services) -> list[Metric]:
    info = GaugeMetricFamily("veorelay_build_info", "This process's version.", labels=["version"])
    info.add_metric([__version__], 1)
    up = GaugeMetricFamily(
        "veorelay_metrics_database_up", "1 if this scrape could read the database."
    )
    try:
        async with services.db.read() as conn:
            counts = await ops.task_counts(conn)
            channels = await ops.channel_states(conn)
            ledger = await ops.ledger_totals(conn)
            hooks = await ops.webhook_delivery_counts(conn)
    except (SQLAlchemyError, OSError) as exc:
        log.warning("metrics: the database could not be read: %s", exc)
        up.add_metric([], 0)
        return [info, up]
    up.add_metric([], 1)

    tasks = GaugeMetricFamily(
        "veorelay_tasks", "Tasks in the database, by state and model.", labels=["state", "model"]
    )
    for model in sorted({model for _, model in counts}):
        for state in TaskState:
            tasks.add_metric([state.value, model], counts.get((state.value, model), 0))
    queued = sum(n for (state, _), n in counts.items() if state == TaskState.QUEUED)
    queue = GaugeMetricFamily("veorelay_queue_depth", "Tasks waiting for a channel (queued).")
    queue.add_metric([], queued)

    channel_up = GaugeMetricFamily(
        "veorelay_channel_up",
        "1 if the channel is enabled and may take work (healthy or cooling), else 0.",
        labels=["channel", "kind", "health"],
    )
    for channel in channels:
        usable = channel.enabled and channel.health in DISPATCHABLE
        channel_up.add_metric([channel.name, channel.kind, channel.health], int(usable))

    entries = GaugeMetricFamily(
        "veorelay_ledger_entries", "Ledger entries, by kind.", labels=["kind"]
    )
    amounts = GaugeMetricFamily(
        "veorelay_ledger_amount_micros",
        "Sum of ledger amounts in micro-USD, by kind (holds are negative, releases positive).",
        labels=["kind"],
    )
    for total in ledger:
        entries.add_metric([total.kind], total.entries)
        amounts.add_metric([total.kind], total.micros)
    deliveries = GaugeMetricFamily(
        "veorelay_webhook_deliveries",
        "Webhook deliveries, by state (pending: not yet answered 2xx, retries left).",
        labels=["state"],
    )
    for delivery_state in DeliveryState:
        deliveries.add_metric([delivery_state.value], hooks.get(delivery_state.value, 0))
    return [info, up, tasks, queue, channel_up, entries, amounts, deliveries]
