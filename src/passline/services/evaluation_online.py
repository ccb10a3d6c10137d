"""Online evaluation: a sample of a project's recent production traces, scored once each,
into a hallucination rate per prompt version over time.

For each sampled trace:

- **groundedness** of its answer (the trace's redacted output) in the passages it was
  given. Traces keep references to the documents they retrieved, not their text (a trace
  is read by more people than a salary file), so the passages are found again: the trace's
  question searched among the chunks of exactly the documents that trace was shown. The
  passages are read to score and never stored or returned. A trace that retrieved nothing
  through a collection is scored against the system messages its model call recorded (a
  prompt version's instructions and the context it was rendered with); for an app that
  answers from general knowledge that figure means little: filter by ``app``.
- **hallucinated**: groundedness below the threshold, or a figure the model invented that
  retrieval's grounding had to remove before the user saw it (``passline.rag.ungrounded``
  on the trace: the model hallucinated even if the user got a refusal). Otherwise a refusal
  is not a hallucination. Traces with nothing to ground against have ``None``.
- **guard hits** (events that redacted or blocked) and the **feedback** (sum of +1/-1).

Traces made by evaluation runs are left out: they are tests, not production. A trace is
scored once (its id is the key), so repeated runs and several servers never count one
twice. ``passline up``'s scheduler calls :func:`run_due_online_evaluations`.
"""

from __future__ import annotations

import json
import random
import time
from collections import defaultdict
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select, update

from passline.core.clock import as_utc, utcnow
from passline.core.roles import Role
from passline.errors import InvalidInput, PasslineError
from passline.evaluation.cases import Case
from passline.evaluation.entities import OnlineConfig, OnlinePoint, OnlineReport
from passline.evaluation.scorers import Sample, ScoringEnv
from passline.evaluation.semantic import Groundedness
from passline.evaluation.text import is_refusal
from passline.llm.tracing import GENAI
from passline.services.context import Actor, CallContext
from passline.services.lineage import insert_ignore
from passline.store.models import (
    CollectionRow,
    DocumentRow,
    FeedbackRow,
    GuardEventRow,
    ProjectRow,
    RetrievalRow,
    SpanRow,
    TraceRow,
    UserRow,
)
from passline.store.models_eval import EvalCaseResultRow, EvalOnlineConfigRow, EvalOnlineScoreRow

if TYPE_CHECKING:
    from passline.services.evaluation import EvaluationService

__all__ = ["evaluate", "rates", "run_due_online_evaluations", "schedule"]

MAX_CANDIDATES = 5_000
PASSAGES = 4
_BUCKETS = {"hour": timedelta(hours=1), "day": timedelta(days=1)}


def _check(sample: int, threshold: float, since_hours: float) -> None:
    if not isinstance(sample, int) or not 1 <= sample <= 1000:
        raise InvalidInput(f"'sample' must be an integer in [1, 1000]. Got {sample!r} instead.")
    if not 0.0 <= threshold <= 1.0:
        raise InvalidInput(f"'threshold' must be in [0, 1]. Got {threshold!r} instead.")
    if not 0 < since_hours <= 24 * 400:
        raise InvalidInput(f"'since_hours' must be in (0, 9600]. Got {since_hours!r} instead.")


def evaluate(
    svc: EvaluationService,
    project: str,
    sample: int,
    app: str | None,
    threshold: float,
    since_hours: float,
    seed: int | None,
) -> OnlineReport:
    _check(sample, threshold, since_hours)
    started = time.perf_counter()
    with svc.db.read() as session:
        prj = svc._require(session, project, Role.CONTRIBUTOR, "run online evaluation")
        candidates = _candidates(session, prj.id, app, utcnow() - timedelta(hours=since_hours))
    chosen = random.Random(seed).sample(candidates, min(sample, len(candidates)))
    rows = _score(svc, chosen, prj.id, threshold)
    with svc.db.write() as session:
        insert_ignore(session, EvalOnlineScoreRow.__table__, rows)
        report = OnlineReport(
            project=project,
            sampled=len(chosen),
            scored=len(rows),
            skipped=len(chosen) - len(rows),
            hallucinated=sum(1 for r in rows if r["hallucinated"]),
            hallucination_rate=_rate(rows),
            guard_hits=sum(r["guard_hits"] for r in rows),
            negative_feedback=sum(1 for r in rows if r["feedback"] < 0),
            duration_s=round(time.perf_counter() - started, 3),
        )
        svc._audit(
            session,
            "eval.online",
            f"project:{project}",
            project,
            report.model_dump(include={"sampled", "scored", "hallucinated"}),
        )
    return report


