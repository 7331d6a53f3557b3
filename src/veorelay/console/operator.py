"""The operator's pages under /console/admin. Every change calls the admin API's own handler
(api/admin/), so rules, validation and the audit trail are the API's."""

from __future__ import annotations

import json
import time
from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response

from veorelay.api.admin import accounts as admin_accounts
from veorelay.api.admin import catalog as admin_catalog
from veorelay.api.admin import channels as admin_channels
from veorelay.api.admin import tokens as admin_tokens
from veorelay.api.admin import usage as admin_usage
from veorelay.api.admin.common import money
from veorelay.api.fields import MAX_INT32
from veorelay.console import charts
from veorelay.console.charts import DAY
from veorelay.console.guard import OperatorDep, services_of
from veorelay.console.render import page
from veorelay.console.usage import Filter, UsageQueryDep, csv_download, usage_rows
from veorelay.core.lifecycle import ACTIVE_STATES, TaskState
from veorelay.db import audit, ops, usage
from veorelay.db import channels as channel_db
from veorelay.db.usage import UsageFilter
from veorelay.errors import InvalidRequest

router = APIRouter(prefix="/console/admin")
Text = Annotated[str, Form(max_length=200)]


def _back(path: str, note: str | None = None) -> Response:
    target = f"/console/admin{path}" + (f"?done={note}" if note else "")
    return RedirectResponse(target, status_code=303)


@router.get("")
async def overview(request: Request, _: OperatorDep) -> Response:
    services = services_of(request)
    now = time.time()
    since = now - 30 * DAY
    async with services.db.read() as conn:
        counts = await ops.task_counts(conn)
        by_model = await usage.summary(conn, UsageFilter(since=since), by="model")
        by_channel = await usage.summary(conn, UsageFilter(since=since), by="channel")
        days = await usage.summary(conn, UsageFilter(since=since), by="day")
        names = {c.id: c.name for c in await channel_db.list_channels(conn)}
    for row in by_channel:
        row["key"] = names.get(row["key"], row["key"])
    by_state: dict[str, int] = {}
    for (state, _model), count in counts.items():
        by_state[state] = by_state.get(state, 0) + count
    active = {s.value for s in ACTIVE_STATES}
    finished = sum(row["completed"] + row["failed"] for row in by_model)
    completed = sum(row["completed"] for row in by_model)
    totals = {
        key: sum(int(row[key] or 0) for row in by_model)
        for key in ("charged_micros", "upstream_cost_micros", "margin_micros")
    }
    return page(
        request,
        "admin/overview.html",
        in_flight=sum(n for s, n in by_state.items() if s in active and s != "queued"),
        queued=by_state.get(TaskState.QUEUED.value, 0),
        success_rate=None if finished == 0 else completed / finished,
        totals=totals,
        by_model=by_model,
        by_channel=by_channel,
        money_chart=charts.daily_bars(
            days,
            {"charged_micros": "revenue", "upstream_cost_micros": "upstream cost"},
            now,
            label=charts.usd_label,
        ),
        tasks_chart=charts.daily_bars(
            days, {"completed": "completed", "failed": "failed"}, now, label=str
        ),
    )


@router.get("/channels")
async def channels_page(request: Request, _: OperatorDep, done: str = "") -> Response:
    listing = await admin_channels.list_channels(services_of(request))
    return page(request, "admin/channels.html", channels=listing["data"], done=done)


