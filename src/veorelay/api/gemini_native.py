"""Google's Gemini API for Veo, answered from veorelay's own tasks, so google-genai clients
can use the gateway with a veorelay token as their API key:

    POST /v1beta/models/{model}:predictLongRunning   -> {"name": "models/{m}/operations/{id}"}
    GET  /v1beta/models/{model}/operations/{id}      -> {"name"} while running; done + response
    GET  /v1beta/files/{id}:download?alt=media       -> the MP4 (Range and HEAD too)

The same checks, prices, limits, engine and storage as /v1/videos (api/creation.py); errors
in Google's shape (errors.py). Left out of /openapi.json: Google's documents describe it.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from veorelay.api import creation, gemini_wire
from veorelay.api.body import read_json_body
from veorelay.api.content import video_response
from veorelay.api.deps import GoogleIdentityDep, ServicesDep
from veorelay.api.videos import open_content, own_task
from veorelay.core.variants import Variant, file_name
from veorelay.errors import NotFound

router = APIRouter(tags=["gemini"], include_in_schema=False)


@router.post("/v1beta/models/{model}:predictLongRunning")
async def predict_long_running(
    model: str, request: Request, identity: GoogleIdentityDep, services: ServicesDep
) -> JSONResponse:
    body = await read_json_body(request)
    spec = gemini_wire.video_spec(model, body, await services.prices.models())
    task = await creation.insert_task(services, await creation.new_task(services, identity, spec))
    return JSONResponse({"name": gemini_wire.operation_name(task)})


@router.get("/v1beta/models/{model}/operations/{operation_id}")
async def get_operation(
    model: str,
    operation_id: str,
    request: Request,
    identity: GoogleIdentityDep,
    services: ServicesDep,
) -> JSONResponse:
    task = await own_task(services, operation_id, identity.account_id, param="name")
    if task.model != model:
        raise NotFound(f"No operation models/{model}/operations/{operation_id}.", param="name")
    return JSONResponse(gemini_wire.operation(task, request.url.netloc))


@router.get("/v1beta/files/{file_id}:download")
@router.head("/v1beta/files/{file_id}:download")
async def download_file(
    file_id: str, identity: GoogleIdentityDep, services: ServicesDep
) -> Response:
    task = await own_task(services, gemini_wire.task_id(file_id), identity.account_id, "name")
    opened = await open_content(services, task, Variant.VIDEO)
    return video_response(opened, filename=file_name(task.id, Variant.VIDEO))