def _rate(rows: list[dict[str, Any]]) -> float | None:
    judged = [r for r in rows if r["hallucinated"] is not None]
    return sum(1 for r in judged if r["hallucinated"]) / len(judged) if judged else None


def _candidates(session: Any, project_id: str, app: str | None, since: datetime) -> list[Any]:
    """Recent answered traces of the project that no evaluation made and none scored."""
    query = (
        select(TraceRow)
        .where(
            TraceRow.project_id == project_id,
            TraceRow.started_at >= since,
            TraceRow.output_preview.is_not(None),
            TraceRow.name != "rag.retrieve",  # passages only: no answer to score
            TraceRow.id.not_in(select(EvalOnlineScoreRow.trace_id)),
            TraceRow.id.not_in(
                select(EvalCaseResultRow.trace_id).where(EvalCaseResultRow.trace_id.is_not(None))
            ),
        )
        .order_by(TraceRow.started_at.desc())
        .limit(MAX_CANDIDATES)
    )
    if app:
        query = query.where(TraceRow.app == app)
    return list(session.execute(query).scalars())


def _score(
    svc: EvaluationService, traces: list[TraceRow], project_id: str, threshold: float
) -> list[dict[str, Any]]:
    if not traces:
        return []
    ids = [t.id for t in traces]
    with svc.db.read() as session:
        shown = _shown(session, ids)
        given = _given(session, ids)
        hits = dict(
            session.execute(
                select(GuardEventRow.trace_id, func.count())
                .where(
                    GuardEventRow.trace_id.in_(ids), GuardEventRow.action.in_(("block", "redact"))
                )
                .group_by(GuardEventRow.trace_id)
            ).all()
        )
        feedback = dict(
            session.execute(
                select(FeedbackRow.trace_id, func.coalesce(func.sum(FeedbackRow.score), 0))
                .where(FeedbackRow.trace_id.in_(ids))
                .group_by(FeedbackRow.trace_id)
            ).all()
        )
    env, scorer, now = ScoringEnv(), Groundedness(), utcnow()
    rows = []
    for trace in traces:
        attrs = trace.attributes or {}
        answer = trace.output_preview or ""
        refused = bool(attrs.get("passline.rag.refused")) or is_refusal(answer)
        passages = _passages(svc, trace.input_preview or "", shown.get(trace.id, []), env)
        passages = passages or given.get(trace.id, [])
        grounded, hallucinated = None, None
        if passages:
            case = Case(id=trace.id, question=trace.input_preview or "?")
            grounded = scorer.score(Sample(case, answer, tuple(passages), env)).value
            # A figure the model invented counts even when grounding removed it in time.
            invented = bool(attrs.get("passline.rag.ungrounded"))
            hallucinated = invented or (not refused and (grounded or 0.0) < threshold)
        rows.append(
            {
                "trace_id": trace.id,
                "project_id": project_id,
                "prompt_version_id": trace.prompt_version_id,
                "app": trace.app,
                "trace_at": trace.started_at,
                "scored_at": now,
                "groundedness": grounded,
                "hallucinated": hallucinated,
                "refused": refused,
                "guard_hits": int(hits.get(trace.id, 0)),
                "feedback": int(feedback.get(trace.id, 0) or 0),
                "details": {"passages": len(passages), "threshold": threshold},
            }
        )
    return rows


def _shown(session: Any, trace_ids: list[str]) -> dict[str, list[tuple[Any, Any]]]:
    """trace id -> [(document row, collection row)] of the documents it was shown."""
    rows = session.execute(
        select(RetrievalRow.trace_id, DocumentRow, CollectionRow)
        .join(DocumentRow, DocumentRow.id == RetrievalRow.document_id)
        .join(CollectionRow, CollectionRow.id == DocumentRow.collection_id)
        .where(RetrievalRow.trace_id.in_(trace_ids))
        .order_by(RetrievalRow.rank)
    ).all()
    out: dict[str, list[tuple[Any, Any]]] = defaultdict(list)
    for trace_id, document, collection in rows:
        out[trace_id].append((document, collection))
    return out


