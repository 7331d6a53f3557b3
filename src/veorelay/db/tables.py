"""The schema, as SQLAlchemy Core tables. Alembic migrations in db/migrations create it.

Times are UNIX seconds (float); money is integer micro-USD.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Double,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    text,
)

metadata = MetaData()

accounts = Table(
    "accounts",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("balance_micros", BigInteger, nullable=False, server_default="0"),
    Column("created_at", Double, nullable=False),
    Column("enabled", Boolean, nullable=False, server_default=text("true")),  # off: every token
    Column("deleted_at", Double, nullable=True),  # kept for the ledger; gone for everyone else
    # Over all of the account's tokens, beside each token's own limits; null: none.
    Column("rpm_limit", Integer, nullable=True),
    Column("max_in_flight", Integer, nullable=True),
)

# Price multipliers are integers in parts per million (1.0 = 1_000_000): exact arithmetic.
groups = Table(
    "groups",
    metadata,
    Column("name", String(60), primary_key=True),
    Column("multiplier_ppm", BigInteger, nullable=False),
    Column("description", String(500), nullable=False, server_default=""),
    Column("created_at", Double, nullable=False),
)

# Per-call and, optionally, per-second prices (by resolution) of each model on offer.
model_prices = Table(
    "model_prices",
    metadata,
    Column("model", String(100), primary_key=True),
    Column("per_call_micros", BigInteger, nullable=True),
    Column("per_second_720p_micros", BigInteger, nullable=True),
    Column("per_second_1080p_micros", BigInteger, nullable=True),
    Column("per_second_4k_micros", BigInteger, nullable=True),
    Column("enabled", Boolean, nullable=False, server_default=text("true")),
    Column("description", String(500), nullable=False, server_default=""),
    # Veo's extra inputs the operator enabled (core/models.py ExtraInput); null: none.
    Column("extra_inputs", JSON, nullable=True),
    Column("extra_input_surcharge_micros", BigInteger, nullable=False, server_default="0"),
    Column("updated_at", Double, nullable=False),
    Column("deleted_at", Double, nullable=True),  # kept so a default model is not re-seeded
)

tokens = Table(
    "tokens",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("account_id", String(40), ForeignKey("accounts.id"), nullable=False, index=True),
    Column("name", String(200), nullable=False),
    Column("secret_hash", String(64), nullable=False, unique=True),
    Column("prefix", String(20), nullable=False),
    Column("enabled", Boolean, nullable=False, server_default=text("true")),
    Column("created_at", Double, nullable=False),
    Column("group_name", String(60), nullable=False, server_default="default"),
    Column("billing_mode", String(30), nullable=False, server_default="per_request"),
    Column("expires_at", Double, nullable=True),
    Column("allowed_models", JSON, nullable=True),  # null: every model
    Column("ip_allowlist", JSON, nullable=True),  # null: any address; else CIDRs
    Column("spend_limit_micros", BigInteger, nullable=True),
    Column("spent_micros", BigInteger, nullable=False, server_default="0"),  # held + captured
    Column("rpm_limit", Integer, nullable=True),
    Column("max_in_flight", Integer, nullable=True),
    Column("deleted_at", Double, nullable=True),  # kept so usage stays attributable
)

# A code's secret is stored hashed, like a token's; `prefix` lets an operator recognise it.
redemption_codes = Table(
    "redemption_codes",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("batch_id", String(40), nullable=False, index=True),
    Column("code_hash", String(64), nullable=False, unique=True),
    Column("prefix", String(20), nullable=False),
    Column("amount_micros", BigInteger, nullable=False),
    Column("expires_at", Double, nullable=True),
    Column("redeemed_at", Double, nullable=True),
    Column("redeemed_by", String(40), ForeignKey("accounts.id"), nullable=True),
    Column("created_at", Double, nullable=False),
    Column("revoked_at", Double, nullable=True),  # a revoked code can no longer be redeemed
)

# Append-only. For every account, balance_micros == sum(amount_micros) of its rows.
ledger = Table(
    "ledger",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("account_id", String(40), ForeignKey("accounts.id"), nullable=False, index=True),
    Column("task_id", String(40), nullable=True),
    # topup, redemption, adjustment, hold, capture, release
    Column("kind", String(20), nullable=False),
    Column("note", String(500), nullable=True),
    Column("amount_micros", BigInteger, nullable=False),
    Column("balance_after_micros", BigInteger, nullable=False),
    Column("created_at", Double, nullable=False),
    Index(
        "uq_ledger_one_settlement_per_task",
        "task_id",
        unique=True,
        sqlite_where=text("kind IN ('capture', 'release')"),
        postgresql_where=text("kind IN ('capture', 'release')"),
    ),
)

tasks = Table(
    "tasks",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("account_id", String(40), ForeignKey("accounts.id"), nullable=False),
    Column("token_id", String(40), ForeignKey("tokens.id"), nullable=False),
    # The normalized request.
    Column("model", String(100), nullable=False),
    Column("upstream_model", String(100), nullable=False),
    Column("prompt", Text, nullable=False),
    Column("seconds", Integer, nullable=False),
    Column("resolution", String(10), nullable=False),
    Column("aspect_ratio", String(10), nullable=False),
    Column("negative_prompt", Text, nullable=True),
    Column("seed", BigInteger, nullable=True),
    Column("has_image", Boolean, nullable=False),
    Column("price_micros", BigInteger, nullable=False),
    # The engine's bookkeeping (see DESIGN.md "The engine").
    Column("state", String(20), nullable=False),
    Column("version", Integer, nullable=False, server_default="0"),
    Column("lease_until", Double, nullable=True),
    Column("next_attempt_at", Double, nullable=False),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("operation_name", String(300), nullable=True),
    Column("key_id", String(40), nullable=True),
    Column("video_uri", Text, nullable=True),
    Column("expected_render_seconds", Double, nullable=False),
    Column("deadline_at", Double, nullable=False),
    # Results.
    Column("storage_key", String(200), nullable=True),
    Column("file_bytes", BigInteger, nullable=True),
    Column("error_code", String(60), nullable=True),
    Column("error_message", Text, nullable=True),
    Column("created_at", Double, nullable=False),
    Column("submitted_at", Double, nullable=True),
    Column("completed_at", Double, nullable=True),
    Column("updated_at", Double, nullable=False),
    Column("deleted_at", Double, nullable=True),  # DELETE /v1/videos/{id}: gone for the client
    Column("finished_at", Double, nullable=True),  # when it became completed, failed or cancelled
    # Channels (see docs/channels.md): where it runs, what it cost us, why it waits.
    Column("group_name", String(60), nullable=False, server_default="default"),
    Column("channel_id", String(40), nullable=True),
    Column("upstream_cost_micros", BigInteger, nullable=True),
    Column("wait_reason", String(40), nullable=True),  # queued: why no channel took it yet
    Column("submits", Integer, nullable=False, server_default="0"),  # submit calls made
    Column("resubmits", Integer, nullable=False, server_default="0"),  # after a crash mid-submit
    Column("expires_at", Double, nullable=True),  # completed: when its file is swept
    Column("request_id", String(64), nullable=True),  # the create's X-Request-Id (logs.py)
    # Veo's extra inputs (their images are in task_extra_images until submitted).
    Column("reference_images", Integer, nullable=False, server_default="0"),
    Column("has_last_frame", Boolean, nullable=False, server_default=text("false")),
    Column("extends_id", String(40), nullable=True),  # the video this one extends
    Column("extends_seconds", Integer, nullable=True),  # ... and its length
    Index("ix_tasks_due", "state", "next_attempt_at"),
    Index("ix_tasks_channel_state", "channel_id", "state"),
    Index("ix_tasks_account_created", "account_id", "created_at"),
    Index("ix_tasks_token_created", "token_id", "created_at"),
    Index("ix_tasks_token_state", "token_id", "state"),
    Index("ix_tasks_expires", "expires_at"),
)

# Kept apart so the hot status read never touches image bytes; deleted once submitted.
task_inputs = Table(
    "task_inputs",
    metadata,
    Column("task_id", String(40), ForeignKey("tasks.id"), primary_key=True),
    Column("mime_type", String(40), nullable=False),
    Column("data", LargeBinary, nullable=False),
)

# A task's last frame and reference images, like task_inputs: deleted once submitted.
task_extra_images = Table(
    "task_extra_images",
    metadata,
    Column("task_id", String(40), ForeignKey("tasks.id"), primary_key=True),
    Column("position", Integer, primary_key=True),
    Column("kind", String(20), nullable=False),  # last_frame or reference
    Column("mime_type", String(40), nullable=False),
    Column("data", LargeBinary, nullable=False),
)


# One upstream quota bucket (a Vertex AI project, or one Gemini project's API keys).
# `secret` is the Fernet-encrypted JSON of its credentials (secretbox.py); never returned.
channels = Table(
    "channels",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("name", String(100), nullable=False, unique=True),
    Column("kind", String(20), nullable=False),
    Column("secret", Text, nullable=False),
    Column("fingerprint", Text, nullable=False),  # non-secret: how to recognise it
    Column("base_url", String(500), nullable=True),
    Column("project", String(200), nullable=True),
    Column("location", String(100), nullable=True),
    Column("storage_uri", String(500), nullable=True),
    Column("storage_base_url", String(500), nullable=True),  # Cloud Storage endpoint override
    Column("groups", JSON, nullable=True),  # null: every group
    Column("priority", Integer, nullable=False, server_default="0"),
    Column("weight", Integer, nullable=False, server_default="1"),
    Column("max_concurrent", Integer, nullable=True),
    Column("rpm", Integer, nullable=True),
    Column("rpd", Integer, nullable=True),
    Column("enabled", Boolean, nullable=False, server_default=text("true")),
    Column("health", String(20), nullable=False, server_default="healthy"),
    Column("last_error", Text, nullable=True),
    Column("health_changed_at", Double, nullable=True),
    Column("cooling_until", Double, nullable=True),
    Column("consecutive_faults", Integer, nullable=False, server_default="0"),
    Column("created_at", Double, nullable=False),
    Column("updated_at", Double, nullable=False),
    Column("deleted_at", Double, nullable=True),
)

# The public models a channel serves, the upstream id each maps to, and what a second costs.
channel_models = Table(
    "channel_models",
    metadata,
    Column("channel_id", String(40), ForeignKey("channels.id"), primary_key=True),
    Column("model", String(100), primary_key=True),
    Column("upstream_model", String(100), nullable=False),
    Column("cost_720p_micros", BigInteger, nullable=True),
    Column("cost_1080p_micros", BigInteger, nullable=True),
    Column("cost_4k_micros", BigInteger, nullable=True),
    Column("available", Boolean, nullable=False, server_default=text("true")),
    Column("unavailable_reason", Text, nullable=True),
)

# Every submit sent to a channel, for its requests-per-minute and per-day budgets.
channel_submits = Table(
    "channel_submits",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("channel_id", String(40), nullable=False),
    Column("at", Double, nullable=False),
    Index("ix_channel_submits_channel_at", "channel_id", "at"),
)

# What happened to a channel (cooldowns, disables, probes), newest shown by `channel show`.
channel_events = Table(
    "channel_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("channel_id", String(40), nullable=False, index=True),
    Column("at", Double, nullable=False),
    Column("kind", String(40), nullable=False),
    Column("message", Text, nullable=False),
)

# Idempotency-Key of POST /v1/videos (core/idempotency.py): per account, for 24 hours. The
# primary key is what concurrent duplicates race on; the task is written in the same transaction.
idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("account_id", String(40), primary_key=True),
    Column("key", String(255), primary_key=True),
    Column("fingerprint", String(64), nullable=False),  # sha256 of the normalized request
    Column("task_id", String(40), nullable=False),
    Column("created_at", Double, nullable=False),
    Index("ix_idempotency_keys_created", "created_at"),
)

# Web console sign-ins (console/sessions.py). Only the hash of the cookie's secret is kept, so
# a copy of the database signs nobody in. `token_id` is set for a customer, None for the operator.
console_sessions = Table(
    "console_sessions",
    metadata,
    Column("id_hash", String(64), primary_key=True),
    Column("role", String(20), nullable=False),  # "customer" or "operator"
    Column("account_id", String(40), nullable=True),
    Column("token_id", String(40), nullable=True),
    Column("csrf_token", String(64), nullable=False),
    Column("created_at", Double, nullable=False),
    Column("expires_at", Double, nullable=False, index=True),
)

# Console sign-ins a token holder makes for people who should not handle the token itself: a
# username and password (scrypt) that sign in as that token.
console_logins = Table(
    "console_logins",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("username", String(100), nullable=False, unique=True),
    Column("password_hash", String(200), nullable=False),
    Column("account_id", String(40), nullable=False, index=True),
    Column("token_id", String(40), nullable=False),
    Column("created_at", Double, nullable=False),
)

# Every operator change, through the admin API, the console or the CLI (db/audit.py).
audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", Double, nullable=False, index=True),
    Column("actor", String(80), nullable=False),  # "admin-api", "console", "cli"
    Column("action", String(80), nullable=False),  # e.g. "account.top_up"
    Column("target", String(200), nullable=True),
    Column("before", JSON, nullable=True),
    Column("after", JSON, nullable=True),
)

# Webhook endpoints (docs/webhooks.md). `secret` is the Fernet-encrypted signing secret
# (secretbox.py): it must be recoverable to sign. `previous_secret` still signs, beside the new
# one, until `previous_until` after a rotation that keeps the old secret for a while.
webhook_endpoints = Table(
    "webhook_endpoints",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("account_id", String(40), ForeignKey("accounts.id"), nullable=False, index=True),
    Column("name", String(200), nullable=False),
    Column("url", String(2000), nullable=False),
    Column("event_types", JSON, nullable=False),
    Column("secret", Text, nullable=False),
    Column("secret_hint", String(40), nullable=False),
    Column("previous_secret", Text, nullable=True),
    Column("previous_until", Double, nullable=True),
    Column("enabled", Boolean, nullable=False, server_default=text("true")),
    Column("disabled_reason", Text, nullable=True),
    Column("failing_since", Double, nullable=True),  # first failed attempt of the current streak
    Column("created_at", Double, nullable=False),
    Column("updated_at", Double, nullable=False),
    Column("deleted_at", Double, nullable=True),
)

# The outbox: one row per event and endpoint, written in the transaction that ends the task.
# Its id is the `webhook-id` of every attempt; `body` is fixed at write time.
webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("endpoint_id", String(40), nullable=False),
    Column("account_id", String(40), nullable=False),
    Column("event_id", String(40), nullable=False),
    Column("event_type", String(40), nullable=False),
    Column("task_id", String(40), nullable=False),
    Column("body", Text, nullable=False),
    Column("state", String(20), nullable=False),  # core/webhooks.py DeliveryState
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("next_attempt_at", Double, nullable=False),
    Column("lease_until", Double, nullable=True),
    Column("last_status", Integer, nullable=True),
    Column("last_error", Text, nullable=True),
    Column("created_at", Double, nullable=False),
    Column("delivered_at", Double, nullable=True),
    Index("ix_webhook_deliveries_due", "state", "next_attempt_at"),
    Index("ix_webhook_deliveries_endpoint_created", "endpoint_id", "created_at"),
)

# The delivery log: every attempt, with what the endpoint answered (or why it could not).
webhook_attempts = Table(
    "webhook_attempts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("delivery_id", String(40), nullable=False, index=True),
    Column("endpoint_id", String(40), nullable=False),
    Column("at", Double, nullable=False),
    Column("status", Integer, nullable=True),
    Column("error", Text, nullable=True),
    Column("duration_ms", Integer, nullable=False),
)
