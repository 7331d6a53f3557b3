"""Vertex AI's Veo surface, answered by the same simulator as the Gemini API.

    POST /v1/projects/{p}/locations/{l}/publishers/google/models/{m}:predictLongRunning
    POST /v1/projects/{p}/locations/{l}/publishers/google/models/{m}:fetchPredictOperation
    GET  /v1beta1/publishers/google/models/{m}                      (a cheap probe)
    GET  /storage/v1/b/{bucket}/o/{object}?alt=media                (results with storageUri)
    POST /token                                     (OAuth: service-account JWT -> access token)

(`v1beta1` serves the same predict and poll paths, as google-genai uses it.) Every call
needs `Authorization: Bearer <token from POST /token>`; see oauth.py.
"""

from __future__ import annotations

import asyncio
import base64
import re
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from veorelay.simulator.delivery import TRUNCATE_FRACTION, ConnectionReset, file_answer
from veorelay.simulator.oauth import OAuthError, Principal
from veorelay.simulator.render import InvalidVideo, video_seconds
from veorelay.simulator.store import Operation, new_vertex_id
from veorelay.simulator.validation import (
    VERTEX_MODELS,
    SimulatorError,
    extended,
    invalid,
    validate_vertex_predict,
    vertex_model_not_found,
)

if TYPE_CHECKING:
    from veorelay.simulator.app import Simulator

RESPONSE_TYPE = "type.googleapis.com/cloud.ai.large_models.vision.GenerateVideoResponse"
QUOTA_MESSAGE = (
    "Resource exhausted. Please try again later. Please refer to "
    "https://cloud.google.com/vertex-ai/generative-ai/docs/error-code-429 for more details."
)
RAI_REASON = (
    "Veo could not generate 1 videos based on the prompt provided. You will not be charged for "
    "this request. Try rephrasing the prompt. If you think this was an error, send feedback. "
    "Support codes: 42237218"
)
FAILURE_MESSAGE = "Video generation failed: the model could not process the request."
_MODEL_PATH = "/projects/{project}/locations/{location}/publishers/google/models/{model}"
_OBJECT = re.compile(r"(?:(?P<prefix>.*)/)?(?P<op>[0-9a-f-]{36})/sample_(?P<index>\d+)\.mp4")


