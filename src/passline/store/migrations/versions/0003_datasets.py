"""The data block: datasets, their immutable versions, read grants and saved sources.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def _col(name: str, kind: object, *args: object, **kw: object) -> sa.Column:
    # Columns are NOT NULL unless they say otherwise.
    return sa.Column(name, kind, *args, nullable=kw.pop("nullable", False), **kw)


def upgrade() -> None:
    op.create_table(
        "datasets",
        _col("id", sa.String(40), primary_key=True),
        _col("project_id", sa.String(40), sa.ForeignKey("projects.id"), index=True),
        _col("name", sa.String(100)),
        _col("description", sa.Text),
        _col("owner", sa.String(100)),
        _col("sensitivity", sa.String(16)),
        _col("sensitivity_reason", sa.Text, nullable=True),
        _col("tags", sa.JSON),
        _col("column_tags", sa.JSON),
        _col("key_columns", sa.JSON),
        _col("expectations", sa.Text, nullable=True),
        _col("latest_version_id", sa.String(40), nullable=True),
        _col("created_at", TS),
        _col("created_by", sa.String(100)),
        sa.UniqueConstraint("project_id", "name", name="uq_dataset_name"),
    )
    op.create_table(
        "dataset_versions",
        _col("id", sa.String(40), primary_key=True),
        _col("dataset_id", sa.String(40), sa.ForeignKey("datasets.id"), index=True),
        _col("number", sa.Integer),
        _col("status", sa.String(16)),
        _col("mode", sa.String(16)),
        _col("parts", sa.JSON),
        _col("schema_json", sa.JSON),
        _col("rows", sa.BigInteger),
        _col("bytes", sa.BigInteger),
        _col("new_bytes", sa.BigInteger),
        _col("source", sa.JSON),
        _col("parent_id", sa.String(40), nullable=True),
        _col("actor", sa.String(100)),
        _col("created_at", TS),
        _col("profile_digest", sa.String(64)),
        _col("quality", sa.JSON),
        _col("pii", sa.JSON),
        _col("bad_rows", sa.JSON),
        _col("cursor", sa.JSON),
        _col("encrypted", sa.Boolean),
        sa.UniqueConstraint("dataset_id", "number", name="uq_dataset_version_number"),
    )
    op.create_table(
        "dataset_grants",
        _col("dataset_id", sa.String(40), sa.ForeignKey("datasets.id"), primary_key=True),
        _col("user_id", sa.String(40), sa.ForeignKey("users.id"), primary_key=True),
        _col("granted_by", sa.String(100)),
        _col("granted_at", TS),
        _col("reason", sa.Text),
    )
    op.create_table(
        "sources",
        _col("id", sa.String(40), primary_key=True),
        _col("project_id", sa.String(40), sa.ForeignKey("projects.id"), index=True),
        _col("name", sa.String(100)),
        _col("kind", sa.String(16)),
        _col("config", sa.JSON),
        _col("dataset", sa.String(100)),
        _col("mode", sa.String(16)),
        _col("options", sa.JSON),
        _col("schedule", sa.String(100), nullable=True),
        _col("created_by", sa.String(100)),
        _col("created_at", TS),
        _col("next_run_at", TS, nullable=True),
        _col("last_run_at", TS, nullable=True),
        _col("last_status", sa.String(16), nullable=True),
        _col("last_message", sa.Text, nullable=True),
        _col("last_version_id", sa.String(40), nullable=True),
        sa.UniqueConstraint("project_id", "name", name="uq_source_name"),
    )


def downgrade() -> None:
    for table in ("sources", "dataset_grants", "dataset_versions", "datasets"):
        op.drop_table(table)
