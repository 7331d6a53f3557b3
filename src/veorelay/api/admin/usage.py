"""Admin: redemption codes, the usage log (JSON or CSV) and summaries."""

from __future__ import annotations

import csv
import io
import time
from collections.abc import AsyncIterator
from typing import Annotated, Any, Literal

from fastapi import Depends, Query
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from veorelay.api.admin import schemas
from veorelay.api.admin.audited import audited
from veorelay.api.admin.common import Usd, admin_router, micros, money, usd
from veorelay.api.deps import ServicesDep
from veorelay.core.lifecycle import TaskState
from veorelay.db import redemption, usage
from veorelay.db.usage import UsageFilter
from veorelay.errors import Conflict, InvalidRequest, NotFound
from veorelay.services import Services

router = admin_router()


class BatchBody(BaseModel):
    amount_usd: Usd
    count: int = Field(ge=1, le=10_000)
    expires_at: float | None = Field(None, ge=0, le=1e11)


@router.post("/redemption-codes", response_model=schemas.RedemptionBatch)
@audited("codes.create")
async def create_codes(body: BatchBody, services: ServicesDep) -> dict[str, Any]:
    """A batch of codes; the codes themselves are in this answer only."""
    amount = micros(body.amount_usd, "amount_usd")
    async with services.db.write() as conn:
        batch_id, codes = await redemption.create_batch(
            conn, amount, body.count, body.expires_at, time.time()
        )
    return {"batch_id": batch_id, "amount_usd": usd(amount), "codes": codes}


@router.get("/redemption-codes", response_model=schemas.RedemptionCodeList)
async def list_codes(services: ServicesDep, batch_id: str | None = None) -> dict[str, Any]:
    async with services.db.read() as conn:
        return {"data": [money(c) for c in await redemption.list_codes(conn, batch_id)]}


@router.get("/redemption-codes/{code_id}", response_model=schemas.RedemptionCode)
async def get_code(code_id: str, services: ServicesDep) -> dict[str, Any]:
    async with services.db.read() as conn:
        found = await redemption.get_code(conn, code_id)
    if found is None:
        raise NotFound(f"No redemption code {code_id!r}.", param="code_id")
    return money(found)


async def _code(services: Services, code_id: str) -> dict[str, Any]:
    return await get_code(code_id, services)


@router.post("/redemption-codes/{code_id}/revoke", response_model=schemas.RedemptionCode)
@audited("code.revoke", "code_id", _code)
async def revoke_code(code_id: str, services: ServicesDep) -> dict[str, Any]:
    """Revoke a code not yet redeemed (a redeemed one stays as it is: the money was credited)."""
    async with services.db.write() as conn:
        revoked = await redemption.revoke(conn, code_id=code_id, batch_id=None, now=time.time())
    found = await get_code(code_id, services)  # 404 if there is no such code
    if not revoked and found["revoked_at"] is None:  # redeemed, perhaps a moment ago
        raise Conflict("This code has already been redeemed.", code="code_already_redeemed")
    return found


@router.post("/redemption-batches/{batch_id}/revoke", response_model=schemas.BatchRevoked)
@audited("codes.revoke_batch", "batch_id")
async def revoke_batch(batch_id: str, services: ServicesDep) -> dict[str, Any]:
    """Revoke every code of a batch that is not redeemed yet."""
    async with services.db.write() as conn:
        revoked = await redemption.revoke(conn, code_id=None, batch_id=batch_id, now=time.time())
    return {"batch_id": batch_id, "revoked": revoked}


def _filter(
    account_id: str | None = None,
    token_id: str | None = None,
    model: str | None = None,
    status: Annotated[TaskState | None, Query(description="A task state.")] = None,
    since: Annotated[float | None, Query(description="Created at or after (UNIX s).")] = None,
    until: Annotated[float | None, Query(description="Created before (UNIX s).")] = None,
    channel_id: Annotated[str | None, Query(description="Ran on this channel.")] = None,
) -> UsageFilter:
    return UsageFilter(account_id, token_id, model, status, since, until, channel_id)


FilterDep = Annotated[UsageFilter, Depends(_filter)]
EXPORT_PAGE = 1000
CSV_FIELDS = [
    *usage.RECORD_FIELDS,
    "quoted_usd",
    "charged_usd",
    "upstream_cost_usd",
    "margin_usd",
]


@router.get("/usage", response_model=schemas.UsagePage)
async def list_usage(
    where: FilterDep,
    services: ServicesDep,
    after: Annotated[str | None, Query(description="The last id of the previous page.")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    """One record per task, newest first, a page at a time."""
    if not 1 <= limit <= 1000:  # the command line calls this directly
        raise InvalidRequest("limit must be from 1 to 1000.", param="limit")
    async with services.db.read() as conn:
        rows, has_more = await usage.usage_page(conn, where, after=after or None, limit=limit)
    data = [money(r) for r in rows]
    return {"data": data, "has_more": has_more, "last_id": data[-1]["id"] if data else None}


@router.get(
    "/usage/export",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/csv": {}}}},
)
async def export_usage(where: FilterDep, services: ServicesDep) -> StreamingResponse:
    """Every matching record as CSV, newest first, streamed page by page."""
    return StreamingResponse(
        usage_csv(services, where),
        media_type="text/csv",
        headers={"Content-Disposition": 'attachment; filename="usage.csv"'},
    )


async def usage_csv(
    services: Services, where: UsageFilter, fields: list[str] = CSV_FIELDS
) -> AsyncIterator[str]:
    """The records as CSV with these columns, a page at a time (never all in memory)."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=fields, extrasaction="ignore")
    writer.writeheader()
    after: str | None = None
    while True:
        async with services.db.read() as conn:
            rows, has_more = await usage.usage_page(conn, where, after=after, limit=EXPORT_PAGE)
        writer.writerows(money(r) for r in rows)
        yield out.getvalue()
        out.seek(0)
        out.truncate()
        if not has_more:
            return
        after = rows[-1]["id"]


_SUMS = ("charged_micros", "upstream_cost_micros", "margin_micros")


@router.get("/summary", response_model=schemas.Summary)
async def usage_summary(
    where: FilterDep,
    services: ServicesDep,
    by: Literal["token", "model", "account", "channel", "day"] = "model",
) -> dict[str, Any]:
    """Revenue (charged), what Google billed us (upstream cost) and the margin, per group."""
    async with services.db.read() as conn:
        rows = await usage.summary(conn, where, by)
    if by == "day":
        rows = [
            {**r, "key": time.strftime("%Y-%m-%d", time.gmtime(int(r["key"]) * 86400))}
            for r in rows
        ]
    return {
        "by": by,
        "data": [
            money({**r, **{k: int(r[k] or 0) for k in _SUMS}, "key": str(r["key"])}) for r in rows
        ],
    }
