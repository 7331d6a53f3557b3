"""operator side

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import time

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "groups",
        sa.Column("name", sa.String(length=60), nullable=False),
        sa.Column("multiplier_ppm", sa.BigInteger(), nullable=False),
        sa.Column("description", sa.String(length=500), server_default="", nullable=False),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "model_prices",
        sa.Column("model", sa.String(length=100), nullable=False),
        sa.Column("per_call_micros", sa.BigInteger(), nullable=True),
        sa.Column("per_second_720p_micros", sa.BigInteger(), nullable=True),
        sa.Column("per_second_1080p_micros", sa.BigInteger(), nullable=True),
        sa.Column("per_second_4k_micros", sa.BigInteger(), nullable=True),
        sa.Column("upstream_model", sa.String(length=100), nullable=True),
        sa.Column("enabled", sa.Boolean(), server_default=sa.text("(true)"), nullable=False),
        sa.Column("description", sa.String(length=500), server_default="", nullable=False),
        sa.Column("updated_at", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("model"),
    )
    op.create_table(
        "redemption_codes",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("batch_id", sa.String(length=40), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("prefix", sa.String(length=20), nullable=False),
        sa.Column("amount_micros", sa.BigInteger(), nullable=False),
        sa.Column("expires_at", sa.Double(), nullable=True),
        sa.Column("redeemed_at", sa.Double(), nullable=True),
        sa.Column("redeemed_by", sa.String(length=40), nullable=True),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.ForeignKeyConstraint(
            ["redeemed_by"],
            ["accounts.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("code_hash"),
    )
    with op.batch_alter_table("redemption_codes", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_redemption_codes_batch_id"), ["batch_id"], unique=False
        )

    with op.batch_alter_table("ledger", schema=None) as batch_op:
        batch_op.add_column(sa.Column("note", sa.String(length=500), nullable=True))

    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.create_index("ix_tasks_token_created", ["token_id", "created_at"], unique=False)
        batch_op.create_index("ix_tasks_token_state", ["token_id", "state"], unique=False)

    with op.batch_alter_table("tokens", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("group_name", sa.String(length=60), server_default="default", nullable=False)
        )
        batch_op.add_column(
            sa.Column(
                "billing_mode", sa.String(length=30), server_default="per_request", nullable=False
            )
        )
        batch_op.add_column(sa.Column("expires_at", sa.Double(), nullable=True))
        batch_op.add_column(sa.Column("allowed_models", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("ip_allowlist", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("spend_limit_micros", sa.BigInteger(), nullable=True))
        batch_op.add_column(
            sa.Column("spent_micros", sa.BigInteger(), server_default="0", nullable=False)
        )
        batch_op.add_column(sa.Column("rpm_limit", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("max_in_flight", sa.Integer(), nullable=True))

    now = time.time()
    op.bulk_insert(
        sa.table(
            "groups",
            sa.column("name"),
            sa.column("multiplier_ppm"),
            sa.column("description"),
            sa.column("created_at"),
        ),
        [
            {
                "name": "default",
                "multiplier_ppm": 1_000_000,
                "description": "Default group",
                "created_at": now,
            }
        ],
    )
    # A token's spend counts its held and captured prices; carry over tasks created before.
    op.execute(
        "UPDATE tokens SET spent_micros = (SELECT COALESCE(SUM(price_micros), 0) FROM tasks "
        "WHERE tasks.token_id = tokens.id "
        "AND tasks.state IN ('queued', 'running', 'downloading', 'completed'))"
    )
