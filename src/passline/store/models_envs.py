"""Tables of environments and releases (added by migration 0012).

An environment is one step of a project's promotion path (``position`` orders them); a
release is the record of one move of a model or prompt version into an environment, refused
ones included, with the gates it passed, the evidence and how long it took.
"""

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

__all__ = ["EnvironmentRow", "ReleaseRow"]


class EnvironmentRow(Base):
    """A named environment of a project, with its settings, endpoints and entry gates."""

    __tablename__ = "environments"
    __table_args__ = (UniqueConstraint("project_id", "name", name="uq_environments_project_name"),)
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id"))
    name: Mapped[str] = mapped_column(String(100))
    position: Mapped[int] = mapped_column(Integer)
    description: Mapped[str] = mapped_column(Text, default="")
    settings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    endpoints: Mapped[list[str]] = mapped_column(JSON, default=list)
    gates: Mapped[list[str]] = mapped_column(JSON, default=list)
    require_approval: Mapped[bool] = mapped_column(Boolean, default=False)
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class ReleaseRow(Base):
    """One release (or refusal, or rollback) of a version into an environment."""

    __tablename__ = "releases"
    __table_args__ = (
        Index("ix_releases_project_env_started", "project_id", "to_environment", "started_at"),
    )
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id"))
    kind: Mapped[str] = mapped_column(String(16))  # model | prompt
    subject: Mapped[str] = mapped_column(String(250))  # project/name
    version: Mapped[int | None] = mapped_column(Integer, nullable=True)  # None: emptied
    previous_version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    from_environment: Mapped[str | None] = mapped_column(String(100), nullable=True)
    to_environment: Mapped[str] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(16))  # released | refused | rolled_back | rollback
    actor: Mapped[str] = mapped_column(String(100))
    reason: Mapped[str] = mapped_column(Text, default="")
    gates: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    evidence: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    started_at: Mapped[datetime] = mapped_column(UtcDateTime)
    duration_ms: Mapped[float] = mapped_column(Float)
    rolled_back_by: Mapped[str | None] = mapped_column(String(40), nullable=True)
    rollback_of: Mapped[str | None] = mapped_column(String(40), nullable=True)
