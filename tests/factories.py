"""Build accounts, tokens and tasks directly in a database, as the API would."""

from __future__ import annotations

import time

from veorelay.core.models import AspectRatio, ImageInput, Resolution, VideoSpec
from veorelay.db import accounts
from veorelay.db import tasks as task_db
from veorelay.db.database import Database
from veorelay.db.tasks import NewTask, Task

FAST = "veo-3.1-fast-generate-preview"


async def make_account(db: Database, balance: int = 10_000_000) -> accounts.CreatedToken:
    async with db.write() as conn:
        account_id = await accounts.create_account(conn, "test", balance, time.time())
        return await accounts.create_token(conn, account_id, "test", time.time())


def spec(
    prompt: str = "a lighthouse",
    seconds: int = 4,
    resolution: Resolution = Resolution.P720,
    aspect: AspectRatio = AspectRatio.LANDSCAPE,
    image: ImageInput | None = None,
) -> VideoSpec:
    return VideoSpec(FAST, prompt, seconds, resolution, aspect, image=image)


async def make_task(
    db: Database,
    token: accounts.CreatedToken,
    video: VideoSpec | None = None,
    *,
    price: int = 300_000,
    expected: float = 0.4,
    deadline_in: float = 60.0,
    now: float | None = None,
) -> Task:
    new = NewTask(
        spec=video or spec(),
        account_id=token.account_id,
        token_id=token.token_id,
        upstream_model=FAST,
        price_micros=price,
        expected_render_seconds=expected,
        timeout_seconds=deadline_in,
    )
    async with db.write() as conn:
        return await task_db.create_task(conn, new, time.time() if now is None else now)


async def balance(db: Database, account_id: str) -> int:
    async with db.read() as conn:
        return await accounts.balance(conn, account_id)
