"""Web UI of evaluation and red teaming: suites and runs, a run's per-case results and its
release check, two runs compared with each scorer's bootstrap interval, the online
hallucination rate per prompt version; red-team runs with their attack success rates and
the transcripts of the attacks that worked, each of which can become an evaluation case.

Same rules as ``ui_llm``: pages call the services as the signed-in user, so a page shows
only what that user may read, and the one error handler turns a refusal into an error page
(an unknown run is a 404, bad comparison parameters a 422). The one form that writes (a
finding becomes a case) posts with the session cookie, ``SameSite=Strict``; the service
decides who may add cases, and what it refuses is said on the form.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from passline.core.roles import Role
from passline.errors import Conflict, InvalidInput, NotFound, PasslineError
from passline.evaluation.entities import (
    CaseResult,
    Comparison,
    EvalRun,
    OnlinePoint,
    ScorerDifference,
    Suite,
    SuiteVersion,
)
from passline.redteam.entities import Attempt, RedteamRun
from passline.server.charts import (
    BarChart,
    IntervalChart,
    LineChart,
    Series,
    interval_chart,
    interval_span,
    line_chart,
    rate_bars_chart,
)
from passline.server.deps import ui_services
from passline.server.ui_llm import _llm_page, _project_names
from passline.services.workspace import Services

__all__ = ["router"]

router = APIRouter(include_in_schema=False)

RUNS_PAGE = 100
SUITE_RUNS = 200  # runs of a suite offered as the baseline of a comparison
BUCKETS = {"day": 24.0 * 30, "hour": 24.0 * 7}  # the chart's bucket -> hours it looks back
FINDINGS_SUITE = "redteam-findings"  # the suite a finding goes to unless another is named
JUDGE = "llm_judge"
#: What the form of a finding says on the form itself (the rest is the error page's).
FORM_ERRORS = (InvalidInput, Conflict)


# --- formatting helpers, for the templates -------------------------------------------------


def eval_run_url(run_id: str) -> str:
    return f"/evals/runs/{quote(run_id, safe='')}"


def evals_url(**filters: Any) -> str:
    kept = {k: v for k, v in filters.items() if v not in (None, "")}
    return "/evals?" + urlencode(kept) if kept else "/evals"


def compare_url(baseline: str, candidate: str) -> str:
    return "/evals/compare?" + urlencode({"a": baseline, "b": candidate})


def suite_anchor(suite: str) -> str:
    """The id of a suite's row on /evals: ``suite-hr-assistant-handbook-qa``."""
    return "suite-" + suite.split("@")[0].replace("/", "-")


def suite_url(suite: str) -> str:
    """A suite (``project/name`` or ``project/name@vN``) on the evaluations page."""
    project = suite.partition("/")[0]
    return f"{evals_url(project=project)}#{suite_anchor(suite)}"


def redteam_run_url(run_id: str, **params: Any) -> str:
    kept = {k: v for k, v in params.items() if v not in (None, "")}
    base = f"/redteam/runs/{quote(run_id, safe='')}"
    return f"{base}?{urlencode(kept)}" if kept else base


def redteam_url(**filters: Any) -> str:
    kept = {k: v for k, v in filters.items() if v not in (None, "")}
    return "/redteam?" + urlencode(kept) if kept else "/redteam"


def score_text(value: Any) -> str:
    """A score or a mean in [0, 1] to two decimals; a dash when there is none."""
    return "—" if value is None else f"{float(value):.2f}"


def signed(value: float | None) -> str:
    return "—" if value is None else f"{value:+.3f}"


def value_text(value: Any) -> str:
    """An expected answer or an input as a cell shows it: text as it is, the rest as JSON."""
    if value is None:
        return ""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)


EVAL_HELPERS: dict[str, Any] = {
    "eval_run_url": eval_run_url,
    "evals_url": evals_url,
    "compare_url": compare_url,
    "suite_anchor": suite_anchor,
    "suite_url": suite_url,
    "redteam_run_url": redteam_run_url,
    "redteam_url": redteam_url,
    "score_text": score_text,
    "signed": signed,
    "value_text": value_text,
}


