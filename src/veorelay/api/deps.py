"""FastAPI dependencies, as Annotated aliases: the only place request-scoped wiring happens."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Request

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
    return await services.tokens.authenticate(services.db, authorization)


ServicesDep = Annotated[Services, Depends(get_services)]
IdentityDep = Annotated[TokenIdentity, Depends(get_identity)]
