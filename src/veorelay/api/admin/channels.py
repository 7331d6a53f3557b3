"""Admin: channels, the upstream pool (docs/channels.md). Secrets go in, never out: responses
show a fingerprint of the keys or the service account instead."""

from __future__ import annotations

import time
from contextlib import AsyncExitStack
from typing import Annotated, Any, Literal

import httpx
from pydantic import BaseModel, Field, StrictBool, StrictInt, StringConstraints
from sqlalchemy import func, select

from veorelay.api.admin.audited import audited
from veorelay.api.admin.common import Usd, admin_router, micros, usd
from veorelay.api.deps import ServicesDep
from veorelay.api.fields import GroupName, ModelName, Storable, checked
from veorelay.channels import fields, health
from veorelay.channels.clients import ChannelClients
from veorelay.channels.seed import SIMULATOR_CHANNEL, new_channel_id
from veorelay.core.channels import BUILTIN_SIMULATOR, ChannelKind, Health
from veorelay.core.lifecycle import ACTIVE_STATES
from veorelay.core.models import Resolution
from veorelay.db import catalog
from veorelay.db import channels as channel_db
from veorelay.db.channels import Channel
from veorelay.db.tables import tasks
from veorelay.engine.maintenance import probe
from veorelay.errors import Conflict, InvalidRequest, NotFound
from veorelay.services import Services
from veorelay.upstream.errors import CredentialRejected, ModelUnavailable, UpstreamError

router = admin_router()

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]*$"
ChannelName = Annotated[
    str, StringConstraints(min_length=1, max_length=100, pattern=NAME_PATTERN), Storable
]
Url = Annotated[str, StringConstraints(max_length=500), Storable]
Place = Annotated[str, StringConstraints(max_length=200), Storable]  # project, location
Limit = Field(None, ge=1, le=1_000_000)
CostTable = dict[ModelName, dict[Resolution, Usd]]
UpstreamId = Annotated[str, StringConstraints(max_length=100), Storable]


class ChannelCreate(BaseModel):
    name: ChannelName
    kind: ChannelKind
    api_keys: list[str] | None = Field(None, description="gemini: keys of one Google project.")
    base_url: Url | None = None
    service_account: dict[str, Any] | str | None = Field(
        None, description="vertex: the service-account key file's JSON."
    )
    project: Place | None = None
    location: Place | None = None
    storage_uri: Url | None = None
    storage_base_url: Url | None = None
    models: dict[ModelName, UpstreamId] | None = Field(
        None, description="Public model -> upstream id ('' for the default id)."
    )
    costs: CostTable = Field(default_factory=dict, description="model -> resolution -> USD/s")
    groups: list[GroupName] | None = None
    priority: StrictInt = Field(0, ge=-1000, le=1000)
    weight: StrictInt = Field(1, ge=1, le=1000)
    max_concurrent: StrictInt | None = Limit
    rpm: StrictInt | None = Limit
    rpd: StrictInt | None = Limit
    enabled: StrictBool = True


class ChannelUpdate(BaseModel):
    """Only the fields given change. In `models`, null removes a model."""

    name: ChannelName | None = None
    api_keys: list[str] | None = None
    base_url: Url | None = None
    service_account: dict[str, Any] | str | None = None
    project: Place | None = None
    location: Place | None = None
    storage_uri: Url | None = None
    storage_base_url: Url | None = None
    models: dict[ModelName, UpstreamId | None] | None = None
    costs: CostTable = Field(default_factory=dict)
    groups: list[GroupName] | None = None
    priority: StrictInt | None = Field(None, ge=-1000, le=1000)
    weight: StrictInt | None = Field(None, ge=1, le=1000)
    max_concurrent: StrictInt | None = Limit
    rpm: StrictInt | None = Limit
    rpd: StrictInt | None = Limit
    enabled: StrictBool | None = None


class ChannelModelView(BaseModel):
    model: str
    upstream_model: str
    cost_per_second_usd: dict[str, str]
    available: bool
    unavailable_reason: str | None


class ChannelView(BaseModel):
    id: str
    name: str
    kind: ChannelKind
    fingerprint: str
    base_url: str | None
    project: str | None
    location: str | None
    storage_uri: str | None
    storage_base_url: str | None
    groups: list[str] | None
    priority: int
    weight: int
    max_concurrent: int | None
    rpm: int | None
    rpd: int | None
    enabled: bool
    health: Health
    last_error: str | None
    health_changed_at: float | None
    cooling_until: float | None
    in_flight: int
    models: list[ChannelModelView]
    events: list[dict[str, Any]] | None = None
    created_at: float
    updated_at: float


class ChannelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ChannelView]


