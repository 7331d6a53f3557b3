"""Who is signed in, and what protects the forms: sessions, CSRF tokens and sign-in throttling.

- The session cookie holds a random secret (the database keeps only its hash); it is HttpOnly,
  SameSite=Strict and path /console, and Secure when the console is served over HTTPS. The
  admin key and API tokens are checked once at sign-in and never kept in the browser.
- Every POST carries the session's CSRF token (a form field or the X-CSRF-Token header);
  sign-in, which has no session yet, uses a double-submit cookie.
- A customer session resolves to its token on every request, so a disabled, expired or
  deleted token ends the session at once; the operator pages refuse it with 403.
"""

from __future__ import annotations

import hmac
import secrets
import time
from collections import deque
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.responses import Response

from veorelay.api.admin.audited import ACTOR
from veorelay.core.access import check_token
from veorelay.db import accounts
from veorelay.db import console_sessions as session_db
from veorelay.db.accounts import TokenIdentity
from veorelay.db.console_sessions import ConsoleSession
from veorelay.errors import PermissionDenied, RateLimited, VeorelayError
from veorelay.services import Services

SESSION_COOKIE = "veorelay_console"
SIGNIN_COOKIE = "veorelay_console_signin"
COOKIE_PATH = "/console"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"


class SignInRequired(Exception):
    """Answered with a redirect to the sign-in page (see console_errors in app.py)."""


class ConsoleForbidden(PermissionDenied):
    """A signed-in user asked for a page that is not theirs."""


@dataclass(frozen=True)
class Customer:
    session: ConsoleSession
    identity: TokenIdentity


def services_of(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


async def current_session(request: Request) -> ConsoleSession | None:
    secret = request.cookies.get(SESSION_COOKIE)
    if not secret:
        return None
    services = services_of(request)
    async with services.db.read() as conn:
        session = await session_db.find_session(conn, secret, time.time())
    request.state.console_session = session
    return session


async def _csrf_ok(request: Request, expected: str) -> bool:
    given = request.headers.get(CSRF_HEADER)
    if given is None and request.method == "POST":
        content_type = request.headers.get("content-type", "")
        if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
            form = await request.form()
            value = form.get(CSRF_FIELD)
            given = value if isinstance(value, str) else None
    return given is not None and hmac.compare_digest(given.encode(), expected.encode())


async def check_csrf(request: Request, expected: str) -> None:
    if request.method in ("GET", "HEAD"):
        return
    if not await _csrf_ok(request, expected):
        raise PermissionDenied(
            "The form has expired or did not come from this console; reload the page and retry.",
            code="csrf_failed",
        )


async def require_customer(request: Request) -> Customer:
    session = await current_session(request)
    if session is None or session.token_id is None:
        if session is not None:  # the operator: customer pages are an account's own
            raise ConsoleForbidden(
                "Operator sessions have no account; sign in with an API token.",
                code="customer_only",
            )
        raise SignInRequired()
    services = services_of(request)
    async with services.db.read() as conn:
        identity = await accounts.find_token_by_id(conn, session.token_id)
    if identity is None:
        raise SignInRequired()
    try:
        check_token(identity.policy, request.client.host if request.client else None, time.time())
    except VeorelayError:
        raise SignInRequired() from None
    await check_csrf(request, session.csrf_token)
    return Customer(session=session, identity=identity)


async def require_operator(request: Request) -> ConsoleSession:
    session = await current_session(request)
    if session is None:
        raise SignInRequired()
    if not session.is_operator:
        raise ConsoleForbidden("These pages are the operator's.", code="operator_only")
    if services_of(request).settings.admin_key is None:
        raise SignInRequired()  # the admin key was unset since: operator sessions end
    await check_csrf(request, session.csrf_token)
    ACTOR.set("console")  # the admin handlers this request calls record who changed things
    return session


CustomerDep = Annotated[Customer, Depends(require_customer)]
OperatorDep = Annotated[ConsoleSession, Depends(require_operator)]


def set_cookie(request: Request, response: Response, name: str, value: str, max_age: int) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path=COOKIE_PATH,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )


def new_signin_nonce() -> str:
    return secrets.token_urlsafe(24)


class SignInThrottle:
    """At most `limit` failed sign-ins per client address in `window` seconds, then 429.

    Per process: with several replicas an attacker gets `limit` tries per replica, still far
    too few to guess a 256-bit token or a long admin key."""

    def __init__(self, limit: int = 10, window: float = 900.0) -> None:
        self.limit = limit
        self.window = window
        self._failures: dict[str, deque[float]] = {}

    def check(self, client: str, now: float) -> None:
        recent = self._recent(client, now)
        if len(recent) >= self.limit:
            retry = int(recent[0] + self.window - now) + 1
            raise RateLimited(
                f"Too many failed sign-ins from this address; try again in {retry} s.",
                code="sign_in_throttled",
                retry_after=retry,
            )

    def failed(self, client: str, now: float) -> None:
        self._recent(client, now).append(now)
        if len(self._failures) > 100_000:  # bounded memory under a spray of addresses
            self._failures.clear()

    def _recent(self, client: str, now: float) -> deque[float]:
        recent = self._failures.setdefault(client, deque())
        while recent and recent[0] <= now - self.window:
            recent.popleft()
        return recent
