"""The simulator's own endpoints, for tests and operators (not part of Google's protocols).

GET  /_simulator/stats          counters per owner, faults injected, totals
POST /_simulator/keys/revoke    {"key": K}: K answers 400 API_KEY_INVALID from now on;
                                {"project": P}: Vertex project P answers 403
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from veorelay.simulator.faults import KINDS
from veorelay.simulator.owners import MINUTE, fingerprint
from veorelay.simulator.validation import invalid

if TYPE_CHECKING:
    from veorelay.simulator.app import Simulator

log = logging.getLogger("veorelay.simulator")


def stats(simulator: Simulator) -> dict[str, Any]:
    owners = simulator.owners.snapshot()
    faults = {kind: simulator.faults.counts.get(kind, 0) for kind in KINDS}
    return {
        "window_seconds": int(MINUTE),
        "time_scale": simulator.config.time_scale,
        "owners": owners,
        "faults": faults,
        "totals": {
            "submits": sum(owner["submits"] for owner in owners.values()),
            "refused_for_limits": sum(owner["refused_for_limits"] for owner in owners.values()),
            "duplicate_submits": simulator.owners.duplicate_submits,
            "faults": sum(faults.values()),
        },
    }


def routes(simulator: Simulator) -> list[Route]:
    async def get_stats(request: Request) -> Response:
        return JSONResponse(stats(simulator))

    async def revoke(request: Request) -> Response:
        try:
            body = await request.json()
        except ValueError:
            body = None
        if isinstance(body, dict) and isinstance(body.get("key"), str) and body["key"]:
            simulator.revoked_keys.add(body["key"])
            log.info("revoked API key %s", fingerprint(body["key"]))
            return JSONResponse({"revoked": {"key": fingerprint(body["key"])}})
        if isinstance(body, dict) and isinstance(body.get("project"), str) and body["project"]:
            simulator.revoked_projects.add(body["project"])
            log.info("revoked Vertex project %s", body["project"])
            return JSONResponse({"revoked": {"project": body["project"]}})
        raise invalid('Send {"key": "..."} or {"project": "..."}.')

    return [
        Route("/_simulator/stats", get_stats),
        Route("/_simulator/keys/revoke", revoke, methods=["POST"]),
    ]
