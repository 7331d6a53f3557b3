"""Webhook endpoints of the token's account, at OpenAI's paths (/v1/webhook_endpoints).

The handlers' bodies are the functions below, which take the account they act for (None: any
account, for the admin API in api/admin/webhooks.py and the CLI), so the three agree.
"""

from __future__ import annotations

import time
from typing import Annotated, Any

from fastapi import APIRouter, Query

from veorelay.api.deps import IdentityDep, ServicesDep
from veorelay.api.schemas import error_responses
from veorelay.api.webhook_schemas import (
    EndpointCreate,
    EndpointUpdate,
    RotateSecret,
    WebhookDelivery,
    WebhookDeliveryList,
    WebhookEndpoint,
    WebhookEndpointDeleted,
    WebhookEndpointList,
    WebhookEndpointWithSecret,
    delivery_view,
    endpoint_view,
)
from veorelay.core.webhooks import check_target
from veorelay.db import webhook_endpoints as endpoint_db
from veorelay.db import webhooks as webhook_db
from veorelay.errors import Conflict, NotFound
from veorelay.services import Services

KEEP_OLD_SECRET_SECONDS = 24 * 3600.0

router = APIRouter(tags=["webhooks"], responses=error_responses(400, 401, 403, 404))


# --- the shared bodies -----------------------------------------------------------------


def _missing(endpoint_id: str) -> NotFound:
    return NotFound(f"No webhook endpoint {endpoint_id!r}.", param="webhook_endpoint_id")


def _known(endpoint_id: str) -> str:
    """The id, if it could name an endpoint; anything else is unknown without a query."""
    if not endpoint_db.is_endpoint_id(endpoint_id):
        raise _missing(endpoint_id)
    return endpoint_id


async def create(
    services: Services, account_id: str, body: EndpointCreate, *, with_account: bool = False
) -> WebhookEndpointWithSecret:
    check_target(body.url, services.settings.webhook_allow_private)
    async with services.db.write() as conn:
        row, secret = await endpoint_db.create_endpoint(
            conn,
            services.secrets,
            account_id,
            body.name,
            body.url,
            list(dict.fromkeys(e.value for e in body.event_types)),
            time.time(),
        )
    view = endpoint_view(row, with_account=with_account)
    return WebhookEndpointWithSecret(**view.model_dump(), signing_secret=secret)


async def retrieve(services: Services, account_id: str | None, endpoint_id: str) -> WebhookEndpoint:
    async with services.db.read() as conn:
        row = await endpoint_db.get_endpoint(conn, _known(endpoint_id), account_id)
    if row is None:
        raise _missing(endpoint_id)
    return endpoint_view(row, with_account=account_id is None)


async def listing(
    services: Services,
    account_id: str | None,
    after: str | None,
    limit: int,
    *,
    with_account: bool = False,
) -> WebhookEndpointList:
    rows: list[dict[str, Any]] = []
    has_more = False
    if not after or endpoint_db.is_endpoint_id(after):  # else: an unknown id, an empty page
        async with services.db.read() as conn:
            rows, has_more = await endpoint_db.list_endpoints(
                conn, account_id, after or None, limit
            )
    views = [endpoint_view(r, with_account=with_account) for r in rows]
    return WebhookEndpointList(
        data=views,
        first_id=views[0].id if views else None,
        last_id=views[-1].id if views else None,
        has_more=has_more,
    )


async def update(
    services: Services, account_id: str | None, endpoint_id: str, body: EndpointUpdate
) -> WebhookEndpoint:
    changes = {k: v for k, v in body.model_dump(exclude_unset=True).items() if v is not None}
    if "url" in changes:
        check_target(changes["url"], services.settings.webhook_allow_private)
    if "event_types" in changes:
        changes["event_types"] = list(dict.fromkeys(e.value for e in body.event_types or []))
    async with services.db.write() as conn:
        if not await endpoint_db.update_endpoint(
            conn, _known(endpoint_id), account_id, time.time(), **changes
        ):
            raise _missing(endpoint_id)
    return await retrieve(services, account_id, endpoint_id)


async def delete(
    services: Services, account_id: str | None, endpoint_id: str
) -> WebhookEndpointDeleted:
    async with services.db.write() as conn:
        deleted = await endpoint_db.delete_endpoint(
            conn, _known(endpoint_id), account_id, time.time()
        )
        if not deleted:
            raise _missing(endpoint_id)
    return WebhookEndpointDeleted(id=endpoint_id)


async def rotate(
    services: Services, account_id: str | None, endpoint_id: str, body: RotateSecret | None
) -> WebhookEndpointWithSecret:
    kept = body is not None and body.keep_old_secret_active_for_24_hours
    keep = KEEP_OLD_SECRET_SECONDS if kept else 0.0
    async with services.db.write() as conn:
        secret = await endpoint_db.rotate_secret(
            conn, services.secrets, _known(endpoint_id), account_id, time.time(), keep
        )
    if secret is None:
        raise _missing(endpoint_id)
    view = await retrieve(services, account_id, endpoint_id)
    return WebhookEndpointWithSecret(**view.model_dump(), signing_secret=secret)