def _eval_page(
    request: Request, template: str, svc: Services, section: str, **context: Any
) -> HTMLResponse:
    return _llm_page(request, template, svc, section, **EVAL_HELPERS, **context)


# --- evaluations ------------------------------------------------------------------------------


@dataclass(frozen=True)
class SuiteItem:
    suite: Suite
    versions: list[SuiteVersion]  # newest first, without their cases


@dataclass(frozen=True)
class OnlineChart:
    """A project's online hallucination rate: a line per prompt version, and its figures."""

    project: str
    chart: LineChart
    versions: list[OnlineVersion]


@dataclass(frozen=True)
class OnlineVersion:
    name: str
    color: str
    traces: int
    grounded: int
    hallucinated: int

    @property
    def rate(self) -> float | None:
        return self.hallucinated / self.grounded if self.grounded else None


@router.get("/evals", response_class=HTMLResponse)
def evals_page(
    request: Request,
    project: str = "",
    bucket: str = "day",
    svc: Services = Depends(ui_services),
) -> HTMLResponse:
    """Suites with their versions, runs newest first, and the online hallucination rate
    per prompt version, in the projects the caller can see (or ``project``)."""
    project = project.strip()
    if bucket not in BUCKETS:
        raise InvalidInput(f"'bucket' must be 'day' or 'hour'. Got {bucket!r} instead.")
    projects = _project_names(svc)
    suites = svc.evaluation.suites(project or None)
    runs = svc.evaluation.runs(project or None, limit=RUNS_PAGE)
    return _eval_page(
        request,
        "evals.html",
        svc,
        "evals",
        suites=[SuiteItem(s, svc.evaluation.suite_versions(s.ref)) for s in suites],
        runs=runs,
        full=len(runs) == RUNS_PAGE,
        online=_online_charts(svc, [project] if project else projects, bucket),
        bucket=bucket,
        project=project,
        projects=projects,
    )


def _online_charts(svc: Services, projects: list[str], bucket: str) -> list[OnlineChart]:
    charts = []
    for name in projects:
        points = svc.evaluation.hallucination_rate(name, bucket, BUCKETS[bucket])
        if any(p.grounded_traces for p in points):
            charts.append(_online_chart(name, points))
    return charts


def _online_chart(project: str, points: list[OnlinePoint]) -> OnlineChart:
    by_version: dict[str, list[OnlinePoint]] = {}
    for point in points:
        by_version.setdefault(point.prompt_version or "no prompt", []).append(point)
    series = [
        Series(name, [(p.bucket.timestamp(), p.hallucination_rate) for p in found])
        for name, found in by_version.items()
    ]
    chart = line_chart(series, x_title="time (UTC)", time_axis=True, from_zero=True)
    versions = [
        OnlineVersion(
            name,
            line.color,
            sum(p.traces for p in found),
            sum(p.grounded_traces for p in found),
            sum(p.hallucinated for p in found),
        )
        for (name, found), line in zip(by_version.items(), chart.lines, strict=True)
    ]
    return OnlineChart(project, chart, versions)


# --- one run ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ScoreCell:
    name: str
    value: float | None
    passed: bool | None
    reason: str
    variance: float | None  # a judge asked several times: how much it disagreed with itself


@dataclass(frozen=True)
class CaseRow:
    result: CaseResult
    case: Mapping[str, Any]  # as the suite version holds it ({} if it is gone)
    asked: str
    scores: list[ScoreCell]


@dataclass(frozen=True)
class JudgeFigures:
    """What a run's judges cost, and how much each disagreed with itself (``repeats`` > 1)."""

    cost_usd: float
    scorers: list[str]
    variance: dict[str, float | None] = field(default_factory=dict)  # mean over cases