@router.post("/channels")
async def add_channel(
    request: Request,
    _: OperatorDep,
    name: Text,
    kind: Text,
    secret: Annotated[str, Form(max_length=100_000)] = "",
    base_url: Text = "",
    project: Text = "",
    location: Text = "",
    models: Annotated[str, Form(max_length=2000)] = "",
    max_concurrent: Text = "",
    rpm: Text = "",
) -> Response:
    """`secret`: Gemini API keys (one per line) or a Vertex service-account JSON file."""
    fields: dict[str, Any] = {"name": name.strip(), "kind": kind}
    if kind == "gemini":
        fields["api_keys"] = [k.strip() for k in secret.splitlines() if k.strip()]
    elif kind == "vertex":
        fields["service_account"] = secret
        fields.update(project=project.strip() or None, location=location.strip() or None)
    if base_url.strip():
        fields["base_url"] = base_url.strip()
    if models.strip():
        fields["models"] = {m.strip(): "" for m in models.replace(",", " ").split()}
    for key, value in (("max_concurrent", max_concurrent), ("rpm", rpm)):
        if value.strip():
            fields[key] = _int(value, key)
    body = admin_channels.ChannelCreate.model_validate(fields)
    await admin_channels.create_channel(body, services_of(request))
    return _back("/channels", "added")


@router.post("/channels/{name}/{action}")
async def channel_action(request: Request, name: str, action: str, _: OperatorDep) -> Response:
    handlers = {
        "enable": admin_channels.enable_channel,
        "disable": admin_channels.disable_channel,
        "test": admin_channels.test_channel,
    }
    if action not in handlers:
        raise InvalidRequest(f"Unknown channel action {action!r}.", param="action")
    answer = await handlers[action](name, services_of(request))
    note = action + "d" if action != "test" else ("test-ok" if answer.get("ok") else "test-failed")
    return _back("/channels", note)


@router.get("/accounts")
async def accounts_page(request: Request, _: OperatorDep, done: str = "") -> Response:
    services = services_of(request)
    listing = await admin_accounts.list_accounts(services)
    return page(request, "admin/accounts.html", accounts=listing["data"], done=done)


@router.post("/accounts")
async def create_account(
    request: Request, _: OperatorDep, name: Text, balance_usd: Text = "0"
) -> Response:
    body = admin_accounts.AccountCreate(name=name, balance_usd=balance_usd.strip() or "0")
    created = await admin_accounts.create_account(body, services_of(request))
    return _back(f"/accounts/{created['id']}", "created")


@router.get("/accounts/{account_id}")
async def account_page(
    request: Request, account_id: str, _: OperatorDep, done: str = ""
) -> Response:
    services = services_of(request)
    account = await admin_accounts.account_json(services, account_id)
    ledger = await admin_accounts.account_ledger(account_id, services)
    tokens = await admin_tokens.list_tokens(services, account_id=account_id)
    return page(
        request,
        "admin/account.html",
        account=account,
        ledger=ledger["data"],
        tokens=tokens["data"],
        done=done,
    )


@router.post("/accounts/{account_id}/{action}")
async def account_action(
    request: Request,
    account_id: str,
    action: str,
    _: OperatorDep,
    amount_usd: Text = "",
    note: Text = "",
) -> Response:
    services = services_of(request)
    if action in ("top-up", "adjust"):
        change = admin_accounts.MoneyChange(amount_usd=amount_usd.strip(), note=note or None)
        handler = admin_accounts.top_up if action == "top-up" else admin_accounts.adjust
        await handler(account_id, change, services)
    elif action in ("disable", "enable"):
        update = admin_accounts.AccountUpdate(enabled=action == "enable")
        await admin_accounts.update_account(account_id, update, services)
    else:
        raise InvalidRequest(f"Unknown account action {action!r}.", param="action")
    return _back(f"/accounts/{account_id}", action.replace("-", ""))


@router.post("/tokens/{token_id}/{action}")
async def token_action(request: Request, token_id: str, action: str, _: OperatorDep) -> Response:
    services = services_of(request)
    token = await admin_tokens.get_token(token_id, services)
    if action == "delete":
        await admin_tokens.delete_token(token_id, services)
    elif action in ("disable", "enable"):
        update = admin_tokens.TokenUpdate(enabled=action == "enable")
        await admin_tokens.update_token(token_id, update, services)
    else:
        raise InvalidRequest(f"Unknown token action {action!r}.", param="action")
    return _back(f"/accounts/{token['account_id']}", action + "d")


