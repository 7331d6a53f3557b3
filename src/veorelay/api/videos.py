"""The public video API: create, retrieve, download content (OpenAI Video API style)."""

from __future__ import annotations

import time
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse

from veorelay.api import creation, views
from veorelay.api.body import read_create_body
from veorelay.api.content import VideoFileResponse, range_not_satisfiable, video_response
from veorelay.api.deps import IdentityDep, ServicesDep
from veorelay.api.schemas import (
    CREATE_VIDEO_OPENAPI,
    Video,
    VideoDeleted,
    VideoList,
    error_responses,
)
from veorelay.core import idempotency, retention
from veorelay.core.access import check_model
from veorelay.core.lifecycle import TaskState
from veorelay.core.params import parse_video_request
from veorelay.core.ranges import ByteRange, parse_range
from veorelay.core.variants import MEDIA_TYPES, Variant, file_name, stored_key
from veorelay.db import idempotency as idempotency_db
from veorelay.db import tasks as task_db
from veorelay.db.accounts import TokenIdentity
from veorelay.db.tasks import Task
from veorelay.errors import Conflict, NotFound, ServiceUnavailable
from veorelay.services import Services
from veorelay.storage.base import RangeNotSatisfiable, StoredVideo
from veorelay.storage.variants import delete_with_previews

router = APIRouter(tags=["videos"])
MAX_DELETE_ATTEMPTS = 5
MAX_CLAIM_ATTEMPTS = 3


# Every authenticated call can answer 401 (no or bad token) and 403 (token refused).
READ_ERRORS = error_responses(401, 403, 404)


_VIDEO_ID_LINK = {"parameters": {"video_id": "$response.body#/id"}}


@router.post(
    "/v1/videos",
    operation_id="createVideo",
    response_model=Video,
    responses={
        200: {
            "links": {  # lets clients and fuzzers follow a created video to its other calls
                name: {"operationId": operation, **_VIDEO_ID_LINK}
                for name, operation in [
                    ("RetrieveVideo", "retrieveVideo"),
                    ("DeleteVideo", "deleteVideo"),
                    ("DownloadVideoContent", "downloadVideoContent"),
                    ("HeadVideoContent", "headVideoContent"),
                ]
            }
            | {
                "GetVideoGenerationStatus": {
                    "operationId": "getVideoGenerationStatus",
                    "parameters": {"task_id": "$response.body#/task_id"},
                }
            }
        },
        **error_responses(400, 401, 403, 404, 409, 413, 415, 429),
    },
    openapi_extra=CREATE_VIDEO_OPENAPI,
)
async def create_video(
    request: Request, identity: IdentityDep, services: ServicesDep
) -> JSONResponse:
    """Create a video task from JSON or multipart/form-data (see docs/api.md). With an
    `Idempotency-Key`, a repeat of the same request within 24 hours answers the first one's
    task instead (see docs/api.md "Idempotent creates")."""
    header = request.headers.get(idempotency.HEADER)
    key = None if header is None else idempotency.check_key(header)
    fields, images = await read_create_body(request)
    spec = parse_video_request(
        fields,
        images,
        models=await services.prices.models(),
        extra_inputs=await services.prices.extra_inputs(),
    )
    check_model(identity.policy, spec.model)  # before a replay, as before anything else
    fingerprint = ""
    if key is not None:
        fingerprint = idempotency.fingerprint(spec)
        replay = await _replay(services, identity.account_id, key, fingerprint)
        if replay is not None:
            return replay
    new = await creation.new_task(services, identity, spec)
    for _ in range(MAX_CLAIM_ATTEMPTS):
        now = time.time()
        task_id = task_db.new_task_id()
        try:
            async with services.db.write() as conn:
                if key is not None:  # first: a duplicate stops here, before limits and money
                    await idempotency_db.claim(
                        conn, identity.account_id, key, fingerprint, task_id, now
                    )
                task = await task_db.create_task(conn, new, now, task_id)  # refused if too poor
        except idempotency_db.KeyTaken:
            assert key is not None
            replay = await _replay(services, identity.account_id, key, fingerprint)
            if replay is not None:
                return replay
            continue  # the other request's binding expired or was pruned meanwhile: claim anew
        services.wake_engine()
        return _video_response(task, now)
    raise ServiceUnavailable("The idempotency key is changing hands; retry the request.")


