"""Operator commands: accounts, tokens, prices, groups, redemption codes, usage.

Each runs the same handler as the admin API (api/admin/) against the configured database,
so the command line and the HTTP API cannot disagree. `--json` prints machine-readable output.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, Literal

import typer
from rich.console import Console
from rich.table import Table

from veorelay.api.admin import accounts as admin_accounts
from veorelay.api.admin import catalog as admin_catalog
from veorelay.api.admin import tokens as admin_tokens
from veorelay.api.admin import usage as admin_usage
from veorelay.core.pricing import BillingMode
from veorelay.db.usage import UsageFilter
from veorelay.errors import VeorelayError
from veorelay.services import Services
from veorelay.settings import Settings

out = Console()
err = Console(stderr=True)
JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]


def execute(call: Callable[[Services], Awaitable[Any]]) -> Any:
    """Run `call` with the services of the configured database (no engine, no upstream)."""
    from veorelay.app import running_services

    async def main() -> Any:
        async with running_services(Settings(), with_engine=False) as services:
            return await call(services)

    try:
        return asyncio.run(main())
    except VeorelayError as exc:
        where = f" in {exc.param}" if exc.param else ""
        err.print(f"[red]error[/] ({exc.code}{where}): {exc.message}")
        raise typer.Exit(1) from None


def emit(result: Any, as_json: bool, columns: list[str] | None = None) -> None:
    if as_json:
        print(json.dumps(result, default=str))
        return
    rows = result.get("data") if isinstance(result, dict) else None
    if rows is None:
        for key, value in result.items():
            out.print(f"[bold]{key}[/]: {value}")
        return
    headers = columns or (list(rows[0]) if rows else [])
    table = Table(*headers)
    for row in rows:
        table.add_row(*(str(row.get(h, "")) for h in headers))
    out.print(table)


def command(
    call: Callable[[Services], Awaitable[Any]], as_json: bool, columns: list[str] | None = None
) -> None:
    emit(execute(call), as_json, columns)


# --- account ---------------------------------------------------------------------------

account_app = typer.Typer(help="Accounts and their balances.", no_args_is_help=True)
NoteOpt = Annotated[str | None, typer.Option(help="Why, for the ledger.")]


@account_app.command("create")
def account_create(
    name: Annotated[str, typer.Option(help="The account's name.")],
    balance: Annotated[str, typer.Option(help="Starting balance, USD.")] = "0",
    as_json: JsonFlag = False,
) -> None:
    """Create an account, optionally with a starting balance."""
    command(
        lambda s: admin_accounts.create_account(
            admin_accounts.AccountCreate(name=name, balance_usd=balance), s
        ),
        as_json,
    )


@account_app.command("list")
def account_list(as_json: JsonFlag = False) -> None:
    """All accounts with their balances."""
    command(admin_accounts.list_accounts, as_json, ["id", "name", "balance_usd", "created_at"])


@account_app.command("show")
def account_show(account_id: str, as_json: JsonFlag = False) -> None:
    """One account."""
    command(lambda s: admin_accounts.get_account(account_id, s), as_json)


@account_app.command("top-up")
def account_top_up(
    account_id: str,
    amount: Annotated[str, typer.Argument(help="USD")],
    note: NoteOpt = None,
    as_json: JsonFlag = False,
) -> None:
    """Add money to an account (a ledger 'topup')."""
    change = admin_accounts.MoneyChange(amount_usd=amount, note=note)
    command(lambda s: admin_accounts.top_up(account_id, change, s), as_json)


@account_app.command("adjust")
def account_adjust(
    account_id: str,
    amount: Annotated[str, typer.Argument(help="USD; negative to take money away")],
    note: NoteOpt = None,
    as_json: JsonFlag = False,
) -> None:
    """Correct a balance up or down (a ledger 'adjustment'; never below zero)."""
    change = admin_accounts.MoneyChange(amount_usd=amount, note=note)
    command(lambda s: admin_accounts.adjust(account_id, change, s), as_json)


@account_app.command("ledger")
def account_ledger(account_id: str, limit: int = 100, as_json: JsonFlag = False) -> None:
    """An account's ledger, newest first."""
    columns = ["id", "kind", "amount_usd", "balance_after_usd", "task_id", "note", "created_at"]
    command(lambda s: admin_accounts.account_ledger(account_id, s, None, limit), as_json, columns)


# --- token -----------------------------------------------------------------------------

