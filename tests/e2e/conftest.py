"""Real processes on free loopback ports: `veorelay simulator` and `veorelay serve`."""

from __future__ import annotations

import asyncio
import itertools
import re
import sqlite3
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import openai
import pytest

from tests.helpers import POSTGRES_URL, Process, create_token, free_port
from tests.vertex_accounts import make_service_account

UPSTREAM_KEY = "AIzaSy-e2e-upstream-secret-0123456789"
SCALE = "0.01"


@dataclass
class Gateway:
    url: str
    data_dir: Path
    process: Process
    env: dict[str, str] = field(default_factory=dict)

    def token(self, balance: str = "10") -> tuple[str, str]:
        """(secret, account id) of a new account, made with the real CLI."""
        created = create_token(self.env, balance)
        return created["token"], created["account_id"]

    def client(self, token: str) -> openai.OpenAI:
        return openai.OpenAI(base_url=f"{self.url}/v1", api_key=token, max_retries=0)

    def query(self, sql: str, *args: object) -> list[tuple[object, ...]]:
        """Rows of `sql` (with `?` placeholders) from the gateway's own database: the SQLite
        file in its data dir, or the PostgreSQL database its VEORELAY_DATABASE_URL names."""
        url = self.env.get("VEORELAY_DATABASE_URL")
        if not url:
            with sqlite3.connect(self.data_dir / "veorelay.db") as conn:
                return conn.execute(sql, args).fetchall()
        if not url.startswith(("postgresql://", "postgresql+asyncpg://")):
            raise ValueError(f"Gateway.query reads SQLite or PostgreSQL, not {url}")
        return asyncio.run(_postgres_query(url, sql, args))

    def balance(self, account_id: str) -> int:
        ((micros,),) = self.query("SELECT balance_micros FROM accounts WHERE id = ?", account_id)
        assert isinstance(micros, int)
        return micros


async def _postgres_query(url: str, sql: str, args: tuple[object, ...]) -> list[tuple[object, ...]]:
    numbers = itertools.count(1)
    numbered = re.sub(r"\?", lambda _: f"${next(numbers)}", sql)  # no literal "?" in our SQL
    conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        return [tuple(row) for row in await conn.fetch(numbered, *args)]
    finally:
        await conn.close()


def start_simulator(
    directory: Path, time_scale: str = SCALE, *extra_args: str, port: int | None = None
) -> tuple[Process, str]:
    """`extra_args` go to `veorelay simulator` as they are (e.g. "--vertex-service-account", f);
    pass `port` when a file written beforehand (a service account's token_uri) must name it."""
    port = port or free_port()
    url = f"http://127.0.0.1:{port}"
    process = Process(
        [
            "simulator",
            "--port",
            str(port),
            "--time-scale",
            time_scale,
            "--api-key",
            UPSTREAM_KEY,
            "--data-dir",
            str(directory / "sim"),
            *extra_args,
        ],
        env={},
        log_path=directory / "simulator.log",
        ready_url=f"{url}/v1beta/files/x:download",
    )
    return process.start(), url


def start_vertex_simulator(directory: Path, project: str) -> tuple[Process, str, Path]:
    """A simulator that also speaks Vertex AI, trusting one service account of `project`
    whose token_uri is the simulator's: (process, URL, the key file)."""
    port = free_port()
    account = make_service_account(directory / "keys", project, f"http://127.0.0.1:{port}/token")
    process, url = start_simulator(
        directory, SCALE, "--vertex-service-account", str(account), port=port
    )
    return process, url, account


