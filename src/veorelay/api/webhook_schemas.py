"""Webhook endpoint bodies and answers, shared by /v1/webhook_endpoints and the admin API.

The shapes are OpenAI's webhook-endpoint objects (the `openai` SDK's `client.webhooks.*`
calls work against them), plus `enabled`, `disabled_reason` and the delivery log.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, StrictBool, StringConstraints

from veorelay.api.fields import Name, Storable
from veorelay.core.webhooks import MAX_URL_LENGTH, EventType

Url = Annotated[str, StringConstraints(min_length=1, max_length=MAX_URL_LENGTH), Storable]
EventTypes = Annotated[list[EventType], Field(min_length=1, max_length=len(EventType))]


class EndpointCreate(BaseModel):
    name: Name
    url: Url
    event_types: EventTypes


class EndpointUpdate(BaseModel):
    name: Name | None = None
    url: Url | None = None
    event_types: EventTypes | None = None
    enabled: StrictBool | None = Field(
        None, description="false pauses deliveries; true resumes a disabled endpoint."
    )


class RotateSecret(BaseModel):
    keep_old_secret_active_for_24_hours: StrictBool = False


class WebhookEndpoint(BaseModel):
    id: str
    object: Literal["webhook_endpoint"] = "webhook_endpoint"
    name: str
    url: str
    event_types: list[str]
    signing_secret_hint: str
    enabled: bool
    disabled_reason: str | None
    created_at: int
    updated_at: int
    account_id: str | None = Field(None, description="In the admin API only.")


class WebhookEndpointWithSecret(WebhookEndpoint):
    signing_secret: str = Field(description="Shown in this answer only.")


class WebhookEndpointList(BaseModel):
    object: Literal["list"] = "list"
    data: list[WebhookEndpoint]
    first_id: str | None
    last_id: str | None
    has_more: bool


class WebhookEndpointDeleted(BaseModel):
    id: str
    object: Literal["webhook_endpoint.deleted"] = "webhook_endpoint.deleted"
    deleted: Literal[True] = True


class WebhookAttempt(BaseModel):
    at: float
    status: int | None = Field(description="The endpoint's HTTP status; null: no answer.")
    error: str | None
    duration_ms: int


class WebhookDelivery(BaseModel):
    id: str = Field(description="The `webhook-id` header of every attempt.")
    object: Literal["webhook_delivery"] = "webhook_delivery"
    endpoint_id: str
    event_id: str
    event_type: str
    task_id: str
    state: Literal["pending", "delivered", "failed"]
    attempts: int
    next_attempt_at: float | None
    last_status: int | None
    last_error: str | None
    created_at: float
    delivered_at: float | None
    attempt_log: list[WebhookAttempt] = Field(description="The latest attempts, newest first.")


class WebhookDeliveryList(BaseModel):
    object: Literal["list"] = "list"
    data: list[WebhookDelivery]


def endpoint_view(row: dict[str, Any], *, with_account: bool = False) -> WebhookEndpoint:
    return WebhookEndpoint(
        id=row["id"],
        name=row["name"],
        url=row["url"],
        event_types=list(row["event_types"]),
        signing_secret_hint=row["secret_hint"],
        enabled=bool(row["enabled"]),
        disabled_reason=row["disabled_reason"],
        created_at=int(row["created_at"]),
        updated_at=int(row["updated_at"]),
        account_id=row["account_id"] if with_account else None,
    )


def delivery_view(row: dict[str, Any]) -> WebhookDelivery:
    pending = row["state"] == "pending"
    return WebhookDelivery(
        id=row["id"],
        endpoint_id=row["endpoint_id"],
        event_id=row["event_id"],
        event_type=row["event_type"],
        task_id=row["task_id"],
        state=row["state"],
        attempts=row["attempts"],
        next_attempt_at=row["next_attempt_at"] if pending else None,
        last_status=row["last_status"],
        last_error=row["last_error"],
        created_at=row["created_at"],
        delivered_at=row["delivered_at"],
        attempt_log=[WebhookAttempt(**a) for a in row.get("attempt_log", [])],
    )
