"""Web UI of the LLM block: models and the cache, prompts (versions, labels, diffs and the
feedback each version got), traces (filtered, each with its span waterfall, guard events and
feedback), guard events, and the documents of retrieval collections with their ACLs.

Same rules as ``ui``: pages call the services as the signed-in user, so a page shows only
what that user may read, and the one error handler turns a refusal into an error page. The
one form that writes (feedback) posts with the session cookie, which is ``SameSite=Strict``:
a browser never sends it with a request that another site started.

A trace is readable by every viewer of its project, more people than may read the documents
its retrieval returned, so the trace page asks the RAG service about each of those documents
and, when one is not readable, withholds what could quote it (the answer, the model's
messages, feedback comments). An answer an output guard blocked is shown to nobody.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from passline.core.clock import as_utc, utcnow
from passline.core.rag import Audience, Collection, Document
from passline.errors import InvalidInput, NotFound, PermissionDenied
from passline.llm.tracing import GENAI
from passline.server.charts import Waterfall, short_number, shorten, span_tree, waterfall_chart
from passline.server.deps import ui_services
from passline.server.ui import _page
from passline.services.guards import GuardEventInfo
from passline.services.llm import LlmModel
from passline.services.prompts import Prompt, PromptVersion
from passline.services.tracing import TraceSummary
from passline.services.workspace import Services

__all__ = ["router"]

router = APIRouter(include_in_schema=False)

LATEST_TRACES = 10  # on the overview
TRACES_PAGE = 50
MAX_TRACES_PAGE = 1000  # the service's own ceiling
TRACE_STATUSES = ("ok", "error", "blocked")
GUARD_PAGE = 100
GUARD_ACTIONS = ("block", "redact", "allow")  # strictest first
GUARD_WINDOW = timedelta(hours=24)  # the overview's counts
GUARD_COUNTED = 10_000  # events read per project, and refusals read, for those counts
AUDIT_READ = 10_000  # the audit service's ceiling: indexing entries read per project
HOVER_VALUE_CHARS = 160  # an attribute's value in a span's hover text
#: Where a service's refusal of a diff is said (the rest of the prompt page still stands).
DIFF_ERRORS = (InvalidInput, NotFound)


# --- formatting helpers, for the LLM templates ----------------------------------------------


def usd(value: float | None) -> str:
    """A cost in US dollars: ``$0.20``, ``$0.00035``, ``$0``."""
    if value is None:
        return "—"
    if value == 0:
        return "$0"
    if abs(value) >= 0.01:
        return f"${value:,.2f}"
    return f"${value:.2g}" if abs(value) >= 1e-6 else "<$0.000001"


def count_text(value: int | None) -> str:
    return "—" if value is None else f"{value:,}"


def prompt_url(prompt: str, **params: Any) -> str:
    """The page of prompt ``project/name`` (or of ``project/name@vN``: the same page)."""
    project, _, name = prompt.partition("@")[0].partition("/")
    base = f"/prompts/{quote(project, safe='')}/{quote(name, safe='')}"
    kept = {k: v for k, v in params.items() if v not in (None, "")}
    return f"{base}?{urlencode(kept)}" if kept else base


def prompt_version_url(label: str) -> str:
    """``project/name@v3`` -> that version's place on its prompt's page."""
    prompt, _, version = label.partition("@")
    return f"{prompt_url(prompt)}#{quote(version, safe='')}"


def trace_url(trace_id: str) -> str:
    return f"/traces/{quote(trace_id, safe='')}"


def traces_url(**filters: Any) -> str:
    kept = {k: v for k, v in filters.items() if v not in (None, "")}
    return "/traces?" + urlencode(kept) if kept else "/traces"


def guard_url(**filters: Any) -> str:
    kept = {k: v for k, v in filters.items() if v not in (None, "")}
    return "/guard?" + urlencode(kept) if kept else "/guard"


def collection_url(project: str, name: str) -> str:
    return f"/collections/{quote(project, safe='')}/{quote(name, safe='')}"


def finding_kinds(findings: Iterable[Mapping[str, Any]]) -> list[tuple[str, int]]:
    """What a guard found, as types and counts only (``EMAIL`` × 2): never positions."""
    kinds = Counter(
        str(f.get("entity") or f.get("type") or f.get("category") or "finding") for f in findings
    )
    return sorted(kinds.items(), key=lambda kv: (-kv[1], kv[0]))


def pretty_json(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False, default=str)


def attribute_text(value: Any) -> str:
    """An attribute's value for a table cell: strings as they are, the rest as JSON."""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)


