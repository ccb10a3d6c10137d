"""What the backlog block stores and returns: stories, draft batches, meeting summaries and
backlog analyses.

Every field a source does not support holds exactly :data:`TBD` ("TO BE DEFINED"): a
priority nobody gave, an estimate nobody made, a user role nobody named.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import Field, computed_field

from passline.core.entities import Entity

__all__ = [
    "FIBONACCI",
    "PRIORITIES",
    "TBD",
    "ActionItem",
    "Analysis",
    "DraftBatch",
    "MeetingSummary",
    "Story",
    "StoryDraft",
]

TBD = "TO BE DEFINED"
PRIORITIES = ("Highest", "High", "Medium", "Low", "Lowest")
FIBONACCI = (1, 2, 3, 5, 8, 13, 21)
Status = Literal["draft", "accepted", "rejected"]


class StoryDraft(Entity):
    """A story before it is stored: the fields a drafter fills, each grounded or TBD."""

    title: str
    priority: str = TBD  # one of PRIORITIES, or TBD
    points: int | str = TBD  # a Fibonacci number, or TBD
    description: str = TBD  # "As a ..., I want ..., so that ..."
    acceptance_criteria: list[str] = Field(default_factory=lambda: [TBD])
    labels: list[str] = Field(default_factory=list)
    source_lines: list[int] = Field(default_factory=list)
    issue_type: str = "Story"
    notes: list[str] = Field(default_factory=list)  # what the grounding check rejected

    def open_fields(self) -> list[str]:
        """The fields still TO BE DEFINED (in whole or in part)."""
        out = [f for f in ("title", "priority", "points") if getattr(self, f) == TBD]
        if TBD in self.description:
            out.append("description")
        if any(TBD in c for c in self.acceptance_criteria) or not self.acceptance_criteria:
            out.append("acceptance_criteria")
        return out


class Story(StoryDraft):
    """A stored story under review: drafts are accepted, edited or rejected; only accepted
    stories are exported."""

    id: str
    project: str
    batch_id: str | None = None
    status: Status = "draft"
    created_by: str
    created_at: datetime
    reviewed_by: str | None = None
    reviewed_at: datetime | None = None
    # {"gate": "P/NAME", "criterion": N (1-based), "type", "status" in its latest evaluation}
    gate_links: list[dict[str, Any]] = Field(default_factory=list)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def done_for_real(self) -> bool:
        """Linked to gate criteria, and every one passed in its gate's latest evaluation."""
        return bool(self.gate_links) and all(g.get("status") == "pass" for g in self.gate_links)


class ActionItem(Entity):
    text: str
    owner: str = TBD
    line: int


class MeetingSummary(Entity):
    """Decisions, action items with owners, and open questions, each with its source line."""

    decisions: list[dict[str, Any]] = Field(default_factory=list)  # {"text", "line"}
    action_items: list[ActionItem] = Field(default_factory=list)
    open_questions: list[dict[str, Any]] = Field(default_factory=list)
    speakers: list[str] = Field(default_factory=list)


class DraftBatch(Entity):
    """One drafting of one source: its digest, the mode, the stories and the summary."""

    id: str
    project: str
    source_name: str
    source_digest: str
    mode: str  # rules | llm | import
    model: str | None = None
    message: str = ""
    language: str = "en"
    line_count: int = 0
    summary: MeetingSummary = Field(default_factory=MeetingSummary)
    stories: list[Story] = Field(default_factory=list)
    created_by: str
    created_at: datetime


class Analysis(Entity):
    """The backlog's health: near-duplicates, missing criteria or estimates, open fields."""

    project: str
    stories: int
    near_duplicates: list[dict[str, Any]] = Field(default_factory=list)
    missing_acceptance_criteria: list[str] = Field(default_factory=list)
    missing_estimates: list[str] = Field(default_factory=list)
    open_fields: dict[str, list[str]] = Field(default_factory=dict)  # story id -> fields
    similarity: str = "embeddings"  # embeddings | words (when no embedding model)
