"""A video task made from a checked request, the one way every create endpoint makes it
(`POST /v1/videos`, Gemini's `predictLongRunning`): the token's access to the model, the
image, the group, an upstream that serves the model, and the price held."""

from __future__ import annotations

import asyncio
import time

from veorelay.core import pricing
from veorelay.core.access import check_model
from veorelay.core.models import VideoSpec
from veorelay.db import tasks as task_db
from veorelay.db.accounts import TokenIdentity
from veorelay.db.tasks import Task
from veorelay.errors import PermissionDenied, ServiceUnavailable
from veorelay.logs import REQUEST_ID
from veorelay.media.images import check_image_decodes
from veorelay.services import Services


async def new_task(services: Services, identity: TokenIdentity, spec: VideoSpec) -> task_db.NewTask:
    """The task to insert for `spec`, or the client's error (nothing written yet)."""
    check_model(identity.policy, spec.model)
    if spec.image is not None:
        await asyncio.to_thread(check_image_decodes, spec.image)
    price_micros = await quote_for(services, identity, spec)
    settings = services.settings
    scale = settings.effective_engine_time_scale
    return task_db.NewTask(
        spec=spec,
        account_id=identity.account_id,
        token_id=identity.token_id,
        group_name=identity.settings.group_name,
        upstream_model=spec.model,  # until a channel takes it and maps it (engine/dispatch.py)
        price_micros=price_micros,
        expected_render_seconds=await services.render_times.expected(spec.model, spec.resolution),
        timeout_seconds=settings.task_timeout_seconds * scale,
        policy=identity.policy,
        request_id=REQUEST_ID.get(),
    )


async def quote_for(services: Services, identity: TokenIdentity, spec: VideoSpec) -> int:
    """What `spec` costs this token now, or the error a create would answer instead."""
    group = identity.settings.group_name
    multiplier = await services.prices.multiplier(group)
    if multiplier is None:
        raise PermissionDenied(
            f"The token's group {group!r} does not exist.", code="group_not_found"
        )
    unservable = await services.prices.unservable(spec.model, group)
    if unservable is not None:
        raise ServiceUnavailable(unservable.message, code=unservable.code, param="model")
    price = await services.prices.price(spec.model)
    return pricing.quote(spec, price, identity.settings.billing_mode, multiplier)


async def insert_task(services: Services, new: task_db.NewTask) -> Task:
    """Insert the task and hold its price in one transaction (refused if the balance or the
    token's limits do not allow it), then wake the engine."""
    async with services.db.write() as conn:
        task = await task_db.create_task(conn, new, time.time(), task_db.new_task_id())
    services.wake_engine()
    return task
