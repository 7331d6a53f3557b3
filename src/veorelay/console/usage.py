"""The usage log (the customer's and the operator's share the filters and the CSV) and
redeeming a code."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response, StreamingResponse

from veorelay.api import account as account_api
from veorelay.console.guard import CustomerDep, services_of
from veorelay.console.render import page
from veorelay.core.lifecycle import TaskState
from veorelay.core.pricing import usd_to_micros
from veorelay.db import usage
from veorelay.db.usage import UsageFilter
from veorelay.errors import InvalidRequest

router = APIRouter(prefix="/console")
DAY = 86400


def usage_filter(
    account_id: str | None, model: str, state: str, since: str, until: str
) -> UsageFilter:
    return UsageFilter(
        account_id=account_id,
        model=model or None,
        state=TaskState(state) if state in TaskState.__members__.values() else None,
        since=_date(since, "since"),
        until=_date(until, "until") + DAY if until else None,
    )


def _date(value: str, param: str) -> float:
    if not value:
        return 0.0
    try:
        return datetime.strptime(value, "%Y-%m-%d").replace(tzinfo=UTC).timestamp()
    except ValueError:
        raise InvalidRequest(f"{param} must be a date like 2026-11-01.", param=param) from None


Filter = Annotated[str, Query(max_length=100)]


@router.get("/usage")
async def usage_page(
    request: Request,
    customer: CustomerDep,
    model: Filter = "",
    state: Filter = "",
    since: Filter = "",
    until: Filter = "",
    redeemed: Filter = "",
) -> Response:
    where = usage_filter(customer.identity.account_id, model, state, since, until)
    async with services_of(request).db.read() as conn:
        rows, has_more = await usage.usage_page(conn, where, after=None, limit=200)
    return page(
        request,
        "usage.html",
        rows=rows,
        has_more=has_more,
        filters={"model": model, "state": state, "since": since, "until": until},
        states=[s.value for s in TaskState],
        redeemed=redeemed,
        export_url=str(request.url.replace(path="/console/usage.csv")),
    )


CSV_FIELDS = [
    "id",
    "created_at",
    "model",
    "seconds",
    "resolution",
    "aspect_ratio",
    "state",
    "charged_micros",
    "total_seconds",
]


@router.get("/usage.csv")
async def usage_csv(
    request: Request,
    customer: CustomerDep,
    model: Filter = "",
    state: Filter = "",
    since: Filter = "",
    until: Filter = "",
) -> Response:
    where = usage_filter(customer.identity.account_id, model, state, since, until)
    async with services_of(request).db.read() as conn:
        rows, _ = await usage.usage_page(conn, where, after=None, limit=100_000)
    return csv_response(rows, CSV_FIELDS, "usage.csv")


def csv_response(rows: list[dict[str, Any]], fields: list[str], name: str) -> Response:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=fields, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    return StreamingResponse(
        iter([out.getvalue()]),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@router.post("/redeem")
async def redeem(
    request: Request, customer: CustomerDep, code: Annotated[str, Form(max_length=200)]
) -> Response:
    answer = await account_api.redeem(
        account_api.RedeemBody(code=code.strip()), customer.identity, services_of(request)
    )
    micros = usd_to_micros(answer["amount_usd"])
    return RedirectResponse(f"/console/usage?redeemed={micros}", status_code=303)
