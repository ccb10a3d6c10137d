"""Tables of the backlog block (added by migration 0010): draft batches (one drafting of one
source, with its digest and the meeting summary) and the stories under review."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from passline.store.models import Base, UtcDateTime

__all__ = ["BacklogBatchRow", "BacklogStoryRow"]


class BacklogBatchRow(Base):
    """One drafting (or import) of one source into a project's backlog."""

    __tablename__ = "backlog_batches"
    __table_args__ = (Index("ix_backlog_batches_project_created", "project_id", "created_at"),)
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id"))
    source_name: Mapped[str] = mapped_column(String(300))
    source_digest: Mapped[str] = mapped_column(String(80))
    mode: Mapped[str] = mapped_column(String(16))  # rules | llm | import
    model: Mapped[str | None] = mapped_column(String(200), nullable=True)
    message: Mapped[str] = mapped_column(Text, default="")
    line_count: Mapped[int] = mapped_column(Integer, default=0)
    summary: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class BacklogStoryRow(Base):
    """A drafted story and its review: draft, accepted or rejected."""

    __tablename__ = "backlog_stories"
    __table_args__ = (Index("ix_backlog_stories_project_status", "project_id", "status"),)
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id"))
    batch_id: Mapped[str | None] = mapped_column(
        ForeignKey("backlog_batches.id"), nullable=True, index=True
    )
    position: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(16))  # draft | accepted | rejected
    title: Mapped[str] = mapped_column(String(300))
    issue_type: Mapped[str] = mapped_column(String(40), default="Story")
    priority: Mapped[str] = mapped_column(String(20))
    points: Mapped[str] = mapped_column(String(20))  # a Fibonacci number or TO BE DEFINED
    description: Mapped[str] = mapped_column(Text)
    acceptance_criteria: Mapped[list[str]] = mapped_column(JSON, default=list)
    labels: Mapped[list[str]] = mapped_column(JSON, default=list)
    source_lines: Mapped[list[int]] = mapped_column(JSON, default=list)
    notes: Mapped[list[str]] = mapped_column(JSON, default=list)
    # gate criteria this story's acceptance criteria are checked by (added by 0011)
    gate_links: Mapped[list[dict[str, Any]]] = mapped_column(
        JSON, default=list, server_default="[]"
    )
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    reviewed_by: Mapped[str | None] = mapped_column(String(100), nullable=True)
    reviewed_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
