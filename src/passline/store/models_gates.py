"""Tables of the gates block (added by migration 0009): release gates, each a named list of
criteria, and every evaluation of a gate against a model or prompt version, with the
per-criterion status and the evidence it found."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from passline.store.models import Base, UtcDateTime

__all__ = ["GateEvaluationRow", "GateRow"]


class GateRow(Base):
    """A gate: its criteria as given (each a mapping with a ``type``), stored as data."""

    __tablename__ = "gates"
    __table_args__ = (UniqueConstraint("project_id", "name", name="uq_gates_project_name"),)
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id"))
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    criteria: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class GateEvaluationRow(Base):
    """One check of a gate against one subject (``model_version:...``/``prompt_version:...``)."""

    __tablename__ = "gate_evaluations"
    __table_args__ = (Index("ix_gate_evaluations_gate_at", "gate_id", "at"),)
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    gate_id: Mapped[str] = mapped_column(ForeignKey("gates.id"))
    subject_ref: Mapped[str] = mapped_column(String(250))
    subject_label: Mapped[str] = mapped_column(String(300))
    passed: Mapped[bool] = mapped_column(Boolean)
    criteria: Mapped[list[dict[str, Any]]] = mapped_column(JSON)  # the gate's, as checked
    results: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    actor: Mapped[str] = mapped_column(String(100))
    at: Mapped[datetime] = mapped_column(UtcDateTime)
