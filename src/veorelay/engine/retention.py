"""Retention, run by the engine's maintenance: expired videos leave storage, old finished tasks
may be pruned, and the reconciler squares storage with the tasks (also `veorelay storage
reconcile`)."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

from veorelay.core import retention
from veorelay.core.variants import family_prefix
from veorelay.db import retention as retention_db
from veorelay.db.database import Database
from veorelay.storage.base import VIDEO_KEYS, VideoStorage
from veorelay.storage.variants import delete_with_previews

log = logging.getLogger("veorelay.retention")

SWEEP_BATCH = 500
# A stored file younger than this with no task may belong to a download whose `completed` is
# being written right now; the reconciler leaves it for its next round.
ORPHAN_GRACE_SECONDS = 3600.0


@dataclass(frozen=True)
class RetentionPolicy:
    retention_seconds: float = 7 * 24 * 3600.0
    prune_tasks_after_seconds: float | None = None
    reconcile_seconds: float = 3600.0  # how often the engine runs the reconciler
    orphan_grace_seconds: float = ORPHAN_GRACE_SECONDS


async def sweep_expired(
    db: Database, storage: VideoStorage, now: float, retention_seconds: float
) -> int:
    """Remove the files (and their previews) of videos whose retention is over. Returns how
    many. The file goes first: a crash in between leaves a task naming a missing file,
    which the next sweep forgets."""
    async with db.write() as conn:
        await retention_db.stamp_expiry(conn, retention_seconds)
    swept = 0
    while True:
        async with db.read() as conn:
            due = await retention_db.expired_files(conn, now, SWEEP_BATCH)
        for stored in due:
            await delete_with_previews(storage, stored.key)
            async with db.write() as conn:
                swept += await retention_db.forget_file(conn, stored, now)
        if len(due) < SWEEP_BATCH:
            break
    if swept:
        log.info("retention: removed %d expired video(s) from storage", swept)
    return swept


async def prune_tasks(db: Database, now: float, older_than_seconds: float) -> int:
    pruned = 0
    while True:
        async with db.write() as conn:
            batch = await retention_db.prune_tasks(conn, now - older_than_seconds, SWEEP_BATCH)
        pruned += batch
        if batch < SWEEP_BATCH:
            break
    if pruned:
        log.info("retention: pruned %d finished task(s)", pruned)
    return pruned


@dataclass
class Reconciliation:
    removed: list[str] = field(default_factory=list)  # stored keys no task points to
    missing: list[str] = field(default_factory=list)  # ids of tasks whose file is not stored
    kept_young: int = 0  # unowned keys too young to judge yet


async def reconcile(
    db: Database,
    storage: VideoStorage,
    now: float,
    grace_seconds: float = ORPHAN_GRACE_SECONDS,
    *,
    remove: bool = True,
) -> Reconciliation:
    """Remove stored files no task points to (`remove=False`: only name them), and report
    completed, unexpired tasks whose file is missing. The store is listed before the tasks
    are read, so a file stored meanwhile is never judged on a stale view."""
    listed_at = time.time()
    listed = [
        retention.Listed(stored.key, stored.modified_at)
        async for stored in storage.objects(VIDEO_KEYS)
    ]
    async with db.read() as conn:
        referenced = await retention_db.referenced_keys(conn)
        families = retention.KeyFamilies(family_prefix(key) for key in referenced)
        live = await retention_db.live_files(conn, completed_before=listed_at, now=now)
    report = Reconciliation()
    unowned = [item for item in listed if not families.owns(item.key)]
    report.removed = retention.orphans(unowned, families, older_than=now - grace_seconds)
    report.kept_young = len(unowned) - len(report.removed)
    if remove:
        for key in report.removed:
            await storage.delete(key)
    stored_keys = {item.key for item in listed}
    report.missing = sorted(f.task_id for f in live if f.key not in stored_keys)
    if report.removed:
        log.warning(
            "reconcile: %s %d stored file(s) no task points to",
            "removed" if remove else "found",
            len(report.removed),
        )
    if report.missing:
        log.warning(
            "reconcile: %d completed video(s) have no stored file: %s",
            len(report.missing),
            ", ".join(report.missing[:20]),
        )
    return report
