"""Record when a token was last used; let lineage edges carry attributes.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("tokens") as batch:
        batch.add_column(sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("lineage_edges") as batch:
        batch.add_column(sa.Column("attrs", sa.JSON, nullable=False, server_default="{}"))


def downgrade() -> None:
    with op.batch_alter_table("lineage_edges") as batch:
        batch.drop_column("attrs")
    with op.batch_alter_table("tokens") as batch:
        batch.drop_column("last_used_at")
