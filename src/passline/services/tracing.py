"""Traces: saved from Passline's own calls, received over OTLP/HTTP from other apps, read
back with their spans, joined to the lineage graph and to feedback.

Personal data is redacted before anything is stored, whichever path a trace came by (the
SDK, the proxy, OTLP): every string attribute, event, preview and span name goes through
``passline.guard.redact_text``. An app whose guard policy says ``metrics_only`` keeps no
content at all: the GenAI message attributes and previews are dropped, the numbers stay.
Spans are written with one multi-row INSERT per trace or OTLP batch.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import case, func, insert, select

from passline.core.clock import as_utc, utcnow
from passline.core.entities import Entity
from passline.core.ids import new_id
from passline.core.roles import Role
from passline.errors import InvalidInput, NotFound, PermissionDenied
from passline.llm.tracing import GENAI, Trace
from passline.services.base import BaseService
from passline.services.lineage import ensure_node, insert_ignore
from passline.store.models import (
    FeedbackRow,
    LineageEdgeRow,
    ProjectRow,
    PromptRow,
    PromptVersionRow,
    SpanRow,
    TraceRow,
)

__all__ = ["Feedback", "TraceService", "TraceSummary"]

PREVIEW_CHARS = 2_000
_CONTENT_KEYS = (
    GENAI.INPUT_MESSAGES,
    GENAI.OUTPUT_MESSAGES,
    "gen_ai.prompt",
    "gen_ai.completion",
    "input.value",
    "output.value",
)


class TraceSummary(Entity):
    id: str
    project: str | None
    app: str
    name: str
    user: str | None
    started_at: datetime
    duration_ms: float | None
    status: str
    spans: int
    input_tokens: int
    output_tokens: int
    cost_usd: float
    model: str | None
    prompt_version: str | None = None
    input_preview: str | None = None
    output_preview: str | None = None


class Feedback(Entity):
    id: str
    trace_id: str
    user: str
    score: int | None
    comment: str
    correction: str | None
    prompt_version: str | None
    at: datetime


class TraceService(BaseService):
    def start(
        self,
        app: str = "default",
        name: str = "request",
        user: str | None = None,
        project: str | None = None,
        session_id: str | None = None,
    ) -> Trace:
        """A trace for work done on behalf of ``user`` (default: the caller)."""
        return Trace(app, name, user or self.actor_name, project, session_id)

    def save(self, trace: Trace, content: str = "redacted") -> str:
        """Write the trace and its spans (redacted, or without content) in one transaction."""
        if trace.duration_ms is None:
            trace.finish()
        redact = BatchRedactor()
        if content != "metrics_only":
            redact.add(trace.attributes, *(s.attributes for s in trace.spans))
            redact.add(*(e for s in trace.spans for e in s.events))
            previews = (trace.input_preview, trace.output_preview)
            redact.add(*(t[:PREVIEW_CHARS] for t in previews if t))
        with self.db.write() as session:
            project_id = self._project_id(session, trace.project)
            totals = trace.totals()
            session.execute(
                insert(TraceRow),
                [
                    {
                        "id": trace.id,
                        "project_id": project_id,
                        "app": trace.app,
                        "name": trace.name,
                        "user_name": trace.user,
                        "session_id": trace.session_id,
                        "started_at": trace.started_at,
                        "ended_at": utcnow(),
                        "duration_ms": trace.duration_ms,
                        "status": trace.status,
                        "spans": len(trace.spans),
                        "input_tokens": totals["input_tokens"],
                        "output_tokens": totals["output_tokens"],
                        "cost_usd": totals["cost_usd"],
                        "model": totals["model"],
                        "prompt_version_id": trace.prompt_version_id,
                        "input_preview": _preview(trace.input_preview, content, redact),
                        "output_preview": _preview(trace.output_preview, content, redact),
                        "attributes": _clean(trace.attributes, content, redact),
                    }
                ],
            )
            rows = [
                {
                    "trace_id": trace.id,
                    "id": s.id,
                    "parent_id": s.parent_id,
                    "name": s.name,
                    "kind": s.kind,
                    "started_at": s.started_at,
                    "duration_ms": s.duration_ms,
                    "status": s.status,
                    "attributes": _clean(s.attributes, content, redact),
                    "events": [_clean(e, content, redact) for e in s.events],
                }
                for s in trace.spans
            ]
            if rows:
                session.execute(insert(SpanRow), rows)
            self._link(session, trace, project_id)
        return trace.id

    def _project_id(self, session: Any, project: str | None) -> str | None:
        if project is None:
            return None
        return self._require(session, project, Role.CONTRIBUTOR, "record traces").id

    def _link(self, session: Any, trace: Trace, project_id: str | None) -> None:
        """trace <- prompt version; the model as an attribute (models of other providers are
        not lineage nodes)."""
        ref = f"trace:{trace.id}"
        ensure_node(session, ref, f"trace {trace.name}", project_id)
        if trace.prompt_version_id:
            insert_ignore(
                session,
                LineageEdgeRow.__table__,
                [
                    {
                        "id": new_id("edg"),
                        "src_ref": f"prompt_version:{trace.prompt_version_id}",
                        "dst_ref": ref,
                        "type": "traced_in",
                        "actor": self.actor_name,
                        "created_at": utcnow(),
                        "attrs": {},
                    }
                ],
            )

    # -- OTLP ---------------------------------------------------------------------------------

    def ingest_otlp(
        self, body: bytes, content_type: str, project: str | None = None
    ) -> dict[str, Any]:
        """An OTLP/HTTP ``ExportTraceServiceRequest`` (protobuf or JSON): its spans grouped
        into traces, redacted, stored in one batch."""
        from passline.services.otlp import parse_otlp

        spans = parse_otlp(body, content_type)
        redact = BatchRedactor()
        redact.add(*(s["name"] for s in spans), *(s["attributes"] for s in spans))
        redact.add(*(e for s in spans for e in s["events"]))
        for span in spans:  # nothing personal is stored, whichever way a span arrives
            span["name"] = redact(span["name"])
            span["attributes"] = _clean(span["attributes"], "redacted", redact)
            span["events"] = [_clean(e, "redacted", redact) for e in span["events"]]
        if not spans:
            return {"traces": 0, "spans": 0}
        with self.db.write() as session:
            project_id = self._project_id(session, project)
            traces = _traces_from_spans(spans, project_id)
            existing = set(
                session.execute(select(TraceRow.id).where(TraceRow.id.in_(list(traces)))).scalars()
            )
            new_traces = [t for i, t in traces.items() if i not in existing]
            if new_traces:
                session.execute(insert(TraceRow), new_traces)
            for trace_id in existing:  # later batches of a trace add to its totals
                _merge_totals(session, trace_id, traces[trace_id])
            insert_ignore(session, SpanRow.__table__, [_span_row(s) for s in spans])
        return {"traces": len(traces), "spans": len(spans)}

    # -- reading -------------------------------------------------------------------------------

    def list(
        self,
        project: str | None = None,
        app: str | None = None,
        user: str | None = None,
        status: str | None = None,
        since: datetime | None = None,
        limit: int = 100,
    ) -> list[TraceSummary]:
        if not 1 <= limit <= 1000:
            raise InvalidInput(f"'limit' must be in [1, 1000]. Got {limit}.")
        with self.db.read() as session:
            query = select(TraceRow, ProjectRow.name).outerjoin(
                ProjectRow, ProjectRow.id == TraceRow.project_id
            )
            if project:
                prj = self._require(session, project, Role.VIEWER, "read traces")
                query = query.where(TraceRow.project_id == prj.id)
            elif not self.ctx.actor.is_admin:
                query = query.where(TraceRow.project_id.in_(self._member_project_ids(session)))
            for column, value in (
                (TraceRow.app, app),
                (TraceRow.user_name, user),
                (TraceRow.status, status),
            ):
                if value:
                    query = query.where(column == value)
            if since:
                query = query.where(TraceRow.started_at >= since)
            rows = session.execute(query.order_by(TraceRow.started_at.desc()).limit(limit)).all()
            labels = self._version_labels(session, {r.prompt_version_id for r, _ in rows})
            retrieved = self._retrieved(session, [r.id for r, _ in rows])
        summaries = [_summary(r, p, labels) for r, p in rows]
        hidden = self._unreadable({d for ids in retrieved.values() for d in ids})
        return [
            s.model_copy(update={"output_preview": UNREADABLE})
            if hidden & retrieved.get(s.id, set())
            else s
            for s in summaries
        ]

    def get(self, trace_id: str) -> dict[str, Any]:
        """A trace with its spans (in start order), feedback and the documents it retrieved."""
        with self.db.read() as session:
            found = session.execute(
                select(TraceRow, ProjectRow.name)
                .outerjoin(ProjectRow, ProjectRow.id == TraceRow.project_id)
                .where(TraceRow.id == trace_id)
            ).first()
            if found is None:
                raise NotFound(
                    f"No trace {trace_id!r}.", hint="List them with 'passline traces list'."
                )
            row, project = found
            self._check_visible(session, row, project)
            spans = (
                session.execute(
                    select(SpanRow).where(SpanRow.trace_id == trace_id).order_by(SpanRow.started_at)
                )
                .scalars()
                .all()
            )
            feedback = (
                session.execute(
                    select(FeedbackRow)
                    .where(FeedbackRow.trace_id == trace_id)
                    .order_by(FeedbackRow.at)
                )
                .scalars()
                .all()
            )
            labels = self._version_labels(session, {row.prompt_version_id})
            found = {
                "trace": _summary(row, project, labels).model_dump(mode="json"),
                "attributes": row.attributes or {},
                "spans": [_span_out(s, row.started_at) for s in spans],
                "feedback": [_feedback(f, labels).model_dump(mode="json") for f in feedback],
            }
            retrieved = self._retrieved(session, [trace_id]).get(trace_id, set())
        if self._unreadable(retrieved):
            _withhold(found)
        return found

    def _retrieved(self, session: Any, trace_ids: list[str]) -> dict[str, set[str]]:
        """The documents each trace's retrievals returned."""
        found: dict[str, set[str]] = {}
        if not trace_ids:
            return found
        rows = session.execute(
            select(SpanRow.trace_id, SpanRow.attributes).where(
                SpanRow.trace_id.in_(trace_ids), SpanRow.kind == "retrieval"
            )
        )
        for trace_id, attributes in rows:
            ids = (attributes or {}).get("passline.rag.documents") or []
            found.setdefault(trace_id, set()).update(str(d) for d in ids)
        return found

    def _unreadable(self, documents: set[str]) -> set[str]:
        """The documents the caller may not read (the RAG service decides, by ACL)."""
        if not documents:
            return set()
        rag = self.ws.services(self.ctx).rag
        hidden = set()
        for document in documents:
            try:
                rag.document(document)
            except (NotFound, PermissionDenied):
                hidden.add(document)
        return hidden

    def _check_visible(self, session: Any, row: TraceRow, project: str | None) -> None:
        if project is not None:
            self._require(session, project, Role.VIEWER, "read traces")
        elif not self.ctx.actor.is_admin and row.user_name != self.actor_name:
            raise NotFound(f"No trace {row.id!r}.")

    def _member_project_ids(self, session: Any) -> list[str]:
        from passline.store.models import MembershipRow

        return list(
            session.execute(
                select(MembershipRow.project_id).where(
                    MembershipRow.user_id == self.ctx.actor.user_id
                )
            ).scalars()
        )

    def _version_labels(self, session: Any, ids: set[str | None]) -> dict[str, str]:
        wanted = [i for i in ids if i]
        if not wanted:
            return {}
        rows = session.execute(
            select(PromptVersionRow.id, PromptVersionRow.version, PromptRow.name, ProjectRow.name)
            .join(PromptRow, PromptRow.id == PromptVersionRow.prompt_id)
            .join(ProjectRow, ProjectRow.id == PromptRow.project_id)
            .where(PromptVersionRow.id.in_(wanted))
        ).all()
        return {i: f"{p}/{n}@v{v}" for i, v, n, p in rows}

    # -- feedback --------------------------------------------------------------------------------

    def add_feedback(
        self,
        trace_id: str,
        score: int | None = None,
        comment: str = "",
        correction: str | None = None,
    ) -> Feedback:
        """Thumbs up (+1) or down (-1), a comment, a correction; on a trace you can read."""
        if score not in (None, 1, -1):
            raise InvalidInput(f"A score is 1 (thumbs up) or -1 (thumbs down). Got {score!r}.")
        if score is None and not comment.strip() and not correction:
            raise InvalidInput("Give a score, a comment or a correction.")
        from passline.guard import redact_text

        with self.db.write() as session:
            found = session.execute(
                select(TraceRow, ProjectRow.name)
                .outerjoin(ProjectRow, ProjectRow.id == TraceRow.project_id)
                .where(TraceRow.id == trace_id)
            ).first()
            if found is None:
                raise NotFound(f"No trace {trace_id!r}.")
            row, project = found
            self._check_visible(session, row, project)
            item = FeedbackRow(
                id=new_id("fb"),
                trace_id=trace_id,
                prompt_version_id=row.prompt_version_id,
                user_name=self.actor_name,
                score=score,
                comment=redact_text(comment),
                correction=redact_text(correction) if correction else None,
                at=utcnow(),
            )
            session.add(item)
            # A trace that came in over OTLP has no node yet: the edge needs both ends.
            ensure_node(session, f"trace:{trace_id}", row.name, row.project_id)
            ensure_node(
                session, f"feedback:{item.id}", f"feedback {score or ''}".strip(), row.project_id
            )
            insert_ignore(
                session,
                LineageEdgeRow.__table__,
                [
                    {
                        "id": new_id("edg"),
                        "src_ref": f"trace:{trace_id}",
                        "dst_ref": f"feedback:{item.id}",
                        "type": "scored_by",
                        "actor": self.actor_name,
                        "created_at": utcnow(),
                        "attrs": {},
                    }
                ],
            )
            self._audit(session, "trace.feedback", f"trace:{trace_id}", project, {"score": score})
            labels = self._version_labels(session, {row.prompt_version_id})
            return _feedback(item, labels)

    def feedback_summary(self, project: str) -> list[dict[str, Any]]:
        """Per prompt version: traces, thumbs up and down, comments, corrections."""
        with self.db.read() as session:
            prj = self._require(session, project, Role.VIEWER, "read feedback")
            rows = session.execute(
                select(
                    FeedbackRow.prompt_version_id,
                    func.count(),
                    func.sum(case((FeedbackRow.score == 1, 1), else_=0)),
                    func.sum(case((FeedbackRow.score == -1, 1), else_=0)),
                    func.count(FeedbackRow.correction),
                )
                .join(TraceRow, TraceRow.id == FeedbackRow.trace_id)
                .where(TraceRow.project_id == prj.id)
                .group_by(FeedbackRow.prompt_version_id)
            ).all()
            labels = self._version_labels(session, {r[0] for r in rows})
        return [
            {
                "prompt_version": labels.get(v or "", None),
                "feedback": n,
                "up": int(up or 0),
                "down": int(down or 0),
                "corrections": int(fixes or 0),
                "approval": (int(up or 0) / (int(up or 0) + int(down or 0)))
                if (up or down)
                else None,
            }
            for v, n, up, down, fixes in rows
        ]

    # -- who asked what ------------------------------------------------------------------------

    def asked_by(
        self, user: str, project: str | None = None, limit: int = 100
    ) -> list[TraceSummary]:
        """The questions a user asked (their traces), newest first."""
        if user != self.actor_name and not self.ctx.actor.is_admin and project is None:
            raise InvalidInput("Name the project whose traces to search (you may read its traces).")
        return self.list(project=project, user=user, limit=limit)