async def deliveries(
    services: Services, account_id: str | None, endpoint_id: str, limit: int
) -> WebhookDeliveryList:
    await retrieve(services, account_id, endpoint_id)
    async with services.db.read() as conn:
        rows = await webhook_db.list_deliveries(conn, endpoint_id, limit)
    return WebhookDeliveryList(data=[delivery_view(r) for r in rows])


async def redeliver(
    services: Services, account_id: str | None, endpoint_id: str, delivery_id: str
) -> WebhookDelivery:
    endpoint = await retrieve(services, account_id, endpoint_id)
    if not endpoint.enabled:
        raise Conflict(  # a disabled endpoint sends nothing: enable it first
            f"Webhook endpoint {endpoint_id!r} is disabled; enable it to redeliver.",
            param="webhook_endpoint_id",
            code="webhook_endpoint_disabled",
        )
    row = None
    if webhook_db.is_delivery_id(delivery_id):
        async with services.db.write() as conn:
            row = await webhook_db.redeliver(conn, endpoint_id, delivery_id, time.time())
    if row is None:
        raise NotFound(f"No delivery {delivery_id!r} of this endpoint.", param="delivery_id")
    return delivery_view(row)


# --- /v1/webhook_endpoints ---------------------------------------------------------------

Limit = Annotated[int, Query(ge=1, le=100, description="Page size.")]
DeliveryLimit = Annotated[int, Query(ge=1, le=100, description="How many, newest first.")]


@router.post(
    "/v1/webhook_endpoints",
    operation_id="createWebhookEndpoint",
    response_model=WebhookEndpointWithSecret,
)
async def create_endpoint(
    body: EndpointCreate, identity: IdentityDep, services: ServicesDep
) -> WebhookEndpointWithSecret:
    """Register an endpoint for `video.completed` and/or `video.failed`. The signing secret
    is in this answer only."""
    return await create(services, identity.account_id, body)


@router.get(
    "/v1/webhook_endpoints",
    operation_id="listWebhookEndpoints",
    response_model=WebhookEndpointList,
)
async def list_endpoints(
    identity: IdentityDep,
    services: ServicesDep,
    after: Annotated[str | None, Query(description="List after this endpoint id.")] = None,
    limit: Limit = 20,
) -> WebhookEndpointList:
    """The account's endpoints, newest first."""
    return await listing(services, identity.account_id, after, limit)


@router.get(
    "/v1/webhook_endpoints/{webhook_endpoint_id}",
    operation_id="retrieveWebhookEndpoint",
    response_model=WebhookEndpoint,
)
async def retrieve_endpoint(
    webhook_endpoint_id: str, identity: IdentityDep, services: ServicesDep
) -> WebhookEndpoint:
    return await retrieve(services, identity.account_id, webhook_endpoint_id)


@router.post(
    "/v1/webhook_endpoints/{webhook_endpoint_id}",
    operation_id="updateWebhookEndpoint",
    response_model=WebhookEndpoint,
)
async def update_endpoint(
    webhook_endpoint_id: str, body: EndpointUpdate, identity: IdentityDep, services: ServicesDep
) -> WebhookEndpoint:
    """Change the fields given; `enabled: true` resumes an endpoint that was disabled."""
    return await update(services, identity.account_id, webhook_endpoint_id, body)


@router.delete(
    "/v1/webhook_endpoints/{webhook_endpoint_id}",
    operation_id="deleteWebhookEndpoint",
    response_model=WebhookEndpointDeleted,
)
async def delete_endpoint(
    webhook_endpoint_id: str, identity: IdentityDep, services: ServicesDep
) -> WebhookEndpointDeleted:
    """Delete an endpoint; its pending deliveries are dropped."""
    return await delete(services, identity.account_id, webhook_endpoint_id)


@router.post(
    "/v1/webhook_endpoints/{webhook_endpoint_id}/rotate_secret",
    operation_id="rotateWebhookSecret",
    response_model=WebhookEndpointWithSecret,
)
async def rotate_secret(
    webhook_endpoint_id: str,
    identity: IdentityDep,
    services: ServicesDep,
    body: RotateSecret | None = None,
) -> WebhookEndpointWithSecret:
    """A new signing secret, in this answer only. With `keep_old_secret_active_for_24_hours`
    deliveries carry both signatures for a day."""
    return await rotate(services, identity.account_id, webhook_endpoint_id, body)


@router.get(
    "/v1/webhook_endpoints/{webhook_endpoint_id}/deliveries",
    operation_id="listWebhookDeliveries",
    response_model=WebhookDeliveryList,
)
async def list_deliveries(
    webhook_endpoint_id: str,
    identity: IdentityDep,
    services: ServicesDep,
    limit: DeliveryLimit = 50,
) -> WebhookDeliveryList:
    """The endpoint's delivery log: each event sent (or to send), with its attempts."""
    return await deliveries(services, identity.account_id, webhook_endpoint_id, limit)


@router.post(
    "/v1/webhook_endpoints/{webhook_endpoint_id}/deliveries/{delivery_id}/redeliver",
    operation_id="redeliverWebhook",
    response_model=WebhookDelivery,
    responses=error_responses(409),
)
async def redeliver_delivery(
    webhook_endpoint_id: str, delivery_id: str, identity: IdentityDep, services: ServicesDep
) -> WebhookDelivery:
    """Send a delivery again now (same `webhook-id`, a fresh retry schedule)."""
    return await redeliver(services, identity.account_id, webhook_endpoint_id, delivery_id)
