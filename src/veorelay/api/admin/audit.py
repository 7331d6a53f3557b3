"""Admin: the audit trail of operator changes (api/admin/audited.py records it)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Query

from veorelay.api.admin.common import admin_router
from veorelay.api.deps import ServicesDep
from veorelay.api.fields import MAX_INT32
from veorelay.db import audit

router = admin_router()


@router.get("/audit")
async def audit_log(
    services: ServicesDep,
    before_id: Annotated[
        int | None, Query(ge=1, le=MAX_INT32, description="Page on: the last id seen.")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    action: Annotated[str | None, Query(max_length=80, description="e.g. account.")] = None,
) -> dict[str, Any]:
    """Every operator change, newest first: who (`admin-api`, `console`, `cli`), what,
    the state before and after, and when."""
    async with services.db.read() as conn:
        rows = await audit.page(conn, before_id=before_id, limit=limit, action=action)
    return {"data": rows, "has_more": len(rows) == limit}
