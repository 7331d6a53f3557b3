"""`veorelay webhook …`: the operator's commands for accounts' webhook endpoints.

Each runs the admin API's handler (api/admin/webhooks.py) against the configured database.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from veorelay.api.admin import webhooks as admin_webhooks
from veorelay.api.webhook_schemas import EndpointUpdate, RotateSecret
from veorelay.cli.operator import JsonFlag, command, emit, err, run, validated, warn_new_database
from veorelay.core.webhooks import EventType
from veorelay.services import Services

webhook_app = typer.Typer(
    help="Webhook endpoints of accounts (video.completed, video.failed) and their deliveries.",
    no_args_is_help=True,
    rich_markup_mode=None,
)
EventOpt = Annotated[
    list[EventType] | None,
    typer.Option("--event", help="An event to send (repeatable); default: both."),
]
COLUMNS = ["id", "account_id", "name", "url", "event_types", "enabled", "disabled_reason"]


def _print_secret(result: dict[str, Any], as_json: bool, what: str) -> None:
    if as_json:
        emit(result, True)
        return
    err.print(
        f"[green]{what}[/] {result['id']} for account {result['account_id']} -> "
        f"{result['url']}. Store the signing secret now; it is not shown again:",
        soft_wrap=True,
    )
    print(result["signing_secret"])


@webhook_app.command("create")
def webhook_create(
    account: Annotated[str, typer.Option(help="The account whose videos are reported.")],
    url: Annotated[str, typer.Option(help="Where to POST the events (http or https).")],
    name: Annotated[str, typer.Option(help="A name to recognise the endpoint by.")] = "webhook",
    event: EventOpt = None,
    as_json: JsonFlag = False,
) -> None:
    """Register an endpoint; its signing secret (whsec_…) is printed once."""
    body = validated(
        admin_webhooks.AdminEndpointCreate,
        account_id=account,
        name=name,
        url=url,
        event_types=event or list(EventType),
    )

    async def create(services: Services) -> dict[str, Any]:
        created = await admin_webhooks.create_webhook(body, services)
        return created.model_dump()

    result, new = run(create)
    _print_secret(result, as_json, "Created webhook endpoint")
    if new:
        warn_new_database()


@webhook_app.command("list")
def webhook_list(
    account: Annotated[str | None, typer.Option(help="Only this account's.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Endpoints (never their secrets), newest first."""

    async def listing(services: Services) -> dict[str, Any]:
        page = await admin_webhooks.list_webhooks(services, account, None, 100)
        return page.model_dump()

    command(listing, as_json, COLUMNS)


@webhook_app.command("show")
def webhook_show(endpoint_id: str, as_json: JsonFlag = False) -> None:
    """One endpoint (never its secret)."""

    async def show(services: Services) -> dict[str, Any]:
        return (await admin_webhooks.get_webhook(endpoint_id, services)).model_dump()

    command(show, as_json)


@webhook_app.command("update")
def webhook_update(
    endpoint_id: str,
    url: Annotated[str | None, typer.Option(help="A new URL.")] = None,
    name: Annotated[str | None, typer.Option(help="A new name.")] = None,
    event: EventOpt = None,
    enable: Annotated[
        bool | None,
        typer.Option("--enable/--disable", help="Resume (also after a failure streak) or pause."),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Change an endpoint (only the options given)."""
    given = {"url": url, "name": name, "event_types": event or None, "enabled": enable}
    body = validated(EndpointUpdate, **{k: v for k, v in given.items() if v is not None})

    async def change(services: Services) -> dict[str, Any]:
        return (await admin_webhooks.update_webhook(endpoint_id, body, services)).model_dump()

    command(change, as_json)


@webhook_app.command("delete")
def webhook_delete(endpoint_id: str, as_json: JsonFlag = False) -> None:
    """Delete an endpoint; its pending deliveries are dropped."""

    async def remove(services: Services) -> dict[str, Any]:
        return (await admin_webhooks.delete_webhook(endpoint_id, services)).model_dump()

    command(remove, as_json)


@webhook_app.command("rotate-secret")
def webhook_rotate_secret(
    endpoint_id: str,
    keep_old: Annotated[
        bool, typer.Option(help="Sign with the old secret too for 24 hours.")
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Give an endpoint a new signing secret, printed once."""
    body = RotateSecret(keep_old_secret_active_for_24_hours=keep_old)

    async def rotate(services: Services) -> dict[str, Any]:
        return (
            await admin_webhooks.rotate_webhook_secret(endpoint_id, services, body)
        ).model_dump()

    result, new = run(rotate)
    _print_secret(result, as_json, "New signing secret of")
    if new:
        warn_new_database()


@webhook_app.command("deliveries")
def webhook_deliveries(
    endpoint_id: str,
    limit: Annotated[int, typer.Option(help="How many, newest first (at most 100).")] = 50,
    as_json: JsonFlag = False,
) -> None:
    """An endpoint's delivery log: each event, its state, attempts and last answer."""

    async def log(services: Services) -> dict[str, Any]:
        page = await admin_webhooks.list_webhook_deliveries(endpoint_id, services, limit)
        return page.model_dump()

    columns = [
        "id",
        "event_type",
        "task_id",
        "state",
        "attempts",
        "last_status",
        "last_error",
        "created_at",
    ]
    command(log, as_json, columns)


@webhook_app.command("redeliver")
def webhook_redeliver(endpoint_id: str, delivery_id: str, as_json: JsonFlag = False) -> None:
    """Send a delivery again now (same webhook-id, a fresh retry schedule)."""

    async def again(services: Services) -> dict[str, Any]:
        return (
            await admin_webhooks.redeliver_webhook(endpoint_id, delivery_id, services)
        ).model_dump()

    command(again, as_json)
