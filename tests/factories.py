"""Build accounts, tokens and tasks directly in a database, as the API would."""

from __future__ import annotations

import time
from typing import Any

from veorelay.channels.seed import key_fingerprints, new_channel_id
from veorelay.core.channels import ChannelKind, default_cost
from veorelay.core.lifecycle import Event
from veorelay.core.models import AspectRatio, ImageInput, Resolution, VideoSpec
from veorelay.db import accounts
from veorelay.db import channels as channel_db
from veorelay.db import tasks as task_db
from veorelay.db.channels import Channel, ChannelModel
from veorelay.db.database import Database
from veorelay.db.tasks import NewTask, Task
from veorelay.secretbox import SecretBox

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


async def make_channel(
    db: Database,
    box: SecretBox,
    name: str,
    base_url: str,
    keys: list[str],
    *,
    models: dict[str, str] | None = None,
    **fields: Any,
) -> Channel:
    """A Gemini-kind channel serving `models` (public -> upstream; default: the fast model)."""
    now = time.time()
    values = {
        "id": new_channel_id(),
        "name": name,
        "kind": ChannelKind.GEMINI.value,
        "secret": box.seal({"api_keys": keys}),
        "fingerprint": key_fingerprints(keys),
        "base_url": base_url,
        "created_at": now,
        "updated_at": now,
        **fields,
    }
    served = [
        ChannelModel(public, upstream, default_cost(upstream))
        for public, upstream in (models or {FAST: FAST}).items()
    ]
    async with db.write() as conn:
        await channel_db.insert_channel(conn, values, served)
        found = await channel_db.get_channel(conn, str(values["id"]))
    assert found is not None
    return found


async def make_submitting(
    db: Database, token: accounts.CreatedToken, video: VideoSpec | None = None, **options: Any
) -> Task:
    """A task the dispatcher has given a channel: the engine's next step is its submit."""
    task = await make_task(db, token, video, **options)
    async with db.write() as conn:
        assert await task_db.assign(conn, task.id, "ch_test", FAST, task.created_at)
        (found,) = await task_db.get_tasks(conn, [task.id])
    return found


async def make_completed(
    db: Database,
    token: accounts.CreatedToken,
    storage_key: str,
    *,
    completed_at: float,
    expires_at: float | None,
    video: VideoSpec | None = None,
) -> Task:
    """A task taken through the engine's transitions to `completed`, naming `storage_key`."""
    task = await make_submitting(db, token, video, now=completed_at)
    async with db.write() as conn:
        for event, values in [
            (Event.SUBMITTED, {"operation_name": "op", "key_id": "k"}),
            (Event.FINISHED, {"video_uri": "uri"}),
            (
                Event.STORED,
                {
                    "storage_key": storage_key,
                    "file_bytes": 1,
                    "completed_at": completed_at,
                    "expires_at": expires_at,
                },
            ),
        ]:
            moved = await task_db.apply_transition(conn, task, event, completed_at, **values)
            assert moved is not None
            task = moved
    return task
