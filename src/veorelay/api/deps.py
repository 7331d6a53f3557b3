"""FastAPI dependencies, as Annotated aliases: the only place request-scoped wiring happens."""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import Depends, Header, Request

from veorelay.core.access import check_token
from veorelay.db.accounts import TokenIdentity
from veorelay.services import Services


async def get_services(request: Request) -> Services:
    # async on purpose: FastAPI runs a plain `def` dependency in a worker thread, and that
    # hand-off would cost more than the whole status poll.
    services: Services = request.app.state.services
    return services


async def get_identity(
    request: Request, authorization: Annotated[str | None, Header()] = None
) -> TokenIdentity:
    services: Services = request.app.state.services
    identity = await services.tokens.authenticate(services.db, authorization)
    client_ip = request.client.host if request.client else None
    check_token(identity.policy, client_ip, time.time())  # disabled, expired, IP allow-list
    return identity


ServicesDep = Annotated[Services, Depends(get_services)]
IdentityDep = Annotated[TokenIdentity, Depends(get_identity)]