@router.get("/evals/runs/{run_id}", response_class=HTMLResponse)
def eval_run_page(
    run_id: str, request: Request, svc: Services = Depends(ui_services)
) -> HTMLResponse:
    """A run: its aggregates per scorer, its release check, its judge's cost and variance,
    every case (input, answer, expected, scores, errors and unscored reasons), and a form
    to compare it with another run of its suite."""
    run = svc.evaluation.get_run(run_id)
    cases = _suite_cases(svc, run)
    rows = [_case_row(r, cases.get(r.case_id, {})) for r in run.results]
    return _eval_page(
        request,
        "eval_run.html",
        svc,
        "evals",
        run=run,
        rows=rows,
        scorer_names=list(run.aggregates.get("scorers", {})),
        judge=_judge(run, rows),
        baselines=_baselines(svc, run),
    )


def _suite_cases(svc: Services, run: EvalRun) -> dict[str, Mapping[str, Any]]:
    version = svc.evaluation.suite(f"{run.suite}@{run.suite_version}")
    return {str(c["id"]): c for c in version.cases}


def _case_row(result: CaseResult, case: Mapping[str, Any]) -> CaseRow:
    scores = [
        ScoreCell(
            name,
            score.get("value"),
            score.get("passed"),
            str(score.get("reason") or ""),
            (score.get("details") or {}).get("variance"),
        )
        for name, score in result.scores.items()
    ]
    return CaseRow(result, case, _asked(case), scores)


def _asked(case: Mapping[str, Any]) -> str:
    if case.get("question"):
        return str(case["question"])
    inputs = case.get("inputs") or {}
    return "; ".join(f"{k}: {value_text(v)}" for k, v in inputs.items())


def _judge(run: EvalRun, rows: list[CaseRow]) -> JudgeFigures | None:
    names = [str(s.get("name") or s["type"]) for s in run.scorers if s.get("type") == JUDGE]
    if not names and not run.judge_cost_usd:
        return None
    variance: dict[str, float | None] = {}
    for name in names:
        found = [c.variance for r in rows for c in r.scores if c.name == name]
        kept = [v for v in found if v is not None]
        variance[name] = sum(kept) / len(kept) if kept else None
    return JudgeFigures(run.judge_cost_usd, names, variance)


def _baselines(svc: Services, run: EvalRun) -> list[EvalRun]:
    """The other completed runs of the run's suite: what the compare form offers, the run
    labelled production first."""
    found = svc.evaluation.runs(suite=run.suite, limit=SUITE_RUNS)
    others = [r for r in found if r.id != run.id and r.status == "completed"]
    return sorted(others, key=lambda r: "production" not in r.labels)


# --- two runs compared ----------------------------------------------------------------------


@dataclass(frozen=True)
class DifferenceRow:
    difference: ScorerDifference
    interval: IntervalChart | None  # None when the scorer is not comparable


@dataclass(frozen=True)
class ScoreChange:
    scorer: str
    before: float | None
    after: float | None
    newly_failing: bool

    @property
    def delta(self) -> float | None:
        if self.before is None or self.after is None:
            return None
        return self.after - self.before


@dataclass(frozen=True)
class CaseChange:
    case_id: str
    asked: str
    before: CaseResult | None
    after: CaseResult | None
    changes: list[ScoreChange]

    @property
    def newly_failing(self) -> bool:
        return any(c.newly_failing for c in self.changes)

    @property
    def total(self) -> float:
        return sum(c.delta or 0.0 for c in self.changes)


@router.get("/evals/compare", response_class=HTMLResponse)
def compare_page(
    request: Request, a: str = "", b: str = "", svc: Services = Depends(ui_services)
) -> HTMLResponse:
    """Run ``b`` (the candidate) against run ``a`` (the baseline): per scorer the
    difference of the means with its bootstrap interval drawn around 0, regressions first,
    and the cases whose scores changed."""
    baseline_id, candidate_id = _pair(a, b)
    comparison = svc.evaluation.compare(baseline_id, candidate_id)
    baseline = svc.evaluation.get_run(baseline_id)
    candidate = svc.evaluation.get_run(candidate_id)
    cases = {**_suite_cases(svc, baseline), **_suite_cases(svc, candidate)}
    return _eval_page(
        request,
        "eval_compare.html",
        svc,
        "evals",
        comparison=comparison,
        baseline=baseline,
        candidate=candidate,
        rows=_difference_rows(comparison),
        changes=_case_changes(comparison, baseline, candidate, cases),
    )


