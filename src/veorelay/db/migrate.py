"""Run Alembic migrations programmatically (no alembic.ini needed).

Alembic is imported only when there is something to migrate: a database already at `HEAD`
(every start but the first after an upgrade) spares the process its memory (about 6 MB).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DatabaseError

from veorelay.db import ops
from veorelay.db.database import Database

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).parent / "migrations"
# The newest migration's revision; a unit test checks it is Alembic's one head.
HEAD = "0011"
_LOCK_KEY = 0x7E0_2E1A7  # any constant, the same in every veorelay process


def alembic_config(connection: Connection | None = None) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


async def upgrade(db: Database, revision: str = "head") -> None:
    if revision == "head" and await is_current(db):
        return

    def run(connection: Connection) -> None:
        from alembic import command

        command.upgrade(alembic_config(connection), revision)

    async with db.write() as conn:
        if db.dialect == "postgresql":
            # Replicas and workers starting together migrate one at a time (SQLite's
            # BEGIN IMMEDIATE already serializes them).
            await conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})
        await conn.run_sync(run)


async def is_current(db: Database) -> bool:
    """Whether the database is at `HEAD` (False for one never migrated)."""
    async with db.read() as conn:
        try:
            return await ops.migration_revisions(conn) == {HEAD}
        except DatabaseError:  # no alembic_version table yet
            return False
