"""Run Alembic migrations programmatically (no alembic.ini needed)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import text
from sqlalchemy.engine import Connection

from veorelay.db.database import Database

MIGRATIONS = Path(__file__).parent / "migrations"
_LOCK_KEY = 0x7E0_2E1A7  # any constant, the same in every veorelay process


def alembic_config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


async def upgrade(db: Database, revision: str = "head") -> None:
    def run(connection: Connection) -> None:
        command.upgrade(alembic_config(connection), revision)

    async with db.write() as conn:
        if db.dialect == "postgresql":
            # Replicas and workers starting together migrate one at a time (SQLite's
            # BEGIN IMMEDIATE already serializes them).
            await conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})
        await conn.run_sync(run)
