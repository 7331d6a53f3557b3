"""`veorelay channel ...`: the upstream pool, through the same handlers as the admin API
(api/admin/channels.py). Secrets are read from options or files and never printed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from veorelay.api.admin import channels as admin_channels
from veorelay.cli.operator import JsonFlag, command, emit, execute, out, validated
from veorelay.core.channels import ChannelKind

channel_app = typer.Typer(
    help="Upstream channels: Gemini API keys and Vertex AI projects (docs/channels.md).",
    no_args_is_help=True,
    rich_markup_mode=None,
)

KeyOpt = Annotated[
    list[str] | None,
    typer.Option("--api-key", help="gemini: an API key of the channel's project (repeatable)."),
]
CredentialsOpt = Annotated[
    Path | None,
    typer.Option(
        "--credentials-file", help="vertex: the service-account key file (JSON).", exists=True
    ),
]
ModelsOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--model",
        help="PUBLIC[=UPSTREAM]: serve this model, sent upstream as UPSTREAM "
        "(default: the kind's id). Repeatable; none given: every model on offer.",
    ),
]
CostOpt = Annotated[
    list[str] | None,
    typer.Option("--cost", help="MODEL:RESOLUTION=USD per second of video, e.g. veo-x:720p=0.15."),
]
GroupsOpt = Annotated[
    list[str] | None, typer.Option("--group", help="Serve only this group (repeatable).")
]
PriorityOpt = Annotated[int | None, typer.Option(help="Higher first (default 0).")]
WeightOpt = Annotated[int | None, typer.Option(help="Share among equal priority (default 1).")]
ConcurrentOpt = Annotated[
    int | None, typer.Option("--max-concurrent", help="Operations running upstream at once.")
]
RpmOpt = Annotated[int | None, typer.Option("--rpm", help="Submits per minute.")]
RpdOpt = Annotated[int | None, typer.Option("--rpd", help="Submits per day (Pacific).")]
BaseUrlOpt = Annotated[str | None, typer.Option(help="API base URL (default: Google's).")]
ProjectOpt = Annotated[str | None, typer.Option(help="vertex: the Google Cloud project.")]
LocationOpt = Annotated[str | None, typer.Option(help="vertex: the region (us-central1).")]
StorageOpt = Annotated[
    str | None,
    typer.Option("--storage-uri", help="vertex: gs://bucket/prefix/ for results (else inline)."),
]
StorageBaseOpt = Annotated[
    str | None, typer.Option(help="vertex: Cloud Storage endpoint (default: Google's).")
]

COLUMNS = ["name", "kind", "enabled", "health", "in_flight", "max_concurrent", "rpm", "priority"]


def _models(items: list[str] | None) -> dict[str, str] | None:
    if not items:
        return None
    found = {}
    for item in items:
        public, _, upstream = item.partition("=")
        if not public:
            raise typer.BadParameter(f"{item!r} is not PUBLIC[=UPSTREAM]", param_hint="--model")
        found[public] = upstream
    return found


def _costs(items: list[str] | None) -> dict[str, dict[str, str]]:
    found: dict[str, dict[str, str]] = {}
    for item in items or []:
        model, colon, rest = item.partition(":")
        resolution, equals, usd = rest.partition("=")
        if not (colon and equals and model and resolution and usd):
            raise typer.BadParameter(f"{item!r} is not MODEL:RESOLUTION=USD", param_hint="--cost")
        found.setdefault(model, {})[resolution] = usd
    return found


def _credentials(path: Path | None) -> dict[str, Any] | None:
    if path is None:
        return None
    try:
        loaded: dict[str, Any] = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise typer.BadParameter(
            f"cannot read {path}: {exc}", param_hint="--credentials-file"
        ) from None
    return loaded


def _given(**options: Any) -> dict[str, Any]:
    return {k: v for k, v in options.items() if v not in (None, [], {})}


@channel_app.command("add")
def channel_add(
    name: Annotated[str, typer.Option(help="A unique name, e.g. vertex-prod-1.")],
    kind: Annotated[ChannelKind, typer.Option(help="gemini or vertex.")],
    api_key: KeyOpt = None,
    credentials_file: CredentialsOpt = None,
    project: ProjectOpt = None,
    location: LocationOpt = None,
    storage_uri: StorageOpt = None,
    storage_base_url: StorageBaseOpt = None,
    base_url: BaseUrlOpt = None,
    model: ModelsOpt = None,
    cost: CostOpt = None,
    group: GroupsOpt = None,
    priority: PriorityOpt = None,
    weight: WeightOpt = None,
    max_concurrent: ConcurrentOpt = None,
    rpm: RpmOpt = None,
    rpd: RpdOpt = None,
    disabled: Annotated[bool, typer.Option("--disabled", help="Add it switched off.")] = False,
    as_json: JsonFlag = False,
) -> None:
    """Add a channel: one Google project's quota (Gemini API keys, or a Vertex AI project)."""
    body = validated(
        admin_channels.ChannelCreate,
        name=name,
        kind=kind,
        enabled=not disabled,
        costs=_costs(cost),
        **_given(
            api_keys=api_key,
            service_account=_credentials(credentials_file),
            project=project,
            location=location,
            storage_uri=storage_uri,
            storage_base_url=storage_base_url,
            base_url=base_url,
            models=_models(model),
            groups=group,
            priority=priority,
            weight=weight,
            max_concurrent=max_concurrent,
            rpm=rpm,
            rpd=rpd,
        ),
    )
    show(execute(lambda s: admin_channels.create_channel(body, s)), as_json)


