"""Retrieval and answers for a user, under that user's rights, traced and recorded.

The order matters and is the whole security argument: the reader's documents are decided
from the metadata (ACL against name, groups, project role) *before* the vector index is
searched, and the index searches only those documents' chunks. The prompt is built from
what the search returned, so the model only ever sees text the reader may read.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from passline.core.clock import as_utc, utcnow
from passline.core.ids import new_id
from passline.core.rag import (
    Acl,
    Answer,
    Audience,
    Document,
    Passage,
    Retrieval,
    Retrieved,
    Source,
    Viewer,
)
from passline.core.roles import Role
from passline.errors import IntegrityError, InvalidInput, PermissionDenied
from passline.llm.tracing import GENAI, Trace
from passline.rag import Reader, check_acl
from passline.rag.grounding import attribute, ground
from passline.services.lineage import ensure_node, insert_ignore
from passline.store.models import (
    CollectionRow,
    DocumentRow,
    LineageEdgeRow,
    ProjectRow,
    RetrievalRow,
    TraceRow,
)

if TYPE_CHECKING:
    from passline.services.rag import RagService

__all__ = ["REFUSAL", "ask", "audience", "build_messages", "cited_numbers", "retrieve"]

#: Below this cosine similarity a passage is not an answer to the question.
MIN_SCORE = 0.2
#: About 1,200 tokens of passages: room for the question and a 256-token answer within
#: the embedded model's 2,048-token context.
CONTEXT_CHARS = 4_800
MAX_QUESTION_CHARS = 2_000
REFUSAL = (
    "I found nothing you are allowed to read that answers this question, so I cannot answer it."
)
SYSTEM = (
    "You are a helpful assistant. Answer the question in one sentence using only the facts "
    "below, and end the sentence with the number of the fact you used, like [1]. If no fact "
    "answers it, say: I don't know.\n\n"
)
#: Deterministic answers: a retrieval answer should not change from one asking to the next.
PARAMS = {"temperature": 0.0, "max_tokens": 200}


@dataclass
class _Request:
    """Who asks what of which collection, and the documents they may read."""

    collection: CollectionRow
    name: str  # project/collection
    project: str
    user: str
    question: str
    reader: Reader
    readable: dict[str, Any] = field(default_factory=dict)  # id -> (id, path, title, digest)

    @property
    def app(self) -> str:
        """The guard policy's app: the collection's name within its project."""
        return self.collection.name


def retrieve(
    svc: RagService, collection: str, question: str, as_user: str | None, k: int
) -> Retrieved:
    request = _open(svc, collection, question, as_user)
    trace = _start(svc, request, "rag.retrieve")
    passages = _search(svc, request, trace, k)
    if not passages:
        _refuse(svc, request, trace)
    else:
        trace.output_preview = "\n".join(f"[{p.rank}] {p.path}" for p in passages)
        _finish(svc, request, trace, passages)
    return Retrieved(
        collection=request.name,
        user=request.user,
        question=request.question,
        trace_id=trace.id,
        passages=passages,
    )


def ask(
    svc: RagService,
    collection: str,
    question: str,
    as_user: str | None,
    model: str | None,
    k: int,
) -> Answer:
    request = _open(svc, collection, question, as_user)
    trace = _start(svc, request, "rag.ask")
    passages = _search(svc, request, trace, k)
    base = {"collection": request.name, "user": request.user, "question": request.question}
    if not passages:
        _refuse(svc, request, trace)
        return Answer(text=REFUSAL, trace_id=trace.id, refused=True, **base)
    sources = _sources(passages)
    messages = build_messages(request.question, passages, sources)
    try:
        reply = svc.services.llm.chat(
            messages,
            model=model,
            app=request.app,
            project=request.project,
            user=request.user,
            trace=trace,
            params=PARAMS,
            # The semantic cache matches on the question alone: an answer built from one
            # user's passages must never be served to another user who asks alike.
            cache=False,
        )
    except BaseException:
        trace.finish("error")
        _save(svc, request, trace)
        raise
    text, ungrounded = reply.text, []
    if not getattr(reply, "blocked", False):
        text, ungrounded = ground(text, "\n".join(p.text for p in passages), request.question)
    if ungrounded:
        trace.attributes["passline.rag.ungrounded"] = ungrounded
    if not getattr(reply, "blocked", False):
        text, attributed = attribute(text, _source_texts(passages, sources))
        trace.attributes["passline.rag.citations"] = "passline" if attributed else "model"
    cited = cited_numbers(text, len(sources))
    trace.output_preview = text
    _keep_references_only(trace, sources)
    _finish(svc, request, trace, passages)
    return Answer(
        text=text,
        ungrounded=ungrounded,
        trace_id=trace.id,
        sources=[s.model_copy(update={"cited": s.number in cited}) for s in sources],
        passages=passages,
        blocked=bool(getattr(reply, "blocked", False)),
        model=_model_of(reply, trace),
        usage=_plain(getattr(reply, "usage", None)),
        cost_usd=float(getattr(reply, "cost_usd", 0.0) or 0.0),
        guard=[_plain(g) for g in getattr(reply, "guard", None) or []],
        **base,
    )


def build_messages(
    question: str, passages: list[Passage], sources: list[Source]
) -> list[dict[str, str]]:
    """The system prompt (numbered facts, one line each, within :data:`CONTEXT_CHARS`) and
    the question. Measured on the embedded 135M model, one line per fact after a short
    instruction gave answers where a longer, structured prompt gave none."""
    number = {s.document_id: s.number for s in sources}
    budget, lines = CONTEXT_CHARS, []
    for p in passages:
        text = " ".join(p.text.replace("#", " ").split())
        text = text.removeprefix(p.title).lstrip(" :")  # the title is already on the line
        text = text if len(text) <= budget else text[:budget].rsplit(" ", 1)[0] + " ..."
        if budget <= 0 or not text.strip():
            break
        lines.append(f"[{number[p.document_id]}] {p.title}: {text}")
        budget -= len(text)
    return [
        {"role": "system", "content": SYSTEM + "\n".join(lines)},
        {"role": "user", "content": question},
    ]


def cited_numbers(text: str, count: int) -> set[int]:
    """The source numbers an answer cites: [1], [2, 3], [1][2]; others are ignored."""
    found = set()
    for group in re.findall(r"\[(\d+(?:\s*,\s*\d+)*)\]", text):
        found.update(int(n) for n in group.split(","))
    return {n for n in found if 1 <= n <= count}


def _source_texts(passages: list[Passage], sources: list[Source]) -> dict[int, str]:
    number = {s.document_id: s.number for s in sources}
    texts: dict[int, str] = {}
    for p in passages:
        texts[number[p.document_id]] = f"{texts.get(number[p.document_id], '')} {p.title} {p.text}"
    return texts


def _sources(passages: list[Passage]) -> list[Source]:
    """One number per document, in rank order."""
    seen: dict[str, Source] = {}
    for p in passages:
        if p.document_id not in seen:
            seen[p.document_id] = Source(
                number=len(seen) + 1,
                document_id=p.document_id,
                path=p.path,
                title=p.title,
                cited=False,
            )
    return list(seen.values())


# -- the request ----------------------------------------------------------------------------


def _open(svc: RagService, collection: str, question: str, as_user: str | None) -> _Request:
    question = " ".join((question or "").split())
    if not question or len(question) > MAX_QUESTION_CHARS:
        raise InvalidInput(
            f"The question must be 1-{MAX_QUESTION_CHARS:,} characters. Got {len(question):,}."
        )
    user = as_user or svc.actor_name
    with svc.db.read() as session:
        row, project = svc._find_collection(session, collection)
        denied = _may_not_ask(svc, session, project, user)
        if denied is None:
            reader = svc.reader(session, user, row)
            documents = session.execute(
                select(
                    DocumentRow.id,
                    DocumentRow.path,
                    DocumentRow.title,
                    DocumentRow.digest,
                    DocumentRow.acl,
                ).where(DocumentRow.collection_id == row.id)
            ).all()
    if denied is not None:
        _audit(
            svc,
            "rag.ask.denied",
            f"collection:{project}/{row.name}",
            project,
            {"as_user": user, "reason": denied.message},
        )
        raise denied
    readable = {d.id: d for d in documents if check_acl(Acl(**(d.acl or {})), reader)}
    return _Request(row, f"{project}/{row.name}", project, user, question, reader, readable)


def _may_not_ask(
    svc: RagService, session: Session, project: str, user: str
) -> PermissionDenied | None:
    """Asking a collection needs the viewer role in its project (the documents then depend
    on their ACLs). Asking as someone else: workspace admins, or service accounts holding
    contributor on the project (an app that answers its users' questions)."""
    actor = svc.ctx.actor
    if actor.is_admin:
        return None
    held = svc._role_in(session, svc._project(session, project).id)
    if user == actor.name:
        if held is not None:
            return None
        return PermissionDenied(
            f"User {actor.name!r} needs the 'viewer' role in project {project!r} to ask its "
            "collections, and is not a member.",
            hint=f"Ask a project admin: passline projects add-member {project} {actor.name} "
            "--role viewer",
        )
    if actor.kind == "service" and held is not None and held.allows(Role.CONTRIBUTOR):
        return None
    return PermissionDenied(
        f"User {actor.name!r} cannot ask as {user!r}: only workspace admins, and service "
        f"accounts with the 'contributor' role in project {project!r}, can ask as another user.",
        hint="Ask as yourself (leave out --as), or use an authorised service account.",
    )


def _search(svc: RagService, request: _Request, trace: Trace, k: int) -> list[Passage]:
    attributes = {
        GENAI.OPERATION: "retrieval",
        GENAI.DATA_SOURCE: f"collection:{request.name}",
        GENAI.USER: request.user,
        "passline.rag.k": k,
    }
    with trace.span("retrieve", kind="retrieval", **attributes) as span:
        index = svc.vector_index(request.collection)
        keys = index.versions((d.id, d.digest) for d in request.readable.values())
        by_key = {key: request.readable[doc_id] for doc_id, key in keys.items()}
        from passline.services.rag import _embed

        vector = _embed([request.question])[0]
        hits = index.search(vector, list(by_key), k)
        if any(h.version not in by_key for h in hits):  # the index ignored the filter
            raise IntegrityError("The vector index returned a chunk outside the reader's rights.")
        passages = [
            Passage(
                rank=rank,
                score=round(h.score, 4),
                document_id=by_key[h.version].id,
                path=by_key[h.version].path,
                title=by_key[h.version].title,
                chunk=h.chunk,
                start=h.start,
                end=h.end,
                text=h.text,
            )
            for rank, h in enumerate(hits, 1)
            if h.score >= MIN_SCORE
        ]
        span.set(
            **{
                "passline.rag.readable_documents": len(request.readable),
                "passline.rag.documents": [p.document_id for p in passages],
                "passline.rag.scores": [p.score for p in passages],
            }
        )
    return passages


# -- traces and records ---------------------------------------------------------------------


def _start(svc: RagService, request: _Request, name: str) -> Trace:
    from passline.services.tracing import TraceService

    trace = TraceService(svc.ws, svc.ctx).start(
        app=request.app, name=name, user=request.user, project=request.project
    )
    trace.input_preview = request.question
    if request.user != svc.actor_name:
        trace.attributes["passline.rag.asked_by"] = svc.actor_name
    return trace


def _keep_references_only(trace: Trace, sources: list[Source]) -> None:
    """Replace the passages in the chat spans' recorded input by references to their
    documents: a trace is readable by more people than a salary file is. The question and
    the answer stay (redacted as every trace is)."""
    listing = "\n".join(f"[{s.number}] document:{s.document_id} ({s.path})" for s in sources)
    for span in trace.spans:
        raw = span.attributes.get(GENAI.INPUT_MESSAGES)
        if span.kind != "chat" or not isinstance(raw, str):
            continue
        try:
            messages = json.loads(raw)
        except ValueError:
            continue
        kept = [
            {**m, "content": f"<{len(m.get('content', ''))} characters of sources>\n{listing}"}
            if m.get("role") == "system"
            else m
            for m in messages
        ]
        span.attributes[GENAI.INPUT_MESSAGES] = json.dumps(kept)


def _save(svc: RagService, request: _Request, trace: Trace) -> None:
    """Record the trace, keeping as much content as the app's guard policy allows. The
    caller was authorised for the retrieval itself; storing its trace in the collection's
    project is the platform's record, not the caller's write, so it is saved without the
    contributor role ``TraceService.save`` asks of callers."""
    from passline.services.context import Actor, CallContext
    from passline.services.tracing import TraceService

    actor = svc.ctx.actor
    system = CallContext(Actor(actor.user_id, actor.name, True, actor.kind), "system")
    TraceService(svc.ws, system).save(trace, _content_mode(svc, request))


def _content_mode(svc: RagService, request: _Request) -> str:
    """``redacted`` (the default) or ``metrics_only``, from the app's guard policy."""
    from passline.errors import NotFound

    try:
        policy = svc.services.guards.get_policy(request.project, request.app)
    except NotFound:
        return "redacted"
    return str(policy.policy.get("content", "redacted"))


def _refuse(svc: RagService, request: _Request, trace: Trace) -> None:
    trace.output_preview = REFUSAL
    trace.attributes["passline.rag.refused"] = True
    trace.finish()
    _save(svc, request, trace)
    _audit(
        svc,
        "rag.refuse",
        f"collection:{request.name}",
        request.project,
        {
            "user": request.user,
            "trace": trace.id,
            "readable_documents": len(request.readable),
            "reason": "no readable passage answers the question"
            if request.readable
            else "the user may read no document of the collection",
        },
    )


def _finish(svc: RagService, request: _Request, trace: Trace, passages: list[Passage]) -> None:
    """Save the trace, then one retrieval row and lineage edge per document shown."""
    trace.finish()
    _save(svc, request, trace)
    best: dict[str, Passage] = {}
    for p in passages:
        best.setdefault(p.document_id, p)
    now = utcnow()
    with svc.db.write() as session:
        ensure_node(
            session, f"trace:{trace.id}", f"trace {trace.name}", request.collection.project_id
        )
        session.add_all(
            RetrievalRow(
                id=new_id("ret"),
                trace_id=trace.id,
                document_id=doc,
                user_name=request.user,
                rank=p.rank,
                score=p.score,
                at=now,
            )
            for doc, p in best.items()
        )
        insert_ignore(
            session,
            LineageEdgeRow.__table__,
            [
                {
                    "id": new_id("edg"),
                    "src_ref": f"document:{doc}",
                    "dst_ref": f"trace:{trace.id}",
                    "type": "retrieved_in",
                    "actor": svc.actor_name,
                    "created_at": now,
                    "attrs": {"user": request.user, "rank": p.rank, "score": p.score},
                }
                for doc, p in best.items()
            ],
        )


def _audit(svc: RagService, action: str, ref: str, project: str, changes: dict[str, Any]) -> None:
    with svc.db.write() as session:
        svc._audit(session, action, ref, project, changes)


def _model_of(reply: Any, trace: Trace) -> str | None:
    return getattr(reply, "model", None) or trace.totals().get("model")


def _plain(value: Any) -> Any:
    if value is None:
        return {}
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    if hasattr(value, "__dataclass_fields__"):
        from dataclasses import asdict

        return asdict(value)
    return value


# -- who saw what ---------------------------------------------------------------------------


def retrievals(
    session: Session,
    document_id: str | None = None,
    user: str | None = None,
    projects: list[str] | None = None,
    limit: int = 1000,
) -> list[Retrieval]:
    """Retrieval records, newest first, with the question of their trace when saved."""
    query = (
        select(
            RetrievalRow,
            DocumentRow.path,
            DocumentRow.title,
            CollectionRow.name,
            ProjectRow.name,
            TraceRow.input_preview,
        )
        .join(DocumentRow, DocumentRow.id == RetrievalRow.document_id)
        .join(CollectionRow, CollectionRow.id == DocumentRow.collection_id)
        .join(ProjectRow, ProjectRow.id == CollectionRow.project_id)
        .outerjoin(TraceRow, TraceRow.id == RetrievalRow.trace_id)
    )
    if document_id is not None:
        query = query.where(RetrievalRow.document_id == document_id)
    if user is not None:
        query = query.where(RetrievalRow.user_name == user)
    if projects is not None:
        query = query.where(ProjectRow.id.in_(projects))
    rows = session.execute(query.order_by(RetrievalRow.at.desc()).limit(limit)).all()
    return [
        Retrieval(
            trace_id=r.trace_id,
            document_id=r.document_id,
            path=path,
            title=title,
            collection=f"{project}/{coll}",
            user=r.user_name,
            rank=r.rank,
            score=r.score,
            at=as_utc(r.at),
            question=question,
        )
        for r, path, title, coll, project, question in rows
    ]


def audience(document: Document, records: list[Retrieval]) -> Audience:
    viewers: dict[str, list[Retrieval]] = {}
    for r in records:
        viewers.setdefault(r.user, []).append(r)
    users = [
        Viewer(user=u, times=len(rs), first_at=min(r.at for r in rs), last_at=max(r.at for r in rs))
        for u, rs in sorted(viewers.items())
    ]
    return Audience(document=document, users=users, retrievals=records)
