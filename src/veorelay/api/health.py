"""Liveness and readiness: `/healthz` (and its old name `/health`) and `/readyz`.

`/healthz` does no I/O: a load balancer may call it often. `/readyz` checks what serving needs:
the database answers, the storage takes a write (a directory) or answers (a bucket), and the
schema is at Alembic's head.
Failures are named in the body but not detailed (the endpoint is public); the log has the cause.
Like /metrics, these are for operators' tools, not API clients: only the old `/health` is in
/openapi.json (where every other operation needs a token).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from veorelay.api.deps import ServicesDep
from veorelay.db import ops
from veorelay.db.migrate import HEAD
from veorelay.services import Services

log = logging.getLogger("veorelay.health")
router = APIRouter(tags=["operations"])
CHECK_TIMEOUT_SECONDS = 5.0


@router.get("/healthz", include_in_schema=False)
async def healthz() -> dict[str, str]:
    """Liveness: the process serves HTTP. (No database round trip.)"""
    return {"status": "ok"}


@router.get("/health", operation_id="health")
async def health() -> dict[str, str]:
    """The old name of /healthz."""
    return {"status": "ok"}


@router.get("/readyz", include_in_schema=False)
async def readyz(services: ServicesDep) -> JSONResponse:
    """Readiness: database reachable, storage reachable, migrations at head."""
    checks: dict[str, str] = {}
    checks["database"] = await _run("database", lambda: _database(services))
    if checks["database"] == "ok":
        checks["migrations"] = await _run("migrations", lambda: _migrations(services))
    else:
        checks["migrations"] = "unknown"
    checks["storage"] = await _run("storage", lambda: _storage(services))
    failing = [name for name, result in checks.items() if result != "ok"]
    body: dict[str, Any] = {"status": "unavailable" if failing else "ready", "checks": checks}
    if failing:
        body["failing"] = failing
    return JSONResponse(body, status_code=503 if failing else 200)


async def _run(name: str, check: Callable[[], Awaitable[None]]) -> str:
    try:
        await asyncio.wait_for(check(), CHECK_TIMEOUT_SECONDS)
    except TimeoutError:
        log.warning("readiness check %s: no answer within %s s", name, CHECK_TIMEOUT_SECONDS)
        return "timeout"
    except Exception as exc:
        log.warning("readiness check %s failed: %s: %s", name, type(exc).__name__, exc)
        return "failed"
    return "ok"


async def _database(services: Services) -> None:
    async with services.db.read() as conn:
        await ops.ping(conn)


async def _migrations(services: Services) -> None:
    async with services.db.read() as conn:
        current = await ops.migration_revisions(conn)
    if current != {HEAD}:
        raise RuntimeError(f"database at {sorted(current)}, code at {HEAD}")


async def _storage(services: Services) -> None:
    await services.storage.check()
