"""The customer's pages: dashboard, videos, create, tokens, usage. Signed in with a token,
a customer sees and changes only that token's account."""

from __future__ import annotations

import csv
import io
import time
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response, StreamingResponse

from veorelay.api import account as account_api
from veorelay.api import creation, views
from veorelay.api import videos as video_api
from veorelay.api.admin import tokens as admin_tokens
from veorelay.api.admin.common import money
from veorelay.console import charts
from veorelay.console.guard import CustomerDep, services_of
from veorelay.console.render import page
from veorelay.core.lifecycle import TaskState
from veorelay.core.models import DURATIONS, SIZES
from veorelay.core.params import parse_video_request
from veorelay.core.pricing import BillingMode, usd_to_micros
from veorelay.db import accounts, catalog, usage
from veorelay.db import console_sessions as session_db
from veorelay.db import tasks as task_db
from veorelay.db.usage import UsageFilter
from veorelay.errors import Conflict, InvalidRequest, NotFound, VeorelayError

router = APIRouter(prefix="/console")
DAY = 86400
BILLING_MODES = {
    BillingMode.PER_REQUEST: "Pay-per-request",
    BillingMode.PAY_AS_YOU_GO_PRIORITY: "Pay-as-you-go Priority",
    BillingMode.PAY_AS_YOU_GO: "Pay-as-you-go",
}


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
    request: Request, video_id: str, customer: CustomerDep, download: bool = False
) -> Response:
    """The MP4 for the page's <video> element: the session cookie authorizes it, so no
    secret ever appears in a URL."""
    response = await video_api.download_video(video_id, customer.identity, services_of(request))
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
    return JSONResponse({"price_micros": micros, "price": _usd(micros)})


def _usd(micros: int) -> str:
    from veorelay.console.render import usd

    return usd(micros)


@router.post("/create")
async def create(request: Request, customer: CustomerDep) -> Response:
    """The form, sent by the page's script as multipart with the CSRF token in a header:
    exactly the body POST /v1/videos takes, handled by the same function."""
    return await video_api.create_video(request, customer.identity, services_of(request))


@router.get("/tokens")
async def tokens_page(request: Request, customer: CustomerDep) -> Response:
    return await _tokens(request, customer)


async def _tokens(
    request: Request, customer: CustomerDep, created: dict[str, Any] | None = None
) -> Response:
    services = services_of(request)
    async with services.db.read() as conn:
        rows = await accounts.list_tokens(conn, customer.identity.account_id)
        groups = await _groups_open_to(conn, customer)
        logins = await session_db.list_logins(conn, customer.identity.account_id)
    names = {r["id"]: r["name"] for r in rows}
    return page(
        request,
        "tokens.html",
        tokens=[money(r) for r in rows],
        logins=[(login, names.get(login.token_id, "(deleted token)")) for login in logins],
        groups=groups,
        billing_modes=BILLING_MODES,
        created=created,
        current=customer.identity.token_id,
    )


async def _groups_open_to(conn: Any, customer: CustomerDep) -> list[str]:
    """A customer may pick a group no cheaper than their own token's: a token holder cannot
    give themselves a discount."""
    multipliers = await catalog.group_multipliers(conn)
    floor = multipliers.get(customer.identity.settings.group_name, 0)
    return sorted(name for name, ppm in multipliers.items() if ppm >= floor)


@router.post("/tokens")
async def create_token(
    request: Request,
    customer: CustomerDep,
    name: Annotated[str, Form(min_length=1, max_length=200)],
    group: Annotated[str, Form(max_length=64)],
    billing_mode: Annotated[BillingMode, Form()],
    spend_limit_usd: Annotated[str, Form(max_length=20)] = "",
    rpm_limit: Annotated[str, Form(max_length=10)] = "",
    max_in_flight: Annotated[str, Form(max_length=10)] = "",
    expires_in_days: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    services = services_of(request)
    async with services.db.read() as conn:
        if group not in await _groups_open_to(conn, customer):
            raise InvalidRequest(f"Group {group!r} is not open to this account.", param="group")
    days = _whole(expires_in_days, "expires_in_days")
    body = admin_tokens.TokenCreate(
        account_id=customer.identity.account_id,
        name=name,
        group=group,
        billing_mode=billing_mode,
        spend_limit_usd=spend_limit_usd.strip() or None,
        rpm_limit=_whole(rpm_limit, "rpm_limit"),
        max_in_flight=_whole(max_in_flight, "max_in_flight"),
        expires_at=time.time() + days * DAY if days else None,
    )
    created = await admin_tokens.issue_token(services, body)
    return await _tokens(request, customer, created=created)


def _whole(value: str, param: str) -> int | None:
    value = value.strip()
    if not value:
        return None
    if not value.isdigit() or int(value) < 1:
        raise InvalidRequest(f"{param} must be a whole number of at least 1.", param=param)
    return int(value)


async def _own_token(request: Request, customer: CustomerDep, token_id: str) -> None:
    async with services_of(request).db.read() as conn:
        found = await accounts.get_token(conn, token_id)
    if found is None or found["account_id"] != customer.identity.account_id:
        raise NotFound(f"No token {token_id!r}.", param="token_id")


@router.post("/tokens/{token_id}/disable")
async def disable_token(request: Request, token_id: str, customer: CustomerDep) -> Response:
    await _own_token(request, customer, token_id)
    services = services_of(request)
    async with services.db.write() as conn:
        await accounts.update_token(conn, token_id, enabled=False)
    return RedirectResponse("/console/tokens", status_code=303)


@router.post("/tokens/{token_id}/delete")
async def delete_token(request: Request, token_id: str, customer: CustomerDep) -> Response:
    await _own_token(request, customer, token_id)
    services = services_of(request)
    async with services.db.write() as conn:
        await accounts.delete_token(conn, token_id, time.time())
    return RedirectResponse("/console/tokens", status_code=303)


@router.post("/logins")
async def create_login(
    request: Request,
    customer: CustomerDep,
    username: Annotated[str, Form(min_length=3, max_length=100, pattern=r"^[A-Za-z0-9._@-]+$")],
    password: Annotated[str, Form(min_length=12, max_length=200)],
    token_id: Annotated[str, Form(max_length=64)],
) -> Response:
    """A username and password that sign in as one of the account's tokens: for a colleague
    who should use the console without holding the token's secret."""
    await _own_token(request, customer, token_id)
    async with services_of(request).db.write() as conn:
        made = await session_db.create_login(
            conn,
            username=username,
            password=password,
            account_id=customer.identity.account_id,
            token_id=token_id,
            now=time.time(),
        )
    if not made:
        raise Conflict(f"The username {username!r} is taken.", param="username")
    return RedirectResponse("/console/tokens", status_code=303)


@router.post("/logins/{login_id}/delete")
async def delete_login(request: Request, login_id: str, customer: CustomerDep) -> Response:
    async with services_of(request).db.write() as conn:
        deleted = await session_db.delete_login(conn, customer.identity.account_id, login_id)
    if not deleted:
        raise NotFound(f"No login {login_id!r}.", param="login_id")
    return RedirectResponse("/console/tokens", status_code=303)


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
