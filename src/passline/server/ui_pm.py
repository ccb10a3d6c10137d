"""Web UI of the PM desk: release gates, the maturity scorecard and the backlog review.

``/backlog`` lists the gates of every project the caller can see, each with the latest
evaluation of every subject (a model or prompt version) it was checked for. A gate's page
shows its criteria, its evaluation history, and one evaluation's status per criterion
(``pass``, ``fail``, ``missing_evidence``) with links to the evidence. ``/maturity`` draws
the DevOps, MLOps and LLMOps levels, the signals behind them, and the PM's questions, the
unanswered ones marked "unknown — ask the team"; ``/maturity/map`` draws a project's five
blocks and the links between them. ``/backlog/review`` is the review board
of drafted stories, their TO BE DEFINED fields highlighted, each with accept and reject.

Same rules as ``ui_llm``: pages call the services as the signed-in user, so a page shows
only what that user may read, and the one error handler turns a refusal into an error page
(an unknown gate or evaluation is a 404, a viewer's accept a 403). The review forms post
with the session cookie, ``SameSite=Strict``; the service decides who may review.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from markupsafe import Markup, escape

from passline.backlog.entities import TBD, DraftBatch, Story
from passline.core.roles import Role
from passline.errors import InvalidInput, NotFound, PasslineError
from passline.gates.entities import Gate, GateEvaluation
from passline.server.charts import BarChart, rate_bars_chart
from passline.server.deps import ui_services
from passline.server.ui import _page, lineage_url, model_url, object_url, run_url
from passline.server.ui_eval import eval_run_url, redteam_run_url
from passline.server.ui_llm import _project_names, prompt_version_url
from passline.services.workspace import Services

__all__ = ["router"]

router = APIRouter(include_in_schema=False)

HISTORY = 50  # evaluations of a gate shown (and searched for the latest per subject)
STATUS_TEXT = {"pass": "pass", "fail": "fail", "missing_evidence": "missing evidence"}
AREAS = {"devops": "DevOps", "mlops": "MLOps", "llmops": "LLMOps"}


# --- formatting helpers, for the templates -------------------------------------------------


def gate_url(gate: str, evaluation: str = "") -> str:
    """The page of gate ``project/name``, showing one of its evaluations if named."""
    project, _, name = gate.partition("/")
    base = f"/gates/{quote(project, safe='')}/{quote(name, safe='')}"
    return f"{base}?{urlencode({'evaluation': evaluation})}" if evaluation else base


def maturity_url(project: str = "") -> str:
    return "/maturity?" + urlencode({"project": project}) if project else "/maturity"


def evidence_url(ref: str) -> str:
    """The UI page of an evidence ref; the lineage graph when it has no page of its own."""
    kind, _, key = ref.partition(":")
    pages = {"run": run_url, "eval_run": eval_run_url, "redteam_run": redteam_run_url}
    if kind in pages:
        return pages[kind](key)
    if kind == "model" and "/" in key:
        return model_url(key)
    return lineage_url(ref)


def subject_url(evaluation: GateEvaluation) -> str:
    """The page of the model or prompt version an evaluation was made for."""
    if evaluation.subject.startswith("prompt_version:"):
        return prompt_version_url(evaluation.subject_label)
    return object_url(evaluation.subject, evaluation.subject_label) or lineage_url(
        evaluation.subject
    )


def review_url(project: str, **params: Any) -> str:
    """The review board of ``project``, with the given parameters (empty ones dropped)."""
    kept = {k: v for k, v in {"project": project, **params}.items() if v not in (None, "")}
    return "/backlog/review?" + urlencode(kept)


def tbd_marked(value: Any) -> Markup:
    """A field as escaped text, each TO BE DEFINED in it highlighted."""
    text = str(escape(str(value)))  # TBD has no character that escaping changes
    return Markup(text.replace(TBD, f'<mark class="tbd">{TBD}</mark>'))


def status_text(status: str) -> str:
    return STATUS_TEXT.get(status, status)


def verdict(evaluation: GateEvaluation) -> str:
    """``pass``, or ``fail`` when a criterion fails, else ``missing_evidence``."""
    if evaluation.passed:
        return "pass"
    statuses = {r["status"] for r in evaluation.results}
    return "fail" if "fail" in statuses else "missing_evidence"


def value_text(value: Any) -> str:
    """A signal's value: a list joined, none for nothing."""
    if isinstance(value, list):
        return ", ".join(map(str, value)) or "none"
    return "none" if value is None else str(value)


