"""tasks.expires_at: when a completed video's file is swept from storage

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Left empty for videos stored before: the engine's sweeper stamps them with
    # completed_at + VEORELAY_RETENTION_SECONDS, the setting the operator runs with.
    with op.batch_alter_table("tasks") as batch_op:
        batch_op.add_column(sa.Column("expires_at", sa.Double(), nullable=True))
    op.create_index("ix_tasks_expires", "tasks", ["expires_at"])
