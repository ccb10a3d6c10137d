"""Evaluation: suites with immutable versions, runs with per-case results, run labels
(baselines for release checks), online evaluation configs and per-trace scores.

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_AT = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "eval_suites",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("project_id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column("created_at", _AT, nullable=False),
        sa.ForeignKeyConstraint(["project_id"], ["projects.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("project_id", "name", name="uq_eval_suite_name"),
    )
    op.create_index("ix_eval_suites_project_id", "eval_suites", ["project_id"])

    op.create_table(
        "eval_suite_versions",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("suite_id", sa.String(length=40), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("digest", sa.String(length=80), nullable=False),
        sa.Column("cases", sa.JSON(), nullable=False),
        sa.Column("scorers", sa.JSON(), nullable=False),
        sa.Column("case_count", sa.Integer(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("author", sa.String(length=100), nullable=False),
        sa.Column("created_at", _AT, nullable=False),
        sa.ForeignKeyConstraint(["suite_id"], ["eval_suites.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("suite_id", "version", name="uq_eval_suite_version"),
    )
    op.create_index("ix_eval_suite_versions_suite_id", "eval_suite_versions", ["suite_id"])

    op.create_table(
        "eval_runs",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("project_id", sa.String(length=40), nullable=False),
        sa.Column("suite_version_id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("target", sa.JSON(), nullable=False),
        sa.Column("target_ref", sa.String(length=250), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("concurrency", sa.Integer(), nullable=False),
        sa.Column("scorers", sa.JSON(), nullable=False),
        sa.Column("aggregates", sa.JSON(), nullable=False),
        sa.Column("check_expression", sa.Text(), nullable=True),
        sa.Column("check_passed", sa.Boolean(), nullable=True),
        sa.Column("check_result", sa.JSON(), nullable=True),
        sa.Column("cases", sa.Integer(), nullable=False),
        sa.Column("errored", sa.Integer(), nullable=False),
        sa.Column("input_tokens", sa.BigInteger(), nullable=False),
        sa.Column("output_tokens", sa.BigInteger(), nullable=False),
        sa.Column("cost_usd", sa.Float(), nullable=False),
        sa.Column("judge_cost_usd", sa.Float(), nullable=False),
        sa.Column("duration_s", sa.Float(), nullable=True),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column("started_at", _AT, nullable=False),
        sa.Column("finished_at", _AT, nullable=True),
        sa.ForeignKeyConstraint(["project_id"], ["projects.id"]),
        sa.ForeignKeyConstraint(["suite_version_id"], ["eval_suite_versions.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_eval_runs_project_started", "eval_runs", ["project_id", "started_at"])
    op.create_index("ix_eval_runs_suite_version_id", "eval_runs", ["suite_version_id"])

    op.create_table(
        "eval_case_results",
        sa.Column("run_id", sa.String(length=40), nullable=False),
        sa.Column("case_id", sa.String(length=200), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("answer", sa.Text(), nullable=True),
        sa.Column("context", sa.JSON(), nullable=False),
        sa.Column("scores", sa.JSON(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("latency_ms", sa.Float(), nullable=True),
        sa.Column("input_tokens", sa.Integer(), nullable=False),
        sa.Column("output_tokens", sa.Integer(), nullable=False),
        sa.Column("cost_usd", sa.Float(), nullable=False),
        sa.Column("trace_id", sa.String(length=32), nullable=True),
        sa.ForeignKeyConstraint(["run_id"], ["eval_runs.id"]),
        sa.PrimaryKeyConstraint("run_id", "case_id"),
    )

    op.create_table(
        "eval_run_labels",
        sa.Column("suite_id", sa.String(length=40), nullable=False),
        sa.Column("label", sa.String(length=100), nullable=False),
        sa.Column("run_id", sa.String(length=40), nullable=False),
        sa.Column("set_by", sa.String(length=100), nullable=False),
        sa.Column("set_at", _AT, nullable=False),
        sa.ForeignKeyConstraint(["run_id"], ["eval_runs.id"]),
        sa.ForeignKeyConstraint(["suite_id"], ["eval_suites.id"]),
        sa.PrimaryKeyConstraint("suite_id", "label"),
    )

    op.create_table(
        "eval_online_configs",
        sa.Column("project_id", sa.String(length=40), nullable=False),
        sa.Column("app", sa.String(length=200), nullable=True),
        sa.Column("sample", sa.Integer(), nullable=False),
        sa.Column("threshold", sa.Float(), nullable=False),
        sa.Column("schedule", sa.String(length=100), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column("created_at", _AT, nullable=False),
        sa.Column("next_run_at", _AT, nullable=True),
        sa.Column("last_run_at", _AT, nullable=True),
        sa.Column("last_status", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["project_id"], ["projects.id"]),
        sa.PrimaryKeyConstraint("project_id"),
    )

    op.create_table(
        "eval_online_scores",
        sa.Column("trace_id", sa.String(length=32), nullable=False),
        sa.Column("project_id", sa.String(length=40), nullable=False),
        sa.Column("prompt_version_id", sa.String(length=40), nullable=True),
        sa.Column("app", sa.String(length=200), nullable=False),
        sa.Column("trace_at", _AT, nullable=False),
        sa.Column("scored_at", _AT, nullable=False),
        sa.Column("groundedness", sa.Float(), nullable=True),
        sa.Column("hallucinated", sa.Boolean(), nullable=True),
        sa.Column("refused", sa.Boolean(), nullable=False),
        sa.Column("guard_hits", sa.Integer(), nullable=False),
        sa.Column("feedback", sa.Integer(), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["project_id"], ["projects.id"]),
        sa.PrimaryKeyConstraint("trace_id"),
    )
    op.create_index(
        "ix_eval_online_scores_project_at", "eval_online_scores", ["project_id", "trace_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_eval_online_scores_project_at", table_name="eval_online_scores")
    op.drop_table("eval_online_scores")
    op.drop_table("eval_online_configs")
    op.drop_table("eval_run_labels")
    op.drop_table("eval_case_results")
    op.drop_index("ix_eval_runs_suite_version_id", table_name="eval_runs")
    op.drop_index("ix_eval_runs_project_started", table_name="eval_runs")
    op.drop_table("eval_runs")
    op.drop_index("ix_eval_suite_versions_suite_id", table_name="eval_suite_versions")
    op.drop_table("eval_suite_versions")
    op.drop_index("ix_eval_suites_project_id", table_name="eval_suites")
    op.drop_table("eval_suites")