async def _replay(
    services: ServicesDep, account_id: str, key: str, fingerprint: str
) -> JSONResponse | None:
    """The answer for a key already bound to a task, or None if it is free (or expired)."""
    async with services.db.read() as conn:
        remembered = await idempotency_db.lookup(conn, account_id, key)
    now = time.time()
    if remembered is None or not idempotency.is_fresh(remembered.created_at, now):
        return None
    if remembered.fingerprint != fingerprint:
        raise Conflict(
            f"The {idempotency.HEADER} was already used with a different request.",
            param=idempotency.HEADER,
            code="idempotency_key_reused",
        )
    if remembered.task is None:  # deleted: answered as GET /v1/videos/{id} would be
        raise NotFound(f"No video found with id {remembered.task_id!r}.", param="video_id")
    response = _video_response(remembered.task, now)
    response.headers[idempotency.REPLAYED_HEADER] = "true"
    return response


@router.get(
    "/v1/videos/{video_id}",
    operation_id="retrieveVideo",
    response_model=Video,
    responses=READ_ERRORS,
)
async def retrieve_video(
    video_id: str, identity: IdentityDep, services: ServicesDep
) -> JSONResponse:
    """The task's status: one indexed read, never a call upstream."""
    task = await own_task(services, video_id, identity.account_id)
    return _video_response(task, time.time())


@router.get(
    "/v1/videos",
    operation_id="listVideos",
    response_model=VideoList,
    responses=error_responses(400, 401, 403),
)
async def list_videos(
    identity: IdentityDep,
    services: ServicesDep,
    after: Annotated[str | None, Query(description="List after this video id.")] = None,
    limit: Annotated[int, Query(ge=1, le=100, description="Page size.")] = 20,
    order: Annotated[Literal["asc", "desc"], Query(description="By creation time.")] = "desc",
) -> VideoList:
    """The account's videos, newest first by default; page on with `after=<last_id>`."""
    async with services.db.read() as conn:
        page, has_more = await task_db.list_tasks(
            conn, identity.account_id, after=after or None, limit=limit, descending=order == "desc"
        )
    now = time.time()
    return VideoList(
        data=[views.video(task, now) for task in page],
        first_id=page[0].id if page else None,
        last_id=page[-1].id if page else None,
        has_more=has_more,
    )


@router.delete(
    "/v1/videos/{video_id}",
    operation_id="deleteVideo",
    response_model=VideoDeleted,
    responses=error_responses(401, 403, 404, 503),
)
async def delete_video(video_id: str, identity: IdentityDep, services: ServicesDep) -> VideoDeleted:
    """Delete a video: a task still running is cancelled and its hold released; a finished
    video's file is removed. Either way the id is gone for the client afterwards."""
    for _ in range(MAX_DELETE_ATTEMPTS):
        task = await own_task(services, video_id, identity.account_id)
        async with services.db.write() as conn:
            deleted = await task_db.mark_deleted(conn, task, time.time())
        if deleted is not None:
            break
    else:  # the engine kept moving the task under us; vanishingly rare
        raise ServiceUnavailable("The video is changing state; retry the delete.")
    if task.storage_key is not None:  # the row no longer names it (mark_deleted)
        await delete_with_previews(services.storage, task.storage_key)
    return VideoDeleted(id=deleted.id)


_CONTENT_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {media_type: {} for media_type in MEDIA_TYPES.values()},
        "description": "The whole file: the MP4, or the preview `variant` names.",
    },
    206: {
        "content": {media_type: {} for media_type in MEDIA_TYPES.values()},
        "description": "The byte range asked for with Range.",
    },
    302: {"description": "S3 storage in redirect mode: fetch the file from `Location`."},
    416: {"description": "The Range lies outside the file."},
    **error_responses(400, 401, 403, 404, 409),
}


