"""Google's Gemini API wire format, spoken to google-genai clients (pure): a
`predictLongRunning` body -> VideoSpec (by the same rules as `POST /v1/videos`), and a task
-> a long-running operation. See docs/api.md "Gemini-native endpoint"."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Collection, Mapping
from typing import Any

from veorelay.core.images import image_from_bytes
from veorelay.core.lifecycle import TaskState
from veorelay.core.models import ImageInput, VideoSpec
from veorelay.core.params import UNSUPPORTED_FIELDS, parse_video_request
from veorelay.db.tasks import Task
from veorelay.errors import ERROR_INFO_TYPE, InvalidRequest, ParseRequestFailed, VeorelayError

RESPONSE_TYPE = "type.googleapis.com/google.ai.generativelanguage.v1beta.PredictLongRunningResponse"
TASK_PREFIX = "video_"
CONTENT_POLICY = "content_policy_violation"
PARAMETERS = ("durationSeconds", "aspectRatio", "resolution", "negativePrompt", "seed")
# Core's names for what Google's format calls otherwise, so its messages name Google's fields.
_RENAMES = (
    ("metadata.durationSeconds", "durationSeconds"),
    ("input_reference", "instances[0].image"),
)
# google.rpc.Code of a failed task's error code; anything else is INTERNAL (13).
_RPC_CODES = {
    "cancelled": 1,
    "upstream_rejected": 3,
    "timeout": 4,
    "upstream_capacity": 8,
    "upstream_unavailable": 14,
    "upstream_credentials": 14,
    "model_unavailable": 14,
}


def video_spec(model: str, body: Any, models: Collection[str]) -> VideoSpec:
    """The video a `models/{model}:predictLongRunning` body asks for, or the client's error."""
    try:
        fields, images = _fields(model, body)
        return parse_video_request(fields, images, models=models)
    except VeorelayError as exc:
        raise _renamed(exc) from None


def _fields(model: str, body: Any) -> tuple[dict[str, Any], list[ImageInput]]:
    if not isinstance(body, dict):
        raise ParseRequestFailed("The body must be a JSON object.")
    instances = body.get("instances")
    if not isinstance(instances, list) or len(instances) != 1:
        raise InvalidRequest("instances must hold exactly one instance.", param="instances")
    instance = instances[0]
    if not isinstance(instance, dict):
        raise ParseRequestFailed("instances[0] must be an object.", param="instances")
    parameters = body.get("parameters")
    if parameters is None:
        parameters = {}
    if not isinstance(parameters, dict):
        raise ParseRequestFailed("parameters must be an object.", param="parameters")
    _refuse_others(instance, ("prompt", "image"), "instances[0].")
    _refuse_others(parameters, (*PARAMETERS, "sampleCount"), "parameters.")
    count = parameters.get("sampleCount")
    if count is not None and count != 1:
        raise InvalidRequest(
            "sampleCount must be 1: each request makes one video (send several requests).",
            param="parameters.sampleCount",
        )
    fields: dict[str, Any] = {"model": model, "prompt": instance.get("prompt")}
    for name in PARAMETERS:
        if parameters.get(name) is not None:
            fields[name] = parameters[name]
    if "durationSeconds" in fields:  # core's name for it; errors are renamed back (_RENAMES)
        fields["metadata"] = {"durationSeconds": fields.pop("durationSeconds")}
    image = instance.get("image")
    return fields, [] if image is None else [_image(image)]


def _refuse_others(given: Mapping[str, Any], known: tuple[str, ...], where: str) -> None:
    """A field this gateway would have to ignore would make another video than asked for."""
    for name, value in given.items():
        if name in known or value is None:
            continue
        reason = UNSUPPORTED_FIELDS.get(name, f"{name} is not supported by this gateway.")
        raise InvalidRequest(f"{where}{reason}", param=f"{where}{name}")


def _image(image: Any) -> ImageInput:
    param = "instances[0].image"
    if not isinstance(image, dict):
        raise ParseRequestFailed("image must be an object.", param=param)
    data = image.get("bytesBase64Encoded")
    if not isinstance(data, str) or not data:
        raise InvalidRequest(
            "image.bytesBase64Encoded is required (gcsUri and inlineData are not supported).",
            param=param,
        )
    try:
        decoded = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidRequest("image.bytesBase64Encoded is not valid base64.", param=param) from None
    return image_from_bytes(decoded)


def _renamed(exc: VeorelayError) -> VeorelayError:
    message, param = exc.message, exc.param
    for ours, googles in _RENAMES:
        message = message.replace(ours, googles)
        param = param.replace(ours, googles) if param is not None else None
    return type(exc)(message, param=param, code=exc.code)


def operation_name(task: Task) -> str:
    return f"models/{task.model}/operations/{task.id}"


def file_id(task_id: str) -> str:
    """Google's file ids are lowercase letters and digits (google-genai reads them so)."""
    return task_id.removeprefix(TASK_PREFIX)


def task_id(file_id: str) -> str:
    return TASK_PREFIX + file_id


def operation(task: Task, host: str) -> dict[str, Any]:
    """The task as Google's long-running operation: just its name while it runs."""
    body: dict[str, Any] = {"name": operation_name(task)}
    if task.state is TaskState.COMPLETED:
        uri = f"https://{host}/v1beta/files/{file_id(task.id)}:download?alt=media"
        body.update(done=True, response=_response({"generatedSamples": [{"video": {"uri": uri}}]}))
    elif task.state is TaskState.FAILED and task.error_code == CONTENT_POLICY:
        filtered = {"raiMediaFilteredCount": 1, "raiMediaFilteredReasons": [task.error_message]}
        body.update(done=True, response=_response(filtered))
    elif task.state in (TaskState.FAILED, TaskState.CANCELLED):
        code = task.error_code or "failed"
        error = {
            "code": _RPC_CODES.get(code, 13),
            "message": task.error_message or "The video could not be made.",
            "details": [{"@type": ERROR_INFO_TYPE, "reason": code, "domain": "veorelay"}],
        }
        body.update(done=True, error=error)
    return body


def _response(result: dict[str, Any]) -> dict[str, Any]:
    return {"@type": RESPONSE_TYPE, "generateVideoResponse": result}
