"""The schema, as SQLAlchemy Core tables. Alembic migrations in db/migrations create it.

Times are UNIX seconds (float); money is integer micro-USD.
"""

from __future__ import annotations

from sqlalchemy import (
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
)

# Append-only. For every account, balance_micros == sum(amount_micros) of its rows.
ledger = Table(
    "ledger",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("account_id", String(40), ForeignKey("accounts.id"), nullable=False, index=True),
    Column("task_id", String(40), nullable=True),
    Column("kind", String(20), nullable=False),  # topup, hold, capture, release
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
    Index("ix_tasks_due", "state", "next_attempt_at"),
    Index("ix_tasks_account_created", "account_id", "created_at"),
)

# Kept apart so the hot status read never touches image bytes; deleted once submitted.
task_inputs = Table(
    "task_inputs",
    metadata,
    Column("task_id", String(40), ForeignKey("tasks.id"), primary_key=True),
    Column("mime_type", String(40), nullable=False),
    Column("data", LargeBinary, nullable=False),
)