LLM_HELPERS: dict[str, Any] = {
    "usd": usd,
    "count_text": count_text,
    "prompt_url": prompt_url,
    "prompt_version_url": prompt_version_url,
    "trace_url": trace_url,
    "traces_url": traces_url,
    "guard_url": guard_url,
    "collection_url": collection_url,
    "finding_kinds": finding_kinds,
    "pretty_json": pretty_json,
    "attribute_text": attribute_text,
    "shorten": shorten,
}


def _llm_page(
    request: Request, template: str, svc: Services, section: str, **context: Any
) -> HTMLResponse:
    return _page(request, template, svc, **LLM_HELPERS, llm_section=section, **context)


def _project_names(svc: Services) -> list[str]:
    return [p.name for p in svc.projects.list()]


# --- overview -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ModelRow:
    """A configured model as the overview lists it (never its key's reference)."""

    model: LlmModel
    target: str  # what it calls: a runtime, an endpoint's model, a router's rules
    context: int | None


@router.get("/llm", response_class=HTMLResponse)
def overview(request: Request, svc: Services = Depends(ui_services)) -> HTMLResponse:
    """Models with their prices, the response cache, the latest traces, guard events and
    retrieval refusals of the last day, and the way to every LLM page."""
    projects = _project_names(svc)
    return _llm_page(
        request,
        "llm.html",
        svc,
        "overview",
        models=[_model_row(m) for m in svc.llm.models()],
        cache=svc.llm.cache_stats(),
        traces=svc.tracing.list(limit=LATEST_TRACES),
        guard_counts=_guard_counts(svc, projects),
        refusals=_refusals(svc),
        guard_hours=int(GUARD_WINDOW.total_seconds() // 3600),
        prompts=len(svc.prompts.list()),
        collections=len(svc.rag.collections()),
        projects=projects,
    )


def _model_row(model: LlmModel) -> ModelRow:
    config = model.config
    if model.provider == "openai":
        target = f"{config.get('model')} at {config.get('base_url')}"
    elif model.provider == "router":
        rules = len(config.get("rules", []))
        target = f"{rules} rule{'s' if rules != 1 else ''}, else {config.get('default')}"
    else:
        target = " · ".join(str(v) for v in config.values())
    context = config.get("context")
    return ModelRow(model, target, int(context) if isinstance(context, int) else None)


def _guard_counts(svc: Services, projects: list[str]) -> dict[str, int]:
    """Events of the last ``GUARD_WINDOW`` in the caller's projects, by action."""
    since = utcnow() - GUARD_WINDOW
    counts = Counter(
        e.action
        for project in projects
        for e in svc.guards.events(project, since=since, limit=GUARD_COUNTED)
    )
    return {action: counts.get(action, 0) for action in GUARD_ACTIONS}


def _refusals(svc: Services) -> int:
    """Questions of the last ``GUARD_WINDOW`` that retrieval refused (nothing the asker may
    read answered them), in the caller's projects. A refusal stops a question before any
    guard runs, so it is no guard event: the audit log has it (``rag.refuse``)."""
    since = utcnow() - GUARD_WINDOW
    entries = svc.audit.log(action="rag.refuse", limit=GUARD_COUNTED)
    return sum(1 for e in entries if _moment(e.at) >= since)


def _moment(text: str) -> datetime:
    return as_utc(datetime.fromisoformat(text))


# --- prompts --------------------------------------------------------------------------------


@dataclass(frozen=True)
class DiffLine:
    kind: str  # add, del, hunk, meta or same
    text: str


@dataclass
class DiffView:
    """Two versions compared: the template's unified diff, line by line, and the fields
    that changed."""

    old: int
    new: int
    lines: list[DiffLine]
    changed: dict[str, dict[str, Any]]


@router.get("/prompts", response_class=HTMLResponse)
def prompts_page(
    request: Request, project: str = "", svc: Services = Depends(ui_services)
) -> HTMLResponse:
    """Prompts in the projects the caller can see, with their labels."""
    project = project.strip()
    prompts: list[Prompt] = svc.prompts.list(project or None)
    return _llm_page(
        request,
        "prompts.html",
        svc,
        "prompts",
        prompts=prompts,
        project=project,
        projects=_project_names(svc),
    )


@router.get("/prompts/{project}/{name}", response_class=HTMLResponse)
def prompt_page(
    project: str,
    name: str,
    request: Request,
    diff: str = "",
    old: str = "",
    new: str = "",
    svc: Services = Depends(ui_services),
) -> HTMLResponse:
    """A prompt: its versions (template, variables, output schema, author, approvals, the
    feedback each got), its labels and their history, and ``?diff=1..2`` (or the compare
    form's ``old`` and ``new``) between two versions. A diff the service refuses is said
    above it, with its status."""
    key = f"{project}/{name}"
    prompt = svc.prompts.get(key)
    versions = svc.prompts.versions(key)
    diff = diff.strip() or (f"{old.strip()}..{new.strip()}" if old or new else "")
    view, error, status = None, None, 200
    if diff:
        try:
            view = _diff_view(svc, key, diff)
        except DIFF_ERRORS as exc:
            error, status = exc.message, exc.http_status
    page = _llm_page(
        request,
        "prompt.html",
        svc,
        "prompts",
        prompt=prompt,
        key=key,
        versions=versions,
        history=svc.prompts.history(key),
        feedback=_feedback_by_version(svc, prompt),
        diff=diff,
        diff_pair=_diff_pair(diff, versions),
        view=view,
        diff_error=error,
    )
    page.status_code = status
    return page


def _diff_view(svc: Services, key: str, spec: str) -> DiffView:
    old, sep, new = spec.partition("..")
    if not sep or not old.strip() or not new.strip():
        raise InvalidInput(
            f"Name the two versions to compare as OLD..NEW, such as 1..2 or "
            f"production..3. Got {spec!r} instead."
        )
    found = svc.prompts.diff(key, old.strip(), new.strip())
    return DiffView(found["from"], found["to"], _diff_lines(found["template"]), found["changed"])


def _diff_lines(text: str) -> list[DiffLine]:
    lines = []
    for line in text.splitlines():
        if line.startswith(("+++", "---")):
            kind = "meta"
        elif line.startswith("@@"):
            kind = "hunk"
        elif line.startswith("+"):
            kind = "add"
        elif line.startswith("-"):
            kind = "del"
        else:
            kind = "same"
        lines.append(DiffLine(kind, line))
    return lines


def _diff_pair(spec: str, versions: list[PromptVersion]) -> tuple[str, str]:
    """What the diff form's two selectors hold: the spec's sides, else the two latest."""
    old, sep, new = spec.partition("..")
    if sep:
        return old.strip().removeprefix("v"), new.strip().removeprefix("v")
    numbers = [str(v.version) for v in versions]  # newest first
    if len(numbers) > 1:
        return numbers[1], numbers[0]
    return (numbers[0], numbers[0]) if numbers else ("", "")


def _feedback_by_version(svc: Services, prompt: Prompt) -> dict[int, dict[str, Any]]:
    """The project's feedback summary, kept to this prompt's versions (by number)."""
    mine = f"{prompt.project}/{prompt.name}@v"
    found = {}
    for row in svc.tracing.feedback_summary(prompt.project):
        label = row.get("prompt_version") or ""
        if label.startswith(mine) and label[len(mine) :].isdigit():
            found[int(label[len(mine) :])] = row
    return found


# --- traces ---------------------------------------------------------------------------------


@router.get("/traces", response_class=HTMLResponse)
def traces_page(
    request: Request,
    project: str = "",
    app: str = "",
    user: str = "",
    status: str = "",
    limit: int = TRACES_PAGE,
    svc: Services = Depends(ui_services),
) -> HTMLResponse:
    """Traces newest first, filtered: ``user`` answers "who asked what"."""
    filters = {"project": project, "app": app, "user": user, "status": status}
    cleaned = {k: v.strip() or None for k, v in filters.items()}
    limit = min(max(limit, 1), MAX_TRACES_PAGE)
    traces: list[TraceSummary] = svc.tracing.list(**cleaned, limit=limit)
    return _llm_page(
        request,
        "traces.html",
        svc,
        "traces",
        traces=traces,
        filters=filters,
        filtered=any(cleaned.values()),
        limit=limit,
        full=len(traces) == limit,
        statuses=TRACE_STATUSES,
        projects=_project_names(svc),
        default_limit=TRACES_PAGE,
    )


@router.get("/traces/{trace_id}", response_class=HTMLResponse)
def trace_page(
    trace_id: str, request: Request, svc: Services = Depends(ui_services)
) -> HTMLResponse:
    """A trace: who asked what, the span waterfall, its guard events and its feedback."""
    return _trace_response(request, svc, trace_id)


@router.post("/traces/{trace_id}/feedback")
def trace_feedback(
    trace_id: str,
    request: Request,
    score: str = Form(""),
    comment: str = Form(""),
    correction: str = Form(""),
    svc: Services = Depends(ui_services),
) -> Response:
    """Thumbs up or down, a comment, a correction; back to the trace. What the service
    refuses (nothing given) is said on the form, which keeps what was typed (422)."""
    try:
        svc.tracing.add_feedback(
            trace_id, _score(score), comment.strip(), correction.strip() or None
        )
    except InvalidInput as exc:
        form = {"score": score, "comment": comment, "correction": correction}
        return _trace_response(request, svc, trace_id, form=form, form_error=exc.message)
    return RedirectResponse(f"{trace_url(trace_id)}#feedback", status_code=303)


def _score(text: str) -> int | None:
    scores = {"up": 1, "down": -1, "": None}
    if text.strip() not in scores:
        raise InvalidInput(f"The score must be 'up', 'down' or none. Got {text!r} instead.")
    return scores[text.strip()]


@dataclass(frozen=True)
class RetrievedDocument:
    """A document a retrieval of the trace returned; ``document`` is None when the viewer
    may not read it (or it is no longer indexed): then neither its path nor its title is
    shown."""

    rank: int
    document_id: str
    score: float | None
    collection: str  # project/name
    document: Document | None


def _trace_response(
    request: Request,
    svc: Services,
    trace_id: str,
    form: Mapping[str, str] | None = None,
    form_error: str | None = None,
) -> HTMLResponse:
    found = svc.tracing.get(trace_id)
    trace, spans, feedback = found["trace"], found["spans"], found["feedback"]
    events = _trace_events(svc, trace)
    retrieved = _retrieved(svc, spans)
    # The tracing service has already withheld what this viewer may not read; the page
    # says why the answer is missing.
    withheld = any(r.document is None for r in retrieved)
    page = _llm_page(
        request,
        "trace.html",
        svc,
        "traces",
        trace=trace,
        attributes=found["attributes"],
        spans=spans,
        waterfall=_waterfall(spans, trace.get("duration_ms")),
        tree=span_tree(spans),
        events=events,
        retrieved=retrieved,
        rag_notes=_rag_notes(found["attributes"], trace),
        withheld=withheld,
        feedback=feedback,
        form=form or {"score": "", "comment": "", "correction": ""},
        form_error=form_error,
    )
    if form_error:
        page.status_code = 422
    return page


def _retrieved(svc: Services, spans: list[dict[str, Any]]) -> list[RetrievedDocument]:
    """The documents the trace's retrieval spans returned, best first, each as the viewer
    may see it: the RAG service decides (project admins and the document's ACL)."""
    found = []
    for span in spans:
        attributes = span.get("attributes") or {}
        ids = attributes.get("passline.rag.documents")
        if span.get("kind") != "retrieval" or not isinstance(ids, list):
            continue
        scores = attributes.get("passline.rag.scores") or []
        source = str(attributes.get(GENAI.DATA_SOURCE) or "").removeprefix("collection:")
        for rank, document_id in enumerate(ids, 1):
            score = scores[rank - 1] if rank <= len(scores) else None
            found.append(
                RetrievedDocument(
                    rank, str(document_id), score, source, _readable(svc, str(document_id))
                )
            )
    return found


def _readable(svc: Services, document_id: str) -> Document | None:
    try:
        return svc.rag.document(document_id)
    except (NotFound, PermissionDenied):
        return None


def _rag_notes(attributes: Mapping[str, Any], trace: Mapping[str, Any]) -> list[str]:
    """What retrieval did to the answer, from the trace's attributes. Figures the model
    made up are counted, never shown: they may be real figures it should not know."""
    notes = []
    if attributes.get("passline.rag.refused"):
        notes.append(
            "Refused: no passage the asker may read answered the question, so no model "
            "was called and no guard ran."
        )
    if removed := len(attributes.get("passline.rag.ungrounded") or []):
        notes.append(
            f"{removed} figure{'s' if removed != 1 else ''} the model wrote "
            f"{'were' if removed != 1 else 'was'} in no source; the sentences holding "
            f"{'them' if removed != 1 else 'it'} were removed from the answer."
        )
    if proxy := attributes.get("passline.rag.asked_by"):
        notes.append(f"Asked by {proxy} on behalf of {trace.get('user') or 'another user'}.")
    return notes


def _waterfall(spans: list[dict[str, Any]], total_ms: float | None) -> Waterfall | None:
    return waterfall_chart(spans, total_ms, _hover) if spans else None


def _hover(span: Mapping[str, Any]) -> str:
    """A span's hover text: its timing, then its GenAI (and Passline) attributes."""
    timing = (
        f"{span.get('name')} · {span.get('kind')} · {span.get('status')}\n"
        f"starts at {short_number(round(float(span.get('offset_ms') or 0), 1))} ms, "
        f"takes {short_number(round(float(span.get('duration_ms') or 0), 1))} ms"
    )
    attributes = span.get("attributes") or {}
    lines = [
        f"{key}: {shorten(attribute_text(value), HOVER_VALUE_CHARS)}"
        for key, value in sorted(attributes.items())
        if key.startswith(("gen_ai.", "passline."))
    ]
    return "\n".join([timing, *lines])


def _trace_events(svc: Services, trace: Mapping[str, Any]) -> list[GuardEventInfo] | None:
    """The guard events of a trace filed in a project (None: no project, no policy)."""
    if not trace.get("project"):
        return None
    try:
        return svc.guards.events(trace["project"], trace_id=trace["id"], limit=GUARD_PAGE)
    except PermissionDenied:  # the trace is readable, so this would be a service change
        return None


# --- guard events ---------------------------------------------------------------------------


@router.get("/guard", response_class=HTMLResponse)
def guard_page(
    request: Request,
    project: str = "",
    app: str = "",
    action: str = "",
    limit: int = GUARD_PAGE,
    svc: Services = Depends(ui_services),
) -> HTMLResponse:
    """Guard events newest first, in one project or in every project the caller can see;
    blocks stand out, findings are shown as types and counts."""
    filters = {"project": project.strip(), "app": app.strip(), "action": action.strip()}
    limit = min(max(limit, 1), 10_000)
    projects = _project_names(svc)
    scope = [filters["project"]] if filters["project"] else projects
    events = sorted(
        (
            e
            for name in scope
            for e in svc.guards.events(
                name, filters["app"] or None, filters["action"] or None, limit=limit
            )
        ),
        key=lambda e: e.at,
        reverse=True,
    )[:limit]
    counts = Counter(e.action for e in events)
    return _llm_page(
        request,
        "guard.html",
        svc,
        "guard",
        events=events,
        counts={a: counts.get(a, 0) for a in GUARD_ACTIONS},
        filters=filters,
        filtered=any(filters.values()),
        limit=limit,
        full=len(events) == limit,
        actions=GUARD_ACTIONS,
        projects=projects,
    )


# --- collections ----------------------------------------------------------------------------


@dataclass(frozen=True)
class CollectionItem:
    """A collection as the viewer sees it: the documents they may read (all of them for
    project admins), their chunks, and when one of those was last indexed."""

    collection: Collection
    readable: int
    chunks: int
    last_indexed: datetime | None


@dataclass(frozen=True)
class DocumentItem:
    document: Document
    indexed: datetime  # added, re-indexed or given a new ACL
    audience: Audience | None  # who was shown it: project admins only


@router.get("/collections", response_class=HTMLResponse)
def collections_page(
    request: Request, project: str = "", svc: Services = Depends(ui_services)
) -> HTMLResponse:
    """Retrieval collections in the projects the caller can see: their documents, chunks
    and last indexing."""
    project = project.strip()
    found = svc.rag.collections(project or None)
    indexed = {p: _indexed_at(svc, p) for p in {c.project for c in found}}
    return _llm_page(
        request,
        "collections.html",
        svc,
        "collections",
        items=[_collection_item(svc, c, indexed[c.project]) for c in found],
        project=project,
        projects=_project_names(svc),
    )


@router.get("/collections/{project}/{name}", response_class=HTMLResponse)
def collection_page(
    project: str, name: str, request: Request, svc: Services = Depends(ui_services)
) -> HTMLResponse:
    """A collection's documents with their ACLs, each as far as the caller may read it;
    for project admins, who was shown each document and in which traces."""
    ref = f"{project}/{name}"
    collection = svc.rag.collection(ref)  # project viewers; a clear 404 for a wrong name
    documents = svc.rag.documents(ref)
    indexed = _indexed_at(svc, project)
    audiences = _audiences(svc, documents)
    items = [
        DocumentItem(d, indexed.get(d.id, d.created_at), audiences.get(d.id) if audiences else None)
        for d in documents
    ]
    named = {g for d in documents for g in d.acl.groups}
    return _llm_page(
        request,
        "collection.html",
        svc,
        "collections",
        collection=collection,
        items=items,
        audit_shown=audiences is not None,
        groups={g.name: g for g in svc.groups.list() if g.name in named},
        last_indexed=max((i.indexed for i in items), default=None),
    )


def _collection_item(
    svc: Services, collection: Collection, indexed: Mapping[str, datetime]
) -> CollectionItem:
    documents = svc.rag.documents(collection.ref)
    moments = [indexed.get(d.id, d.created_at) for d in documents]
    return CollectionItem(
        collection,
        len(documents),
        sum(d.chunks for d in documents),
        max(moments, default=None),
    )


def _indexed_at(svc: Services, project: str) -> dict[str, datetime]:
    """When each document of ``project`` was last added, re-indexed or given a new ACL,
    by document id, from the audit log (a document's own row keeps its first indexing)."""
    latest: dict[str, datetime] = {}
    for entry in svc.audit.log(action="rag.document.", project=project, limit=AUDIT_READ):
        document_id = entry.object.removeprefix("document:")
        latest.setdefault(document_id, _moment(entry.at))  # newest first
    return latest


def _audiences(svc: Services, documents: list[Document]) -> dict[str, Audience] | None:
    """Who saw each document, or None when the caller may not know (not a project admin:
    the RAG service says so)."""
    if not documents:
        return None
    try:
        return {d.id: svc.rag.who_saw(d.id) for d in documents}
    except PermissionDenied:
        return None
