"""Tables of the pipelines block (migration 0013): pipelines, their runs and step runs,
the step-output cache, and the triggers (schedules, new dataset versions, drift alerts)
that queue runs."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
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
    "PipelineCacheRow",
    "PipelineRow",
    "PipelineRunRow",
    "PipelineStepRunRow",
    "PipelineTriggerRow",
]


class PipelineRow(Base):
    """A pipeline as last run: its steps and edges, and where its code is loaded from."""

    __tablename__ = "pipelines"
    __table_args__ = (UniqueConstraint("project_id", "name", name="uq_pipelines_project_name"),)
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id"))
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    definition: Mapped[dict[str, Any]] = mapped_column(JSON)
    source: Mapped[str | None] = mapped_column(String(1000), nullable=True)
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class PipelineRunRow(Base):
    """One run: queued by a trigger or started by hand, with where and what it ran."""

    __tablename__ = "pipeline_runs"
    __table_args__ = (
        Index("ix_pipeline_runs_pipeline_started", "pipeline_id", "queued_at"),
        Index("ix_pipeline_runs_status", "status"),
    )
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    pipeline_id: Mapped[str] = mapped_column(ForeignKey("pipelines.id"))
    status: Mapped[str] = mapped_column(String(20))  # queued running succeeded failed
    executor: Mapped[str] = mapped_column(String(20))
    trigger: Mapped[dict[str, Any]] = mapped_column(JSON)
    params: Mapped[dict[str, Any]] = mapped_column(JSON)
    inputs: Mapped[dict[str, Any]] = mapped_column(JSON)  # input name -> dataset version
    code: Mapped[dict[str, Any]] = mapped_column(JSON)
    environment: Mapped[dict[str, Any]] = mapped_column(JSON)
    outputs: Mapped[dict[str, Any]] = mapped_column(JSON)  # metrics, model versions, releases
    tracking_run_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    actor: Mapped[str] = mapped_column(String(100))
    queued_at: Mapped[datetime] = mapped_column(UtcDateTime)
    started_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    duration_ms: Mapped[float | None] = mapped_column(Float, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)


class PipelineStepRunRow(Base):
    """One step of one run: pending, running, succeeded, cached, failed or skipped."""

    __tablename__ = "pipeline_step_runs"
    __table_args__ = (UniqueConstraint("run_id", "step", name="uq_pipeline_step_runs_step"),)
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("pipeline_runs.id"))
    step: Mapped[str] = mapped_column(String(200))
    position: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20))
    kind: Mapped[str] = mapped_column(String(20))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    cache_key: Mapped[str | None] = mapped_column(String(80), nullable=True)
    output_digest: Mapped[str | None] = mapped_column(String(80), nullable=True)
    output_size: Mapped[int | None] = mapped_column(Integer, nullable=True)
    started_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    duration_ms: Mapped[float | None] = mapped_column(Float, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)


class PipelineCacheRow(Base):
    """A step output by the hash of the step's code, parameters and input versions."""

    __tablename__ = "pipeline_cache"
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id"), primary_key=True)
    cache_key: Mapped[str] = mapped_column(String(80), primary_key=True)
    step: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20))
    digest: Mapped[str] = mapped_column(String(80))
    size: Mapped[int] = mapped_column(Integer)
    run_id: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class PipelineTriggerRow(Base):
    """What queues a run: a cron schedule, a new version of a dataset, or a monitor's alert."""

    __tablename__ = "pipeline_triggers"
    __table_args__ = (Index("ix_pipeline_triggers_kind_target", "kind", "target"),)
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    pipeline_id: Mapped[str] = mapped_column(ForeignKey("pipelines.id"))
    kind: Mapped[str] = mapped_column(String(20))  # schedule dataset alert
    target: Mapped[str] = mapped_column(String(300))  # cron, dataset ref or monitor ref
    params: Mapped[dict[str, Any]] = mapped_column(JSON)
    executor: Mapped[str] = mapped_column(String(20))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    next_run_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    last_fired_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
