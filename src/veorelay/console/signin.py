"""Signing in (an API token or the admin key) and out."""

from __future__ import annotations

import hmac
import time
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from veorelay.console import guard
from veorelay.console.render import page
from veorelay.core.access import check_token
from veorelay.db import accounts
from veorelay.db import console_sessions as session_db
from veorelay.errors import PermissionDenied, VeorelayError

router = APIRouter(prefix="/console")
THROTTLE_STATE = "console_sign_in_throttle"


def _throttle(request: Request) -> guard.SignInThrottle:
    state = request.app.state
    if not hasattr(state, THROTTLE_STATE):
        setattr(state, THROTTLE_STATE, guard.SignInThrottle())
    throttle: guard.SignInThrottle = getattr(state, THROTTLE_STATE)
    return throttle


@router.get("")
@router.get("/")
async def home(request: Request) -> Response:
    session = await guard.current_session(request)
    if session is None:
        return RedirectResponse("/console/sign-in", status_code=303)
    return RedirectResponse(
        "/console/admin" if session.is_operator else "/console/dashboard", status_code=303
    )


@router.get("/sign-in")
async def sign_in_form(request: Request, error: str | None = None) -> Response:
    guard.services_of(request)
    nonce = guard.new_signin_nonce()
    response = page(request, "sign_in.html", nonce=nonce, error=error)
    guard.set_cookie(request, response, guard.SIGNIN_COOKIE, nonce, max_age=3600)
    return response


@router.post("/sign-in")
async def sign_in(
    request: Request,
    secret: Annotated[str, Form(max_length=1000)],
    csrf_token: Annotated[str, Form(max_length=200)] = "",
    role: Annotated[str, Form(max_length=20)] = "customer",
    username: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    services = guard.services_of(request)
    nonce = request.cookies.get(guard.SIGNIN_COOKIE, "")
    if not nonce or not hmac.compare_digest(nonce.encode(), csrf_token.encode()):
        raise PermissionDenied(
            "The sign-in form has expired; reload the page and retry.", code="csrf_failed"
        )
    client = request.client.host if request.client else "unknown"
    now = time.time()
    throttle = _throttle(request)
    throttle.check(client, now)
    secret = secret.strip()
    username = username.strip()
    account_id = token_id = None
    if role == "operator":
        key = services.settings.admin_key
        ok = key is not None and hmac.compare_digest(
            secret.encode(), key.get_secret_value().encode()
        )
    else:
        role = "customer"
        async with services.db.read() as conn:
            if username:  # a login a token holder made: it signs in as that token
                login_token = await session_db.check_login(conn, username, secret)
                identity = None
                if login_token is not None:
                    identity = await accounts.find_token_by_id(conn, login_token)
            else:
                identity = await accounts.find_token(conn, secret) if secret else None
        ok = identity is not None
        if identity is not None:
            try:
                check_token(identity.policy, client, now)
            except VeorelayError as exc:
                return _refused(request, exc.message)
            account_id, token_id = identity.account_id, identity.token_id
    if not ok:
        throttle.failed(client, now)
        what = (
            "admin key"
            if role == "operator"
            else "username or password"
            if username
            else "API token"
        )
        return _refused(request, f"That {what} was not accepted.")
    lifetime = services.settings.console_session_seconds
    async with services.db.write() as conn:
        await session_db.prune(conn, now)
        cookie = await session_db.open_session(
            conn, role=role, account_id=account_id, token_id=token_id, now=now, lifetime=lifetime
        )
    target = "/console/admin" if role == "operator" else "/console/dashboard"
    response = RedirectResponse(target, status_code=303)
    guard.set_cookie(request, response, guard.SESSION_COOKIE, cookie, max_age=int(lifetime))
    response.delete_cookie(guard.SIGNIN_COOKIE, path=guard.COOKIE_PATH)
    return response


def _refused(request: Request, message: str) -> Response:
    nonce = guard.new_signin_nonce()
    response = page(request, "sign_in.html", status_code=401, nonce=nonce, error=message)
    guard.set_cookie(request, response, guard.SIGNIN_COOKIE, nonce, max_age=3600)
    return response


@router.post("/sign-out")
async def sign_out(request: Request) -> Response:
    session = await guard.current_session(request)
    secret = request.cookies.get(guard.SESSION_COOKIE)
    if session is not None and secret:
        await guard.check_csrf(request, session.csrf_token)
        services = guard.services_of(request)
        async with services.db.write() as conn:
            await session_db.close_session(conn, secret)
    response = RedirectResponse("/console/sign-in", status_code=303)
    response.delete_cookie(guard.SESSION_COOKIE, path=guard.COOKIE_PATH)
    return response