def _pair(a: str, b: str) -> tuple[str, str]:
    baseline, candidate = a.strip(), b.strip()
    if not baseline or not candidate:
        raise InvalidInput(
            "Name the two runs to compare as ?a=BASELINE&b=CANDIDATE (run ids, such as "
            f"evr_...). Got a={baseline!r} and b={candidate!r} instead.",
            hint="Open a run and pick the run to compare it with.",
        )
    if baseline == candidate:
        raise InvalidInput(
            f"Compare two different runs; 'a' and 'b' are both {baseline!r}.",
            hint="Open a run and pick the run to compare it with.",
        )
    return baseline, candidate


def _difference_rows(comparison: Comparison) -> list[DifferenceRow]:
    bounds = [v for d in comparison.scorers for v in (d.ci_low, d.ci_high, d.diff)]
    span = interval_span(bounds)
    order = {"regression": 0, "improvement": 1}
    rows = []
    for d in sorted(comparison.scorers, key=lambda d: order.get(d.verdict, 2)):
        chart = None
        if d.diff is not None and d.ci_low is not None and d.ci_high is not None:
            chart = interval_chart(d.ci_low, d.ci_high, d.diff, span)
        rows.append(DifferenceRow(d, chart))
    return rows


def _case_changes(
    comparison: Comparison,
    baseline: EvalRun,
    candidate: EvalRun,
    cases: Mapping[str, Mapping[str, Any]],
) -> list[CaseChange]:
    """Cases whose status or a compared scorer's value changed: newly failing ones first,
    then the largest drops."""
    before = {r.case_id: r for r in baseline.results}
    after = {r.case_id: r for r in candidate.results}
    names = [d.scorer for d in comparison.scorers]
    failing = {(s, c) for s, ids in comparison.newly_failing.items() for c in ids}
    found = []
    for case_id in [*after, *(c for c in before if c not in after)]:
        old, new = before.get(case_id), after.get(case_id)
        changes = [
            ScoreChange(n, _value(old, n), _value(new, n), (n, case_id) in failing) for n in names
        ]
        status = (old.status if old else None) != (new.status if new else None)
        moved = [c for c in changes if c.before != c.after]
        if status or moved:
            asked = _asked(cases.get(case_id, {}))
            found.append(CaseChange(case_id, asked, old, new, moved or changes))
    return sorted(found, key=lambda c: (not c.newly_failing, c.total))


def _value(result: CaseResult | None, scorer: str) -> float | None:
    if result is None or result.status != "ok":
        return None
    value = result.scores.get(scorer, {}).get("value")
    return None if value is None else float(value)


# --- red teaming -----------------------------------------------------------------------------


@dataclass(frozen=True)
class FindingForm:
    """What the form of one successful attempt holds, and what the service said of it."""

    attempt: str
    suite: str
    case_id: str
    error: str | None = None


@router.get("/redteam", response_class=HTMLResponse)
def redteam_page(
    request: Request, project: str = "", svc: Services = Depends(ui_services)
) -> HTMLResponse:
    """Red-team runs newest first: target, attempts, successes and the attack success rate."""
    project = project.strip()
    runs = svc.redteam.runs(project or None, limit=RUNS_PAGE)
    return _eval_page(
        request,
        "redteam_runs.html",
        svc,
        "redteam",
        runs=runs,
        full=len(runs) == RUNS_PAGE,
        project=project,
        projects=_project_names(svc),
    )


@router.get("/redteam/runs/{run_id}", response_class=HTMLResponse)
def redteam_run_page(
    run_id: str,
    request: Request,
    added: str = "",
    case: str = "",
    attempt: str = "",
    svc: Services = Depends(ui_services),
) -> HTMLResponse:
    """A run: its attack success rate by category and by OWASP id, the transcripts of the
    attacks that worked (redacted as stored), each with a form that makes it an evaluation
    case, and every attempt's outcome. ``added``, ``case`` and ``attempt`` are what the
    form's redirect confirms."""
    done = {"suite": added, "case": case, "attempt": attempt} if added else None
    return _redteam_response(request, svc, run_id, added=done)