def _given(session: Any, trace_ids: list[str]) -> dict[str, list[str]]:
    """trace id -> the system messages its chat spans recorded (a prompt's instructions
    and the context it was rendered with), for traces that retrieved nothing through a
    collection. Traces of apps whose policy keeps metrics only recorded none."""
    out: dict[str, list[str]] = {}
    rows = session.execute(
        select(SpanRow.trace_id, SpanRow.attributes).where(
            SpanRow.trace_id.in_(trace_ids), SpanRow.kind == "chat"
        )
    ).all()
    for trace_id, attributes in rows:
        try:
            messages = json.loads((attributes or {}).get(GENAI.INPUT_MESSAGES) or "[]")
        except (TypeError, ValueError):
            continue
        texts = [
            m["content"]
            for m in messages
            if isinstance(m, dict)
            and m.get("role") == "system"
            and isinstance(m.get("content"), str)
            and "characters of sources>" not in m["content"]
        ]
        if texts:
            out.setdefault(trace_id, []).extend(texts)
    return out


def _passages(
    svc: EvaluationService, question: str, shown: list[tuple[Any, Any]], env: ScoringEnv
) -> list[str]:
    """The chunks of the shown documents nearest to the question, per collection."""
    if not shown or not question:
        return []
    rag = svc.ws.services(svc.ctx).rag
    by_collection: dict[str, tuple[Any, list[Any]]] = {}
    for document, collection in shown:
        by_collection.setdefault(collection.id, (collection, []))[1].append(document)
    vector = env.embed([question])[0]
    texts: list[str] = []
    for collection, documents in by_collection.values():
        index = rag.vector_index(collection)
        keys = index.versions((d.id, d.digest) for d in documents)
        if keys:
            texts += [h.text for h in index.search(vector, list(keys.values()), PASSAGES)]
    return texts


# -- rates over time -----------------------------------------------------------------------


def rates(
    svc: EvaluationService, project: str, bucket: str, since_hours: float, prompt: str | None
) -> list[OnlinePoint]:
    if bucket not in _BUCKETS:
        raise InvalidInput(f"'bucket' must be hour or day. Got {bucket!r} instead.")
    _check(1, 0.5, since_hours)
    with svc.db.read() as session:
        prj = svc._require(session, project, Role.VIEWER, "read online evaluation")
        query = select(EvalOnlineScoreRow).where(
            EvalOnlineScoreRow.project_id == prj.id,
            EvalOnlineScoreRow.trace_at >= utcnow() - timedelta(hours=since_hours),
        )
        if prompt:
            version = svc.ws.services(svc.ctx).prompts.version(prompt)
            query = query.where(EvalOnlineScoreRow.prompt_version_id == version.id)
        rows = list(session.execute(query).scalars())
        from passline.services.tracing import TraceService

        labels = TraceService(svc.ws, svc.ctx)._version_labels(
            session, {r.prompt_version_id for r in rows}
        )
    groups: dict[tuple[str | None, datetime], list[EvalOnlineScoreRow]] = defaultdict(list)
    for row in rows:
        groups[(row.prompt_version_id, _floor(as_utc(row.trace_at), bucket))].append(row)
    return [
        _point(labels.get(version or ""), start, members)
        for (version, start), members in sorted(
            groups.items(), key=lambda item: (item[0][1], item[0][0] or "")
        )
    ]


def _floor(at: datetime, bucket: str) -> datetime:
    at = at.replace(minute=0, second=0, microsecond=0)
    return at.replace(hour=0) if bucket == "day" else at


