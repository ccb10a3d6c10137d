"""Initial schema: identity, projects, artifacts, lineage and the audit chain.

Revision ID: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("name", sa.String(100), nullable=False, unique=True),
        sa.Column("display_name", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("is_admin", sa.Boolean, nullable=False),
        sa.Column("disabled", sa.Boolean, nullable=False),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_table(
        "tokens",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("user_id", sa.String(40), sa.ForeignKey("users.id"), nullable=False, index=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("secret_hash", sa.String(64), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("expires_at", TS, nullable=False),
        sa.Column("revoked_at", TS, nullable=True),
    )
    op.create_table(
        "projects",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("name", sa.String(100), nullable=False, unique=True),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("created_by", sa.String(100), nullable=False),
    )
    op.create_table(
        "memberships",
        sa.Column("project_id", sa.String(40), sa.ForeignKey("projects.id"), primary_key=True),
        sa.Column(
            "user_id", sa.String(40), sa.ForeignKey("users.id"), primary_key=True, index=True
        ),
        sa.Column("role", sa.String(16), nullable=False),
    )
    op.create_table(
        "artifacts",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column(
            "project_id", sa.String(40), sa.ForeignKey("projects.id"), nullable=False, index=True
        ),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("digest", sa.String(64), nullable=False, index=True),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("media_type", sa.String(100), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("created_by", sa.String(100), nullable=False),
        sa.UniqueConstraint("project_id", "name", "digest", name="uq_artifact"),
    )
    op.create_table(
        "lineage_nodes",
        sa.Column("ref", sa.String(250), primary_key=True),
        sa.Column("kind", sa.String(40), nullable=False, index=True),
        sa.Column("label", sa.String(255), nullable=False),
        sa.Column("project_id", sa.String(40), nullable=True, index=True),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_table(
        "lineage_edges",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("src_ref", sa.String(250), sa.ForeignKey("lineage_nodes.ref"), nullable=False),
        sa.Column("dst_ref", sa.String(250), sa.ForeignKey("lineage_nodes.ref"), nullable=False),
        sa.Column("type", sa.String(60), nullable=False),
        sa.Column("actor", sa.String(100), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.UniqueConstraint("src_ref", "dst_ref", "type", name="uq_lineage_edge"),
    )
    op.create_index("ix_lineage_edges_dst", "lineage_edges", ["dst_ref"])
    op.create_table(
        "audit_events",
        sa.Column(
            "seq",
            sa.BigInteger().with_variant(sa.Integer, "sqlite"),
            primary_key=True,
            autoincrement=False,
        ),
        sa.Column("at", sa.String(32), nullable=False),
        sa.Column("actor", sa.String(100), nullable=False),
        sa.Column("action", sa.String(80), nullable=False),
        sa.Column("object_ref", sa.String(250), nullable=False),
        sa.Column("project", sa.String(100), nullable=True),
        sa.Column("origin", sa.String(16), nullable=False),
        sa.Column("client", sa.String(100), nullable=True),
        sa.Column("changes", sa.Text, nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
    )
    op.create_index("ix_audit_actor", "audit_events", ["actor"])
    op.create_index("ix_audit_object", "audit_events", ["object_ref"])
    op.create_table(
        "audit_head",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("seq", sa.BigInteger, nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
    )
    op.bulk_insert(
        sa.table("audit_head", sa.column("id"), sa.column("seq"), sa.column("hash")),
        [{"id": 1, "seq": 0, "hash": "0" * 64}],
    )


def downgrade() -> None:
    for table in (
        "audit_head",
        "audit_events",
        "lineage_edges",
        "lineage_nodes",
        "artifacts",
        "memberships",
        "projects",
        "tokens",
        "users",
    ):
        op.drop_table(table)