token_app = typer.Typer(help="API tokens.", no_args_is_help=True)
GroupOpt = Annotated[str | None, typer.Option(help="Price group (default: default).")]
ModeOpt = Annotated[BillingMode | None, typer.Option(help="Billing mode (default: per_request).")]
ExpiresOpt = Annotated[float | None, typer.Option(help="UNIX time when the token stops working.")]
ModelOpt = Annotated[
    list[str] | None, typer.Option("--allowed-model", help="Allow only this model (repeatable).")
]
IpOpt = Annotated[
    list[str] | None, typer.Option("--ip", help="Allow only this IP/CIDR (repeatable).")
]
SpendOpt = Annotated[str | None, typer.Option(help="Spending limit, USD.")]
RpmOpt = Annotated[int | None, typer.Option(help="Video creates per minute.")]
FlightOpt = Annotated[int | None, typer.Option(help="Videos in progress at once.")]


def _token_fields(**given: Any) -> dict[str, Any]:
    renamed = {
        "allowed_model": "allowed_models",
        "ip": "ip_allowlist",
        "spend_limit": "spend_limit_usd",
    }
    return {renamed.get(k, k): v for k, v in given.items() if v not in (None, [])}


@token_app.command("create")
def token_create(
    name: Annotated[str, typer.Option(help="A name to recognise the token by.")],
    balance: Annotated[str, typer.Option(help="Starting balance of a new account, USD.")] = "0",
    account: Annotated[
        str | None, typer.Option(help="Add the token to this account instead.")
    ] = None,
    group: GroupOpt = None,
    billing_mode: ModeOpt = None,
    expires_at: ExpiresOpt = None,
    allowed_model: ModelOpt = None,
    ip: IpOpt = None,
    spend_limit: SpendOpt = None,
    rpm_limit: RpmOpt = None,
    max_in_flight: FlightOpt = None,
    as_json: JsonFlag = False,
) -> None:
    """Create a token (and, without --account, an account with BALANCE for it).
    The secret is printed once; only its hash is stored."""
    fields = _token_fields(
        group=group,
        billing_mode=billing_mode,
        expires_at=expires_at,
        allowed_model=allowed_model,
        ip=ip,
        spend_limit=spend_limit,
        rpm_limit=rpm_limit,
        max_in_flight=max_in_flight,
    )

    async def create(services: Services) -> dict[str, Any]:
        if account is None:  # a new account and its token, in one transaction
            body = admin_tokens.TokenCreate(account_id="", name=name, **fields)
            opening = admin_accounts.opening_balance(
                admin_accounts.AccountCreate(name=name, balance_usd=balance)
            )
            answer = await admin_tokens.issue_token(services, body, new_account_balance=opening)
        else:
            body = admin_tokens.TokenCreate(account_id=account, name=name, **fields)
            answer = await admin_tokens.create_token(body, services)
        account_id = answer["token"]["account_id"]
        owner = await admin_accounts.get_account(account_id, services)
        return {
            "token": answer["secret"],
            "token_id": answer["token"]["id"],
            "account_id": account_id,
            "balance_usd": owner["balance_usd"],
        }

    result = execute(create)
    if as_json:
        emit(result, True)
        return
    err.print(
        f"[green]Created token[/] {result['token_id']} for account {result['account_id']} "
        f"(balance ${result['balance_usd']}). Store the secret now; it is not shown again:"
    )
    print(result["token"])


@token_app.command("list")
def token_list(
    account: Annotated[str | None, typer.Option()] = None, as_json: JsonFlag = False
) -> None:
    """Tokens (never their secrets)."""
    columns = [
        "id",
        "name",
        "prefix",
        "account_id",
        "group_name",
        "billing_mode",
        "enabled",
        "spent_usd",
    ]
    command(lambda s: admin_tokens.list_tokens(s, account), as_json, columns)


@token_app.command("update")
def token_update(
    token_id: str,
    enable: Annotated[
        bool | None, typer.Option("--enable/--disable", help="Turn on or off.")
    ] = None,
    group: GroupOpt = None,
    billing_mode: ModeOpt = None,
    expires_at: ExpiresOpt = None,
    allowed_model: ModelOpt = None,
    ip: IpOpt = None,
    spend_limit: SpendOpt = None,
    rpm_limit: RpmOpt = None,
    max_in_flight: FlightOpt = None,
    as_json: JsonFlag = False,
) -> None:
    """Change a token's settings (only the options given)."""
    fields = _token_fields(
        enabled=enable,
        group=group,
        billing_mode=billing_mode,
        expires_at=expires_at,
        allowed_model=allowed_model,
        ip=ip,
        spend_limit=spend_limit,
        rpm_limit=rpm_limit,
        max_in_flight=max_in_flight,
    )
    command(
        lambda s: admin_tokens.update_token(token_id, admin_tokens.TokenUpdate(**fields), s),
        as_json,
    )


# --- price and group -------------------------------------------------------------------

price_app = typer.Typer(help="Models and their prices.", no_args_is_help=True)


@price_app.command("list")
def price_list(as_json: JsonFlag = False) -> None:
    """Every model with its prices."""
    columns = ["model", "per_call_usd", "per_second_usd", "upstream_model", "enabled"]
    command(admin_catalog.list_models, as_json, columns)