PM_HELPERS: dict[str, Any] = {
    "gate_url": gate_url,
    "maturity_url": maturity_url,
    "evidence_url": evidence_url,
    "subject_url": subject_url,
    "status_text": status_text,
    "verdict": verdict,
    "signal_value": value_text,
    "area_title": lambda area: AREAS.get(area, area),
    "review_url": review_url,
    "tbd_marked": tbd_marked,
    "TBD": TBD,
}


def _pm_page(request: Request, template: str, svc: Services, **context: Any) -> HTMLResponse:
    return _page(request, template, svc, **PM_HELPERS, **context)


# --- the desk ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class GateItem:
    """A gate with the latest evaluation of each subject it was checked for."""

    gate: Gate
    latest: list[GateEvaluation]  # one per subject, newest first
    checks: int  # evaluations read (at most HISTORY)


@router.get("/backlog", response_class=HTMLResponse)
def desk_page(
    request: Request, project: str = "", svc: Services = Depends(ui_services)
) -> HTMLResponse:
    """The PM desk: the gates of each project the caller can see (or of ``project``),
    with each subject's latest status, and links to the scorecard."""
    project = project.strip()
    projects = _project_names(svc)
    shown = [project] if project else projects
    gates = {name: [_gate_item(svc, g) for g in svc.gates.list(name)] for name in shown}
    drafts = {name: len(svc.backlog.stories(name, status="draft")) for name in shown}
    return _pm_page(
        request,
        "pm.html",
        svc,
        gates=gates,
        drafts=drafts,
        project=project,
        projects=projects,
        section="gates",
    )


def _gate_item(svc: Services, gate: Gate) -> GateItem:
    found = svc.gates.evaluations(gate.project, gate.name, limit=HISTORY)
    return GateItem(gate, _latest_per_subject(found), len(found))


def _latest_per_subject(evaluations: list[GateEvaluation]) -> list[GateEvaluation]:
    latest: dict[str, GateEvaluation] = {}
    for evaluation in evaluations:  # newest first: the first one of a subject is its latest
        latest.setdefault(evaluation.subject, evaluation)
    return list(latest.values())


# --- one gate ---------------------------------------------------------------------------------


@router.get("/gates/{project}/{name}", response_class=HTMLResponse)
def gate_page(
    project: str,
    name: str,
    request: Request,
    evaluation: str = "",
    svc: Services = Depends(ui_services),
) -> HTMLResponse:
    """A gate: its criteria, its evaluations newest first, and one evaluation (the latest,
    or ``evaluation``) criterion by criterion, with the evidence each status rests on."""
    gate = svc.gates.get(project, name)
    history = svc.gates.evaluations(project, name, limit=HISTORY)
    return _pm_page(
        request,
        "gate.html",
        svc,
        gate=gate,
        history=history,
        shown=_shown(history, evaluation.strip(), f"{project}/{name}"),
        latest=_latest_per_subject(history),
        section="gates",
    )


def _shown(history: list[GateEvaluation], wanted: str, gate: str) -> GateEvaluation | None:
    if not wanted:
        return history[0] if history else None
    for found in history:
        if found.id == wanted:
            return found
    raise NotFound(
        f"Gate {gate} has no evaluation {wanted!r} among its latest {HISTORY}.",
        hint="Pick one from the gate's evaluation history.",
    )


# --- the maturity scorecard -------------------------------------------------------------------


