"""Retention on every backend and database: the sweeper, the reconciler, pruning, purging."""

from __future__ import annotations

import dataclasses
import time

from sqlalchemy import func, select

from tests.factories import make_account, make_completed, make_task, spec
from tests.helpers import png_bytes
from veorelay.core.lifecycle import Event, TaskState
from veorelay.core.models import ImageInput
from veorelay.core.variants import Variant, stored_key
from veorelay.db import tasks as task_db
from veorelay.db.database import Database
from veorelay.db.tables import ledger, task_inputs, tasks
from veorelay.engine.retention import prune_tasks, reconcile, sweep_expired
from veorelay.storage.base import VideoStorage

WEEK = 7 * 24 * 3600.0
HOUR = 3600.0


def key(n: int) -> str:
    return f"videos/0{n}/video_0{n}-0000000{n}.mp4"


def thumbnail(video_key: str) -> str:
    return stored_key(video_key, Variant.THUMBNAIL)


async def store(storage: VideoStorage, *keys: str) -> None:
    for name in keys:
        spooled = storage.spool_dir() / "up.part"
        spooled.write_bytes(name.encode())
        await storage.put_file(name, spooled)


async def stored_keys(storage: VideoStorage) -> list[str]:
    return sorted([s.key async for s in storage.objects()])


async def storage_key(db: Database, task_id: str) -> str | None:
    async with db.read() as conn:
        task = await task_db.get_task(conn, task_id)
    assert task is not None
    return task.storage_key


async def test_the_sweeper_removes_expired_videos_and_their_variants(
    database: Database, storage: VideoStorage
) -> None:
    now = time.time()
    token = await make_account(database)
    expired = await make_completed(database, token, key(1), completed_at=now - 60, expires_at=now)
    live = await make_completed(database, token, key(2), completed_at=now, expires_at=now + 60)
    # Stored before retention existed: stamped with completed_at + the retention setting.
    legacy = await make_completed(
        database, token, key(3), completed_at=now - WEEK - 1, expires_at=None
    )
    await store(storage, key(1), thumbnail(key(1)), key(2), key(3), thumbnail(key(3)))

    assert await sweep_expired(database, storage, now, WEEK) == 2
    assert await stored_keys(storage) == [key(2)]
    assert await storage_key(database, expired.id) is None
    assert await storage_key(database, legacy.id) is None
    assert await storage_key(database, live.id) == key(2)
    async with database.read() as conn:
        stamped = await task_db.get_task(conn, legacy.id)
    assert stamped is not None
    assert stamped.state is TaskState.COMPLETED
    assert stamped.expires_at == stamped.completed_at + WEEK
    assert await sweep_expired(database, storage, now, WEEK) == 0


async def test_the_reconciler_removes_orphans_and_reports_missing_files(
    database: Database, storage: VideoStorage
) -> None:
    now = time.time()
    token = await make_account(database)
    await make_completed(database, token, key(1), completed_at=now - 5, expires_at=now + WEEK)
    missing = await make_completed(
        database, token, key(2), completed_at=now - 5, expires_at=now + WEEK
    )
    # The file of a download whose `completed` never got written (a crash in between).
    orphan = key(3)
    await store(storage, key(1), thumbnail(key(1)), orphan, thumbnail(orphan))

    young = await reconcile(database, storage, now, grace_seconds=HOUR)
    assert (young.removed, young.kept_young, young.missing) == ([], 2, [missing.id])
    dry = await reconcile(database, storage, now + 2 * HOUR, grace_seconds=HOUR, remove=False)
    assert dry.removed == [thumbnail(orphan), orphan]
    assert len(await stored_keys(storage)) == 4

    done = await reconcile(database, storage, now + 2 * HOUR, grace_seconds=HOUR)
    assert done.removed == [thumbnail(orphan), orphan]
    assert done.missing == [missing.id]
    assert await stored_keys(storage) == [thumbnail(key(1)), key(1)]


async def test_old_finished_tasks_without_a_file_are_pruned(database: Database) -> None:
    now = time.time()
    token = await make_account(database)
    old_failed = await make_task(database, token, now=now - 2 * WEEK)
    recent_failed = await make_task(database, token, now=now)
    async with database.write() as conn:
        for task in (old_failed, recent_failed):
            assert await task_db.apply_transition(
                conn, task, Event.FAILED, task.created_at, error_code="x"
            )
    stored = await make_completed(
        database, token, key(1), completed_at=now - 2 * WEEK, expires_at=now + WEEK
    )
    expired = await make_completed(
        database, token, key(2), completed_at=now - 2 * WEEK, expires_at=now - WEEK
    )
    async with database.write() as conn:
        await conn.execute(tasks.update().where(tasks.c.id == expired.id).values(storage_key=None))

    assert await prune_tasks(database, now, WEEK) == 2
    async with database.read() as conn:
        left = set((await conn.execute(select(tasks.c.id))).scalars())
        settled = (
            await conn.execute(
                select(func.count()).where(ledger.c.task_id.in_([old_failed.id, expired.id]))
            )
        ).scalar_one()
    assert left == {recent_failed.id, stored.id}
    assert settled == 4  # the money's history stays: two holds, a release and a capture


async def test_a_deleted_video_keeps_no_prompt_or_image(database: Database) -> None:
    token = await make_account(database)
    image = ImageInput(png_bytes(), "image/png")
    video = dataclasses.replace(
        spec(prompt="a secret lighthouse", image=image), negative_prompt="no boats"
    )
    queued = await make_task(database, token, video)
    done = await make_completed(
        database, token, key(1), completed_at=time.time(), expires_at=None, video=video
    )
    async with database.write() as conn:
        for task in (queued, done):
            assert await task_db.mark_deleted(conn, task, time.time())
    async with database.read() as conn:
        rows = (
            await conn.execute(
                select(
                    tasks.c.prompt,
                    tasks.c.negative_prompt,
                    tasks.c.storage_key,
                    tasks.c.model,
                    tasks.c.price_micros,
                ).where(tasks.c.id.in_([queued.id, done.id]))
            )
        ).all()
        images = (await conn.execute(select(func.count()).select_from(task_inputs))).scalar_one()
    assert [tuple(row) for row in rows] == [("", None, None, video.model, 300_000)] * 2
    assert images == 0