def gateway_env(data_dir: Path, simulator_url: str | None) -> dict[str, str]:
    env = {
        "VEORELAY_DATA_DIR": str(data_dir),
        "VEORELAY_PORT": str(free_port()),
        "VEORELAY_ENGINE_TIME_SCALE": SCALE,
        "VEORELAY_SIMULATOR_TIME_SCALE": SCALE,
        "VEORELAY_ENGINE_TICK_SECONDS": "0.05",
        "VEORELAY_ENGINE_LEASE_SECONDS": "2",
        # 10 minutes at this scale (the default, 30, is 18 s): a loaded 2-core machine
        # renders slower than that, and no test here is about the deadline.
        "VEORELAY_TASK_TIMEOUT_SECONDS": "60000",
        "VEORELAY_LOG_LEVEL": "debug",
        "VEORELAY_GEMINI_API_KEY": "",
    }
    if simulator_url is not None:
        env["VEORELAY_GEMINI_API_KEY"] = UPSTREAM_KEY
        env["VEORELAY_GEMINI_BASE_URL"] = simulator_url
    return env


def start_gateway(data_dir: Path, env: dict[str, str]) -> Gateway:
    url = f"http://127.0.0.1:{env['VEORELAY_PORT']}"
    process = Process(
        ["serve"],
        env=env,
        log_path=data_dir.parent / f"{data_dir.name}.log",
        ready_url=f"{url}/health",
    )
    return Gateway(url=url, data_dir=data_dir, process=process.start(), env=env)


@pytest.fixture(scope="module")
def simulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    process, url = start_simulator(tmp_path_factory.mktemp("simulator"))
    yield url
    process.stop()


@pytest.fixture(scope="module")
def gateway(simulator: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    data_dir = tmp_path_factory.mktemp("gateway") / "data"
    gw = start_gateway(data_dir, gateway_env(data_dir, simulator))
    yield gw
    gw.process.stop()
    assert_ledger_balanced(gw)


def assert_ledger_balanced(gateway: Gateway) -> None:
    """For every account: balance == sum of its ledger entries, and never negative."""
    rows = gateway.query(
        "SELECT a.id, a.balance_micros, COALESCE(SUM(l.amount_micros), 0) FROM accounts a "
        "LEFT JOIN ledger l ON l.account_id = a.id GROUP BY a.id, a.balance_micros"
    )
    assert rows, "no accounts: the ledger check would check nothing"
    for account_id, balance, total in rows:
        assert balance == total, f"ledger of {account_id} does not add up"
        assert isinstance(balance, int)
        assert balance >= 0, f"{account_id} is at {balance}"


@pytest.fixture
def postgres_database() -> Iterator[str]:
    """A fresh database on the PostgreSQL server, dropped afterwards."""
    with fresh_postgres_database() as url:
        yield url


def postgres_admin(sql: str) -> None:
    """Run `sql` on the PostgreSQL server's admin connection (databases come and go here)."""
    admin = POSTGRES_URL.replace("postgresql+asyncpg://", "postgresql://")

    async def run() -> None:
        conn = await asyncpg.connect(admin)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(run())


@contextmanager
def fresh_postgres_database() -> Iterator[str]:
    """The URL of a new database on the PostgreSQL server, dropped on leaving (if a test
    has not dropped it already)."""
    name = f"veorelay_{uuid.uuid4().hex[:10]}"
    postgres_admin(f'CREATE DATABASE "{name}"')
    admin = POSTGRES_URL.replace("postgresql+asyncpg://", "postgresql://")
    try:
        yield admin.rsplit("/", 1)[0] + f"/{name}"
    finally:
        postgres_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


BOTH_DATABASES = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


@contextmanager
def running_gateway(database: str, data_dir: Path, env: dict[str, str]) -> Iterator[Gateway]:
    """A gateway on SQLite (its data dir) or on a fresh PostgreSQL database; on leaving, it
    is stopped, and must have logged no traceback and kept every ledger balanced."""
    with ExitStack() as stack:
        if database == "postgresql":
            env = {**env, "VEORELAY_DATABASE_URL": stack.enter_context(fresh_postgres_database())}
        gw = start_gateway(data_dir, env)
        stack.callback(gw.process.stop)
        yield gw
        assert "Traceback" not in gw.process.log()
        assert_ledger_balanced(gw)