class BatchRedactor:
    """Every string of a payload redacted in one scan, then looked up one by one.

    The PII scanner's regexes are per string, but its name finder (spaCy) costs far more
    per call than per text: one ``nlp.pipe`` over all the strings of an OTLP batch instead
    of one per string made ingest several times faster (docs/benchmarks.md, llmops).
    Repeated strings (a system prompt in every span) are scanned once.
    """

    def __init__(self) -> None:
        self._pending: dict[str, None] = {}
        self._done: dict[str, str] = {}

    def add(self, *values: Any) -> None:
        """Queue the strings found in ``values`` (nested lists and dicts included)."""
        for value in values:
            if isinstance(value, str):
                if value not in self._done:
                    self._pending[value] = None
            elif isinstance(value, list | tuple):
                self.add(*value)
            elif isinstance(value, dict):
                self.add(*value.values())

    def __call__(self, text: str) -> str:
        if self._pending:
            from passline.guard.pii import redact_texts

            texts = list(self._pending)
            self._done.update(zip(texts, redact_texts(texts), strict=True))
            self._pending.clear()
        if text not in self._done:  # not queued: redacted alone, never stored as is
            self.add(text)
            return self(text)
        return self._done[text]


def _preview(text: str | None, content: str, redact: BatchRedactor) -> str | None:
    if text is None or content == "metrics_only":
        return None
    return redact(text[:PREVIEW_CHARS])


