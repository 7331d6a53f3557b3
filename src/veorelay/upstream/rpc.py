"""google.rpc.Status, the error body both Google surfaces speak, classified once.

`{"error": {"code": 429, "message": "...", "status": "RESOURCE_EXHAUSTED", "details": [...]}}`
from the Gemini API and from Vertex AI alike. The table, first match wins:

    429, 408, 5xx, RESOURCE_EXHAUSTED, UNAVAILABLE  -> RetryableUpstreamError (RetryInfo delay)
    401, 403, UNAUTHENTICATED, PERMISSION_DENIED,
      API_KEY_INVALID, "API key not valid"          -> CredentialRejected
    404 / NOT_FOUND about a model, or naming one    -> ModelUnavailable
    404 / NOT_FOUND otherwise (operation, object)   -> OperationLost
    anything else (400 INVALID_ARGUMENT, ...)       -> TaskRejected
"""

from __future__ import annotations

import re
from typing import Any

import httpx

from veorelay.upstream.errors import (
    CredentialRejected,
    ModelUnavailable,
    OperationLost,
    RetryableUpstreamError,
    TaskRejected,
    UpstreamError,
)

# google.rpc.Code: the numbers an operation's `error.code` carries.
RPC_CODES = {
    0: "OK",
    1: "CANCELLED",
    2: "UNKNOWN",
    3: "INVALID_ARGUMENT",
    4: "DEADLINE_EXCEEDED",
    5: "NOT_FOUND",
    6: "ALREADY_EXISTS",
    7: "PERMISSION_DENIED",
    8: "RESOURCE_EXHAUSTED",
    9: "FAILED_PRECONDITION",
    10: "ABORTED",
    11: "OUT_OF_RANGE",
    12: "UNIMPLEMENTED",
    13: "INTERNAL",
    14: "UNAVAILABLE",
    15: "DATA_LOSS",
    16: "UNAUTHENTICATED",
}
_RETRYABLE_STATUSES = {"RESOURCE_EXHAUSTED", "UNAVAILABLE", "DEADLINE_EXCEEDED"}
_CREDENTIAL_STATUSES = {"UNAUTHENTICATED", "PERMISSION_DENIED"}
_CREDENTIAL_REASONS = {"API_KEY_INVALID", "API_KEY_EXPIRED", "ACCESS_TOKEN_EXPIRED"}
_CREDENTIAL_MESSAGES = ("api key not valid", "api key expired")
# How a 404 says the model (not the operation) is missing: Vertex's "Publisher Model
# `projects/...` was not found or your project does not have access to it", the Gemini API's
# "models/x is not found for API version v1beta", and a retirement's "is no longer available".
_MODEL_MESSAGES = re.compile(
    r"publisher model|your project does not have access|is no longer available|"
    r"\bmodels/[^/\s]+ is not found",
    re.IGNORECASE,
)
_DELAY = re.compile(r"^\s*(\d+(?:\.\d+)?)s\s*$")
MAX_MESSAGE = 500


def code_name(code: object) -> str:
    """An operation error's `code` as its google.rpc.Code name ("13" -> "INTERNAL")."""
    return RPC_CODES.get(code, str(code)) if isinstance(code, int) else str(code)


def classify_error(http_status: int, body: Any, *, about_model: bool = False) -> UpstreamError:
    """What an upstream HTTP error means for the task. `about_model`: the request named a model
    (submit, probe), so a 404 means the model is unknown or retired."""
    error = body.get("error") if isinstance(body, dict) else None
    error = error if isinstance(error, dict) else {}
    status = str(error.get("status") or "")
    text = str(error.get("message") or "no message")
    message = f"{http_status} {status}: {text}"[:MAX_MESSAGE]
    details = [d for d in error.get("details") or [] if isinstance(d, dict)]
    reasons = {d.get("reason") for d in details}
    if http_status in (408, 429) or http_status >= 500 or status in _RETRYABLE_STATUSES:
        return RetryableUpstreamError(
            message, http_status=http_status, retry_after=retry_delay(details)
        )
    if (
        http_status in (401, 403)
        or status in _CREDENTIAL_STATUSES
        or reasons & _CREDENTIAL_REASONS
        or any(m in text.lower() for m in _CREDENTIAL_MESSAGES)
    ):
        return CredentialRejected(message, http_status=http_status)
    if http_status == 404 or status == "NOT_FOUND":
        if about_model or _MODEL_MESSAGES.search(text):
            return ModelUnavailable(message, http_status=http_status)
        return OperationLost(message, http_status=http_status)
    return TaskRejected(message, http_status=http_status)


def retry_delay(details: list[dict[str, Any]]) -> float | None:
    """The server's wait from a google.rpc.RetryInfo detail: "12s", "1.5s"."""
    for detail in details:
        if str(detail.get("@type", "")).endswith("google.rpc.RetryInfo"):
            match = _DELAY.match(str(detail.get("retryDelay", "")))
            if match:
                return float(match.group(1))
    return None


def json_body(response: httpx.Response) -> Any:
    """A response's JSON; for a body that is not JSON, a google.rpc.Status-shaped stand-in."""
    try:
        return response.json()
    except ValueError:
        return {"error": {"message": response.text[:200], "status": response.reason_phrase}}
