"""Operator commands with --json, run as a person or a script would (subprocesses)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest


@pytest.fixture
def cli(tmp_path: Path) -> Any:
    base_env = {**os.environ, "VEORELAY_DATA_DIR": str(tmp_path / "data")}

    def run(*args: str, ok: bool = True, env: dict[str, str] | None = None) -> Any:
        result = subprocess.run(
            [sys.executable, "-m", "veorelay", *args],
            env={**base_env, **(env or {})},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert (result.returncode == 0) == ok, result.stderr
        return json.loads(result.stdout) if ok and "--json" in args else result

    return run


def test_accounts_money_and_ledger(cli: Any) -> None:
    account = cli("account", "create", "--name", "acme", "--balance", "10", "--json")
    account_id = account["id"]
    assert account["balance_micros"] == 10_000_000
    assert (
        cli("account", "top-up", account_id, "2.5", "--note", "promo", "--json")["balance_usd"]
        == "12.500000"
    )
    assert (
        cli("account", "adjust", account_id, "--note", "fix", "--json", "--", "-0.5")[
            "balance_micros"
        ]
        == 12_000_000
    )
    refused = cli("account", "adjust", account_id, "--", "-100", ok=False)
    assert "negative" in refused.stderr
    ledger = cli("account", "ledger", account_id, "--json")["data"]
    assert [(e["kind"], e["amount_micros"]) for e in ledger] == [
        ("adjustment", -500_000),
        ("topup", 2_500_000),
        ("topup", 10_000_000),
    ]
    assert [a["id"] for a in cli("account", "list", "--json")["data"]] == [account_id]


@pytest.mark.timeout(300)  # some thirty CLI runs, each a fresh Python process
def test_tokens_prices_groups_codes_usage(cli: Any) -> None:
    cli("group", "set", "vip", "--multiplier", "0.8", "--json")
    created = cli(
        "token",
        "create",
        "--name",
        "ci",
        "--balance",
        "3",
        "--group",
        "vip",
        "--billing-mode",
        "pay_as_you_go_priority",
        "--rpm-limit",
        "5",
        "--allowed-model",
        "veo-3.1-fast-generate-preview",
        "--ip",
        "10.0.0.0/8",
        "--spend-limit",
        "2",
        "--json",
    )
    assert created["token"].startswith("sk-vr-")
    (token,) = cli("token", "list", "--json")["data"]
    assert (token["group_name"], token["billing_mode"], token["rpm_limit"]) == (
        "vip",
        "pay_as_you_go_priority",
        5,
    )
    assert token["allowed_models"] == ["veo-3.1-fast-generate-preview"]
    assert token["spend_limit_usd"] == "2.000000"
    assert "secret_hash" not in token
    updated = cli("token", "update", token["id"], "--disable", "--max-in-flight", "2", "--json")
    assert (updated["enabled"], updated["max_in_flight"]) == (False, 2)
    accounts_before = cli("account", "list", "--json")["data"]
    assert cli("token", "create", "--name", "x", "--group", "nope", ok=False).returncode == 1
    assert cli("account", "list", "--json")["data"] == accounts_before  # no orphan account

    cli(
        "price",
        "set",
        "veo-3.1-lite",
        "--per-call",
        "0.1",
        "--per-second",
        "720p=0.02",
        "--json",
    )
    models = {m["model"]: m for m in cli("price", "list", "--json")["data"]}
    assert models["veo-3.1-lite"]["per_second_usd"] == {"720p": "0.020000"}
    assert models["veo-3.1-fast-generate-preview"]["per_call_usd"] == "0.300000"
    # Settings not given stay.
    enabled = cli("price", "set", "veo-3.1-fast-generate-preview", "--enabled", "--json")
    assert enabled["per_call_usd"] == "0.300000"
    dropped = cli("price", "set", "veo-3.1-lite", "--per-second", "720p=", "--disabled", "--json")
    assert (dropped["per_second_usd"], dropped["per_call_usd"], dropped["enabled"]) == (
        {},
        "0.100000",
        False,
    )
    assert cli("price", "set", "veo-new", "--disabled", ok=False).returncode == 1  # no price

    cli("group", "set", "spare", "--json")
    assert cli("group", "delete", "spare", "--json")["deleted"] is True
    assert cli("group", "delete", "default", ok=False).returncode == 1

    batch = cli("redeem-codes", "create", "--amount", "1", "--count", "3", "--json")
    assert len(batch["codes"]) == 3
    listed = cli("redeem-codes", "list", "--batch", batch["batch_id"], "--json")["data"]
    assert len(listed) == 3
    assert all("code_hash" not in c for c in listed)
    revoked = cli("redeem-codes", "revoke", listed[0]["id"], "--json")
    assert revoked["revoked_at"] is not None
    assert cli("redeem-codes", "show", listed[0]["id"], "--json")["revoked_at"] is not None
    rest = cli("redeem-codes", "revoke", "--batch", batch["batch_id"], "--json")
    assert rest["revoked"] == 2

    assert cli("usage", "list", "--json")["data"] == []
    assert cli("usage", "export").stdout.startswith("id,created_at,")
    assert cli("usage", "list", "--since", "2026-01-01", "--until", "nonsense", ok=False)
    assert cli("usage", "summary", "--by", "day", "--json")["data"] == []


def test_token_limits_clear_and_accounts_disable(cli: Any) -> None:
    created = cli(
        "token",
        "create",
        "--name",
        "t",
        "--balance",
        "1",
        "--rpm-limit",
        "5",
        "--ip",
        "10.0.0.0/8",
        "--json",
    )
    token_id, account_id = created["token_id"], created["account_id"]
    shown = cli("token", "show", token_id, "--json")
    assert (shown["rpm_limit"], shown["ip_allowlist"]) == (5, ["10.0.0.0/8"])
    cleared = cli(
        "token", "update", token_id, "--clear", "rpm_limit", "--clear", "ip_allowlist", "--json"
    )
    assert (cleared["rpm_limit"], cleared["ip_allowlist"]) == (None, None)
    assert cli("account", "update", account_id, "--disable", "--json")["enabled"] is False
    renamed = cli("account", "update", account_id, "--enable", "--name", "Acme", "--json")
    assert (renamed["enabled"], renamed["name"]) == (True, "Acme")
    assert cli("token", "delete", token_id, "--json") == {"id": token_id, "deleted": True}
    assert cli("token", "show", token_id, ok=False).returncode == 1
    assert cli("account", "delete", account_id, ok=False).returncode == 1  # $1 still on it
    cli("account", "adjust", account_id, "--json", "--", "-1")
    assert cli("account", "delete", account_id, "--json")["deleted"] is True


def test_account_limits_set_change_and_clear(cli: Any) -> None:
    account = cli("account", "create", "--name", "a", "--rpm-limit", "30", "--json")
    assert (account["rpm_limit"], account["max_in_flight"]) == (30, None)
    changed = cli("account", "update", account["id"], "--max-in-flight", "4", "--json")
    assert (changed["rpm_limit"], changed["max_in_flight"], changed["name"]) == (30, 4, "a")
    cleared = cli("account", "update", account["id"], "--clear", "rpm_limit", "--json")
    assert (cleared["rpm_limit"], cleared["max_in_flight"]) == (None, 4)
    refused = cli("account", "update", account["id"], "--max-in-flight", "0", ok=False)
    assert "max_in_flight" in refused.stderr


@pytest.mark.parametrize(
    "command",
    [
        ["account"],
        ["token"],
        ["price"],
        ["group"],
        ["redeem-codes"],
        ["usage"],
        ["account", "adjust"],
        ["token", "update"],
        ["price", "set"],
        ["usage", "list"],
        ["usage", "export"],
        ["token", "show"],
        ["redeem-codes", "revoke"],
        ["account", "update"],
        ["account", "delete"],
        ["token", "delete"],
        ["price", "delete"],
    ],
)
def test_operator_help(cli: Any, command: list[str]) -> None:
    result = cli(*command, "--help")
    assert "Usage" in result.stdout


def test_people_see_dollars_and_utc_times(cli: Any) -> None:
    created = cli("account", "create", "--name", "acme", "--balance", "10")
    assert "balance_usd: $10.00\n" in created.stdout
    listed = cli("account", "list", env={"COLUMNS": "200"}).stdout
    (row,) = [line for line in listed.splitlines() if "acme" in line]
    assert "$10.00 " in row
    assert re.search(r" 20\d\d-\d\d-\d\dT\d\d:\d\d:\d\dZ ", row), row
    assert "10.000000" not in listed
    assert not re.search(r"\d{10}\.\d", listed), "a raw UNIX time"
    cli("price", "set", "veo-x", "--per-call", "0.125", "--per-second", "720p=0.05")
    prices = cli("price", "list", env={"COLUMNS": "200"}).stdout
    (veo_x,) = [line for line in prices.splitlines() if "veo-x" in line]
    assert "$0.125 " in veo_x
    assert "720p $0.05 " in veo_x
    token = cli("token", "create", "--name", "t", "--balance", "2.5")
    assert "(balance $2.50)" in token.stderr
    # Scripts keep the exact figures.
    account = cli("account", "list", "--json")["data"][0]
    assert (account["balance_usd"], type(account["created_at"])) == ("10.000000", float)


def test_tables_fold_long_values_rather_than_cut_them(cli: Any) -> None:
    cli("price", "set", "veo-a-model-name-longer-than-any-column-would-be", "--per-call", "1")
    shown = cli("price", "list", env={"COLUMNS": "60"}).stdout
    assert "…" not in shown
    cells = "".join(line.split("│")[1].strip() for line in shown.splitlines() if "│" in line)
    assert "veo-a-model-name-longer-than-any-column-would-be" in cells


def run_in(directory: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """A command run by a person in `directory`, with no VEORELAY_DATA_DIR set."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("VEORELAY_")}
    return subprocess.run(
        [sys.executable, "-m", "veorelay", *args],
        cwd=directory,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_every_operator_command_names_its_database(tmp_path: Path) -> None:
    created = run_in(tmp_path, "token", "create", "--name", "me", "--balance", "10")
    assert created.returncode == 0, created.stderr
    where = f"database: sqlite+aiosqlite:///{tmp_path.resolve() / 'data' / 'veorelay.db'}"
    assert created.stderr.splitlines()[0] == where
    listed = run_in(tmp_path, "account", "list", "--json")
    assert listed.stderr.splitlines() == [where]
    assert json.loads(listed.stdout)["data"][0]["name"] == "me"


def test_a_token_made_in_a_new_database_does_not_look_like_success(tmp_path: Path) -> None:
    created = run_in(tmp_path, "token", "create", "--name", "me", "--balance", "10")
    last = created.stderr.splitlines()[-1]
    assert last.startswith("warning: the database above was new (this command set it up)")
    assert "refuses tokens made here (401)" in last
    again = run_in(tmp_path, "token", "create", "--name", "me", "--balance", "10", "--json")
    assert "warning:" not in again.stderr  # the database exists now


def test_no_warning_in_a_database_a_gateway_set_up(tmp_path: Path) -> None:
    assert run_in(tmp_path, "migrate").returncode == 0  # as `serve` does at start
    created = run_in(tmp_path, "token", "create", "--name", "me", "--balance", "10")
    assert created.returncode == 0
    assert "warning:" not in created.stderr
    assert "Created token" in created.stderr
