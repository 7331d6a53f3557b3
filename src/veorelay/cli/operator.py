"""Operator commands: accounts, tokens, prices, groups, redemption codes, usage.

Each runs the same handler as the admin API (api/admin/) against the configured database,
so the command line and the HTTP API cannot disagree. `--json` prints machine-readable output.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal, NoReturn, TypeVar

import typer
from pydantic import BaseModel, ValidationError
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from sqlalchemy import inspect
from sqlalchemy.engine import make_url

from veorelay.api.admin import accounts as admin_accounts
from veorelay.api.admin import catalog as admin_catalog
from veorelay.api.admin import tokens as admin_tokens
from veorelay.api.admin import usage as admin_usage
from veorelay.cli.display import cell, usd
from veorelay.core.lifecycle import TaskState
from veorelay.core.pricing import BillingMode
from veorelay.db.database import Database
from veorelay.db.usage import UsageFilter
from veorelay.errors import VeorelayError
from veorelay.services import Services
from veorelay.settings import Settings

out = Console()
err = Console(stderr=True)
JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]


def execute(call: Callable[[Services], Awaitable[Any]]) -> Any:
    """Run `call` with the services of the configured database (no engine, no upstream)."""
    result, created = run(call)
    if created:
        warn_new_database()
    return result


def run(call: Callable[[Services], Awaitable[Any]]) -> tuple[Any, bool]:
    """The result of `call`, and whether this command created the database. Says on stderr
    which database it uses: a command run from another directory uses another ./data."""
    from veorelay.app import running_services

    try:
        settings = Settings()
    except ValidationError as exc:  # a bad VEORELAY_* value: one line, as for bad options
        _invalid(exc)
    err.print(f"database: {escape(settings.database_description)}", soft_wrap=True, highlight=False)

    url = settings.resolved_database_url
    file = sqlite_file(url)  # a look at a file is cheaper than a connection
    existed = file.is_file() and file.stat().st_size > 0 if file is not None else None

    async def main() -> tuple[Any, bool]:
        created = not (existed if existed is not None else await has_schema(url))
        async with running_services(
            settings, with_engine=False, seed_upstream=False, listen=False
        ) as services:
            return await call(services), created

    try:
        return asyncio.run(main())
    except VeorelayError as exc:
        where = f" in {exc.param}" if exc.param else ""
        err.print(f"[red]error[/] ({exc.code}{where}): {exc.message}")
        raise typer.Exit(1) from None
    except ValidationError as exc:
        _invalid(exc)


def _invalid(exc: ValidationError) -> NoReturn:
    """A bad option or setting, said in one line each (the admin API answers these 400)."""
    for error in exc.errors():
        where = ".".join(str(part) for part in error["loc"])
        if exc.title == "Settings":  # from the environment
            where = f"VEORELAY_{where.upper()}"
        err.print(f"error (invalid value in {where}): {error['msg']}", markup=False)
    raise typer.Exit(1)


_Body = TypeVar("_Body", bound=BaseModel)


def validated(model: type[_Body], **fields: Any) -> _Body:
    try:
        return model(**fields)
    except ValidationError as exc:
        _invalid(exc)


def sqlite_file(url: str) -> Path | None:
    location = make_url(url)
    if location.drivername.startswith("sqlite") and location.database not in (None, ":memory:"):
        return Path(location.database or "")
    return None


async def has_schema(url: str) -> bool:
    """Whether anything (a gateway, a worker, an earlier command) has set this database up."""
    db = Database(url)
    try:
        async with db.write() as conn:
            return await conn.run_sync(lambda sync: inspect(sync).has_table("alembic_version"))
    finally:
        await db.dispose()


def warn_new_database() -> None:
    err.print(
        "[bold yellow]warning[/]: the database above was new (this command set it up), so no "
        "gateway uses it: a gateway started elsewhere does not see what was done here, and "
        "refuses tokens made here (401). Run veorelay commands in the directory where the "
        "gateway runs (./data is relative to it), or give them its VEORELAY_DATA_DIR or "
        "VEORELAY_DATABASE_URL.",
        soft_wrap=True,
        highlight=False,
    )


def emit(result: Any, as_json: bool, columns: list[str] | None = None) -> None:
    if as_json:
        print(json.dumps(result, default=str))
        return
    rows = result.get("data") if isinstance(result, dict) else None
    if rows is None:
        for key, value in result.items():
            out.print(f"[bold]{key}[/]: {escape(cell(key, value))}", soft_wrap=True)
        return
    headers = columns or (list(rows[0]) if rows else [])
    table = Table()
    for header in headers:  # folded, never cut: an id or a model name must stay whole
        table.add_column(header, overflow="fold")
    for row in rows:
        table.add_row(*(escape(cell(h, row.get(h))) for h in headers))
    out.print(table)


def command(
    call: Callable[[Services], Awaitable[Any]], as_json: bool, columns: list[str] | None = None
) -> None:
    result, created = run(call)
    emit(result, as_json, columns)
    if created:  # last, where it is seen
        warn_new_database()


# --- account ---------------------------------------------------------------------------

account_app = typer.Typer(
    help="Accounts and their balances.", no_args_is_help=True, rich_markup_mode=None
)
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


@account_app.command("update")
def account_update(
    account_id: str,
    name: Annotated[str | None, typer.Option(help="A new name.")] = None,
    enable: Annotated[
        bool | None,
        typer.Option("--enable/--disable", help="Turn every token of the account on or off."),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Rename, disable or enable an account (a disabled account's tokens are refused)."""
    body = validated(admin_accounts.AccountUpdate, name=name, enabled=enable)
    command(lambda s: admin_accounts.update_account(account_id, body, s), as_json)


