"""finished_at for tasks; enabled and deleted_at for accounts; deleted_at for tokens, models

Deleted rows are kept for the ledger and usage, and are gone for everyone else;
redemption_codes.revoked_at marks codes that can no longer be redeemed.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("tasks") as batch_op:
        batch_op.add_column(sa.Column("finished_at", sa.Double(), nullable=True))
    # Before this column a terminal task's last update was its end (deletes came later, rarely).
    op.execute(
        "UPDATE tasks SET finished_at = COALESCE(completed_at, updated_at) "
        "WHERE state IN ('completed', 'failed', 'cancelled')"
    )
    with op.batch_alter_table("accounts") as batch_op:
        batch_op.add_column(
            sa.Column("enabled", sa.Boolean(), server_default=sa.text("(true)"), nullable=False)
        )
        batch_op.add_column(sa.Column("deleted_at", sa.Double(), nullable=True))
    with op.batch_alter_table("tokens") as batch_op:
        batch_op.add_column(sa.Column("deleted_at", sa.Double(), nullable=True))
    with op.batch_alter_table("model_prices") as batch_op:
        batch_op.add_column(sa.Column("deleted_at", sa.Double(), nullable=True))
    with op.batch_alter_table("redemption_codes") as batch_op:
        batch_op.add_column(sa.Column("revoked_at", sa.Double(), nullable=True))
