"""The usage log (the customer's and the operator's share the filters and the CSV) and
redeeming a code."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import RedirectResponse, Response, StreamingResponse

from veorelay.api import account as account_api
from veorelay.api.admin import usage as admin_usage
from veorelay.console.charts import DAY
from veorelay.console.guard import CustomerDep, services_of
from veorelay.console.render import page
from veorelay.core.lifecycle import TaskState
from veorelay.core.pricing import usd_to_micros
from veorelay.db import usage
from veorelay.db.usage import UsageFilter
from veorelay.errors import InvalidRequest

router = APIRouter(prefix="/console")


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


@dataclass(frozen=True)
class UsageQuery:
    """The usage pages' filters, as the form sends them (dates as YYYY-MM-DD)."""

    model: Filter = ""
    state: Filter = ""
    since: Filter = ""
    until: Filter = ""

    def where(self, account_id: str | None) -> UsageFilter:
        return usage_filter(account_id, self.model, self.state, self.since, self.until)


UsageQueryDep = Annotated[UsageQuery, Depends()]
# What a customer's export holds: their own charges, never our upstream cost or margin.
CUSTOMER_CSV_FIELDS = [
    "id",
    "created_at",
    "model",
    "seconds",
    "resolution",
    "aspect_ratio",
    "state",
    "charged_usd",
    "total_seconds",
]


async def usage_rows(request: Request, where: UsageFilter) -> tuple[list[dict[str, Any]], bool]:
    """The newest 200 records the page shows (the export has them all)."""
    async with services_of(request).db.read() as conn:
        return await usage.usage_page(conn, where, after=None, limit=200)


def csv_download(records: AsyncIterator[str]) -> StreamingResponse:
    return StreamingResponse(
        records,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="usage.csv"'},
    )


@router.get("/usage")
async def usage_page(
    request: Request, customer: CustomerDep, query: UsageQueryDep, redeemed: Filter = ""
) -> Response:
    rows, has_more = await usage_rows(request, query.where(customer.identity.account_id))
    return page(
        request,
        "usage.html",
        rows=rows,
        has_more=has_more,
        filters=asdict(query),
        states=[s.value for s in TaskState],
        redeemed=redeemed,
        export_url=str(request.url.replace(path="/console/usage.csv")),
    )


@router.get("/usage.csv")
async def usage_csv(request: Request, customer: CustomerDep, query: UsageQueryDep) -> Response:
    where = query.where(customer.identity.account_id)
    return csv_download(admin_usage.usage_csv(services_of(request), where, CUSTOMER_CSV_FIELDS))


@router.post("/redeem")
async def redeem(
    request: Request, customer: CustomerDep, code: Annotated[str, Form(max_length=200)]
) -> Response:
    answer = await account_api.redeem(
        account_api.RedeemBody(code=code.strip()), customer.identity, services_of(request)
    )
    micros = usd_to_micros(answer["amount_usd"])
    return RedirectResponse(f"/console/usage?redeemed={micros}", status_code=303)
