"""FastAPI dependencies, as Annotated aliases: the only place request-scoped wiring happens."""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from veorelay.core.access import check_token
from veorelay.db.accounts import TokenIdentity
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
    identity = await services.tokens.authenticate(services.db, authorization)
    client_ip = request.client.host if request.client else None
    check_token(identity.policy, client_ip, time.time())  # disabled, expired, IP allow-list
    return identity


ServicesDep = Annotated[Services, Depends(get_services)]
IdentityDep = Annotated[TokenIdentity, Depends(get_identity)]