def _clean(values: dict[str, Any], content: str, redact: Any = None) -> dict[str, Any]:
    """Strings redacted; message contents dropped when no content may be kept."""
    redact = redact or BatchRedactor()
    out: dict[str, Any] = {}
    for key, value in values.items():
        if content == "metrics_only" and (
            key in _CONTENT_KEYS or key.endswith((".content", ".text"))
        ):
            continue
        out[key] = _redact_value(value, redact)
    return out


def _redact_value(value: Any, redact: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, list):
        return [_redact_value(v, redact) for v in value]
    if isinstance(value, dict):
        return {k: _redact_value(v, redact) for k, v in value.items()}
    return value


def _summary(row: TraceRow, project: str | None, labels: dict[str, str]) -> TraceSummary:
    return TraceSummary(
        id=row.id,
        project=project,
        app=row.app,
        name=row.name,
        user=row.user_name,
        started_at=as_utc(row.started_at),
        duration_ms=row.duration_ms,
        status=row.status,
        spans=row.spans,
        input_tokens=row.input_tokens,
        output_tokens=row.output_tokens,
        cost_usd=row.cost_usd,
        model=row.model,
        prompt_version=labels.get(row.prompt_version_id or ""),
        input_preview=row.input_preview,
        output_preview=row.output_preview,
    )


