"""The backlog: stories drafted from transcripts and requirement documents, reviewed by a
person (accept, edit, reject), exported to Jira or imported back; the meeting's summary and
the backlog's analysis beside them. AI drafts only: nothing is exported unreviewed.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from passline.backlog.entities import (
    FIBONACCI,
    PRIORITIES,
    TBD,
    Analysis,
    DraftBatch,
    MeetingSummary,
    Story,
    StoryDraft,
)
from passline.backlog.export import FORMATS, STORY_POINTS_FIELD, export_stories, import_stories
from passline.backlog.meeting import find_duplicates, summarise
from passline.backlog.sources import Source, read_source
from passline.core.clock import utcnow
from passline.core.ids import new_id
from passline.core.roles import Role
from passline.errors import InvalidInput, NotFound
from passline.services.backlog_links import checked_link, with_statuses
from passline.services.base import BaseService
from passline.store.models import ProjectRow
from passline.store.models_backlog import BacklogBatchRow, BacklogStoryRow

__all__ = ["MODES", "BacklogService"]

MODES = ("rules", "llm")
_EDITABLE = (
    "title",
    "priority",
    "points",
    "description",
    "acceptance_criteria",
    "labels",
    "issue_type",
)


class BacklogService(BaseService):
    # -- drafting -----------------------------------------------------------------------------

    def draft(
        self,
        project: str,
        text: str | None = None,
        content_b64: str | None = None,
        name: str = "transcript.txt",
        mode: str = "rules",
        model: str | None = None,
        accept_all: bool = False,
    ) -> DraftBatch:
        """Draft stories from a transcript or requirement document (``text``, or the file's
        bytes as base64 for docx) and store them as drafts for review."""
        if mode not in MODES:
            raise InvalidInput(
                f"The 'mode' parameter must be one of {', '.join(MODES)}. Got {mode!r}."
            )
        source = read_source(_payload(text, content_b64, name), name)
        with self.db.read() as session:
            self._require(session, project, Role.CONTRIBUTOR, "draft backlog stories")
        drafts = self._drafts(source, mode, model, project)
        message = (
            f"{len(drafts)} stories drafted; review them before export."
            if drafts
            else "No requirements found in the source: no stories drafted."
        )
        return self._save_batch(
            project, source, mode, model, drafts, message, accept_all, summarise(source)
        )

    def _drafts(
        self, source: Source, mode: str, model: str | None, project: str
    ) -> list[StoryDraft]:
        from passline.backlog.rules import draft_rules

        if mode == "rules":
            return _redacted(draft_rules(source))
        from passline.backlog.llm_draft import draft_llm

        llm = self.ws.services(self.ctx).llm

        def chat(messages: list[dict[str, str]], schema: dict[str, Any]) -> Any:
            answer = llm.chat(
                messages,
                json_schema=schema,
                model=model,
                app="backlog",
                project=project,
                params={"max_tokens": 900, "temperature": 0.0},
            )
            if answer.blocked:
                raise InvalidInput("The project's guardrails blocked the drafting request.")
            return _json(answer.data, answer.text, answer.model)

        return _redacted(draft_llm(source, chat, draft_rules(source)))

    def _save_batch(
        self,
        project: str,
        source: Source,
        mode: str,
        model: str | None,
        drafts: Sequence[StoryDraft],
        message: str,
        accept_all: bool,
        summary: MeetingSummary,
    ) -> DraftBatch:
        now = utcnow()
        with self.db.write() as session:
            prj = self._require(session, project, Role.CONTRIBUTOR, "draft backlog stories")
            batch = BacklogBatchRow(
                id=new_id("blb"),
                project_id=prj.id,
                source_name=source.name[:300],
                source_digest=source.digest,
                mode=mode,
                model=model,
                message=message,
                line_count=len(source.numbered()),
                summary=summary.model_dump(mode="json"),
                created_by=self.actor_name,
                created_at=now,
            )
            session.add(batch)
            session.flush()
            rows = [
                self._story_row(prj.id, batch.id, i, d, accept_all, now)
                for i, d in enumerate(drafts)
            ]
            session.add_all(rows)
            self._audit(
                session,
                "backlog.draft",
                f"backlog:{batch.id}",
                project,
                {
                    "mode": mode,
                    "stories": len(rows),
                    "digest": source.digest,
                    "accepted": accept_all,
                },
            )
            return _batch(batch, project, [_story(r, project) for r in rows])

    def _story_row(
        self,
        project_id: str,
        batch_id: str | None,
        position: int,
        draft: StoryDraft,
        accepted: bool,
        now: Any,
    ) -> BacklogStoryRow:
        return BacklogStoryRow(
            id=new_id("sty"),
            project_id=project_id,
            batch_id=batch_id,
            position=position,
            status="accepted" if accepted else "draft",
            title=draft.title[:300],
            issue_type=draft.issue_type,
            priority=draft.priority,
            points=str(draft.points),
            description=draft.description,
            acceptance_criteria=list(draft.acceptance_criteria),
            labels=list(draft.labels),
            source_lines=list(draft.source_lines),
            notes=list(draft.notes),
            created_by=self.actor_name,
            created_at=now,
            reviewed_by=self.actor_name if accepted else None,
            reviewed_at=now if accepted else None,
        )

    def summary(
        self,
        text: str | None = None,
        content_b64: str | None = None,
        name: str = "transcript.txt",
    ) -> MeetingSummary:
        """Decisions, action items with owners and open questions of a transcript."""
        return summarise(read_source(_payload(text, content_b64, name), name))

    # -- reading ------------------------------------------------------------------------------

    def batches(self, project: str, limit: int = 50) -> list[DraftBatch]:
        with self.db.read() as session:
            prj = self._require(session, project, Role.VIEWER, "read the backlog")
            rows = (
                session.execute(
                    select(BacklogBatchRow)
                    .where(BacklogBatchRow.project_id == prj.id)
                    .order_by(BacklogBatchRow.created_at.desc())
                    .limit(limit)
                )
                .scalars()
                .all()
            )
            return [_batch(r, project, []) for r in rows]

    def batch(self, batch_id: str) -> DraftBatch:
        with self.db.read() as session:
            row = session.get(BacklogBatchRow, batch_id)
            if row is None:
                raise NotFound(
                    f"No draft batch {batch_id!r}.",
                    hint="List them with 'passline backlog list --batches'.",
                )
            project = self._readable(session, row.project_id)
            stories = (
                session.execute(
                    select(BacklogStoryRow)
                    .where(BacklogStoryRow.batch_id == batch_id)
                    .order_by(BacklogStoryRow.position)
                )
                .scalars()
                .all()
            )
            found = with_statuses(session, [_story(s, project) for s in stories])
            return _batch(row, project, found)

    def stories(
        self, project: str, status: str | None = None, batch_id: str | None = None
    ) -> list[Story]:
        """The project's stories, oldest first, by review status and batch when given."""
        with self.db.read() as session:
            prj = self._require(session, project, Role.VIEWER, "read the backlog")
            query = select(BacklogStoryRow).where(BacklogStoryRow.project_id == prj.id)
            if status:
                query = query.where(BacklogStoryRow.status == _status(status))
            if batch_id:
                query = query.where(BacklogStoryRow.batch_id == batch_id)
            rows = (
                session.execute(
                    query.order_by(BacklogStoryRow.created_at, BacklogStoryRow.position)
                )
                .scalars()
                .all()
            )
            return with_statuses(session, [_story(r, project) for r in rows])

    def story(self, story_id: str) -> Story:
        with self.db.read() as session:
            row = self._story_of(session, story_id)
            return with_statuses(session, [_story(row, self._readable(session, row.project_id))])[0]

    def _story_of(self, session: Session, story_id: str) -> BacklogStoryRow:
        row = session.get(BacklogStoryRow, story_id)
        if row is None:
            raise NotFound(
                f"No story {story_id!r}.",
                hint="List stories with 'passline backlog list -p PROJECT'.",
            )
        return row

    def _readable(self, session: Session, project_id: str, needed: Role = Role.VIEWER) -> str:
        name = session.get(ProjectRow, project_id).name  # type: ignore[union-attr]
        self._require(
            session,
            name,
            needed,
            "read the backlog" if needed == Role.VIEWER else "review backlog stories",
        )
        return name

    # -- review -------------------------------------------------------------------------------

    def accept(self, story_id: str) -> Story:
        return self._review(story_id, "accepted", {})

    def reject(self, story_id: str) -> Story:
        return self._review(story_id, "rejected", {})

    def edit(self, story_id: str, fields: dict[str, Any]) -> Story:
        """Change a story's fields (title, priority, points, description, acceptance_criteria,
        labels, issue_type); its review status stays as it was."""
        return self._review(story_id, None, _checked_fields(fields))

    def _review(self, story_id: str, status: str | None, fields: dict[str, Any]) -> Story:
        with self.db.write() as session:
            row = self._story_of(session, story_id)
            project = self._readable(session, row.project_id, Role.CONTRIBUTOR)
            for key, value in fields.items():
                setattr(row, key, value)
            if status:
                row.status = status
            row.reviewed_by, row.reviewed_at = self.actor_name, utcnow()
            action = {"accepted": "backlog.accept", "rejected": "backlog.reject"}.get(
                status or "", "backlog.edit"
            )
            self._audit(
                session,
                action,
                f"story:{row.id}",
                project,
                {"status": row.status, **{k: str(v)[:200] for k, v in fields.items()}},
            )
            return with_statuses(session, [_story(row, project)])[0]

    def link(self, story_id: str, gate: str, criterion: int, remove: bool = False) -> Story:
        """Link the story to criterion ``criterion`` (1-based) of gate ``project/name`` (or
        unlink it with ``remove``): the story is done for real once every criterion it links
        to passes in its gate's latest evaluation. Contributors of the story's project who
        can read the gate may link."""
        with self.db.write() as session:
            row = self._story_of(session, story_id)
            project = self._readable(session, row.project_id, Role.CONTRIBUTOR)
            gate_project, link = checked_link(session, gate, criterion)
            self._require(session, gate_project, Role.VIEWER, "link a story to its gate")
            kept = [g for g in row.gate_links or [] if g != link]
            row.gate_links = kept if remove else [*kept, link]
            action = "backlog.unlink" if remove else "backlog.link"
            self._audit(session, action, f"story:{row.id}", project, link)
            return with_statuses(session, [_story(row, project)])[0]

    # -- export, import, analysis --------------------------------------------------------------

    def export(
        self,
        project: str,
        format: str = "jira-csv",
        batch_id: str | None = None,
        jira_project: str | None = None,
        points_field: str = STORY_POINTS_FIELD,
    ) -> dict[str, Any]:
        """The project's accepted stories as ``format`` text: ``{"format", "count",
        "content"}``. Drafts and rejected stories are never exported."""
        if format not in FORMATS:
            raise InvalidInput(
                f"The 'format' parameter must be one of {', '.join(FORMATS)}. Got {format!r}."
            )
        stories = self.stories(project, "accepted", batch_id)
        if not stories:
            raise InvalidInput(
                f"Project {project!r} has no accepted stories to export: AI drafts are "
                "exported only once a person has accepted them.",
                hint="Review them: passline backlog list -p PROJECT, then "
                "passline backlog accept STORY_ID.",
            )
        key = jira_project or "".join(c for c in project.upper() if c.isalnum())[:10] or "PROJ"
        content = export_stories(stories, format, key, points_field)
        with self.db.write() as session:
            self._audit(
                session,
                "backlog.export",
                f"project:{project}",
                project,
                {"format": format, "stories": len(stories)},
            )
        return {"format": format, "count": len(stories), "content": content}

    def import_stories(
        self,
        project: str,
        content: str,
        format: str | None = None,
        name: str = "import",
        accept: bool = False,
    ) -> DraftBatch:
        """Stories read from a Jira CSV, Jira JSON, JSON or CSV export, stored as a batch
        (drafts for review unless ``accept``)."""
        drafts = import_stories(content, format)
        digest = "sha256:" + hashlib.sha256(content.encode()).hexdigest()
        source = Source(name=name, lines=(), numbers=(), digest=digest)
        return self._save_batch(
            project,
            source,
            "import",
            None,
            drafts,
            f"{len(drafts)} stories imported.",
            accept,
            MeetingSummary(),
        )

    def analyse(self, project: str, threshold: float = 0.85) -> Analysis:
        """Near-duplicate stories, stories missing acceptance criteria or estimates, and the
        fields still TO BE DEFINED, over the project's drafts and accepted stories."""
        stories = [s for s in self.stories(project) if s.status != "rejected"]
        pairs, method = find_duplicates(stories, _embedder(), threshold)
        return Analysis(
            project=project,
            stories=len(stories),
            near_duplicates=pairs,
            similarity=method,
            missing_acceptance_criteria=[
                s.id for s in stories if set(s.acceptance_criteria) <= {TBD, ""}
            ],
            missing_estimates=[s.id for s in stories if s.points == TBD],
            open_fields={s.id: s.open_fields() for s in stories if s.open_fields()},
        )


