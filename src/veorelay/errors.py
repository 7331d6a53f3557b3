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

The body is always {"error": {"message", "type", "param", "code"}}, as OpenAI's API answers.
Upstream failures inside the engine are a separate tree (`veorelay.upstream.errors`); they end
up in a task's `error` field, never in an HTTP answer to a client.
"""

from __future__ import annotations

from typing import Any, ClassVar


class VeorelayError(Exception):
    status: ClassVar[int] = 500
    type: ClassVar[str] = "server_error"
    default_code: ClassVar[str] = "internal_error"

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


class InvalidRequest(VeorelayError):
    status = 400
    type = "invalid_request_error"
    default_code = "INVALID_ARGUMENT"


class ParseRequestFailed(InvalidRequest):
    default_code = "parse_request_failed"


class AuthenticationFailed(VeorelayError):
    status = 401
    type = "authentication_error"
    default_code = "invalid_api_key"


class PermissionDenied(VeorelayError):
    status = 403
    type = "permission_error"
    default_code = "permission_denied"


class NotFound(VeorelayError):
    status = 404
    type = "invalid_request_error"
    default_code = "not_found"


class Conflict(VeorelayError):
    status = 409
    type = "invalid_request_error"
    default_code = "conflict"


class RequestTimedOut(VeorelayError):
    status = 408
    type = "invalid_request_error"
    default_code = "request_timeout"

    def headers(self) -> dict[str, str]:
        return {"Connection": "close"}  # the rest of the body may still come: not a request


class RequestTooLarge(VeorelayError):
    status = 413
    type = "invalid_request_error"
    default_code = "request_too_large"


class InsufficientQuota(VeorelayError):
    status = 429
    type = "insufficient_quota"
    default_code = "insufficient_quota"


class RateLimited(VeorelayError):
    status = 429
    type = "rate_limit_error"
    default_code = "rate_limit_exceeded"

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


class UnsupportedMediaType(VeorelayError):
    status = 415
    type = "invalid_request_error"
    default_code = "unsupported_media_type"