def _feedback(row: FeedbackRow, labels: dict[str, str]) -> Feedback:
    return Feedback(
        id=row.id,
        trace_id=row.trace_id,
        user=row.user_name,
        score=row.score,
        comment=row.comment,
        correction=row.correction,
        prompt_version=labels.get(row.prompt_version_id or ""),
        at=as_utc(row.at),
    )


def _span_out(span: SpanRow, trace_start: datetime) -> dict[str, Any]:
    offset = (as_utc(span.started_at) - as_utc(trace_start)).total_seconds() * 1000
    return {
        "id": span.id,
        "parent_id": span.parent_id,
        "name": span.name,
        "kind": span.kind,
        "offset_ms": offset,
        "duration_ms": span.duration_ms,
        "status": span.status,
        "attributes": span.attributes or {},
        "events": span.events or [],
    }


def _span_row(span: dict[str, Any]) -> dict[str, Any]:
    return {
        k: span[k]
        for k in (
            "trace_id",
            "id",
            "parent_id",
            "name",
            "kind",
            "started_at",
            "duration_ms",
            "status",
            "attributes",
            "events",
        )
    }


def _traces_from_spans(
    spans: list[dict[str, Any]], project_id: str | None
) -> dict[str, dict[str, Any]]:
    """One trace row per trace id: its root (or earliest) span's name, service and user."""
    traces: dict[str, dict[str, Any]] = {}
    for span in sorted(spans, key=lambda s: s["started_at"]):
        attrs = span["attributes"]
        entry = traces.setdefault(
            span["trace_id"],
            {
                "id": span["trace_id"],
                "project_id": project_id,
                "app": span["service"],
                "name": span["name"],
                "user_name": attrs.get("user.id") or attrs.get(GENAI.USER),
                "session_id": attrs.get("session.id") or attrs.get(GENAI.CONVERSATION),
                "started_at": span["started_at"],
                "ended_at": span["ended_at"],
                "duration_ms": 0.0,
                "status": "ok",
                "spans": 0,
                "input_tokens": 0,
                "output_tokens": 0,
                "cost_usd": 0.0,
                "model": None,
                "prompt_version_id": None,
                "input_preview": None,
                "output_preview": None,
                "attributes": {},
            },
        )
        if span["parent_id"] is None:
            entry["name"] = span["name"]
        entry["ended_at"] = max(entry["ended_at"], span["ended_at"])
        entry["duration_ms"] = (entry["ended_at"] - entry["started_at"]).total_seconds() * 1000
        entry["spans"] += 1
        entry["input_tokens"] += int(attrs.get(GENAI.INPUT_TOKENS) or 0)
        entry["output_tokens"] += int(attrs.get(GENAI.OUTPUT_TOKENS) or 0)
        entry["cost_usd"] += float(attrs.get(GENAI.COST) or 0.0)
        entry["model"] = entry["model"] or attrs.get(GENAI.REQUEST_MODEL)
        if span["status"] == "error":
            entry["status"] = "error"
    return traces