def _json(data: Any, text: str, model: str) -> Any:
    """The model's parsed answer; one repair (a JSON object cut out of the text), then a
    clear error."""
    if isinstance(data, dict):
        return data
    start, end = text.find("{"), text.rfind("}")
    try:
        return json.loads(text[start : end + 1] if start >= 0 else text)
    except ValueError:
        raise InvalidInput(
            f"Model {model!r} did not return valid JSON for the story schema: {text[:200]!r}.",
            hint="Use rules mode (--mode rules), or a model that supports JSON output.",
        ) from None


def _embedder() -> Any:
    try:
        from passline.llm.embeddings import embedder

        model = embedder()
    except Exception:  # noqa: BLE001  (no embedding model: word overlap instead)
        return None
    return model.embed


def _payload(text: str | None, content_b64: str | None, name: str) -> bytes:
    if content_b64 is not None:
        try:
            return base64.b64decode(content_b64, validate=True)
        except (binascii.Error, ValueError):
            raise InvalidInput(f"{name}: content_b64 is not valid base64.") from None
    if text is None:
        raise InvalidInput("Send the source as 'text' or as 'content_b64' (base64 bytes).")
    return text.encode()


def _status(value: str) -> str:
    if value not in ("draft", "accepted", "rejected"):
        raise InvalidInput(
            f"The 'status' parameter must be one of draft, accepted, rejected. Got {value!r}."
        )
    return value