@price_app.command("set")
def price_set(
    model: str,
    per_call: Annotated[str | None, typer.Option(help="USD per video.")] = None,
    per_second: Annotated[
        list[str] | None,
        typer.Option(help="RESOLUTION=USD per second, e.g. 720p=0.05 (repeatable)."),
    ] = None,
    upstream_model: Annotated[str | None, typer.Option(help="The model id sent upstream.")] = None,
    enabled: Annotated[bool, typer.Option("--enabled/--disabled", help="Offer the model.")] = True,
    as_json: JsonFlag = False,
) -> None:
    """Add a model or replace its prices."""
    rates: dict[str, str] = {}
    for item in per_second or []:
        resolution, _, usd = item.partition("=")
        if not usd:
            raise typer.BadParameter(f"{item!r} is not RESOLUTION=USD", param_hint="--per-second")
        rates[resolution] = usd
    body = admin_catalog.ModelBody(
        per_call_usd=per_call, per_second_usd=rates, upstream_model=upstream_model, enabled=enabled
    )
    command(lambda s: admin_catalog.put_model(model, body, s), as_json)


group_app = typer.Typer(help="Price groups (multipliers).", no_args_is_help=True)


@group_app.command("list")
def group_list(as_json: JsonFlag = False) -> None:
    """Every group with its multiplier."""
    command(admin_catalog.list_groups, as_json, ["name", "multiplier", "description"])


@group_app.command("set")
def group_set(
    name: str,
    multiplier: Annotated[str, typer.Option(help="Price multiplier, e.g. 0.8.")] = "1",
    description: Annotated[str, typer.Option()] = "",
    as_json: JsonFlag = False,
) -> None:
    """Create a group or change its multiplier."""
    body = admin_catalog.GroupBody(multiplier=multiplier, description=description)
    command(lambda s: admin_catalog.put_group(name, body, s), as_json)


# --- redemption codes and usage --------------------------------------------------------

codes_app = typer.Typer(help="Redemption codes.", no_args_is_help=True)


@codes_app.command("create")
def codes_create(
    amount: Annotated[str, typer.Option(help="USD each code is worth.")],
    count: Annotated[int, typer.Option(help="How many codes.")] = 1,
    expires_at: ExpiresOpt = None,
    as_json: JsonFlag = False,
) -> None:
    """Make a batch of codes. They are printed once; only their hashes are stored."""
    body = admin_usage.BatchBody(amount_usd=amount, count=count, expires_at=expires_at)
    result = execute(lambda s: admin_usage.create_codes(body, s))
    if as_json:
        emit(result, True)
        return
    err.print(f"[green]Batch[/] {result['batch_id']}: {count} code(s) of ${result['amount_usd']}:")
    for code in result["codes"]:
        print(code)


@codes_app.command("list")
def codes_list(
    batch: Annotated[str | None, typer.Option()] = None, as_json: JsonFlag = False
) -> None:
    """Codes (not their secrets) and who redeemed them."""
    columns = ["id", "batch_id", "prefix", "amount_usd", "expires_at", "redeemed_at", "redeemed_by"]
    command(lambda s: admin_usage.list_codes(s, batch), as_json, columns)


usage_app = typer.Typer(help="The usage log: one record per video task.", no_args_is_help=True)


@usage_app.command("list")
def usage_list(
    account: Annotated[str | None, typer.Option()] = None,
    token: Annotated[str | None, typer.Option()] = None,
    model: Annotated[str | None, typer.Option()] = None,
    status: Annotated[
        str | None, typer.Option(help="queued, running, completed, failed, ...")
    ] = None,
    limit: int = 100,
    csv: Annotated[bool, typer.Option("--csv", help="Print CSV.")] = False,
    as_json: JsonFlag = False,
) -> None:
    """Usage records, newest first."""
    where = UsageFilter(account, token, model, status)
    response = execute(
        lambda s: admin_usage.list_usage(where, s, None, limit, "csv" if csv else "json")
    )
    if csv:
        print(response.body.decode(), end="")
        return
    columns = [
        "id",
        "created_at",
        "token_id",
        "model",
        "seconds",
        "resolution",
        "state",
        "charged_usd",
    ]
    emit(json.loads(response.body), as_json, columns)


@usage_app.command("summary")
def usage_summary(
    by: Annotated[
        Literal["token", "model", "account", "day"], typer.Option(help="Group by.")
    ] = "model",
    account: Annotated[str | None, typer.Option()] = None,
    as_json: JsonFlag = False,
) -> None:
    """Tasks and money grouped by token, model, account or day."""
    where = UsageFilter(account_id=account)
    columns = ["key", "tasks", "completed", "failed", "charged_usd"]
    command(lambda s: admin_usage.usage_summary(where, s, by), as_json, columns)