@router.get("/maturity", response_class=HTMLResponse)
def maturity_page(
    request: Request, project: str = "", svc: Services = Depends(ui_services)
) -> HTMLResponse:
    """The scorecard of the projects the caller can see (or of ``project``): the three
    levels as bars, the signals behind each, and the PM's questions answered."""
    project = project.strip()
    card = svc.maturity.scorecard(project or None)
    return _pm_page(
        request,
        "maturity.html",
        svc,
        card=card,
        chart=_levels_chart(card["levels"]),
        unknown=sum(q["source"] == "team" for q in card["questions"]),
        project=project,
        projects=_project_names(svc),
        section="maturity",
    )


@router.get("/maturity/map", response_class=HTMLResponse)
def block_map_page(
    request: Request, project: str = "", svc: Services = Depends(ui_services)
) -> HTMLResponse:
    """The five-block map of ``project`` as a diagram: a box per block with what it holds,
    an arrow per link that exists, unused blocks greyed; a project picker without one."""
    from passline.services.block_map import render_svg

    project = project.strip()
    found = svc.maturity.block_map(project) if project else None
    return _pm_page(
        request,
        "block_map.html",
        svc,
        found=found,
        diagram=Markup(render_svg(found)) if found else None,
        project=project,
        projects=_project_names(svc),
        section="maturity",
    )


def _levels_chart(levels: dict[str, dict[str, Any]]) -> BarChart:
    """A bar per practice, as long as its level on the 0-4 scale."""
    rows = [
        (AREAS.get(area, area), lv["level"] / 4, f"{lv['level']}/4 · {lv['name']}")
        for area, lv in levels.items()
    ]
    return rate_bars_chart(rows, label_width=90)


# --- the backlog review board ----------------------------------------------------------------

STATUSES = ("draft", "accepted", "rejected", "all")


@router.get("/backlog/review", response_class=HTMLResponse)
def review_page(
    request: Request,
    project: str = "",
    batch: str = "",
    status: str = "draft",
    svc: Services = Depends(ui_services),
) -> HTMLResponse:
    """The stories of a project (or of one draft batch) by review status, draft first;
    fields still TO BE DEFINED are highlighted, and contributors get accept and reject."""
    projects = _project_names(svc)
    project = project.strip() or (projects[0] if projects else "")
    if status not in STATUSES:
        raise InvalidInput(
            f"'status' must be one of {', '.join(STATUSES)}. Got {status!r} instead."
        )
    shown = svc.backlog.batch(batch) if batch else None
    if shown is not None:
        project = shown.project
    stories = _stories(svc, project, shown, status) if project else []
    return _pm_page(
        request,
        "backlog.html",
        svc,
        project=project,
        projects=projects,
        batches=svc.backlog.batches(project) if project else [],
        batch=shown,
        status=status,
        statuses=STATUSES,
        stories=stories,
        may_review=bool(project) and _may_review(svc, project),
        section="backlog",
    )


def _stories(svc: Services, project: str, batch: DraftBatch | None, status: str) -> list[Story]:
    found = batch.stories if batch else svc.backlog.stories(project)
    return [s for s in found if status == "all" or s.status == status]


def _may_review(svc: Services, project: str) -> bool:
    """Whether to offer the forms (a contributor); the service checks again on submit."""
    try:
        role = svc.projects.role_of_caller(project)
    except PasslineError:
        return False
    return role is not None and role.allows(Role.CONTRIBUTOR)


@router.post("/backlog/stories/{story_id}/{decision}")
def review_story(
    story_id: str,
    decision: str,
    batch: str = Form(""),
    status: str = Form("draft"),
    svc: Services = Depends(ui_services),
) -> RedirectResponse:
    """Accept or reject one story, then back to the board it was reviewed on."""
    actions = {"accept": svc.backlog.accept, "reject": svc.backlog.reject}
    if decision not in actions:
        raise NotFound(f"No review decision {decision!r}; a story is accepted or rejected.")
    story = actions[decision](story_id)
    back = review_url(story.project, batch=batch, status=status if status in STATUSES else "")
    return RedirectResponse(f"{back}#story-{story.id}", status_code=303)