def _point(label: str | None, start: datetime, rows: list[EvalOnlineScoreRow]) -> OnlinePoint:
    judged = [r for r in rows if r.hallucinated is not None]
    grounded = [r.groundedness for r in rows if r.groundedness is not None]
    bad = sum(1 for r in judged if r.hallucinated)
    return OnlinePoint(
        prompt_version=label,
        bucket=start,
        traces=len(rows),
        grounded_traces=len(judged),
        hallucinated=bad,
        hallucination_rate=bad / len(judged) if judged else None,
        mean_groundedness=sum(grounded) / len(grounded) if grounded else None,
        guard_hit_rate=sum(1 for r in rows if r.guard_hits) / len(rows),
        negative_feedback_rate=sum(1 for r in rows if r.feedback < 0) / len(rows),
    )


# -- on a schedule ---------------------------------------------------------------------------


def schedule(
    svc: EvaluationService,
    project: str,
    cron: str,
    sample: int,
    app: str | None,
    threshold: float,
    enabled: bool,
) -> OnlineConfig:
    from passline.services.sources import next_run

    _check(sample, threshold, 24.0)
    first = next_run(cron, utcnow())
    with svc.db.write() as session:
        prj = svc._require(session, project, Role.CONTRIBUTOR, "schedule online evaluation")
        row = session.get(EvalOnlineConfigRow, prj.id)
        if row is None:
            row = EvalOnlineConfigRow(
                project_id=prj.id, created_by=svc.actor_name, created_at=utcnow()
            )
            session.add(row)
        row.app, row.sample, row.threshold, row.schedule = app, sample, threshold, cron
        row.enabled, row.next_run_at = enabled, first if enabled else None
        svc._audit(
            session,
            "eval.online.schedule",
            f"project:{project}",
            project,
            {"schedule": cron, "sample": sample, "app": app, "enabled": enabled},
        )
        session.flush()
        return _config(row, project)


def _config(row: EvalOnlineConfigRow, project: str) -> OnlineConfig:
    return OnlineConfig(
        project=project,
        app=row.app,
        sample=row.sample,
        threshold=row.threshold,
        schedule=row.schedule,
        enabled=row.enabled,
        created_by=row.created_by,
        next_run_at=as_utc(row.next_run_at) if row.next_run_at else None,
        last_run_at=as_utc(row.last_run_at) if row.last_run_at else None,
        last_status=row.last_status,
    )


def run_due_online_evaluations(
    workspace: Any, now: datetime | None = None
) -> list[tuple[str, str]]:
    """Score every project whose online evaluation is due, as the user who scheduled it;
    claimed with a conditional UPDATE so several servers never run one twice."""
    from passline.services.evaluation import EvaluationService
    from passline.services.sources import next_run

    now = now or utcnow()
    with workspace.db.read() as session:
        due = session.execute(
            select(EvalOnlineConfigRow, ProjectRow.name, UserRow)
            .join(ProjectRow, ProjectRow.id == EvalOnlineConfigRow.project_id)
            .join(UserRow, UserRow.name == EvalOnlineConfigRow.created_by)
            .where(
                EvalOnlineConfigRow.enabled.is_(True),
                EvalOnlineConfigRow.next_run_at.is_not(None),
                EvalOnlineConfigRow.next_run_at <= now,
            )
        ).all()
    outcomes = []
    for config, project, owner in due:
        with workspace.db.write() as session:
            claimed = session.execute(
                update(EvalOnlineConfigRow)
                .where(
                    EvalOnlineConfigRow.project_id == config.project_id,
                    EvalOnlineConfigRow.next_run_at == config.next_run_at,
                )
                .values(next_run_at=next_run(config.schedule, now))
            )
        if not claimed.rowcount:  # type: ignore[attr-defined]
            continue
        ctx = CallContext(Actor(owner.id, owner.name, owner.is_admin, owner.kind), "system")
        try:
            report = EvaluationService(workspace, ctx).online_evaluate(
                project, config.sample, config.app, config.threshold
            )
            status = f"scored {report.scored}, hallucinated {report.hallucinated}"
        except PasslineError as exc:
            status = f"failed: {exc.message}"
        with workspace.db.write() as session:
            session.execute(
                update(EvalOnlineConfigRow)
                .where(EvalOnlineConfigRow.project_id == config.project_id)
                .values(last_run_at=utcnow(), last_status=status[:2000])
            )
        outcomes.append((f"{project}/online-evaluation", status))
    return outcomes
