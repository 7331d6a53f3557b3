"""Bad values at the operator command line: a clear one-line error and exit 1, never a
traceback, and nothing changed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import fresh_postgres_database

FAST = "veo-3.1-fast-generate-preview"


@pytest.fixture
def cli(tmp_path: Path) -> Any:
    env = {**os.environ, "VEORELAY_DATA_DIR": str(tmp_path / "data")}

    def run(*args: str, ok: bool = True, extra_env: dict[str, str] | None = None) -> Any:
        result = subprocess.run(
            [sys.executable, "-m", "veorelay", *args],
            env={**env, **(extra_env or {})},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert (result.returncode == 0) == ok, result.stderr
        assert "Traceback" not in result.stderr, result.stderr
        result.stderr = " ".join(result.stderr.split())  # as one line, however rich wraps it
        return json.loads(result.stdout) if ok and "--json" in args else result

    return run


@pytest.mark.parametrize(
    "args",
    [
        ["--per-call", "-1"],
        ["--per-call=-0.01"],
        ["--per-call", "1000.5"],
        ["--per-call", "\uff11"],
        ["--per-second", "720p=-0.1"],
        ["--per-second", "4k=99999"],
    ],
    ids=" ".join,
)
def test_price_set_refuses_negative_and_absurd_prices(cli: Any, args: list[str]) -> None:
    before = cli("price", "list", "--json")
    refused = cli("price", "set", FAST, *args, ok=False)
    assert refused.returncode == 1
    assert "price must be from 0 to 1000 USD" in refused.stderr or "ASCII" in refused.stderr
    assert cli("price", "list", "--json") == before


@pytest.mark.parametrize("multiplier", ["-1", "101", "\uff12", "nan"])
def test_group_set_refuses_a_bad_multiplier(cli: Any, multiplier: str) -> None:
    refused = cli("group", "set", "promo", "--multiplier", multiplier, ok=False)
    assert "multiplier must be a number from 0 to 100" in refused.stderr
    assert [g["name"] for g in cli("group", "list", "--json")["data"]] == ["default"]


def test_a_negative_price_in_the_settings_stops_the_start(cli: Any) -> None:
    refused = cli(
        "price", "list", ok=False, extra_env={"VEORELAY_PRICES": json.dumps({FAST: -0.3})}
    )
    assert "VEORELAY_PRICES" in refused.stderr or "prices" in refused.stderr
    assert "a price must be from 0 to 1000 USD" in refused.stderr


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def test_a_ledger_cursor_past_the_id_column_is_a_clear_error(cli: Any, backend: str) -> None:
    with ExitStack() as stack:
        env = {}
        if backend == "postgresql":
            env["VEORELAY_DATABASE_URL"] = stack.enter_context(fresh_postgres_database())

        def run(*args: str, ok: bool = True) -> Any:
            return cli(*args, ok=ok, extra_env=env)

        account = run("account", "create", "--name", "acme", "--balance", "1", "--json")
        refused = run("account", "ledger", account["id"], "--before-id", str(2**31), ok=False)
        assert "error (INVALID_ARGUMENT in before_id)" in refused.stderr
        refused = run("account", "ledger", account["id"], "--limit", str(2**64), ok=False)
        assert "limit" in refused.stderr
        refused = run("usage", "list", "--limit", str(2**64), ok=False)
        assert "limit" in refused.stderr
        last = run("account", "ledger", account["id"], "--before-id", str(2**31 - 1), "--json")
        assert [entry["kind"] for entry in last["data"]] == ["topup"]


def test_names_longer_than_their_columns_are_a_clear_error(cli: Any) -> None:
    refused = cli("group", "set", "g" * 61, "--multiplier", "1", ok=False)
    assert "error (INVALID_ARGUMENT in name)" in refused.stderr
    refused = cli("price", "set", "m" * 101, "--per-call", "1", ok=False)
    assert "error (INVALID_ARGUMENT in model)" in refused.stderr
    refused = cli("account", "create", "--name", "n" * 201, ok=False)
    assert "name" in refused.stderr
