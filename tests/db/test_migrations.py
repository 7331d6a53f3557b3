"""`HEAD` names Alembic's one head, and a database already there is not migrated again: a
start then does not even import Alembic."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from veorelay.db.database import Database
from veorelay.db.migrate import HEAD, alembic_config, is_current, upgrade


def test_head_is_the_newest_migration() -> None:
    from alembic.script import ScriptDirectory

    assert ScriptDirectory.from_config(alembic_config()).get_heads() == [HEAD]


async def test_a_database_is_current_only_once_migrated(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'fresh.db'}")
    try:
        assert not await is_current(db)  # no alembic_version table at all
        await upgrade(db, "0010")
        assert not await is_current(db)
        await upgrade(db)
        assert await is_current(db)
    finally:
        await db.dispose()


def test_starting_on_a_current_database_leaves_alembic_unloaded(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'current.db'}"
    script = f"""
import asyncio, sys
from veorelay.db.database import Database
from veorelay.db.migrate import upgrade

async def main() -> None:
    db = Database({url!r})
    await upgrade(db)
    await db.dispose()

asyncio.run(main())
print("alembic" in sys.modules)
"""
    runs = [
        subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
        for _ in range(2)
    ]
    assert [run.stdout.strip() for run in runs] == ["True", "False"]  # migrated, then current
