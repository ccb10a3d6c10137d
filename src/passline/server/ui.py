"""Web UI: server-rendered pages (Jinja2), no JavaScript build step.

Pages call the same services as the API, with the caller taken from the session cookie
that ``/login`` sets from a token. The cookie is HttpOnly and SameSite=Strict. Handlers
only gather what a page shows; rules live in the services, geometry in ``graph_layout``,
and errors (not found, forbidden, invalid input) become error pages in one handler.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from passline.errors import InvalidInput, PermissionDenied, Unauthenticated
from passline.server.deps import COOKIE, ui_services, workspace_of
from passline.server.graph_layout import layout
from passline.services.identity import authenticate
from passline.services.workspace import Services

__all__ = ["BLOCKS", "router"]

router = APIRouter(include_in_schema=False)

Direction = Literal["up", "down", "both"]
DEFAULT_DEPTH = 5
AUDIT_PAGE = 50

#: Blocks whose pages come later: route slug -> (title, what the block will do).
BLOCKS: dict[str, tuple[str, str]] = {
    "data": (
        "Data",
        "Connectors will pull files, SQL tables, HTTP APIs and streams into immutable, "
        "content-addressed dataset versions with schema, profile, quality checks and "
        "sensitivity tags, searchable in a catalog.",
    ),
    "experiments": (
        "Experiments",
        "Will track training runs (parameters, metrics, code and the exact dataset versions "
        "they used) so that any result can be compared and reproduced.",
    ),
    "models": (
        "Models",
        "A registry of model versions with aliases, approvals by someone other than the "
        "author, model cards and one-step rollback.",
    ),
    "serving": (
        "Serving",
        "A gateway that will serve approved model versions behind endpoints and record every "
        "request with its latency, errors and the version that answered.",
    ),
    "monitoring": (
        "Monitoring",
        "Latency and error dashboards, drift tests of live data against the training data, "
        "and alerts when either moves.",
    ),
    "llm": (
        "LLM",
        "Prompt versions, traces with tokens, latency and cost, evaluation suites, "
        "guardrails, red-team runs and permission-aware retrieval.",
    ),
    "backlog": (
        "Backlog & Gates",
        "Will turn meeting transcripts into Jira-ready stories, and their acceptance criteria "
        "into release gates a model or prompt version must pass before production.",
    ),
}


# --- formatting helpers, available to every template -------------------------------------


def human_size(size: int) -> str:
    """Bytes as people read them: ``532 B``, ``1.4 KiB``, ``2.0 GiB``."""
    value, unit = float(size), "B"
    for bigger in ("KiB", "MiB", "GiB", "TiB"):
        if value < 1024:
            break
        value, unit = value / 1024, bigger
    return f"{size} B" if unit == "B" else f"{value:.1f} {unit}"


def when(moment: datetime | str | None) -> str:
    """A timestamp (datetime or ISO text, UTC) to the second: ``2026-05-01 09:30:12``."""
    if moment is None:
        return ""
    if isinstance(moment, str):
        try:
            moment = datetime.fromisoformat(moment)
        except ValueError:
            return moment  # show what is stored rather than fail the page
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def compact_json(value: Any) -> str:
    """JSON without spaces, keys sorted, for one table cell."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


def lineage_url(ref: str, direction: str = "both", depth: int = DEFAULT_DEPTH) -> str:
    """The lineage page of ``ref``."""
    return "/lineage?" + urlencode({"ref": ref, "direction": direction, "depth": depth})


def audit_url(**filters: Any) -> str:
    """The audit page with the given filters (empty ones dropped)."""
    kept = {k: v for k, v in filters.items() if v not in (None, "")}
    return "/audit?" + urlencode(kept) if kept else "/audit"


HELPERS: dict[str, Any] = {
    "human_size": human_size,
    "when": when,
    "compact_json": compact_json,
    "lineage_url": lineage_url,
    "audit_url": audit_url,
}


def _page(request: Request, template: str, svc: Services | None, **context: Any) -> HTMLResponse:
    user = svc.ctx.actor.name if svc else None
    is_admin = bool(svc and svc.ctx.actor.is_admin)
    return request.app.state.templates.TemplateResponse(  # type: ignore[no-any-return]
        request, template, {**HELPERS, "user": user, "is_admin": is_admin, **context}
    )


# --- session -------------------------------------------------------------------------------


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, next: str = "/") -> HTMLResponse:
    return _page(request, "login.html", None, next=next, error=None)


