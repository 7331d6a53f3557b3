"""Model prices, group multipliers and which models the channels can serve, read from the
database and cached for a few seconds."""

from __future__ import annotations

import time
from collections.abc import Callable

from veorelay.core.models import ExtraInput
from veorelay.core.pricing import ModelPrice
from veorelay.db import catalog
from veorelay.db import channels as channel_db
from veorelay.db.channels import Channel
from veorelay.db.database import Database
from veorelay.engine.dispatch import Failure, unservable


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
        self._channels: list[Channel] = []

    async def _fresh(self) -> None:
        if self._clock() < self._loaded_until:
            return
        async with self._db.read() as conn:
            self._prices = await catalog.model_price_table(conn)
            self._groups = await catalog.group_multipliers(conn)
            self._channels = await channel_db.list_channels(conn)
        self._loaded_until = self._clock() + self._ttl

    async def models(self) -> set[str]:
        """The models on offer (enabled)."""
        await self._fresh()
        return {name for name, price in self._prices.items() if price.enabled}

    async def extra_inputs(self) -> dict[str, frozenset[ExtraInput]]:
        """The extra inputs each model on offer has enabled (models without any left out)."""
        await self._fresh()
        return {
            name: price.extra_inputs
            for name, price in self._prices.items()
            if price.enabled and price.extra_inputs
        }

    async def price(self, model: str) -> ModelPrice:
        await self._fresh()
        return self._prices[model]

    async def multiplier(self, group: str) -> int | None:
        await self._fresh()
        return self._groups.get(group)

    async def unservable(self, model: str, group: str) -> Failure | None:
        """Why no channel can serve `model` for `group` now, or None if one can."""
        await self._fresh()
        failure = unservable(self._channels, model, group)
        if failure is not None:
            return failure
        if not any(
            c.enabled and model in c.models and (c.groups is None or group in c.groups)
            for c in self._channels
        ):
            return Failure(
                "model_unavailable",
                f"No upstream channel serves model {model} for your group right now.",
            )
        return None

    def invalidate(self) -> None:
        self._loaded_until = -1.0
