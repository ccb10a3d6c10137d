"""The backlog from Python: ``client.backlog``.

    >>> bl = client.backlog
    >>> batch = bl.draft_file("retail", "planning.vtt")          # rules mode, no model
    >>> [(s.title, s.priority, s.points) for s in batch.stories]
    >>> bl.accept(batch.stories[0].id)
    >>> bl.edit(batch.stories[1].id, priority="High", points=3)
    >>> open("backlog.csv", "w").write(bl.export("retail", "jira-csv")["content"])

AI drafts only: :meth:`BacklogAPI.export` returns accepted stories, never drafts.
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

from passline.backlog.entities import Analysis, DraftBatch, MeetingSummary, Story
from passline.sdk.tracking import _Namespace

__all__ = ["BacklogAPI"]


class BacklogAPI(_Namespace):
    """Drafted stories, their review, export and import; reached as ``client.backlog``."""

    def draft(
        self,
        project: str,
        text: str,
        name: str = "transcript.txt",
        mode: str = "rules",
        model: str | None = None,
        accept_all: bool = False,
    ) -> DraftBatch:
        """Draft stories from ``text`` (``mode`` rules or llm); they wait for review."""
        return self._call(
            "backlog.draft",
            DraftBatch,
            project=project,
            text=text,
            name=name,
            mode=mode,
            model=model,
            accept_all=accept_all or None,
        )

    def draft_file(
        self,
        project: str,
        path: str | Path,
        mode: str = "rules",
        model: str | None = None,
        accept_all: bool = False,
    ) -> DraftBatch:
        """Draft stories from a txt, md, vtt, srt or docx file."""
        path = Path(path)
        data = base64.b64encode(path.read_bytes()).decode()
        return self._call(
            "backlog.draft",
            DraftBatch,
            project=project,
            content_b64=data,
            name=path.name,
            mode=mode,
            model=model,
            accept_all=accept_all or None,
        )

    def batches(self, project: str, limit: int = 50) -> list[DraftBatch]:
        return self._call("backlog.batches", list[DraftBatch], project=project, limit=limit)

    def batch(self, batch_id: str) -> DraftBatch:
        return self._call("backlog.batch", DraftBatch, batch_id=batch_id)

    def stories(
        self, project: str, status: str | None = None, batch_id: str | None = None
    ) -> list[Story]:
        return self._call(
            "backlog.stories", list[Story], project=project, status=status, batch_id=batch_id
        )

    def story(self, story_id: str) -> Story:
        return self._call("backlog.story", Story, story_id=story_id)

    def accept(self, story_id: str) -> Story:
        return self._call("backlog.accept", Story, story_id=story_id)

    def reject(self, story_id: str) -> Story:
        return self._call("backlog.reject", Story, story_id=story_id)

    def edit(self, story_id: str, **fields: Any) -> Story:
        """Change fields: title, priority, points, description, acceptance_criteria, labels."""
        return self._call("backlog.edit", Story, story_id=story_id, fields=fields)

    def link(self, story_id: str, gate: str, criterion: int, remove: bool = False) -> Story:
        """Link the story to criterion ``criterion`` (1-based) of gate ``project/name``, or
        unlink it with ``remove``; ``story.done_for_real`` once every linked criterion passed
        in its gate's latest evaluation."""
        return self._call(
            "backlog.link", Story, story_id=story_id, gate=gate, criterion=criterion, remove=remove
        )

    def export(
        self,
        project: str,
        format: str = "jira-csv",
        batch_id: str | None = None,
        jira_project: str | None = None,
    ) -> dict[str, Any]:
        """Accepted stories as ``{"format", "count", "content"}``."""
        return self._call(
            "backlog.export",
            None,
            project=project,
            format=format,
            batch_id=batch_id,
            jira_project=jira_project,
        )

    def import_stories(
        self,
        project: str,
        content: str,
        format: str | None = None,
        name: str = "import",
        accept: bool = False,
    ) -> DraftBatch:
        return self._call(
            "backlog.import_stories",
            DraftBatch,
            project=project,
            content=content,
            format=format,
            name=name,
            accept=accept or None,
        )

    def analyse(self, project: str, threshold: float = 0.85) -> Analysis:
        return self._call("backlog.analyse", Analysis, project=project, threshold=threshold)

    def summary(self, text: str, name: str = "transcript.txt") -> MeetingSummary:
        return self._call("backlog.summary", MeetingSummary, text=text, name=name)
