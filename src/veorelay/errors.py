"""The whole error tree. Handlers raise these; one exception handler turns them into JSON.

    VeorelayError                      (500 server_error)
    ├── InvalidRequest                 (400 invalid_request_error; code INVALID_ARGUMENT)
    │   └── ParseRequestFailed         (400; code parse_request_failed: wrong type, bad JSON)
    ├── AuthenticationFailed           (401; code invalid_api_key)
    ├── PermissionDenied               (403)
    ├── NotFound                       (404; code not_found)
    ├── Conflict                       (409; e.g. video_not_ready)
    ├── RequestTimedOut                (408; code request_timeout: the body stopped arriving)
    ├── RequestTooLarge                (413; code request_too_large)
    ├── InsufficientQuota              (429; code insufficient_quota)
    ├── UnsupportedMediaType           (415; body neither JSON nor multipart)
    ├── RateLimited                    (429; code rate_limit_exceeded)
    └── ServiceUnavailable             (503)

The body is always {"error": {"message", "type", "param", "code"}}, as OpenAI's API answers;
under Google's own paths (/v1beta/, api/gemini_native.py) it is Google's
{"error": {"code": <HTTP status>, "message", "status": <its google.rpc name>, "details"}}, the
veorelay code in an ErrorInfo `reason`. The same error, the same HTTP status, either shape.
Upstream failures inside the engine are a separate tree (`veorelay.upstream.errors`); they end
up in a task's `error` field, never in an HTTP answer to a client.
"""

from __future__ import annotations

from typing import Any, ClassVar

GOOGLE_PATH_PREFIX = "/v1beta/"
ERROR_INFO_TYPE = "type.googleapis.com/google.rpc.ErrorInfo"


class VeorelayError(Exception):
    status: ClassVar[int] = 500
    type: ClassVar[str] = "server_error"
    default_code: ClassVar[str] = "internal_error"
    google_status: ClassVar[str] = "INTERNAL"

    def __init__(self, message: str, *, param: str | None = None, code: str | None = None):
        super().__init__(message)
        self.message = message
        self.param = param
        self.code = code or self.default_code

    def headers(self) -> dict[str, str]:
        return {}

    def to_body(self) -> dict[str, Any]:
        return {
            "error": {
                "message": self.message,
                "type": self.type,
                "param": self.param,
                "code": self.code,
            }
        }

    def to_google_body(self) -> dict[str, Any]:
        info: dict[str, Any] = {"@type": ERROR_INFO_TYPE, "reason": self.code, "domain": "veorelay"}
        if self.param is not None:
            info["metadata"] = {"param": self.param}
        return {
            "error": {
                "code": self.status,
                "message": self.message,
                "status": self.google_status,
                "details": [info],
            }
        }

    def body_for(self, path: str) -> dict[str, Any]:
        """The body in the shape the API at `path` speaks."""
        return self.to_google_body() if path.startswith(GOOGLE_PATH_PREFIX) else self.to_body()


class InvalidRequest(VeorelayError):
    status = 400
    type = "invalid_request_error"
    default_code = "INVALID_ARGUMENT"
    google_status = "INVALID_ARGUMENT"


class ParseRequestFailed(InvalidRequest):
    default_code = "parse_request_failed"


class AuthenticationFailed(VeorelayError):
    status = 401
    type = "authentication_error"
    default_code = "invalid_api_key"
    google_status = "UNAUTHENTICATED"


class PermissionDenied(VeorelayError):
    status = 403
    type = "permission_error"
    default_code = "permission_denied"
    google_status = "PERMISSION_DENIED"


class NotFound(VeorelayError):
    status = 404
    type = "invalid_request_error"
    default_code = "not_found"
    google_status = "NOT_FOUND"


class Conflict(VeorelayError):
    status = 409
    type = "invalid_request_error"
    default_code = "conflict"
    google_status = "FAILED_PRECONDITION"


class RequestTimedOut(VeorelayError):
    status = 408
    type = "invalid_request_error"
    default_code = "request_timeout"
    google_status = "DEADLINE_EXCEEDED"

    def headers(self) -> dict[str, str]:
        return {"Connection": "close"}  # the rest of the body may still come: not a request


class RequestTooLarge(VeorelayError):
    status = 413
    type = "invalid_request_error"
    default_code = "request_too_large"
    google_status = "INVALID_ARGUMENT"


class InsufficientQuota(VeorelayError):
    status = 429
    type = "insufficient_quota"
    default_code = "insufficient_quota"
    google_status = "RESOURCE_EXHAUSTED"


class RateLimited(VeorelayError):
    status = 429
    type = "rate_limit_error"
    default_code = "rate_limit_exceeded"
    google_status = "RESOURCE_EXHAUSTED"

    def __init__(
        self,
        message: str,
        *,
        param: str | None = None,
        code: str | None = None,
        retry_after: float | None = None,
    ):
        super().__init__(message, param=param, code=code)
        self.retry_after = retry_after

    def headers(self) -> dict[str, str]:
        if self.retry_after is None:
            return {}
        return {"Retry-After": str(max(1, round(self.retry_after)))}


class ServiceUnavailable(VeorelayError):
    status = 503
    type = "server_error"
    default_code = "service_unavailable"
    google_status = "UNAVAILABLE"


class UnsupportedMediaType(VeorelayError):
    status = 415
    type = "invalid_request_error"
    default_code = "unsupported_media_type"
    google_status = "INVALID_ARGUMENT"
