"""Veo's extra inputs: per-model switches and surcharge; what a task used; its extra images

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("model_prices") as batch_op:
        batch_op.add_column(sa.Column("extra_inputs", sa.JSON(), nullable=True))
        batch_op.add_column(
            sa.Column(
                "extra_input_surcharge_micros", sa.BigInteger(), nullable=False, server_default="0"
            )
        )
    with op.batch_alter_table("tasks") as batch_op:
        batch_op.add_column(
            sa.Column("reference_images", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.add_column(
            sa.Column(
                "has_last_frame", sa.Boolean(), nullable=False, server_default=sa.text("(false)")
            )
        )
        batch_op.add_column(sa.Column("extends_id", sa.String(40), nullable=True))
        batch_op.add_column(sa.Column("extends_seconds", sa.Integer(), nullable=True))
    op.create_table(
        "task_extra_images",
        sa.Column("task_id", sa.String(40), sa.ForeignKey("tasks.id"), primary_key=True),
        sa.Column("position", sa.Integer(), primary_key=True),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("mime_type", sa.String(40), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
    )
