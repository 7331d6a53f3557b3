from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy import func, select

from tests.helpers import POSTGRES_URL, free_port
from tests.s3 import ACCESS_KEY_ID, REGION, SECRET_ACCESS_KEY, new_bucket
from veorelay.db.database import Database
from veorelay.db.migrate import upgrade
from veorelay.db.tables import accounts, ledger
from veorelay.storage.base import VideoStorage
from veorelay.storage.filesystem import FilesystemStorage
from veorelay.storage.s3 import S3Storage

# S3 requires parts of at least 5 MiB (but the last); tests use the smallest to make several.
TEST_PART_SIZE = 5 * 1024 * 1024


@pytest.fixture(scope="session")
def render_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One simulator render cache for the whole run: a repeated render is a file lookup."""
    return tmp_path_factory.mktemp("renders")


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
async def database(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    """A migrated, empty database: a SQLite file, or a fresh schema on the PostgreSQL server.

    After the test, every account's balance must equal the sum of its ledger entries.
    """
    if request.param == "sqlite":
        db = Database(f"sqlite:///{tmp_path / 'test.db'}")
        schema = None
    else:
        schema = f"t_{uuid.uuid4().hex[:12]}"
        raw = POSTGRES_URL.replace("postgresql+asyncpg://", "postgresql://")
        conn = await asyncpg.connect(raw)
        await conn.execute(f'CREATE SCHEMA "{schema}"')
        await conn.close()
        db = Database(POSTGRES_URL, connect_args={"server_settings": {"search_path": schema}})
    await upgrade(db)
    try:
        yield db
        await assert_ledger_balanced(db)
    finally:
        await db.dispose()
        if schema is not None:
            conn = await asyncpg.connect(raw)
            await conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
            await conn.close()


async def assert_ledger_balanced(db: Database) -> None:
    async with db.read() as conn:
        sums = dict(
            (
                await conn.execute(
                    select(ledger.c.account_id, func.sum(ledger.c.amount_micros)).group_by(
                        ledger.c.account_id
                    )
                )
            ).all()
        )
        balances = dict(
            (await conn.execute(select(accounts.c.id, accounts.c.balance_micros))).all()
        )
    for account_id, balance in balances.items():
        assert balance >= 0
        assert balance == (sums.get(account_id) or 0), f"ledger of {account_id} does not add up"


@pytest.fixture(scope="session")
def s3_server() -> Iterator[str]:
    """moto's S3-compatible server on a free loopback port, for the whole run."""
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture(params=["filesystem", "s3"])
async def storage(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[VideoStorage]:
    """Each VideoStorage backend: files under a fresh directory, or a fresh bucket."""
    backend: VideoStorage
    if request.param == "filesystem":
        backend = FilesystemStorage(tmp_path / "videos")
    else:
        url = request.getfixturevalue("s3_server")
        backend = await S3Storage.connect(
            new_bucket(url),
            spool=tmp_path / "spool",
            prefix="gw/",
            endpoint_url=url,
            region=REGION,
            access_key_id=ACCESS_KEY_ID,
            secret_access_key=SECRET_ACCESS_KEY,
            part_size=TEST_PART_SIZE,
        )
    try:
        yield backend
    finally:
        await backend.aclose()
