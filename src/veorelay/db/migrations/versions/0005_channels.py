"""channels: the upstream pool; tasks learn their channel, group, upstream cost, wait reason

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "channels",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("name", sa.String(100), nullable=False, unique=True),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("secret", sa.Text(), nullable=False),
        sa.Column("fingerprint", sa.Text(), nullable=False),
        sa.Column("base_url", sa.String(500), nullable=True),
        sa.Column("project", sa.String(200), nullable=True),
        sa.Column("location", sa.String(100), nullable=True),
        sa.Column("storage_uri", sa.String(500), nullable=True),
        sa.Column("storage_base_url", sa.String(500), nullable=True),
        sa.Column("groups", sa.JSON(), nullable=True),
        sa.Column("priority", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("weight", sa.Integer(), nullable=False, server_default="1"),
        sa.Column("max_concurrent", sa.Integer(), nullable=True),
        sa.Column("rpm", sa.Integer(), nullable=True),
        sa.Column("rpd", sa.Integer(), nullable=True),
        sa.Column("enabled", sa.Boolean(), nullable=False, server_default=sa.text("(true)")),
        sa.Column("health", sa.String(20), nullable=False, server_default="healthy"),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("health_changed_at", sa.Double(), nullable=True),
        sa.Column("cooling_until", sa.Double(), nullable=True),
        sa.Column("consecutive_faults", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.Column("updated_at", sa.Double(), nullable=False),
        sa.Column("deleted_at", sa.Double(), nullable=True),
    )
    op.create_table(
        "channel_models",
        sa.Column("channel_id", sa.String(40), sa.ForeignKey("channels.id"), primary_key=True),
        sa.Column("model", sa.String(100), primary_key=True),
        sa.Column("upstream_model", sa.String(100), nullable=False),
        sa.Column("cost_720p_micros", sa.BigInteger(), nullable=True),
        sa.Column("cost_1080p_micros", sa.BigInteger(), nullable=True),
        sa.Column("cost_4k_micros", sa.BigInteger(), nullable=True),
        sa.Column("available", sa.Boolean(), nullable=False, server_default=sa.text("(true)")),
        sa.Column("unavailable_reason", sa.Text(), nullable=True),
    )
    op.create_table(
        "channel_submits",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("channel_id", sa.String(40), nullable=False),
        sa.Column("at", sa.Double(), nullable=False),
    )
    op.create_index("ix_channel_submits_channel_at", "channel_submits", ["channel_id", "at"])
    op.create_table(
        "channel_events",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("channel_id", sa.String(40), nullable=False),
        sa.Column("at", sa.Double(), nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
    )
    op.create_index("ix_channel_events_channel_id", "channel_events", ["channel_id"])
    with op.batch_alter_table("tasks") as batch_op:
        batch_op.add_column(
            sa.Column("group_name", sa.String(60), nullable=False, server_default="default")
        )
        batch_op.add_column(sa.Column("channel_id", sa.String(40), nullable=True))
        batch_op.add_column(sa.Column("upstream_cost_micros", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("wait_reason", sa.String(40), nullable=True))
        batch_op.add_column(sa.Column("submits", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(
            sa.Column("resubmits", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.create_index("ix_tasks_channel_state", ["channel_id", "state"])
    # Tasks created before channels remember their token's group.
    op.execute(
        "UPDATE tasks SET group_name = (SELECT tokens.group_name FROM tokens "
        "WHERE tokens.id = tasks.token_id)"
    )
    # Upstream model ids are per channel now (channel_models); the settings-made channels map
    # every model from VEORELAY_MODEL_MAP at start.
    with op.batch_alter_table("model_prices") as batch_op:
        batch_op.drop_column("upstream_model")