@router.get("/prices")
async def prices_page(request: Request, _: OperatorDep, done: str = "") -> Response:
    services = services_of(request)
    models = await admin_catalog.list_models(services)
    groups = await admin_catalog.list_groups(services)
    return page(
        request, "admin/prices.html", models=models["data"], groups=groups["data"], done=done
    )


@router.post("/prices/{model}")
async def set_price(
    request: Request,
    model: str,
    _: OperatorDep,
    per_call_usd: Text = "",
    enabled: Text = "",
) -> Response:
    patch = admin_catalog.ModelPatch(
        per_call_usd=per_call_usd.strip() or None, enabled=enabled == "on"
    )
    await admin_catalog.patch_model(model, patch, services_of(request))
    return _back("/prices", "saved")


@router.post("/groups")
async def set_group(
    request: Request, _: OperatorDep, name: Text, multiplier: Text, description: Text = ""
) -> Response:
    body = admin_catalog.GroupBody(multiplier=multiplier.strip(), description=description)
    await admin_catalog.put_group(name.strip(), body, services_of(request))
    return _back("/prices", "saved")


@router.get("/codes")
async def codes_page(request: Request, _: OperatorDep, done: str = "") -> Response:
    listing = await admin_usage.list_codes(services_of(request))
    return page(request, "admin/codes.html", codes=listing["data"], created=None, done=done)


@router.post("/codes")
async def create_codes(
    request: Request, _: OperatorDep, amount_usd: Text, count: Text, expires_in_days: Text = ""
) -> Response:
    services = services_of(request)
    days = _int(expires_in_days, "expires_in_days") if expires_in_days.strip() else None
    body = admin_usage.BatchBody(
        amount_usd=amount_usd.strip(),
        count=_int(count, "count"),
        expires_at=time.time() + days * DAY if days else None,
    )
    created = await admin_usage.create_codes(body, services)
    listing = await admin_usage.list_codes(services)
    return page(request, "admin/codes.html", codes=listing["data"], created=created, done="")


@router.post("/codes/{code_id}/revoke")
async def revoke_code(request: Request, code_id: str, _: OperatorDep) -> Response:
    await admin_usage.revoke_code(code_id, services_of(request))
    return _back("/codes", "revoked")


@router.get("/usage")
async def usage_page(
    request: Request, _: OperatorDep, query: UsageQueryDep, account: Filter = ""
) -> Response:
    rows, has_more = await usage_rows(request, query.where(account or None))
    return page(
        request,
        "admin/usage.html",
        rows=[money(r) for r in rows],
        has_more=has_more,
        filters={"account": account, **asdict(query)},
        states=[s.value for s in TaskState],
        export_url=str(request.url.replace(path="/console/admin/usage.csv")),
    )


@router.get("/usage.csv")
async def usage_csv(
    request: Request, _: OperatorDep, query: UsageQueryDep, account: Filter = ""
) -> Response:
    where = query.where(account or None)
    return csv_download(admin_usage.usage_csv(services_of(request), where))


@router.get("/audit")
async def audit_page(
    request: Request,
    _: OperatorDep,
    before_id: Annotated[int | None, Query(ge=1, le=MAX_INT32)] = None,
) -> Response:
    async with services_of(request).db.read() as conn:
        rows = await audit.page(conn, before_id=before_id, limit=100)
    for row in rows:
        row["before_json"] = _pretty(row["before"])
        row["after_json"] = _pretty(row["after"])
    return page(request, "admin/audit.html", rows=rows)


def _pretty(state: dict[str, Any] | None) -> str:
    return "" if state is None else json.dumps(state, indent=1, sort_keys=True, default=str)


def _int(value: str, param: str) -> int:
    value = value.strip()
    if not value.lstrip("-").isdigit():
        raise InvalidRequest(f"{param} must be a whole number.", param=param)
    return int(value)
