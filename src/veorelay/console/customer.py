"""The customer's pages: dashboard, videos and create (tokens.py and usage.py hold the rest).
Signed in with a token, a customer sees and changes only that token's account."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from veorelay.api import creation, views
from veorelay.api import videos as video_api
from veorelay.console import charts
from veorelay.console.charts import DAY
from veorelay.console.guard import CustomerDep, services_of
from veorelay.console.render import page, usd
from veorelay.console.tokens import BILLING_MODES
from veorelay.core.models import DURATIONS, SIZES
from veorelay.core.params import parse_video_request
from veorelay.core.variants import Variant
from veorelay.db import accounts, usage
from veorelay.db import tasks as task_db
from veorelay.db.usage import UsageFilter
from veorelay.errors import VeorelayError

router = APIRouter(prefix="/console")


def month_start(now: float) -> float:
    today = datetime.fromtimestamp(now, UTC)
    return today.replace(day=1, hour=0, minute=0, second=0, microsecond=0).timestamp()


@router.get("/dashboard")
async def dashboard(request: Request, customer: CustomerDep) -> Response:
    services = services_of(request)
    account_id = customer.identity.account_id
    now = time.time()
    async with services.db.read() as conn:
        account = await accounts.get_account(conn, account_id)
        month = await usage.charged_total(
            conn, UsageFilter(account_id=account_id, since=month_start(now))
        )
        states = await usage.state_counts(conn, UsageFilter(account_id=account_id))
        days = await usage.summary(
            conn, UsageFilter(account_id=account_id, since=now - 30 * DAY), by="day"
        )
    assert account is not None
    return page(
        request,
        "dashboard.html",
        account=account,
        token=customer.identity,
        month_micros=month,
        states=states,
        spend_chart=charts.daily_bars(
            days, {"charged_micros": "spend"}, now, label=charts.usd_label
        ),
        videos_chart=charts.daily_bars(days, {"completed": "completed"}, now, label=str),
    )


@router.get("/videos")
async def gallery(
    request: Request,
    customer: CustomerDep,
    after: Annotated[str | None, Query(max_length=64)] = None,
) -> Response:
    services = services_of(request)
    async with services.db.read() as conn:
        tasks, has_more = await task_db.list_tasks(
            conn, customer.identity.account_id, after=after or None, limit=24, descending=True
        )
    now = time.time()
    return page(
        request,
        "videos.html",
        items=[_item(task, now) for task in tasks],
        has_more=has_more,
        next_after=tasks[-1].id if tasks else None,
    )


def _item(task: task_db.Task, now: float) -> dict[str, Any]:
    video = views.video(task, now)
    elapsed = None
    if task.submitted_at is not None:
        elapsed = (task.finished_at or now) - task.submitted_at
    return {
        "video": video,
        "price_micros": task.price_micros,
        "elapsed": elapsed,
        "expected": task.expected_render_seconds,
    }


@router.get("/videos/{video_id}")
async def video_page(request: Request, video_id: str, customer: CustomerDep) -> Response:
    task = await video_api.own_task(services_of(request), video_id, customer.identity.account_id)
    return page(request, "video.html", item=_item(task, time.time()))


@router.get("/videos/{video_id}/status")
async def video_status(request: Request, video_id: str, customer: CustomerDep) -> JSONResponse:
    """What the video page polls for live progress."""
    task = await video_api.own_task(services_of(request), video_id, customer.identity.account_id)
    item = _item(task, time.time())
    return JSONResponse(
        {
            "status": item["video"].status,
            "progress": item["video"].progress,
            "elapsed": item["elapsed"],
            "expected": item["expected"],
            "detail": item["video"].status_detail,
            "error": item["video"].error.message if item["video"].error else None,
        },
        headers={"Cache-Control": "no-store"},
    )


@router.get("/videos/{video_id}/content")
async def video_content(
    request: Request,
    video_id: str,
    customer: CustomerDep,
    download: bool = False,
    variant: Variant = Variant.VIDEO,
) -> Response:
    """The MP4 (or its thumbnail, the gallery's poster) for the page: the session cookie
    authorizes it, so no secret ever appears in a URL."""
    # Streamed even when S3 storage redirects: the page's policy allows media from us only.
    response = await video_api.video_content(
        video_id, customer.identity, services_of(request), request, variant, redirect=download
    )
    if not download:
        response.headers["content-disposition"] = f'inline; filename="{video_id}.mp4"'
    return response


@router.post("/videos/{video_id}/delete")
async def delete_video(request: Request, video_id: str, customer: CustomerDep) -> Response:
    await video_api.delete_video(video_id, customer.identity, services_of(request))
    return RedirectResponse("/console/videos", status_code=303)


@router.get("/create")
async def create_form(request: Request, customer: CustomerDep) -> Response:
    services = services_of(request)
    return page(
        request,
        "create.html",
        models=sorted(await services.prices.models()),
        durations=DURATIONS,
        sizes=list(SIZES),
        billing_mode=BILLING_MODES[customer.identity.settings.billing_mode],
    )


@router.get("/quote")
async def quote(
    request: Request,
    customer: CustomerDep,
    model: Annotated[str, Query(max_length=100)],
    seconds: Annotated[str, Query(max_length=10)] = "8",
    size: Annotated[str, Query(max_length=20)] = "1280x720",
) -> JSONResponse:
    """The price the create form shows before it is sent: the create's own rules."""
    services = services_of(request)
    try:
        fields = {"model": model, "prompt": "price", "seconds": seconds, "size": size}
        spec = parse_video_request(fields, [], models=await services.prices.models())
        micros = await creation.quote_for(services, customer.identity, spec)
    except VeorelayError as exc:
        return JSONResponse({"error": exc.message}, status_code=exc.status)
    return JSONResponse({"price_micros": micros, "price": usd(micros)})


@router.post("/create")
async def create(request: Request, customer: CustomerDep) -> Response:
    """The form, sent by the page's script as multipart with the CSRF token in a header:
    exactly the body POST /v1/videos takes, handled by the same function."""
    return await video_api.create_video(request, customer.identity, services_of(request))
