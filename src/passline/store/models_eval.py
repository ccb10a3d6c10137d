"""Tables of evaluation (added by 0007): suites with immutable versions, runs with their
per-case results, labels that name a baseline run, and online evaluation of traces.

A suite version holds its cases and scorers as JSON (the content its digest is taken of);
a case result holds the answer, the context the target retrieved and one score per scorer.
Online scores keep numbers only, never the text of the trace they score.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from passline.store.models import Base, UtcDateTime

__all__ = [
    "EvalCaseResultRow",
    "EvalOnlineConfigRow",
    "EvalOnlineScoreRow",
    "EvalRunLabelRow",
    "EvalRunRow",
    "EvalSuiteRow",
    "EvalSuiteVersionRow",
]


class EvalSuiteRow(Base):
    __tablename__ = "eval_suites"
    __table_args__ = (UniqueConstraint("project_id", "name", name="uq_eval_suite_name"),)
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    description: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class EvalSuiteVersionRow(Base):
    """Cases and scorers, immutable; the same content is the same version."""

    __tablename__ = "eval_suite_versions"
    __table_args__ = (UniqueConstraint("suite_id", "version", name="uq_eval_suite_version"),)
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    suite_id: Mapped[str] = mapped_column(ForeignKey("eval_suites.id"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    digest: Mapped[str] = mapped_column(String(80))
    cases: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    scorers: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    case_count: Mapped[int] = mapped_column(Integer)
    description: Mapped[str] = mapped_column(Text, default="")
    author: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class EvalRunRow(Base):
    """A suite version run against a target: aggregates, the release check, totals."""

    __tablename__ = "eval_runs"
    __table_args__ = (Index("ix_eval_runs_project_started", "project_id", "started_at"),)
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id"))
    suite_version_id: Mapped[str] = mapped_column(ForeignKey("eval_suite_versions.id"), index=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    target: Mapped[dict[str, Any]] = mapped_column(JSON)  # the target's spec, as given
    target_ref: Mapped[str | None] = mapped_column(String(250), nullable=True)
    status: Mapped[str] = mapped_column(String(16))  # running | completed | failed
    concurrency: Mapped[int] = mapped_column(Integer, default=1)
    scorers: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    aggregates: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    check_expression: Mapped[str | None] = mapped_column(Text, nullable=True)
    check_passed: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    check_result: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    cases: Mapped[int] = mapped_column(Integer, default=0)
    errored: Mapped[int] = mapped_column(Integer, default=0)
    input_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    output_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    cost_usd: Mapped[float] = mapped_column(Float, default=0.0)
    judge_cost_usd: Mapped[float] = mapped_column(Float, default=0.0)
    duration_s: Mapped[float | None] = mapped_column(Float, nullable=True)
    message: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[str] = mapped_column(String(100))
    started_at: Mapped[datetime] = mapped_column(UtcDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)


class EvalCaseResultRow(Base):
    __tablename__ = "eval_case_results"
    run_id: Mapped[str] = mapped_column(ForeignKey("eval_runs.id"), primary_key=True)
    case_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    position: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16))  # ok | errored
    answer: Mapped[str | None] = mapped_column(Text, nullable=True)
    context: Mapped[list[str]] = mapped_column(JSON, default=list)
    scores: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    latency_ms: Mapped[float | None] = mapped_column(Float, nullable=True)
    input_tokens: Mapped[int] = mapped_column(Integer, default=0)
    output_tokens: Mapped[int] = mapped_column(Integer, default=0)
    cost_usd: Mapped[float] = mapped_column(Float, default=0.0)
    trace_id: Mapped[str | None] = mapped_column(String(32), nullable=True)


class EvalRunLabelRow(Base):
    """A name for a run of a suite (``production``): what a release check compares with."""

    __tablename__ = "eval_run_labels"
    suite_id: Mapped[str] = mapped_column(ForeignKey("eval_suites.id"), primary_key=True)
    label: Mapped[str] = mapped_column(String(100), primary_key=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("eval_runs.id"))
    set_by: Mapped[str] = mapped_column(String(100))
    set_at: Mapped[datetime] = mapped_column(UtcDateTime)


class EvalOnlineConfigRow(Base):
    """Online evaluation of a project's traces on a schedule (the server's scheduler)."""

    __tablename__ = "eval_online_configs"
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id"), primary_key=True)
    app: Mapped[str | None] = mapped_column(String(200), nullable=True)
    sample: Mapped[int] = mapped_column(Integer)
    threshold: Mapped[float] = mapped_column(Float)
    schedule: Mapped[str] = mapped_column(String(100))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    next_run_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    last_run_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    last_status: Mapped[str | None] = mapped_column(Text, nullable=True)


class EvalOnlineScoreRow(Base):
    """One production trace, scored once: numbers only, no text."""

    __tablename__ = "eval_online_scores"
    __table_args__ = (Index("ix_eval_online_scores_project_at", "project_id", "trace_at"),)
    trace_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id"))
    prompt_version_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    app: Mapped[str] = mapped_column(String(200), default="")
    trace_at: Mapped[datetime] = mapped_column(UtcDateTime)
    scored_at: Mapped[datetime] = mapped_column(UtcDateTime)
    groundedness: Mapped[float | None] = mapped_column(Float, nullable=True)
    hallucinated: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    refused: Mapped[bool] = mapped_column(Boolean, default=False)
    guard_hits: Mapped[int] = mapped_column(Integer, default=0)
    feedback: Mapped[int] = mapped_column(Integer, default=0)  # sum of +1/-1 scores
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
