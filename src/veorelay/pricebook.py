"""Model prices and group multipliers, read from the database and cached for a few seconds."""

from __future__ import annotations

import time
from collections.abc import Callable

from veorelay.core.pricing import ModelPrice
from veorelay.db import catalog
from veorelay.db.database import Database


class PriceBook:
    def __init__(
        self, db: Database, cache_seconds: float, clock: Callable[[], float] = time.monotonic
    ):
        self._db = db
        self._ttl = cache_seconds
        self._clock = clock
        self._loaded_until = -1.0
        self._prices: dict[str, ModelPrice] = {}
        self._groups: dict[str, int] = {}

    async def _fresh(self) -> None:
        if self._clock() < self._loaded_until:
            return
        async with self._db.read() as conn:
            self._prices = await catalog.model_price_table(conn)
            self._groups = await catalog.group_multipliers(conn)
        self._loaded_until = self._clock() + self._ttl

    async def models(self) -> set[str]:
        """The models on offer (enabled)."""
        await self._fresh()
        return {name for name, price in self._prices.items() if price.enabled}

    async def price(self, model: str) -> ModelPrice:
        await self._fresh()
        return self._prices[model]

    async def multiplier(self, group: str) -> int | None:
        await self._fresh()
        return self._groups.get(group)

    def invalidate(self) -> None:
        self._loaded_until = -1.0
