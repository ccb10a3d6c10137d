"""Release gates, AI acceptance criteria and the maturity scorecard.

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

_AT = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "gates",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("project_id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("criteria", sa.JSON(), nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column("created_at", _AT, nullable=False),
        sa.Column("updated_at", _AT, nullable=False),
        sa.ForeignKeyConstraint(["project_id"], ["projects.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("project_id", "name", name="uq_gates_project_name"),
    )
    op.create_table(
        "gate_evaluations",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("gate_id", sa.String(length=40), nullable=False),
        sa.Column("subject_ref", sa.String(length=250), nullable=False),
        sa.Column("subject_label", sa.String(length=300), nullable=False),
        sa.Column("passed", sa.Boolean(), nullable=False),
        sa.Column("criteria", sa.JSON(), nullable=False),
        sa.Column("results", sa.JSON(), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("at", _AT, nullable=False),
        sa.ForeignKeyConstraint(["gate_id"], ["gates.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_gate_evaluations_gate_at", "gate_evaluations", ["gate_id", "at"])


def downgrade() -> None:
    op.drop_index("ix_gate_evaluations_gate_at", table_name="gate_evaluations")
    op.drop_table("gate_evaluations")
    op.drop_table("gates")
