"""Expected render times learned from recent completions, cached briefly per kind of video."""

from __future__ import annotations

import time
from collections.abc import Callable

from veorelay.core import timing
from veorelay.core.models import Resolution
from veorelay.db import tasks as task_db
from veorelay.db.database import Database

CACHE_SECONDS = 30.0


class RenderTimeEstimator:
    def __init__(
        self, db: Database, time_scale: float, clock: Callable[[], float] = time.monotonic
    ):
        self._db = db
        self._scale = time_scale
        self._clock = clock
        self._cache: dict[tuple[str, Resolution], tuple[float, float]] = {}

    async def expected(self, model: str, resolution: Resolution) -> float:
        key = (model, resolution)
        cached = self._cache.get(key)
        now = self._clock()
        if cached is not None and cached[1] > now:
            return cached[0]
        async with self._db.read() as conn:
            recent = await task_db.recent_render_seconds(conn, model, resolution.value)
        default = timing.expected_render_seconds(resolution, self._scale)
        value = timing.learned_render_seconds(recent, default)
        self._cache[key] = (value, now + CACHE_SECONDS)
        return value
