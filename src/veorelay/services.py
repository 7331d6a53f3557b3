"""What request handlers need, built once per app by the lifespan (see app.py)."""

from __future__ import annotations

from dataclasses import dataclass, field

from veorelay.api.auth import TokenCache
from veorelay.db.database import Database
from veorelay.engine.worker import Engine
from veorelay.estimates import RenderTimeEstimator
from veorelay.pricebook import PriceBook
from veorelay.secretbox import SecretBox
from veorelay.settings import Settings
from veorelay.storage.base import VideoStorage
from veorelay.storage.variants import PreviewMaker


@dataclass
class Services:
    settings: Settings
    db: Database
    storage: VideoStorage
    prices: PriceBook
    render_times: RenderTimeEstimator
    secrets: SecretBox
    engine: Engine | None = None
    tokens: TokenCache = field(default_factory=TokenCache)
    previews: PreviewMaker = field(init=False)

    def __post_init__(self) -> None:
        self.previews = PreviewMaker(self.storage)

    def wake_engine(self) -> None:
        if self.engine is not None:
            self.engine.wake()

    def forget_cached(self) -> None:
        """An operator changed something (maybe in another process): read it afresh."""
        self.tokens.clear()
        self.prices.invalidate()