@router.get(
    "/v1/videos/{video_id}/content",
    operation_id="downloadVideoContent",
    response_class=VideoFileResponse,
    responses=_CONTENT_RESPONSES,
)
@router.head(
    "/v1/videos/{video_id}/content",
    operation_id="headVideoContent",
    response_class=VideoFileResponse,
    responses=_CONTENT_RESPONSES,
)
async def download_video(
    video_id: str,
    request: Request,
    identity: IdentityDep,
    services: ServicesDep,
    variant: Annotated[
        Variant,
        Query(
            description="`video` (the MP4, the default), `thumbnail` (WebP) or `spritesheet` "
            "(JPEG)."
        ),
    ] = Variant.VIDEO,
) -> Response:
    """The MP4 or one of its previews from our storage (Range and HEAD supported): streamed,
    or with S3 storage and `VEORELAY_S3_PRESIGNED_REDIRECT_SECONDS` a 302 to a short-lived
    URL. The file is opened before anything is answered: a delete a moment later cannot cut
    the answer short, and a delete a moment earlier is a 404 like any deleted video."""
    return await video_content(video_id, identity, services, request, variant)


async def video_content(
    video_id: str,
    identity: TokenIdentity,
    services: Services,
    request: Request,
    variant: Variant = Variant.VIDEO,
    *,
    redirect: bool = True,
) -> Response:
    """The content answer for `request` (its Range, GET or HEAD); `redirect` False always
    sends the bytes (a page whose policy allows media from us only)."""
    task = await own_task(services, video_id, identity.account_id)
    try:
        stored = await open_content(
            services,
            task,
            variant,
            parse_range(request.headers.get("range")),
            body=request.method != "HEAD",
            redirect=redirect,
        )
    except RangeNotSatisfiable as exc:
        return range_not_satisfiable(exc.size)
    return video_response(
        stored, filename=file_name(task.id, variant), media_type=MEDIA_TYPES[variant]
    )


async def open_content(
    services: Services,
    task: Task,
    variant: Variant,
    byte_range: ByteRange | None = None,
    *,
    body: bool = True,
    redirect: bool = True,
) -> StoredVideo:
    """A finished video's file (or preview), opened; the client's error if there is none."""
    if task.state is not TaskState.COMPLETED:
        if task.state in (TaskState.FAILED, TaskState.CANCELLED):
            raise Conflict("The video failed; there is no content.", code="video_failed")
        raise Conflict(
            f"The video is not ready yet (status {views.video(task, time.time()).status}).",
            code="video_not_ready",
        )
    expired = retention.is_expired(task.expires_at, time.time())
    if task.storage_key is not None and not expired:
        key = stored_key(task.storage_key, variant)
        name = file_name(task.id, variant)
        opened = await services.storage.open(
            key, byte_range, body=body, filename=name, redirect=redirect
        )
        if opened is None and variant is not Variant.VIDEO:
            if await services.previews.ensure(task.storage_key):  # the first ask makes them
                opened = await services.storage.open(
                    key, byte_range, body=body, filename=name, redirect=redirect
                )
            elif await services.storage.size(task.storage_key):
                raise NotFound(
                    f"This video has no {variant}: its previews could not be made (the log "
                    "says why); the video itself is available.",
                    param="variant",
                    code="variant_not_available",
                )
        if opened is not None:
            return opened
    await own_task(services, task.id, task.account_id)  # 404 if deleted meanwhile
    reason = "its retention period is over" if expired else "it is no longer stored"
    raise NotFound(f"The video has no content: {reason}.", code="video_expired")


async def own_task(
    services: ServicesDep, video_id: str, account_id: str, param: str = "video_id"
) -> Task:
    task = None
    if task_db.is_task_id(video_id):
        async with services.db.read() as conn:
            task = await task_db.get_task(conn, video_id, account_id)
    if task is None:  # a foreign task looks exactly like a missing one
        raise NotFound(f"No video found with id {video_id!r}.", param=param)
    return task


def _video_response(task: Task, now: float) -> JSONResponse:
    headers = {}
    poll_after = views.poll_after_ms(task)
    if poll_after is not None:
        headers["openai-poll-after-ms"] = str(poll_after)
    return JSONResponse(views.video(task, now).model_dump(mode="json"), headers=headers)
