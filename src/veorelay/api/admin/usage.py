"""Admin: redemption codes, the usage log (JSON or CSV) and summaries."""

from __future__ import annotations

import csv
import io
import json
import time
from typing import Annotated, Any, Literal

from fastapi import Depends, Query
from fastapi.responses import Response
from pydantic import BaseModel, Field

from veorelay.api.admin.common import Usd, admin_router, micros, money, usd
from veorelay.api.deps import ServicesDep
from veorelay.db import redemption, usage
from veorelay.db.usage import UsageFilter

router = admin_router()


class BatchBody(BaseModel):
    amount_usd: Usd
    count: int = Field(ge=1, le=10_000)
    expires_at: float | None = Field(None, ge=0, le=1e11)


@router.post("/redemption-codes")
async def create_codes(body: BatchBody, services: ServicesDep) -> dict[str, Any]:
    """A batch of codes; the codes themselves are in this answer only."""
    amount = micros(body.amount_usd, "amount_usd")
    async with services.db.write() as conn:
        batch_id, codes = await redemption.create_batch(
            conn, amount, body.count, body.expires_at, time.time()
        )
    return {"batch_id": batch_id, "amount_usd": usd(amount), "codes": codes}


@router.get("/redemption-codes")
async def list_codes(services: ServicesDep, batch_id: str | None = None) -> dict[str, Any]:
    async with services.db.read() as conn:
        return {"data": [money(c) for c in await redemption.list_codes(conn, batch_id)]}


def _filter(
    account_id: str | None = None,
    token_id: str | None = None,
    model: str | None = None,
    status: str | None = None,
    since: float | None = None,
    until: float | None = None,
) -> UsageFilter:
    return UsageFilter(account_id, token_id, model, status, since, until)


FilterDep = Annotated[UsageFilter, Depends(_filter)]


@router.get(
    "/usage",
    responses={200: {"content": {"application/json": {}, "text/csv": {}}}},
)
async def list_usage(
    where: FilterDep,
    services: ServicesDep,
    after: str | None = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 100,
    format: Literal["json", "csv"] = "json",
) -> Response:
    async with services.db.read() as conn:
        rows, has_more = await usage.usage_page(conn, where, after=after, limit=limit)
    rows = [money(r) for r in rows]
    if format == "csv":
        out = io.StringIO()
        columns = list(rows[0]) if rows else [c.name for c in usage.USAGE_COLUMNS]
        writer = csv.DictWriter(out, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
        return Response(
            out.getvalue(),
            media_type="text/csv",
            headers={"Content-Disposition": 'attachment; filename="usage.csv"'},
        )
    body = {"data": rows, "has_more": has_more, "last_id": rows[-1]["id"] if rows else None}
    return Response(json.dumps(body), media_type="application/json")


@router.get("/summary")
async def usage_summary(
    where: FilterDep,
    services: ServicesDep,
    by: Literal["token", "model", "account", "day"] = "model",
) -> dict[str, Any]:
    async with services.db.read() as conn:
        rows = await usage.summary(conn, where, by)
    if by == "day":
        rows = [
            {**r, "key": time.strftime("%Y-%m-%d", time.gmtime(int(r["key"]) * 86400))}
            for r in rows
        ]
    return {
        "by": by,
        "data": [money({**r, "charged_micros": int(r["charged_micros"] or 0)}) for r in rows],
    }
