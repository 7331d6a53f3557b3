"""Admin: every account's webhook endpoints, their delivery logs, redelivery.

The same bodies as /v1/webhook_endpoints (api/webhooks.py), for any account.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Query

from veorelay.api import webhooks as hooks
from veorelay.api.admin.accounts import account_json
from veorelay.api.admin.audited import audited
from veorelay.api.admin.common import admin_router
from veorelay.api.deps import ServicesDep
from veorelay.api.fields import Ref
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
)
from veorelay.services import Services

router = admin_router()


class AdminEndpointCreate(EndpointCreate):
    account_id: Ref


@router.post("/webhooks", response_model=WebhookEndpointWithSecret)
@audited("webhook.create")
async def create_webhook(
    body: AdminEndpointCreate, services: ServicesDep
) -> WebhookEndpointWithSecret:
    """Register an endpoint for an account; the signing secret is in this answer only."""
    await account_json(services, body.account_id)
    return await hooks.create(services, body.account_id, body, with_account=True)


@router.get("/webhooks", response_model=WebhookEndpointList)
async def list_webhooks(
    services: ServicesDep,
    account_id: Annotated[str | None, Query(description="Only this account's.")] = None,
    after: Annotated[str | None, Query(description="List after this endpoint id.")] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 100,
) -> WebhookEndpointList:
    """Endpoints of every account (or of one), newest first."""
    return await hooks.listing(services, account_id, after, limit, with_account=True)


@router.get("/webhooks/{endpoint_id}", response_model=WebhookEndpoint)
async def get_webhook(endpoint_id: str, services: ServicesDep) -> WebhookEndpoint:
    return await hooks.retrieve(services, None, endpoint_id)


async def _endpoint(services: Services, endpoint_id: str) -> WebhookEndpoint:
    return await hooks.retrieve(services, None, endpoint_id)


@router.patch("/webhooks/{endpoint_id}", response_model=WebhookEndpoint)
@audited("webhook.update", "endpoint_id", _endpoint)
async def update_webhook(
    endpoint_id: str, body: EndpointUpdate, services: ServicesDep
) -> WebhookEndpoint:
    """Change the fields given; `enabled: true` resumes a disabled endpoint."""
    return await hooks.update(services, None, endpoint_id, body)


@router.delete("/webhooks/{endpoint_id}", response_model=WebhookEndpointDeleted)
@audited("webhook.delete", "endpoint_id", _endpoint)
async def delete_webhook(endpoint_id: str, services: ServicesDep) -> WebhookEndpointDeleted:
    return await hooks.delete(services, None, endpoint_id)


@router.post("/webhooks/{endpoint_id}/rotate_secret", response_model=WebhookEndpointWithSecret)
@audited("webhook.rotate_secret", "endpoint_id", _endpoint)
async def rotate_webhook_secret(
    endpoint_id: str, services: ServicesDep, body: RotateSecret | None = None
) -> WebhookEndpointWithSecret:
    return await hooks.rotate(services, None, endpoint_id, body)


@router.get("/webhooks/{endpoint_id}/deliveries", response_model=WebhookDeliveryList)
async def list_webhook_deliveries(
    endpoint_id: str,
    services: ServicesDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
) -> WebhookDeliveryList:
    return await hooks.deliveries(services, None, endpoint_id, limit)


@router.post(
    "/webhooks/{endpoint_id}/deliveries/{delivery_id}/redeliver", response_model=WebhookDelivery
)
@audited("webhook.redeliver", "delivery_id")
async def redeliver_webhook(
    endpoint_id: str, delivery_id: str, services: ServicesDep
) -> WebhookDelivery:
    return await hooks.redeliver(services, None, endpoint_id, delivery_id)
