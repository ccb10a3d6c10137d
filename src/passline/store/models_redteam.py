"""Tables of red teaming (added by 0008): runs against a target, and every attempt with its
transcript, the detectors' verdicts and its outcome.

Answers are stored redacted, as traces are, with the values a run was told are secret
masked; the prompts and planted documents are Passline's own synthetic attack text.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from passline.store.models import Base, UtcDateTime

__all__ = ["RedteamAttemptRow", "RedteamRunRow"]


class RedteamRunRow(Base):
    """A red-team run: the target, the plan's configuration, and the report's figures."""

    __tablename__ = "redteam_runs"
    __table_args__ = (Index("ix_redteam_runs_project_started", "project_id", "started_at"),)
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id"))
    name: Mapped[str] = mapped_column(String(200), default="")
    target: Mapped[dict[str, Any]] = mapped_column(JSON)  # the target's spec, as given
    target_ref: Mapped[str | None] = mapped_column(String(250), nullable=True)
    status: Mapped[str] = mapped_column(String(16))  # running | completed | failed
    categories: Mapped[list[str]] = mapped_column(JSON)
    config: Mapped[dict[str, Any]] = mapped_column(JSON)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    successes: Mapped[int] = mapped_column(Integer, default=0)
    errored: Mapped[int] = mapped_column(Integer, default=0)
    summary: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    skipped: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    duration_s: Mapped[float | None] = mapped_column(Float, nullable=True)
    message: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[str] = mapped_column(String(100))
    started_at: Mapped[datetime] = mapped_column(UtcDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)


class RedteamAttemptRow(Base):
    """One attack sent to the target and what came of it."""

    __tablename__ = "redteam_attempts"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("redteam_runs.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    probe: Mapped[str] = mapped_column(String(200))
    category: Mapped[str] = mapped_column(String(40))
    owasp: Mapped[str | None] = mapped_column(String(8), nullable=True)
    technique: Mapped[str] = mapped_column(String(200), default="")
    mutation: Mapped[str | None] = mapped_column(String(40), nullable=True)
    prompt: Mapped[str] = mapped_column(Text)
    transcript: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    context: Mapped[list[str]] = mapped_column(JSON, default=list)
    answer: Mapped[str | None] = mapped_column(Text, nullable=True)
    outcome: Mapped[str] = mapped_column(String(16))
    success: Mapped[bool] = mapped_column(Boolean, default=False)
    detections: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    spec: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    latency_ms: Mapped[float | None] = mapped_column(Float, nullable=True)
    trace_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
