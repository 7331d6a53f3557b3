"""Upstream failures, classified once (DESIGN.md "Upstream"). Never shown to clients verbatim.

UpstreamError
├── RetryableUpstreamError   429 (with the server's retry delay), 5xx, timeouts, resets
├── TaskRejected             400 INVALID_ARGUMENT and other answers that doom this task
├── CredentialRejected       401/403/invalid key: the operator's key is wrong, not the task
├── ModelUnavailable         404 for the model: unknown or retired ("no longer available")
└── OperationLost            404 for an operation or file: expired or never existed
"""

from __future__ import annotations


class UpstreamError(Exception):
    code: str = "upstream_error"
    # What the customer is told, where Google's own words concern the operator, not them.
    public_message: str | None = None

    def __init__(self, message: str, *, http_status: int | None = None):
        super().__init__(message)
        self.message = message
        self.http_status = http_status

    @property
    def customer_message(self) -> str:
        return self.public_message or self.message


class RetryableUpstreamError(UpstreamError):
    code = "upstream_unavailable"

    def __init__(
        self, message: str, *, http_status: int | None = None, retry_after: float | None = None
    ):
        super().__init__(message, http_status=http_status)
        self.retry_after = retry_after


class TaskRejected(UpstreamError):
    code = "upstream_rejected"


class CredentialRejected(UpstreamError):
    code = "upstream_credentials"
    public_message = (
        "The gateway's upstream credentials were refused, so the video could not be made. "
        "The operator has to fix them; you have not been charged."
    )


class ModelUnavailable(UpstreamError):
    code = "model_unavailable"


class OperationLost(UpstreamError):
    code = "upstream_result_expired"


class InvalidVideo(UpstreamError):
    code = "invalid_video"
