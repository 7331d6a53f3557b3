"""The one error table both Google surfaces go through (google.rpc.Status bodies)."""

from __future__ import annotations

import pytest

from veorelay.upstream import rpc, wire
from veorelay.upstream.errors import (
    CredentialRejected,
    ModelUnavailable,
    OperationLost,
    RetryableUpstreamError,
    TaskRejected,
    UpstreamError,
)

VERTEX_RETIRED = (
    "Publisher Model `projects/p/locations/us-central1/publishers/google/models/"
    "veo-3.0-generate-001` was not found or your project does not have access to it."
)


def status(code: int, name: str, message: str = "m", **extra: object) -> dict[str, object]:
    return {"error": {"code": code, "status": name, "message": message, **extra}}


@pytest.mark.parametrize(
    ("http", "body", "about_model", "kind"),
    [
        (
            429,
            status(429, "RESOURCE_EXHAUSTED", "Resource exhausted."),
            False,
            RetryableUpstreamError,
        ),
        (500, status(500, "INTERNAL"), False, RetryableUpstreamError),
        (
            503,
            status(503, "UNAVAILABLE", "The model is overloaded."),
            False,
            RetryableUpstreamError,
        ),
        (504, status(504, "DEADLINE_EXCEEDED"), False, RetryableUpstreamError),
        (408, "not json", False, RetryableUpstreamError),
        (502, "<html>bad gateway</html>", False, RetryableUpstreamError),
        (400, status(400, "INVALID_ARGUMENT", "durationSeconds out of bound"), False, TaskRejected),
        (400, status(400, "FAILED_PRECONDITION"), False, TaskRejected),
        (
            401,
            status(401, "UNAUTHENTICATED", "Request had invalid credentials."),
            False,
            CredentialRejected,
        ),
        (
            403,
            status(403, "PERMISSION_DENIED", "Permission denied on resource"),
            False,
            CredentialRejected,
        ),
        (
            400,
            status(
                400,
                "INVALID_ARGUMENT",
                "API key not valid. Please pass a valid API key.",
                details=[
                    {
                        "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                        "reason": "API_KEY_INVALID",
                    }
                ],
            ),
            False,
            CredentialRejected,
        ),
        (
            400,
            status(400, "INVALID_ARGUMENT", "API key expired. Please renew."),
            False,
            CredentialRejected,
        ),
        (404, status(404, "NOT_FOUND", VERTEX_RETIRED), True, ModelUnavailable),
        (404, status(404, "NOT_FOUND", VERTEX_RETIRED), False, ModelUnavailable),
        (
            404,
            status(404, "NOT_FOUND", "models/veo-3.1-generate-preview is no longer available"),
            False,
            ModelUnavailable,
        ),
        (404, status(404, "NOT_FOUND", "Operation not found"), True, ModelUnavailable),
        (404, status(404, "NOT_FOUND", "Operation not found"), False, OperationLost),
        (
            404,
            status(404, "NOT_FOUND", "No such object: bucket/videos/1/sample_0.mp4"),
            False,
            OperationLost,
        ),
    ],
)
def test_error_table(http: int, body: object, about_model: bool, kind: type[UpstreamError]) -> None:
    error = rpc.classify_error(http, body, about_model=about_model)
    assert type(error) is kind
    assert error.http_status == http


def test_the_gemini_wire_uses_the_same_table() -> None:
    assert wire.classify_error is rpc.classify_error


@pytest.mark.parametrize(("delay", "seconds"), [("12s", 12.0), ("1.5s", 1.5), ("0s", 0.0)])
def test_retry_info_gives_the_retry_delay(delay: str, seconds: float) -> None:
    body = status(
        429,
        "RESOURCE_EXHAUSTED",
        details=[
            {"@type": "type.googleapis.com/google.rpc.Help", "links": []},
            {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": delay},
        ],
    )
    error = rpc.classify_error(429, body)
    assert isinstance(error, RetryableUpstreamError)
    assert error.retry_after == seconds


@pytest.mark.parametrize("delay", ["soon", "12", "", None])
def test_a_malformed_retry_delay_is_no_delay(delay: object) -> None:
    body = status(
        429, "RESOURCE_EXHAUSTED", details=[{"@type": "google.rpc.RetryInfo", "retryDelay": delay}]
    )
    error = rpc.classify_error(429, body)
    assert isinstance(error, RetryableUpstreamError)
    assert error.retry_after is None


def test_the_message_keeps_status_and_google_words_but_not_forever() -> None:
    error = rpc.classify_error(400, status(400, "INVALID_ARGUMENT", "bad seed " + "x" * 2000))
    assert error.message.startswith("400 INVALID_ARGUMENT: bad seed")
    assert len(error.message) <= rpc.MAX_MESSAGE


@pytest.mark.parametrize(
    ("code", "name"),
    [
        (3, "INVALID_ARGUMENT"),
        (8, "RESOURCE_EXHAUSTED"),
        (16, "UNAUTHENTICATED"),
        (99, "99"),
        ("X", "X"),
    ],
)
def test_operation_codes_are_named(code: object, name: str) -> None:
    assert rpc.code_name(code) == name
