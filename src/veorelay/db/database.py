"""The one database session pattern: `async with db.read()` / `async with db.write()`.

`write()` is one transaction, committed on exit, rolled back on error. `read()` is for queries
that change nothing.

On SQLite, writers take the lock up front (BEGIN IMMEDIATE) through a single aiosqlite
connection, so two writers never deadlock on a lock upgrade. Readers run on the event loop's
own thread through plain sqlite3: a primary-key lookup takes microseconds, far less than the
eight hand-offs to a driver thread and back that one aiosqlite query costs, and in WAL mode a
reader never waits for a writer. On PostgreSQL both go through asyncpg.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import CursorResult, make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.sql.base import Executable


def normalize_url(url: str) -> str:
    """Accept plain `postgresql://` and `sqlite:///` URLs; use the async drivers."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+asyncpg")
    elif parsed.drivername == "sqlite":
        parsed = parsed.set(drivername="sqlite+aiosqlite")
    return parsed.render_as_string(hide_password=False)


class InlineReadConnection:
    """A read-only SQLite connection used from the event loop's thread (see module docstring)."""

    def __init__(self, connection: Connection):
        self._connection = connection

    async def execute(
        self, statement: Executable, parameters: dict[str, Any] | None = None
    ) -> CursorResult[Any]:
        return self._connection.execute(statement, parameters)


ReadConnection = AsyncConnection | InlineReadConnection


class Database:
    def __init__(self, url: str, **engine_options: Any):
        self.url = normalize_url(url)
        self.is_sqlite = self.url.startswith("sqlite")
        self._inline_reader: Engine | None = None
        self._reader: AsyncEngine | None = None
        if self.is_sqlite:
            database = make_url(self.url).database
            if database and database != ":memory:":
                Path(database).parent.mkdir(parents=True, exist_ok=True)
            self._writer = create_async_engine(self.url, pool_size=1, max_overflow=0)
            _configure_sqlite_writer(self._writer)
            sync_url = make_url(self.url).set(drivername="sqlite+pysqlite")
            self._inline_reader = create_engine(sync_url, pool_size=8, max_overflow=8)
            _configure_sqlite_reader(self._inline_reader)
        else:
            self._writer = create_async_engine(
                self.url, pool_size=10, max_overflow=10, **engine_options
            )
            self._reader = self._writer

    @property
    def dialect(self) -> str:
        return self._writer.dialect.name

    @asynccontextmanager
    async def read(self) -> AsyncIterator[ReadConnection]:
        if self._inline_reader is not None:
            # Inline reads never suspend; yield once so a loop of reads cannot starve others.
            await asyncio.sleep(0)
            with self._inline_reader.connect() as conn:
                yield InlineReadConnection(conn)
        else:
            assert self._reader is not None
            async with self._reader.connect() as async_conn:
                yield async_conn

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncConnection]:
        async with self._writer.begin() as conn:
            yield conn

    async def dispose(self) -> None:
        await self._writer.dispose()
        if self._inline_reader is not None:
            self._inline_reader.dispose()


def _configure_sqlite_writer(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def _configure_sqlite_reader(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # autocommit: each SELECT is its own snapshot
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA query_only=ON")
        cursor.execute("PRAGMA busy_timeout=1000")
        cursor.close()