class ChannelTest(BaseModel):
    name: str
    ok: bool
    model: str | None
    answer: str | None
    error: dict[str, str] | None
    health: Health


class ChannelDeleted(BaseModel):
    id: str
    name: str
    deleted: bool


def _view(
    channel: Channel, in_flight: int, events: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    return {
        **{
            name: getattr(channel, name)
            for name in ChannelView.model_fields
            if hasattr(channel, name)
        },
        "in_flight": in_flight,
        "models": [
            {
                "model": m.model,
                "upstream_model": m.upstream_model,
                "cost_per_second_usd": {
                    res.value: usd(v) or "0" for res, v in sorted(m.cost_per_second.items())
                },
                "available": m.available,
                "unavailable_reason": m.unavailable_reason,
            }
            for m in channel.models.values()
        ],
        "events": events,
    }


async def _find(services: Services, name: str) -> Channel:
    checked(ChannelName, name, "name")
    async with services.db.read() as conn:
        found = await channel_db.find_channel(conn, name)
    if found is None:
        raise NotFound(f"No channel {name!r}.", param="name")
    return found


async def _show(services: Services, channel_id: str, with_events: bool = True) -> dict[str, Any]:
    async with services.db.read() as conn:
        found = await channel_db.get_channel(conn, channel_id)
        assert found is not None
        load = await channel_db.in_flight(conn)
        events = await channel_db.recent_events(conn, channel_id) if with_events else None
    return _view(found, load.get(channel_id, 0), events)


async def _shown(services: Services, name: str) -> dict[str, Any]:
    return await _show(services, (await _find(services, name)).id, with_events=False)


def _costs(given: CostTable) -> dict[str, dict[Resolution, int]]:
    return {
        model: {res: _non_negative(micros(v, "costs"), "costs") for res, v in table.items()}
        for model, table in given.items()
    }


def _non_negative(value: int, param: str) -> int:
    if value < 0:
        raise InvalidRequest(f"{param} must not be negative.", param=param)
    return value


def _secret(kind: ChannelKind, body: ChannelCreate | ChannelUpdate) -> dict[str, Any] | None:
    if kind is ChannelKind.GEMINI:
        if body.service_account is not None:
            raise InvalidRequest("A gemini channel takes api_keys.", param="service_account")
        return None if body.api_keys is None else {"api_keys": fields.api_keys(body.api_keys)}
    if body.api_keys is not None:
        raise InvalidRequest("A vertex channel takes a service_account.", param="api_keys")
    if body.service_account is None:
        return None
    return {"service_account": fields.service_account(body.service_account)}


@router.get("/channels", response_model=ChannelList)
async def list_channels(services: ServicesDep) -> dict[str, Any]:
    async with services.db.read() as conn:
        found = await channel_db.list_channels(conn)
        load = await channel_db.in_flight(conn)
    return {"data": [_view(c, load.get(c.id, 0)) for c in found]}


@router.post("/channels", response_model=ChannelView)
@audited("channel.create")
async def create_channel(body: ChannelCreate, services: ServicesDep) -> dict[str, Any]:
    """Add a channel. Without `models` it serves every model on offer, mapped to the ids its
    kind serves (Vertex: the GA `-001` ids)."""
    secret = _secret(body.kind, body)
    if secret is None:
        needed = "api_keys" if body.kind is ChannelKind.GEMINI else "service_account"
        raise InvalidRequest(f"A {body.kind} channel needs {needed}.", param=needed)
    project, location = body.project, body.location
    if body.kind is ChannelKind.VERTEX:
        project = project or secret["service_account"].get("project_id")
        if not project:
            raise InvalidRequest("A vertex channel needs a project.", param="project")
        location = location or "us-central1"
    elif body.project or body.location or body.storage_uri:
        raise InvalidRequest("project, location and storage_uri are for vertex channels.")
    now = time.time()
    channel_id = new_channel_id()
    async with services.db.write() as conn:
        if await channel_db.find_channel(conn, body.name) is not None:
            raise Conflict(f"A channel named {body.name!r} exists.", code="channel_exists")
        offered = sorted(await catalog.model_price_table(conn))
        models = fields.with_costs(
            fields.model_map(body.kind, offered, body.models), _costs(body.costs)
        )
        await channel_db.insert_channel(
            conn,
            {
                "id": channel_id,
                "name": body.name,
                "kind": body.kind.value,
                "secret": services.secrets.seal(secret),
                "fingerprint": fields.secret_fingerprint(body.kind, secret),
                "base_url": body.base_url or None,
                "project": project,
                "location": location,
                "storage_uri": fields.gcs_uri(body.storage_uri),
                "storage_base_url": body.storage_base_url or None,
                "groups": body.groups,
                "priority": body.priority,
                "weight": body.weight,
                "max_concurrent": body.max_concurrent,
                "rpm": body.rpm,
                "rpd": body.rpd,
                "enabled": body.enabled,
                "created_at": now,
                "updated_at": now,
            },
            models,
        )
        await channel_db.add_event(conn, channel_id, "created", "added by the operator", now)
        await _retire_builtin_simulator(conn, now)
    services.prices.invalidate()
    return await _show(services, channel_id)


async def _retire_builtin_simulator(conn: Any, now: float, keep: str | None = None) -> None:
    """A real channel takes over: the built-in simulator must not serve real customers.
    (Enabling the simulator channel itself, `keep`, is an operator's explicit choice.)"""
    simulator = await channel_db.find_channel(conn, SIMULATOR_CHANNEL)
    if (
        simulator is not None
        and simulator.id != keep
        and simulator.enabled
        and simulator.base_url == BUILTIN_SIMULATOR
    ):
        await channel_db.update_channel(conn, simulator.id, enabled=False, updated_at=now)
        await channel_db.add_event(conn, simulator.id, "disabled", "a real channel was added", now)


@router.get("/channels/{name}", response_model=ChannelView)
async def get_channel(name: str, services: ServicesDep) -> dict[str, Any]:
    """One channel with its recent events (cooldowns, disables, probes)."""
    return await _show(services, (await _find(services, name)).id)


@router.patch("/channels/{name}", response_model=ChannelView)
@audited("channel.update", "name", _shown)
async def update_channel(name: str, body: ChannelUpdate, services: ServicesDep) -> dict[str, Any]:
    given = body.model_dump(exclude_unset=True)
    now = time.time()
    async with services.db.write() as conn:
        channel = await channel_db.find_channel(conn, name)
        if channel is None:
            raise NotFound(f"No channel {name!r}.", param="name")
        values: dict[str, Any] = {"updated_at": now}
        secret = _secret(channel.kind, body)
        if secret is not None:
            values["secret"] = services.secrets.seal(secret)
            values["fingerprint"] = fields.secret_fingerprint(channel.kind, secret)
        if "name" in given and body.name != channel.name:
            if body.name is None or await channel_db.find_channel(conn, body.name) is not None:
                raise Conflict(f"A channel named {body.name!r} exists.", code="channel_exists")
            values["name"] = body.name
        if channel.kind is ChannelKind.GEMINI and {"project", "location", "storage_uri"} & set(
            given
        ):
            raise InvalidRequest("project, location and storage_uri are for vertex channels.")
        if channel.kind is ChannelKind.VERTEX:
            for field in ("project", "location"):
                if field in given and not given[field]:
                    raise InvalidRequest(f"A vertex channel needs a {field}.", param=field)
        for field in ("base_url", "project", "location", "storage_base_url"):
            if field in given:
                values[field] = given[field] or None
        if "groups" in given:  # [] serves no group; null every group
            values["groups"] = given["groups"]
        if "storage_uri" in given:
            values["storage_uri"] = fields.gcs_uri(body.storage_uri)
        for field in ("priority", "weight", "enabled"):
            if given.get(field) is not None:
                values[field] = given[field]
        if values.get("enabled"):
            await _retire_builtin_simulator(conn, now, keep=channel.id)
        for field in ("max_concurrent", "rpm", "rpd"):  # null lifts the limit
            if field in given:
                values[field] = given[field]
        await channel_db.update_channel(conn, channel.id, **values)
        if "models" in given or body.costs:
            current = {m.model: m.upstream_model for m in channel.models.values()}
            for public, upstream in (body.models or {}).items():
                if upstream is None:
                    current.pop(public, None)
                else:
                    current.update(fields.model_map(channel.kind, [], {public: upstream}))
            unknown = set(body.costs) - set(current)
            if unknown:
                raise InvalidRequest(
                    f"costs name models the channel does not serve: {sorted(unknown)}.",
                    param="costs",
                )
            await channel_db.replace_models(
                conn, channel.id, fields.with_costs(current, _costs(body.costs), channel.models)
            )
        await channel_db.add_event(conn, channel.id, "updated", ", ".join(sorted(given)), now)
    services.prices.invalidate()
    return await _show(services, channel.id)


@router.post("/channels/{name}/enable", response_model=ChannelView)
@audited("channel.enable", "name", _shown)
async def enable_channel(name: str, services: ServicesDep) -> dict[str, Any]:
    """Turn a channel on; this also clears a credentials or unreachable state and marks its
    models available again (the next call shows whether the fix worked)."""
    channel = await _find(services, name)
    now = time.time()
    async with services.db.write() as conn:
        await channel_db.update_channel(conn, channel.id, enabled=True, updated_at=now)
        await _retire_builtin_simulator(conn, now, keep=channel.id)
        if channel.health is not Health.HEALTHY:
            await health.restore(conn, channel, "enabled by the operator", now)
        for model in channel.models.values():
            if not model.available:
                await channel_db.set_model_available(conn, channel.id, model.model, True, None)
        await channel_db.add_event(conn, channel.id, "enabled", "by the operator", now)
    services.prices.invalidate()
    return await _show(services, channel.id)


@router.post("/channels/{name}/disable", response_model=ChannelView)
@audited("channel.disable", "name", _shown)
async def disable_channel(name: str, services: ServicesDep) -> dict[str, Any]:
    """Stop sending new work to a channel; operations already running on it finish."""
    channel = await _find(services, name)
    now = time.time()
    async with services.db.write() as conn:
        await channel_db.update_channel(conn, channel.id, enabled=False, updated_at=now)
        await channel_db.add_event(conn, channel.id, "disabled", "by the operator", now)
    services.prices.invalidate()
    return await _show(services, channel.id)


@router.delete("/channels/{name}", response_model=ChannelDeleted)
@audited("channel.delete", "name", _shown)
async def delete_channel(name: str, services: ServicesDep) -> dict[str, Any]:
    """Delete a channel with no task in progress on it (disable it and wait, first). Its
    secret is erased; tasks that ran on it keep their record."""
    channel = await _find(services, name)
    now = time.time()
    async with services.db.write() as conn:
        # Locked first, as the dispatcher locks it: no task is assigned while we count.
        await channel_db.list_channels(conn, lock=True, only=channel.id)
        busy = (
            await conn.execute(
                select(func.count()).where(
                    tasks.c.channel_id == channel.id,
                    tasks.c.state.in_([s.value for s in ACTIVE_STATES]),
                )
            )
        ).scalar_one()
        if busy:
            raise Conflict(
                f"{busy} task(s) are in progress on channel {name!r}; disable it and wait.",
                code="channel_busy",
            )
        await channel_db.update_channel(
            conn,
            channel.id,
            name=f"~{channel.id}",  # frees the name; the row stays for usage records
            secret=services.secrets.seal({}),
            enabled=False,
            deleted_at=now,
            updated_at=now,
        )
        await channel_db.add_event(conn, channel.id, "deleted", f"was named {name}", now)
    services.prices.invalidate()
    return {"id": channel.id, "name": name, "deleted": True}


@router.post("/channels/{name}/test", response_model=ChannelTest)
@audited("channel.test", "name", _shown)  # a test can change a channel's health
async def test_channel(name: str, services: ServicesDep) -> dict[str, Any]:
    """One cheap authenticated call upstream; reports what Google answered. A pass brings a
    channel out of a credentials or unreachable state; refused credentials put it in one."""
    channel = await _find(services, name)
    model = next(iter(channel.models.values()), None)
    outcome: dict[str, Any] = {"name": name, "model": model and model.upstream_model}
    now = time.time()
    async with AsyncExitStack() as stack:
        clients = services.engine.ctx.channels if services.engine is not None else None
        if clients is None:
            if channel.base_url == BUILTIN_SIMULATOR:
                raise Conflict(
                    "The built-in simulator runs inside the gateway; test it there "
                    "(POST /admin/api/channels/{name}/test).",
                    code="simulator_not_running",
                )
            http = await stack.enter_async_context(
                httpx.AsyncClient(timeout=services.settings.upstream_timeout_seconds)
            )
            clients = ChannelClients(services.db, services.secrets, http)
        failure: UpstreamError | None = None
        answer = ""
        try:
            answer = await probe(clients, channel)
        except UpstreamError as exc:
            failure = exc
        except Exception as exc:  # no client: a key google-auth refuses, a secret that won't open
            failure = CredentialRejected(f"cannot build the client: {type(exc).__name__}")
        if failure is not None:
            error = {"code": failure.code, "message": failure.message}
            outcome |= {"ok": False, "answer": None, "error": error}
            async with services.db.write() as conn:
                if isinstance(failure, CredentialRejected):
                    await health.credentials_refused(conn, channel, failure.message, now)
                elif isinstance(failure, ModelUnavailable) and model is not None:
                    await health.model_gone(conn, channel, model.model, failure.message, now)
                await channel_db.add_event(conn, channel.id, "test_failed", failure.message, now)
        else:
            outcome |= {"ok": True, "answer": answer, "error": None}
            async with services.db.write() as conn:
                if channel.health is not Health.HEALTHY:
                    await health.restore(conn, channel, f"test passed: {answer}", now)
                await channel_db.add_event(conn, channel.id, "test_passed", answer, now)
        clients.forget(channel.id)
    services.prices.invalidate()
    refreshed = await _find(services, name)
    return {**outcome, "health": refreshed.health}
