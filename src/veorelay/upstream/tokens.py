"""OAuth access tokens for a Vertex AI service account, from google-auth.

google-auth signs a JWT with the account's private key and trades it at the key file's
`token_uri` for an hour-long access token. Its refresh blocks (it uses `requests`), so it runs
in a worker thread, one refresh at a time per account; the token is refreshed a little before
it expires (a tenth of its lifetime, at most five minutes), and at once when Google says 401.
Neither the token nor the key appears in a repr, a log line or an exception message.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import google.auth.transport.requests
import requests
from google.auth import exceptions as auth_exceptions
from google.oauth2 import service_account

from veorelay.upstream.errors import CredentialRejected, RetryableUpstreamError

SCOPE = "https://www.googleapis.com/auth/cloud-platform"
REFRESH_MARGIN = 300.0
TOKEN_TIMEOUT = 30.0


class _TimedRequest(google.auth.transport.requests.Request):
    """google-auth's requests transport with a timeout; its default waits two minutes."""

    def __call__(  # type: ignore[no-untyped-def]
        self, url, method="GET", body=None, headers=None, timeout=TOKEN_TIMEOUT, **kwargs
    ):
        return super().__call__(url, method, body, headers, timeout, **kwargs)  # type: ignore[no-untyped-call]


class ServiceAccountTokens:
    def __init__(self, info: Mapping[str, Any]):
        try:
            self._credentials = service_account.Credentials.from_service_account_info(  # type: ignore[no-untyped-call]
                dict(info), scopes=[SCOPE]
            )
        except (ValueError, KeyError, TypeError) as exc:
            # google-auth names the missing fields; a key that does not parse says only that.
            reason = str(exc) if "missing fields" in str(exc) else type(exc).__name__
            raise ValueError(f"not a usable service-account key: {reason}") from None
        self.email: str = self._credentials.service_account_email
        self._lock = asyncio.Lock()
        # A caller cancelled while its refresh runs frees `_lock`, not the thread: this keeps
        # a second refresh of the same credentials from running beside the first.
        self._thread_lock = threading.Lock()
        self._token: str | None = None
        self._refresh_at = 0.0  # time.monotonic()

    def __repr__(self) -> str:
        return f"ServiceAccountTokens({self.email!r})"

    async def token(self, *, rejected: str | None = None, fresh: bool = False) -> str:
        """A current access token. `rejected`: the token Google just answered 401 to, so a
        newer one is needed; `fresh`: refresh regardless (a credential test)."""
        current = self._current(rejected)
        if current is not None and not fresh:
            return current
        async with self._lock:
            current = self._current(rejected)
            if current is not None and not fresh:
                return current  # another caller refreshed while we waited
            token, lifetime = await asyncio.to_thread(self._refresh)
            self._token = token
            self._refresh_at = time.monotonic() + lifetime - min(REFRESH_MARGIN, lifetime / 10)
            return token

    def _current(self, rejected: str | None) -> str | None:
        token = self._token
        if token is None or token == rejected or time.monotonic() >= self._refresh_at:
            return None
        return token

    def _refresh(self) -> tuple[str, float]:
        """In a worker thread: ask the token endpoint; (token, seconds it stays valid)."""
        with self._thread_lock:
            return self._refresh_locked()

    def _refresh_locked(self) -> tuple[str, float]:
        session = requests.Session()
        try:
            self._credentials.refresh(_TimedRequest(session))
        except auth_exceptions.RefreshError as exc:
            if exc.retryable:
                raise RetryableUpstreamError(
                    f"token endpoint failed for {self.email}: {_describe(exc)}"
                ) from None
            raise CredentialRejected(
                f"service account {self.email} was refused a token: {_describe(exc)}",
                http_status=400,
            ) from None
        except auth_exceptions.TransportError as exc:
            cause = type(exc.__cause__ or exc).__name__
            raise RetryableUpstreamError(f"token endpoint unreachable ({cause})") from None
        finally:
            session.close()
        token = self._credentials.token
        if not isinstance(token, str) or not token:
            raise CredentialRejected(f"token endpoint gave {self.email} no access token")
        expiry = self._credentials.expiry
        if expiry is None:
            return token, 3600.0
        if expiry.tzinfo is None:  # google-auth keeps naive UTC
            expiry = expiry.replace(tzinfo=UTC)
        return token, max(0.0, (expiry - datetime.now(UTC)).total_seconds())


def _describe(exc: auth_exceptions.RefreshError) -> str:
    """The OAuth error and its description (never a token: a refused grant carries none)."""
    data = exc.args[1] if len(exc.args) > 1 else None
    if isinstance(data, dict) and "error" in data:
        text = f"{data['error']}: {data.get('error_description') or ''}".rstrip(": ")
    else:
        text = str(exc.args[0]) if exc.args else type(exc).__name__
    return text[:200]
