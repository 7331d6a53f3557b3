"""The compatibility status endpoint that new-api-based clients poll."""

from __future__ import annotations

from fastapi import APIRouter, Request

from veorelay.api import views
from veorelay.api.deps import IdentityDep, ServicesDep
from veorelay.api.schemas import CompatStatus
from veorelay.api.videos import READ_ERRORS, own_task

router = APIRouter(tags=["compatibility"])


@router.get(
    "/v1/video/generations/{task_id}",
    operation_id="getVideoGenerationStatus",
    response_model=CompatStatus,
    responses=READ_ERRORS,
)
async def generation_status(
    task_id: str, request: Request, identity: IdentityDep, services: ServicesDep
) -> CompatStatus:
    """Status in new-api's shape; `url` points at our authenticated content endpoint."""
    task = await own_task(services, task_id, identity.account_id, param="task_id")
    url = str(request.url_for("download_video", video_id=task.id))
    return views.compat_status(task, url)