def _merge_totals(session: Any, trace_id: str, extra: dict[str, Any]) -> None:
    row = session.get(TraceRow, trace_id)
    row.spans += extra["spans"]
    row.input_tokens += extra["input_tokens"]
    row.output_tokens += extra["output_tokens"]
    row.cost_usd += extra["cost_usd"]
    if row.ended_at is None or as_utc(extra["ended_at"]) > as_utc(row.ended_at):
        row.ended_at = extra["ended_at"]
        row.duration_ms = (as_utc(row.ended_at) - as_utc(row.started_at)).total_seconds() * 1000
    if extra["status"] == "error":
        row.status = "error"


#: What a viewer who may not read a document a trace retrieved sees of its content.
UNREADABLE = "[withheld: drawn from documents you may not read]"
_WITHHELD_KEYS = (
    "gen_ai.input.messages",
    "gen_ai.output.messages",
    "gen_ai.prompt",
    "gen_ai.completion",
    "input.value",
    "output.value",
)


def _withhold(found: dict[str, Any]) -> None:
    """A trace is readable by every viewer of its project, more people than may read the
    documents its retrieval returned: for a viewer who may not read one of them, the answer,
    what the model was sent and wrote, and feedback comments (which may quote the answer)
    are withheld. The question, timings, tokens and scores stay."""
    found["trace"]["output_preview"] = UNREADABLE
    for span in found["spans"]:
        attributes = span.get("attributes") or {}
        for key in _WITHHELD_KEYS:
            if key in attributes:
                attributes[key] = UNREADABLE
    for feedback in found["feedback"]:
        if feedback.get("comment"):
            feedback["comment"] = UNREADABLE
        feedback["correction"] = None
