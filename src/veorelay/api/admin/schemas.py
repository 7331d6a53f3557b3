"""What the admin API answers, for /openapi.json. Money comes twice: integer micro-USD
(`*_micros`) and a USD string with six decimals (`*_usd`); times are UNIX seconds."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from veorelay.core.lifecycle import TaskState
from veorelay.core.pricing import BillingMode


class Answer(BaseModel):
    # The handlers build these from database rows; a column added later still shows.
    model_config = ConfigDict(extra="allow")


class Account(Answer):
    id: str
    name: str
    enabled: bool
    balance_micros: int
    balance_usd: str
    created_at: float
    rpm_limit: int | None
    max_in_flight: int | None


class AccountList(Answer):
    data: list[Account]


class LedgerEntry(Answer):
    id: int
    account_id: str
    task_id: str | None
    kind: str
    note: str | None
    amount_micros: int
    amount_usd: str
    balance_after_micros: int
    balance_after_usd: str
    created_at: float


class LedgerPage(Answer):
    data: list[LedgerEntry]


class Token(Answer):
    id: str
    account_id: str
    name: str
    prefix: str
    enabled: bool
    created_at: float
    group_name: str
    billing_mode: BillingMode
    expires_at: float | None
    allowed_models: list[str] | None
    ip_allowlist: list[str] | None
    spend_limit_micros: int | None
    spend_limit_usd: str | None
    spent_micros: int
    spent_usd: str
    rpm_limit: int | None
    max_in_flight: int | None


class TokenCreated(Answer):
    token: Token
    secret: str  # shown in this answer only


class TokenList(Answer):
    data: list[Token]


class Group(Answer):
    name: str
    multiplier_ppm: int
    description: str


class GroupList(Answer):
    data: list[Group]


class GroupDeleted(Answer):
    name: str
    deleted: bool


class Deleted(Answer):
    id: str
    deleted: bool


class ModelPrice(Answer):
    model: str
    per_call_micros: int | None
    per_call_usd: str | None
    per_second_usd: dict[str, str]
    enabled: bool
    extra_inputs: list[str]  # reference_images, last_frame, extension: enabled by the operator
    extra_input_surcharge_usd: str


class ModelList(Answer):
    data: list[ModelPrice]


class RedemptionCode(Answer):
    id: str
    batch_id: str
    prefix: str
    amount_micros: int
    amount_usd: str
    expires_at: float | None
    redeemed_at: float | None
    redeemed_by: str | None
    revoked_at: float | None
    created_at: float


class RedemptionCodeList(Answer):
    data: list[RedemptionCode]


class RedemptionBatch(Answer):
    batch_id: str
    amount_usd: str
    codes: list[str]  # shown in this answer only


class BatchRevoked(Answer):
    batch_id: str
    revoked: int


class UsageRecord(Answer):
    id: str
    created_at: float
    account_id: str
    token_id: str
    model: str
    seconds: int
    resolution: str
    aspect_ratio: str
    has_image: bool
    state: TaskState
    quoted_micros: int
    quoted_usd: str
    charged_micros: int
    charged_usd: str
    upstream_cost_micros: int
    upstream_cost_usd: str
    margin_micros: int
    margin_usd: str
    channel_id: str | None
    error_code: str | None
    negative_prompt: str | None
    seed: int | None
    submitted_at: float | None
    completed_at: float | None
    finished_at: float | None
    queued_seconds: float | None
    render_seconds: float | None
    total_seconds: float | None


class UsagePage(Answer):
    data: list[UsageRecord]
    has_more: bool
    last_id: str | None


class SummaryRow(Answer):
    key: str
    tasks: int
    completed: int
    failed: int
    cancelled: int
    charged_micros: int
    charged_usd: str
    upstream_cost_micros: int
    upstream_cost_usd: str
    margin_micros: int
    margin_usd: str


class Summary(Answer):
    by: str
    data: list[SummaryRow]
