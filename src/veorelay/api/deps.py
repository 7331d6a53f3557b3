"""FastAPI dependencies, as Annotated aliases: the only place request-scoped wiring happens."""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from veorelay.core.access import check_token
from veorelay.db.accounts import TokenIdentity
from veorelay.errors import AuthenticationFailed
from veorelay.services import Services


async def get_services(request: Request) -> Services:
    # async on purpose: FastAPI runs a plain `def` dependency in a worker thread, and that
    # hand-off would cost more than the whole status poll.
    services: Services = request.app.state.services
    return services


# Declares the bearer scheme in /openapi.json; the header itself is read below, so that a
# missing token and a malformed header get their own error codes.
TOKEN_SCHEME = HTTPBearer(
    auto_error=False,
    scheme_name="token",
    description="A veorelay API token: `Authorization: Bearer sk-vr-...`.",
)


async def get_identity(
    request: Request,
    _scheme: Annotated[HTTPAuthorizationCredentials | None, Security(TOKEN_SCHEME)],
) -> TokenIdentity:
    services: Services = request.app.state.services
    authorization = request.headers.get("authorization")
    return _allowed(request, await services.tokens.authenticate(services.db, authorization))


GOOGLE_KEY_HINT = "Send a veorelay token as the API key: x-goog-api-key: <token>."


async def get_google_identity(request: Request) -> TokenIdentity:
    """The token of a Gemini-protocol request: the API key google-genai sends in
    `x-goog-api-key`, or `?key=` (or a Bearer header, as for the rest of the API)."""
    services: Services = request.app.state.services
    secret = request.headers.get("x-goog-api-key") or request.query_params.get("key")
    authorization = request.headers.get("authorization")
    if secret is None and authorization:
        identity = await services.tokens.authenticate(services.db, authorization)
    elif not secret or not secret.strip():
        raise AuthenticationFailed(f"Missing API key. {GOOGLE_KEY_HINT}", code="missing_api_key")
    else:
        identity = await services.tokens.identify(services.db, secret.strip(), GOOGLE_KEY_HINT)
    return _allowed(request, identity)


def _allowed(request: Request, identity: TokenIdentity) -> TokenIdentity:
    client_ip = request.client.host if request.client else None
    check_token(identity.policy, client_ip, time.time())  # disabled, expired, IP allow-list
    return identity


ServicesDep = Annotated[Services, Depends(get_services)]
IdentityDep = Annotated[TokenIdentity, Depends(get_identity)]
GoogleIdentityDep = Annotated[TokenIdentity, Depends(get_google_identity)]