def _checked_fields(fields: dict[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(fields) - set(_EDITABLE))
    if unknown:
        raise InvalidInput(
            f"Stories have no editable field {unknown[0]!r}; edit: {', '.join(_EDITABLE)}."
        )
    out = dict(fields)
    if "priority" in out and out["priority"] not in (*PRIORITIES, TBD):
        raise InvalidInput(
            f"The 'priority' field must be one of {', '.join(PRIORITIES)} or "
            f"{TBD!r}. Got {out['priority']!r}."
        )
    if "points" in out:
        value = str(out["points"])
        if value != TBD and (not value.isdigit() or int(value) not in FIBONACCI):
            raise InvalidInput(
                f"The 'points' field must be a Fibonacci number "
                f"({', '.join(map(str, FIBONACCI))}) or {TBD!r}. Got {value!r}."
            )
        out["points"] = value
    for key in ("acceptance_criteria", "labels"):
        if key in out and isinstance(out[key], str):
            out[key] = [
                x.strip() for x in out[key].split("\n" if key[0] == "a" else ",") if x.strip()
            ]
    if "title" in out and not str(out["title"]).strip():
        raise InvalidInput("The 'title' field cannot be empty.")
    return out


def _redacted(drafts: list[StoryDraft]) -> list[StoryDraft]:
    """Stories quote people: personal data and secrets in them become placeholders."""
    from passline.guard import redact_text

    return [
        d.model_copy(
            update={
                "title": redact_text(d.title),
                "description": redact_text(d.description),
                "acceptance_criteria": [redact_text(c) for c in d.acceptance_criteria],
            }
        )
        for d in drafts
    ]


def _story(row: BacklogStoryRow, project: str) -> Story:
    points: int | str = int(row.points) if row.points.isdigit() else row.points
    return Story(
        id=row.id,
        project=project,
        batch_id=row.batch_id,
        status=row.status,  # type: ignore[arg-type]
        title=row.title,
        priority=row.priority,
        points=points,
        description=row.description,
        acceptance_criteria=list(row.acceptance_criteria),
        labels=list(row.labels),
        source_lines=list(row.source_lines),
        issue_type=row.issue_type,
        notes=list(row.notes),
        gate_links=list(row.gate_links or []),
        created_by=row.created_by,
        created_at=row.created_at,
        reviewed_by=row.reviewed_by,
        reviewed_at=row.reviewed_at,
    )


def _batch(row: BacklogBatchRow, project: str, stories: list[Story]) -> DraftBatch:
    return DraftBatch(
        id=row.id,
        project=project,
        source_name=row.source_name,
        source_digest=row.source_digest,
        mode=row.mode,
        model=row.model,
        message=row.message,
        line_count=row.line_count,
        summary=MeetingSummary.model_validate(row.summary or {}),
        stories=stories,
        created_by=row.created_by,
        created_at=row.created_at,
    )