@channel_app.command("list")
def channel_list(as_json: JsonFlag = False) -> None:
    """Every channel with its health and load."""
    command(admin_channels.list_channels, as_json, COLUMNS)


@channel_app.command("show")
def channel_show(name: str, as_json: JsonFlag = False) -> None:
    """One channel: limits, models and costs, health, last error and recent events."""
    show(execute(lambda s: admin_channels.get_channel(name, s)), as_json)


@channel_app.command("update")
def channel_update(
    name: str,
    rename: Annotated[str | None, typer.Option("--name", help="A new name.")] = None,
    api_key: KeyOpt = None,
    credentials_file: CredentialsOpt = None,
    project: ProjectOpt = None,
    location: LocationOpt = None,
    storage_uri: StorageOpt = None,
    storage_base_url: StorageBaseOpt = None,
    base_url: BaseUrlOpt = None,
    model: ModelsOpt = None,
    remove_model: Annotated[
        list[str] | None, typer.Option("--remove-model", help="Stop serving a model.")
    ] = None,
    cost: CostOpt = None,
    group: GroupsOpt = None,
    all_groups: Annotated[bool, typer.Option("--all-groups", help="Serve every group.")] = False,
    priority: PriorityOpt = None,
    weight: WeightOpt = None,
    max_concurrent: ConcurrentOpt = None,
    rpm: RpmOpt = None,
    rpd: RpdOpt = None,
    clear: Annotated[
        list[str] | None,
        typer.Option(
            help="Lift a limit or unset a field: max_concurrent, rpm, rpd, base_url, "
            "storage_uri, storage_base_url (repeatable)."
        ),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Change a channel; what is not given stays as it is."""
    models: dict[str, str | None] = dict(_models(model) or {})
    models.update({m: None for m in remove_model or []})
    cleared = set(clear or [])
    allowed = {"max_concurrent", "rpm", "rpd", "base_url", "storage_uri", "storage_base_url"}
    if cleared - allowed:
        raise typer.BadParameter(f"cannot clear {sorted(cleared - allowed)}", param_hint="--clear")
    fields = _given(
        name=rename,
        api_keys=api_key,
        service_account=_credentials(credentials_file),
        project=project,
        location=location,
        storage_uri=storage_uri,
        storage_base_url=storage_base_url,
        base_url=base_url,
        models=models,
        costs=_costs(cost),
        groups=group,
        priority=priority,
        weight=weight,
        max_concurrent=max_concurrent,
        rpm=rpm,
        rpd=rpd,
    )
    fields.update({name: None for name in cleared})
    if all_groups:
        fields["groups"] = None
    body = validated(admin_channels.ChannelUpdate, **fields)
    show(execute(lambda s: admin_channels.update_channel(name, body, s)), as_json)


@channel_app.command("enable")
def channel_enable(name: str, as_json: JsonFlag = False) -> None:
    """Turn a channel on (also after fixing refused credentials)."""
    show(execute(lambda s: admin_channels.enable_channel(name, s)), as_json)


@channel_app.command("disable")
def channel_disable(name: str, as_json: JsonFlag = False) -> None:
    """Send no new work to a channel; running operations finish."""
    show(execute(lambda s: admin_channels.disable_channel(name, s)), as_json)


@channel_app.command("delete")
def channel_delete(name: str, as_json: JsonFlag = False) -> None:
    """Delete a channel with nothing in progress on it; its secret is erased."""
    command(lambda s: admin_channels.delete_channel(name, s), as_json)


@channel_app.command("test")
def channel_test(name: str, as_json: JsonFlag = False) -> None:
    """One cheap authenticated call upstream; prints what Google answered."""
    result = execute(lambda s: admin_channels.test_channel(name, s))
    if as_json:
        emit(result, True)
    elif result["ok"]:
        out.print(f"[green]ok[/] {name}: {escape(result['answer'])}", highlight=False)
    else:
        error = result["error"]
        out.print(
            f"[red]failed[/] {name}: {error['code']}: {escape(error['message'])}",
            highlight=False,
        )
    if not result["ok"]:
        raise typer.Exit(1)


def show(channel: dict[str, Any], as_json: bool) -> None:
    if as_json:
        emit(channel, True)
        return
    for key in (
        "name",
        "id",
        "kind",
        "enabled",
        "health",
        "last_error",
        "fingerprint",
        "base_url",
        "project",
        "location",
        "storage_uri",
        "groups",
        "priority",
        "weight",
        "max_concurrent",
        "rpm",
        "rpd",
        "in_flight",
    ):
        if channel.get(key) is not None:
            out.print(f"[bold]{key}[/]: {escape(str(channel[key]))}", highlight=False)
    for model in channel["models"]:
        costs = ", ".join(f"{r} ${v}/s" for r, v in model["cost_per_second_usd"].items())
        state = "" if model["available"] else f"  UNAVAILABLE: {model['unavailable_reason']}"
        line = f"  model {model['model']} -> {model['upstream_model']} ({costs}){state}"
        out.print(line, markup=False, highlight=False)
    for event in channel.get("events") or []:
        line = f"  event {event['at']:.0f} {event['kind']}: {event['message']}"
        out.print(line, markup=False, highlight=False)
