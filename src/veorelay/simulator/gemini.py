"""The Gemini API's Veo surface.

    GET  /v1beta/models/{model}                        -> the model, or 404 if retired/unknown
    POST /v1beta/models/{model}:predictLongRunning     -> {"name": "models/{m}/operations/{id}"}
    GET  /v1beta/models/{model}/operations/{id}        -> {"name"} while running; done + response
    GET  /v1beta/files/{id}:download?alt=media         -> 302 to the bytes (video/mp4, Range)

Auth is an API key (`x-goog-api-key` or `?key=`); each key's owner (see owners.py) carries
the limits and counters.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from veorelay.simulator.delivery import file_answer
from veorelay.simulator.owners import fingerprint
from veorelay.simulator.store import Operation, new_id
from veorelay.simulator.validation import (
    KNOWN_MODELS,
    SimulatorError,
    extended,
    validate_predict,
)

if TYPE_CHECKING:
    from veorelay.simulator.app import Simulator

RESPONSE_TYPE = "type.googleapis.com/google.ai.generativelanguage.v1beta.PredictLongRunningResponse"
RAI_REASON = (
    "We encountered an issue with the audio for your prompt, which means we could not create "
    "your video. This can sometimes happen due to our safety filters or other processing issues. "
    "Please modify your request and try again. You have not been charged for this attempt."
)


def invalid_key() -> SimulatorError:
    return SimulatorError(
        400,
        "INVALID_ARGUMENT",
        "API key not valid. Please pass a valid API key.",
        [
            {
                "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                "reason": "API_KEY_INVALID",
                "domain": "googleapis.com",
            }
        ],
    )


class GeminiApi:
    def __init__(self, simulator: Simulator):
        self.sim = simulator

    def owner(self, request: Request) -> str:
        """Check the API key; the owner it belongs to."""
        key = request.headers.get("x-goog-api-key") or request.query_params.get("key")
        if not key:
            raise SimulatorError(
                403,
                "PERMISSION_DENIED",
                "Method doesn't allow unregistered callers (callers without established "
                "identity). Please use API Key or other form of API consumer identity to call "
                "this API.",
            )
        config = self.sim.config
        if (config.api_keys and key not in config.api_keys) or key in self.sim.revoked_keys:
            raise invalid_key()
        project = config.api_key_projects.get(key)
        owner = f"gemini:{project or fingerprint(key)}"
        self.sim.owners.note_key(owner, key)
        return owner

    async def get_model(self, request: Request) -> Response:
        self.owner(request)
        model = request.path_params["model"]
        if model in self.sim.config.retired_models or model not in KNOWN_MODELS:
            raise SimulatorError(404, "NOT_FOUND", f"models/{model} is not found.")
        return JSONResponse(
            {
                "name": f"models/{model}",
                "displayName": _display_name(model),
                "supportedGenerationMethods": ["predictLongRunning"],
            }
        )

    async def predict(self, request: Request) -> Response:
        owner = self.owner(request)
        model = request.path_params["model"]
        try:
            body = await request.json()
        except ValueError:
            body = None
        render = validate_predict(model, body, self.sim.config.retired_models)
        if render.source_file is not None:
            source = self._downloadable(render.source_file)
            render = extended(render, source.seconds, "gemini")
        operation = self.sim.submit(render, model, new_id(), owner)
        await self.sim.hold_submit_answer()
        return JSONResponse({"name": operation.name})

    async def get_operation(self, request: Request) -> Response:
        self.owner(request)
        self.sim.poll_fault("gemini")
        operation = self.sim.store.load(request.path_params["operation_id"])
        if (
            operation is None
            or operation.dialect != "gemini"
            or operation.model != request.path_params["model"]
        ):
            raise SimulatorError(404, "NOT_FOUND", "Operation not found.")
        body: dict[str, Any] = {"name": operation.name}
        state = self.sim.state(operation)
        if state == "error":
            body.update(
                done=True,
                error={"code": 13, "message": "Video generation failed due to an internal error."},
            )
        elif state == "filtered":
            body.update(
                done=True,
                response={
                    "@type": RESPONSE_TYPE,
                    "generateVideoResponse": {
                        "raiMediaFilteredCount": 1,
                        "raiMediaFilteredReasons": [RAI_REASON],
                    },
                },
            )
        elif state == "video":
            uri = f"https://{request.url.netloc}/v1beta/files/{operation.id}:download?alt=media"
            body.update(
                done=True,
                response={
                    "@type": RESPONSE_TYPE,
                    "generateVideoResponse": {"generatedSamples": [{"video": {"uri": uri}}]},
                },
            )
        return JSONResponse(body)

    async def download(self, request: Request) -> Response:
        self.owner(request)
        operation = self._downloadable(request.path_params["file_id"])
        target = request.url_for("file_bytes", file_id=operation.id).include_query_params(
            token=operation.download_token
        )
        return RedirectResponse(str(target), status_code=302)

    async def file_bytes(self, request: Request) -> Response:
        operation = self._downloadable(request.path_params["file_id"])
        if not secrets.compare_digest(
            request.query_params.get("token", ""), operation.download_token
        ):
            raise SimulatorError(403, "PERMISSION_DENIED", "The download link is not valid.")
        assert operation.render_file is not None
        fault = self.sim.download_fault("gemini")
        return file_answer(Path(operation.render_file), "video/mp4", fault, self.sim.slow_seconds)

    def _downloadable(self, file_id: str) -> Operation:
        operation = self.sim.store.load(file_id)
        if (
            operation is None
            or operation.dialect != "gemini"
            or self.sim.state(operation) != "video"
            or self.sim.expired(operation)
        ):
            raise SimulatorError(404, "NOT_FOUND", f"File files/{file_id} was not found.")
        return operation


def routes(simulator: Simulator) -> list[Route]:
    api = GeminiApi(simulator)
    return [
        Route("/v1beta/models/{model}:predictLongRunning", api.predict, methods=["POST"]),
        Route("/v1beta/models/{model}/operations/{operation_id}", api.get_operation),
        Route("/v1beta/models/{model}", api.get_model),
        Route("/v1beta/files/{file_id}:download", api.download),
        Route("/_sim/files/{file_id}.mp4", api.file_bytes, name="file_bytes"),
    ]


def _display_name(model: str) -> str:
    words = model.removeprefix("veo-").split("-")
    version, rest = words[0], [w for w in words[1:] if w != "generate"]
    return " ".join(["Veo", version, *(w.capitalize() for w in rest)])