class VertexApi:
    def __init__(self, simulator: Simulator):
        self.sim = simulator

    async def token(self, request: Request) -> Response:
        form = await request.form()
        fields = {key: value for key, value in form.items() if isinstance(value, str)}
        endpoint = str(request.url.replace(query=""))
        try:
            return JSONResponse(self.sim.tokens.grant(fields, endpoint))
        except OAuthError as exc:
            return JSONResponse(exc.body(), status_code=400)

    def may_use(self, principal: Principal, project: str) -> bool:
        return project in principal.projects and project not in self.sim.revoked_projects

    def authorize(self, request: Request, project: str | None = None) -> Principal:
        principal = self.sim.tokens.principal(request.headers.get("authorization"))
        if project is not None and not self.may_use(principal, project):
            resource = _resource(request)
            raise SimulatorError(
                403,
                "PERMISSION_DENIED",
                f"Permission 'aiplatform.endpoints.predict' denied on resource "
                f"'//aiplatform.googleapis.com/{resource}' (or it may not exist).",
                [
                    {
                        "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                        "reason": "IAM_PERMISSION_DENIED",
                        "domain": "aiplatform.googleapis.com",
                    }
                ],
            )
        return principal

    async def predict(self, request: Request) -> Response:
        params = request.path_params
        self.authorize(request, params["project"])
        retired = self.sim.config.retired_models
        body = await _json(request)
        render = validate_vertex_predict(_resource(request), params["model"], body, retired)
        if render.source_video is not None:
            try:
                seconds = await asyncio.to_thread(video_seconds, render.source_video)
            except InvalidVideo as exc:
                raise invalid(f"video is not a usable MP4: {exc}.") from None
            render = extended(replace(render, source_video=None), seconds, "vertex")
        operation = self.sim.submit(
            render,
            params["model"],
            new_vertex_id(),
            f"vertex:{params['project']}",
            dialect="vertex",
            project=params["project"],
            location=params["location"],
        )
        await self.sim.hold_submit_answer()
        return JSONResponse({"name": operation.name})

    async def fetch(self, request: Request) -> Response:
        self.authorize(request, request.path_params["project"])
        self.sim.poll_fault("vertex")
        body = await _json(request)
        name = body.get("operationName") if isinstance(body, dict) else None
        if not isinstance(name, str) or "/operations/" not in name:
            raise invalid("operationName is required.")
        resource, _, operation_id = name.rpartition("/operations/")
        operation = self.sim.store.load(operation_id)
        if (
            operation is None
            or operation.dialect != "vertex"
            or operation.name != name
            or resource != _resource(request)
        ):
            raise SimulatorError(404, "NOT_FOUND", f"Operation {name} not found.")
        state = self.sim.state(operation)
        fault = None
        if state == "video" and operation.storage_uri is None:
            fault = self.sim.download_fault("vertex")  # the poll carries the video
            if fault == "reset":
                return ConnectionReset()
            if fault == "slow":
                await asyncio.sleep(self.sim.slow_seconds)
        return JSONResponse(await self._operation_body(operation, state, fault == "truncate"))

    async def _operation_body(
        self, operation: Operation, state: str, truncate: bool
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"name": operation.name, "done": state != "running"}
        if state == "error":
            body["error"] = {"code": 3, "message": FAILURE_MESSAGE}
        elif state == "filtered":
            body["response"] = {
                "@type": RESPONSE_TYPE,
                "raiMediaFilteredCount": operation.sample_count,
                "raiMediaFilteredReasons": [RAI_REASON],
            }
        elif state == "video":
            body["response"] = {
                "@type": RESPONSE_TYPE,
                "raiMediaFilteredCount": 0,
                "videos": await self._videos(operation, truncate),
            }
        return body

    async def _videos(self, operation: Operation, truncate: bool) -> list[dict[str, str]]:
        count = operation.sample_count
        if operation.storage_uri is not None:
            prefix = operation.storage_uri.rstrip("/")
            return [
                {"gcsUri": f"{prefix}/{operation.id}/sample_{i}.mp4", "mimeType": "video/mp4"}
                for i in range(count)
            ]
        assert operation.render_file is not None
        data = await asyncio.to_thread(_read_b64, Path(operation.render_file), truncate)
        return [{"bytesBase64Encoded": data, "mimeType": "video/mp4"} for _ in range(count)]

    async def publisher_model(self, request: Request) -> Response:
        self.authorize(request)
        model = request.path_params["model"]
        if model in self.sim.config.retired_models or model not in VERTEX_MODELS:
            raise vertex_model_not_found(f"publishers/google/models/{model}")
        return JSONResponse(
            {
                "name": f"publishers/google/models/{model}",
                "versionId": "001",
                "launchStage": VERTEX_MODELS[model],
            }
        )

    async def storage_object(self, request: Request) -> Response:
        """Cloud Storage's JSON API media download of one result video."""
        bucket, name = request.path_params["bucket"], request.path_params["object"]
        try:
            principal = self.sim.tokens.principal(request.headers.get("authorization"))
        except SimulatorError:
            return _storage_error(
                401, "Anonymous caller does not have storage.objects.get access.", "required"
            )
        if request.query_params.get("alt") != "media":
            return _storage_error(400, "Only alt=media downloads are simulated.", "invalid")
        operation = self._stored_operation(bucket, name)
        if operation is None:
            return _storage_error(404, f"No such object: {bucket}/{name}", "notFound")
        if not self.may_use(principal, operation.project):
            return _storage_error(
                403,
                f"{principal.client_email} does not have storage.objects.get access to the "
                f"Google Cloud Storage object.",
                "forbidden",
            )
        assert operation.render_file is not None
        fault = self.sim.download_fault("vertex")
        return file_answer(Path(operation.render_file), "video/mp4", fault, self.sim.slow_seconds)

    def _stored_operation(self, bucket: str, name: str) -> Operation | None:
        match = _OBJECT.fullmatch(name)
        if match is None:
            return None
        operation = self.sim.store.load(match["op"])
        if (
            operation is None
            or operation.dialect != "vertex"
            or operation.storage_uri is None
            or int(match["index"]) >= operation.sample_count
            or self.sim.state(operation) != "video"
            or self.sim.expired(operation)
        ):
            return None
        prefix = f"gs://{bucket}/{match['prefix'] or ''}".rstrip("/")
        return operation if operation.storage_uri.rstrip("/") == prefix else None


def routes(simulator: Simulator) -> list[Route]:
    api = VertexApi(simulator)
    result = [
        Route("/token", api.token, methods=["POST"]),
        Route("/v1beta1/publishers/google/models/{model}", api.publisher_model),
        Route("/storage/v1/b/{bucket}/o/{object:path}", api.storage_object),
    ]
    for version in ("v1", "v1beta1"):
        base = f"/{version}{_MODEL_PATH}"
        result += [
            Route(f"{base}:predictLongRunning", api.predict, methods=["POST"]),
            Route(f"{base}:fetchPredictOperation", api.fetch, methods=["POST"]),
        ]
    return result


def _resource(request: Request) -> str:
    p = request.path_params
    return (
        f"projects/{p['project']}/locations/{p['location']}/publishers/google/models/{p['model']}"
    )


async def _json(request: Request) -> Any:
    try:
        return await request.json()
    except ValueError:
        return None


def _read_b64(path: Path, truncate: bool) -> str:
    data = path.read_bytes()
    if truncate:
        data = data[: int(len(data) * TRUNCATE_FRACTION)]
    return base64.b64encode(data).decode()


def _storage_error(status: int, message: str, reason: str) -> Response:
    body = {
        "error": {
            "code": status,
            "message": message,
            "errors": [{"message": message, "domain": "global", "reason": reason}],
        }
    }
    return JSONResponse(body, status_code=status)
