"""Signals between processes sharing one PostgreSQL database (LISTEN/NOTIFY):

- `TASKS`: a task was created; every engine looks for work now instead of at its next tick.
- `CHANGES`: an operator changed tokens, accounts, prices, groups or channels; every process
  drops its caches now instead of when their TTL (VEORELAY_CACHE_SECONDS) runs out.

A notification sent inside a transaction is delivered when it commits, so a listener never
looks before the row is there. On SQLite (one process, or several on one disk) nothing is
sent: caches expire by their TTL and engines find work at their tick.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import asyncpg
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

log = logging.getLogger("veorelay.signals")
TASKS = "veorelay_tasks"
CHANGES = "veorelay_changes"
RECONNECT_SECONDS = 2.0


async def notify(conn: AsyncConnection, channel: str) -> None:
    if conn.dialect.name == "postgresql":
        await conn.execute(text("SELECT pg_notify(:channel, '')"), {"channel": channel})


class Listener:
    """One connection per process, LISTENing on every channel of `handlers`. When the
    connection drops it reconnects, and calls every handler once: a notification may have
    been missed meanwhile."""

    def __init__(self, url: str, handlers: dict[str, Callable[[], None]]) -> None:
        self._url = url.replace("postgresql+asyncpg://", "postgresql://", 1)
        self._handlers = handlers

    async def run_forever(self) -> None:
        while True:
            try:
                await self._listen_until_lost()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the database is down or restarting: try again
                log.warning(
                    "signals: %s; reconnecting in %.0f s", type(exc).__name__, RECONNECT_SECONDS
                )
            await asyncio.sleep(RECONNECT_SECONDS)

    async def _listen_until_lost(self) -> None:
        conn = await asyncpg.connect(self._url)
        lost = asyncio.Event()
        conn.add_termination_listener(lambda _conn: lost.set())
        try:
            for channel, handler in self._handlers.items():
                await conn.add_listener(channel, _calling(handler))
            for handler in self._handlers.values():
                handler()  # whatever happened while we were not listening
            await lost.wait()
        finally:
            if not conn.is_closed():
                await conn.close()


def _calling(handler: Callable[[], None]) -> Callable[..., None]:
    def on_notification(*_args: object) -> None:
        handler()

    return on_notification