@account_app.command("delete")
def account_delete(account_id: str, as_json: JsonFlag = False) -> None:
    """Delete an account with a zero balance and no video in progress, and its tokens."""
    command(lambda s: admin_accounts.delete_account(account_id, s), as_json)


@account_app.command("top-up")
def account_top_up(
    account_id: str,
    amount: Annotated[str, typer.Argument(help="USD")],
    note: NoteOpt = None,
    as_json: JsonFlag = False,
) -> None:
    """Add money to an account (a ledger 'topup')."""
    change = validated(admin_accounts.MoneyChange, amount_usd=amount, note=note)
    command(lambda s: admin_accounts.top_up(account_id, change, s), as_json)


@account_app.command("adjust")
def account_adjust(
    account_id: str,
    amount: Annotated[str, typer.Argument(help="USD; negative to take money away")],
    note: NoteOpt = None,
    as_json: JsonFlag = False,
) -> None:
    """Correct a balance up or down (a ledger 'adjustment'; never below zero)."""
    change = validated(admin_accounts.MoneyChange, amount_usd=amount, note=note)
    command(lambda s: admin_accounts.adjust(account_id, change, s), as_json)


@account_app.command("ledger")
def account_ledger(
    account_id: str,
    limit: int = 100,
    before_id: Annotated[int | None, typer.Option(help="Page on: entries older than this.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """An account's ledger, newest first."""
    columns = ["id", "kind", "amount_usd", "balance_after_usd", "task_id", "note", "created_at"]
    command(
        lambda s: admin_accounts.account_ledger(account_id, s, before_id, limit), as_json, columns
    )


# --- token -----------------------------------------------------------------------------

token_app = typer.Typer(help="API tokens.", no_args_is_help=True, rich_markup_mode=None)
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


# Command-line option names that differ from the admin API's field names.
_OPTION_FIELDS = {
    "allowed_model": "allowed_models",
    "ip": "ip_allowlist",
    "spend_limit": "spend_limit_usd",
}


def _token_fields(**given: Any) -> dict[str, Any]:
    return {_OPTION_FIELDS.get(k, k): v for k, v in given.items() if v not in (None, [])}


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

    result, created = run(create)
    if as_json:
        emit(result, True)
    else:
        print_new_token(result)
    if created:  # last, where it is seen: this token works on no running gateway yet
        warn_new_database()


def print_new_token(result: dict[str, Any]) -> None:
    err.print(
        f"[green]Created token[/] {result['token_id']} for account {result['account_id']} "
        f"(balance {usd(result['balance_usd'])}). Store the secret now; it is not shown again:",
        soft_wrap=True,
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


@token_app.command("show")
def token_show(token_id: str, as_json: JsonFlag = False) -> None:
    """One token's settings (never its secret)."""
    command(lambda s: admin_tokens.get_token(token_id, s), as_json)


@token_app.command("delete")
def token_delete(token_id: str, as_json: JsonFlag = False) -> None:
    """Delete a token for good (`update --disable` pauses it instead)."""
    command(lambda s: admin_tokens.delete_token(token_id, s), as_json)


class Clearable(StrEnum):
    EXPIRES_AT = "expires_at"
    ALLOWED_MODELS = "allowed_models"
    IP_ALLOWLIST = "ip_allowlist"
    SPEND_LIMIT = "spend_limit"
    RPM_LIMIT = "rpm_limit"
    MAX_IN_FLIGHT = "max_in_flight"


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
    clear: Annotated[
        list[Clearable] | None,
        typer.Option("--clear", help="Remove this limit or allow-list (repeatable)."),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Change a token's settings (only the options given)."""
    cleared = {_OPTION_FIELDS.get(name.value, name.value): None for name in clear or []}
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
    body = validated(admin_tokens.TokenUpdate, **fields, **cleared)
    command(lambda s: admin_tokens.update_token(token_id, body, s), as_json)


# --- price and group -------------------------------------------------------------------

price_app = typer.Typer(
    help="Models and their prices.", no_args_is_help=True, rich_markup_mode=None
)


@price_app.command("list")
def price_list(as_json: JsonFlag = False) -> None:
    """Every model with its prices."""
    columns = ["model", "per_call_usd", "per_second_usd", "enabled"]
    command(admin_catalog.list_models, as_json, columns)


@price_app.command("set")
def price_set(
    model: str,
    per_call: Annotated[str | None, typer.Option(help="USD per video.")] = None,
    per_second: Annotated[
        list[str] | None,
        typer.Option(help="RESOLUTION=USD per second, e.g. 720p=0.05 (repeatable)."),
    ] = None,
    enabled: Annotated[
        bool | None, typer.Option("--enabled/--disabled", help="Offer the model, or stop.")
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Add a model or change its prices; settings not given stay as they are.
    --per-second RESOLUTION= (no amount) removes that per-second price."""
    rates: dict[str, str | None] = {}
    for item in per_second or []:
        resolution, equals, usd = item.partition("=")
        if not equals:
            raise typer.BadParameter(f"{item!r} is not RESOLUTION=USD", param_hint="--per-second")
        rates[resolution] = usd or None
    given: dict[str, Any] = {"per_second_usd": rates}
    for name, value in [
        ("per_call_usd", per_call),
        ("enabled", enabled),
    ]:
        if value is not None:
            given[name] = value
    body = validated(admin_catalog.ModelPatch, **given)
    command(lambda s: admin_catalog.patch_model(model, body, s), as_json)


@price_app.command("delete")
def price_delete(model: str, as_json: JsonFlag = False) -> None:
    """Stop offering a model and drop it from the list (`price set` brings it back)."""
    command(lambda s: admin_catalog.delete_model(model, s), as_json)


group_app = typer.Typer(
    help="Price groups (multipliers).", no_args_is_help=True, rich_markup_mode=None
)


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
    body = validated(admin_catalog.GroupBody, multiplier=multiplier, description=description)
    command(lambda s: admin_catalog.put_group(name, body, s), as_json)


@group_app.command("delete")
def group_delete(name: str, as_json: JsonFlag = False) -> None:
    """Delete a group no token uses (the default group stays)."""
    command(lambda s: admin_catalog.delete_group(name, s), as_json)


# --- redemption codes and usage --------------------------------------------------------

codes_app = typer.Typer(help="Redemption codes.", no_args_is_help=True, rich_markup_mode=None)


@codes_app.command("create")
def codes_create(
    amount: Annotated[str, typer.Option(help="USD each code is worth.")],
    count: Annotated[int, typer.Option(help="How many codes.")] = 1,
    expires_at: ExpiresOpt = None,
    as_json: JsonFlag = False,
) -> None:
    """Make a batch of codes. They are printed once; only their hashes are stored."""
    body = validated(admin_usage.BatchBody, amount_usd=amount, count=count, expires_at=expires_at)
    result = execute(lambda s: admin_usage.create_codes(body, s))
    if as_json:
        emit(result, True)
        return
    err.print(
        f"[green]Batch[/] {result['batch_id']}: {count} code(s) of {usd(result['amount_usd'])}:"
    )
    for code in result["codes"]:
        print(code)


@codes_app.command("list")
def codes_list(
    batch: Annotated[str | None, typer.Option()] = None, as_json: JsonFlag = False
) -> None:
    """Codes (not their secrets) and who redeemed them."""
    columns = [
        "id",
        "batch_id",
        "prefix",
        "amount_usd",
        "expires_at",
        "redeemed_at",
        "redeemed_by",
        "revoked_at",
    ]
    command(lambda s: admin_usage.list_codes(s, batch), as_json, columns)


@codes_app.command("show")
def codes_show(code_id: str, as_json: JsonFlag = False) -> None:
    """One code (not its secret)."""
    command(lambda s: admin_usage.get_code(code_id, s), as_json)


@codes_app.command("revoke")
def codes_revoke(
    code_id: Annotated[str | None, typer.Argument(help="The code's id.")] = None,
    batch: Annotated[str | None, typer.Option(help="Revoke every code of this batch.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Revoke a code (or a whole batch) not redeemed yet; it can no longer be redeemed."""
    if (code_id is None) == (batch is None):
        raise typer.BadParameter("give a CODE_ID or --batch, not both")
    if batch is not None:
        command(lambda s: admin_usage.revoke_batch(batch, s), as_json)
    else:
        assert code_id is not None
        command(lambda s: admin_usage.revoke_code(code_id, s), as_json)


usage_app = typer.Typer(
    help="The usage log: one record per video task.", no_args_is_help=True, rich_markup_mode=None
)
AccountFilter = Annotated[str | None, typer.Option("--account", help="Only this account.")]
TokenFilter = Annotated[str | None, typer.Option("--token", help="Only this token id.")]
ModelFilter = Annotated[str | None, typer.Option("--model", help="Only this model.")]
StatusFilter = Annotated[TaskState | None, typer.Option("--status", help="Only this state.")]
SinceOpt = Annotated[
    str | None, typer.Option("--since", help="Created at or after: UNIX seconds or ISO date/time.")
]
UntilOpt = Annotated[
    str | None, typer.Option("--until", help="Created before: UNIX seconds or ISO date/time.")
]


def when(value: str | None, option: str) -> float | None:
    """UNIX seconds, or an ISO date or date-time (UTC unless it says otherwise)."""
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(
            f"{value!r} is neither UNIX seconds nor an ISO date", param_hint=option
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def usage_filter(
    account: str | None,
    token: str | None,
    model: str | None,
    status: TaskState | None,
    since: str | None,
    until: str | None,
) -> UsageFilter:
    return UsageFilter(
        account, token, model, status, when(since, "--since"), when(until, "--until")
    )


@usage_app.command("list")
def usage_list(
    account: AccountFilter = None,
    token: TokenFilter = None,
    model: ModelFilter = None,
    status: StatusFilter = None,
    since: SinceOpt = None,
    until: UntilOpt = None,
    limit: Annotated[int, typer.Option(help="Records per page (at most 1000).")] = 100,
    after: Annotated[str | None, typer.Option(help="Page on: records after this id.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Usage records, newest first, a page at a time (`usage export` for all of them)."""
    where = usage_filter(account, token, model, status, since, until)
    columns = [
        "id",
        "created_at",
        "token_id",
        "model",
        "seconds",
        "resolution",
        "state",
        "charged_usd",
        "total_seconds",
    ]
    command(lambda s: admin_usage.list_usage(where, s, after, limit), as_json, columns)


@usage_app.command("export")
def usage_export(
    account: AccountFilter = None,
    token: TokenFilter = None,
    model: ModelFilter = None,
    status: StatusFilter = None,
    since: SinceOpt = None,
    until: UntilOpt = None,
) -> None:
    """Every matching usage record as CSV on standard output, newest first."""
    where = usage_filter(account, token, model, status, since, until)

    async def export(services: Services) -> None:
        async for chunk in admin_usage.usage_csv(services, where):
            sys.stdout.write(chunk)

    execute(export)


@usage_app.command("summary")
def usage_summary(
    by: Annotated[
        Literal["token", "model", "account", "channel", "day"], typer.Option(help="Group by.")
    ] = "model",
    account: AccountFilter = None,
    token: TokenFilter = None,
    model: ModelFilter = None,
    since: SinceOpt = None,
    until: UntilOpt = None,
    as_json: JsonFlag = False,
) -> None:
    """Tasks, revenue, upstream cost and margin grouped by token, model, account, channel
    (its id) or day."""
    where = usage_filter(account, token, model, None, since, until)
    columns = [
        "key",
        "tasks",
        "completed",
        "failed",
        "cancelled",
        "charged_usd",
        "upstream_cost_usd",
        "margin_usd",
    ]
    command(lambda s: admin_usage.usage_summary(where, s, by), as_json, columns)
