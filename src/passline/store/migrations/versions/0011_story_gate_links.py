"""Backlog stories linked to gate criteria: ``gate_links`` on ``backlog_stories``.

Revision ID: 0011
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("backlog_stories") as batch:
        batch.add_column(sa.Column("gate_links", sa.JSON(), nullable=False, server_default="[]"))


def downgrade() -> None:
    with op.batch_alter_table("backlog_stories") as batch:
        batch.drop_column("gate_links")