@router.post("/redteam/attempts/{attempt_id}/case")
def finding_to_case(
    attempt_id: str,
    request: Request,
    suite: str = Form(""),
    case_id: str = Form(""),
    svc: Services = Depends(ui_services),
) -> Response:
    """A successful attempt becomes a case of an evaluation suite (a new version of it);
    back to the run with a confirmation. What the service refuses (an attempt that did
    not succeed, a counterfactual set, a bad suite name) is said on the form (4xx)."""
    found = svc.redteam.attempt(attempt_id)  # an unknown attempt is the error page's 404
    try:
        version = svc.redteam.to_case(attempt_id, suite.strip(), case_id.strip() or None)
    except FORM_ERRORS as exc:
        form = FindingForm(attempt_id, suite, case_id, exc.message)
        page = _redteam_response(request, svc, found.run_id, form=form)
        page.status_code = exc.http_status
        return page
    made = _case_of(version, found)
    url = redteam_run_url(found.run_id, added=version.label, case=made, attempt=attempt_id)
    return RedirectResponse(f"{url}#attempt-{attempt_id}", status_code=303)


def _case_of(version: SuiteVersion, attempt: Attempt) -> str:
    """The id of the case the attempt became (the last one that names it as its source)."""
    made = [
        str(c["id"])
        for c in version.cases
        if (c.get("metadata") or {}).get("source") == attempt.ref
    ]
    return made[-1] if made else ""


def _redteam_response(
    request: Request,
    svc: Services,
    run_id: str,
    form: FindingForm | None = None,
    added: Mapping[str, str] | None = None,
) -> HTMLResponse:
    run = svc.redteam.get_run(run_id)
    successful = run.successful()
    return _eval_page(
        request,
        "redteam_run.html",
        svc,
        "redteam",
        run=run,
        by_category=_asr_chart(run.summary.get("by_category", {}), titled=True),
        by_owasp=_asr_chart(run.summary.get("by_owasp", {}), titled=False),
        successful=successful,
        made=_cases_made(svc, successful),
        may_add=_may_add_cases(svc, run),
        default_suite=f"{run.project}/{FINDINGS_SUITE}",
        suites=[s.ref for s in svc.evaluation.suites(run.project)],
        form=form,
        added=added,
    )


def _cases_made(svc: Services, attempts: list[Attempt]) -> dict[str, list[str]]:
    """The suite versions each attempt became a case of (``hr/findings@v2``), from the
    lineage graph; an attempt that never became one has no node there."""
    made: dict[str, list[str]] = {}
    for attempt in attempts:
        try:
            graph = svc.lineage.graph(attempt.ref, "down", 1)
        except NotFound:
            continue
        labels = {n.ref: n.label for n in graph.nodes}
        made[attempt.id] = [
            labels.get(e.dst, e.dst) for e in graph.edges if e.type == "became_case"
        ]
    return made


def _asr_chart(groups: Mapping[str, Mapping[str, Any]], titled: bool) -> BarChart:
    """A bar per group (a category, by its title; an OWASP id), as long as its ASR."""
    rows = []
    for key, group in groups.items():
        judged = int(group.get("attempts", 0)) - int(group.get("errored", 0))
        rate = group.get("asr")
        share = "no judged attempt" if rate is None else f"{rate:.0%}"
        text = f"{share} · {group.get('success', 0)}/{judged}"
        rows.append((str(group.get("title") or key) if titled else key, rate, text))
    return rate_bars_chart(rows)


def _may_add_cases(svc: Services, run: RedteamRun) -> bool:
    """Whether to offer the form (a contributor of the run's project); the service checks
    again, with the suite's project, when the form is sent."""
    try:
        role = svc.projects.role_of_caller(run.project)
    except PasslineError:
        return False
    return role is not None and role.allows(Role.CONTRIBUTOR)