@router.post("/login")
def login(request: Request, token: str = Form(...), next: str = Form("/")) -> Response:
    try:
        authenticate(workspace_of(request), token)
    except (Unauthenticated, PermissionDenied) as exc:  # bad token, or a disabled user
        page = _page(request, "login.html", None, next=next, error=str(exc))
        page.status_code = exc.http_status
        return page
    response = RedirectResponse(_local(next), status_code=303)
    secure = request.url.scheme == "https"  # behind a TLS proxy, never sent in clear
    response.set_cookie(COOKIE, token.strip(), httponly=True, samesite="strict", secure=secure)
    return response


def _local(target: str) -> str:
    # Only paths on this site: browsers read "//host" and "/\\host" as another host.
    return target if target.startswith("/") and target[1:2] not in ("/", "\\") else "/"


@router.post("/logout")
def logout() -> Response:
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE, httponly=True, samesite="strict")
    return response


# --- pages ---------------------------------------------------------------------------------


@router.get("/", response_class=HTMLResponse)
def index(request: Request, svc: Services = Depends(ui_services)) -> HTMLResponse:
    """The projects the caller can see."""
    return _page(request, "projects.html", svc, projects=svc.projects.list())


@router.get("/projects/{name}", response_class=HTMLResponse)
def project_page(name: str, request: Request, svc: Services = Depends(ui_services)) -> HTMLResponse:
    """One project: its members and artifacts."""
    return _page(
        request,
        "project.html",
        svc,
        project=svc.projects.get(name),
        members=svc.projects.members(name),
        artifacts=svc.artifacts.list(name),
    )


@router.get("/lineage", response_class=HTMLResponse)
def lineage_page(
    request: Request,
    ref: str = "",
    direction: Direction = "both",
    depth: int = DEFAULT_DEPTH,
    svc: Services = Depends(ui_services),
) -> HTMLResponse:
    """The graph around ``ref``, drawn server-side; just the form when no ref is given."""
    ref = ref.strip()
    graph = svc.lineage.graph(ref, direction, depth) if ref else None
    return _page(
        request,
        "lineage.html",
        svc,
        ref=ref,
        direction=direction,
        depth=depth,
        graph=graph,
        drawing=layout(graph) if graph else None,
        labels={n.ref: n.label for n in graph.nodes} if graph else {},
    )


@router.get("/audit", response_class=HTMLResponse)
def audit_page(
    request: Request,
    actor: str = "",
    object_ref: str = Query("", alias="object"),
    action: str = "",
    project: str = "",
    before_seq: int | None = None,
    limit: int = AUDIT_PAGE,
    verify: bool = False,
    svc: Services = Depends(ui_services),
) -> HTMLResponse:
    """The audit log, newest first, filtered; admins can verify the hash chain here."""
    filters = {"actor": actor, "object": object_ref, "action": action, "project": project}
    cleaned = {k: v.strip() or None for k, v in filters.items()}
    entries = svc.audit.log(**cleaned, before_seq=before_seq, limit=limit)
    older = None
    if len(entries) == limit:
        older = audit_url(**cleaned, before_seq=entries[-1].seq, limit=limit)
    return _page(
        request,
        "audit.html",
        svc,
        filters=filters,
        entries=entries,
        older=older,
        newest=audit_url(**cleaned, limit=limit) if before_seq else None,
        projects=svc.projects.list(),
        in_graph=_in_graph(svc, (e.object for e in entries)),
        verification=svc.audit.verify() if verify else None,
    )


def _in_graph(svc: Services, refs: Iterable[str]) -> set[str]:
    # Audit objects are refs, but only some (projects, artifacts, sources...) are graph
    # nodes; linking the others (users, tokens) would lead to a "not found" page.
    found = set()
    for ref in set(refs):
        try:
            if svc.lineage.exists(ref):
                found.add(ref)
        except InvalidInput:
            continue
    return found


def _block_page(title: str, purpose: str) -> Any:
    def page(request: Request, svc: Services = Depends(ui_services)) -> HTMLResponse:
        return _page(request, "block.html", svc, title=title, purpose=purpose)

    return page


for _slug, (_title, _purpose) in BLOCKS.items():
    router.add_api_route(
        f"/{_slug}",
        _block_page(_title, _purpose),
        methods=["GET"],
        response_class=HTMLResponse,
        name=f"block_{_slug}",
    )
