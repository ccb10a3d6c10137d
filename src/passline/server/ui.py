"""Web UI: server-rendered pages (Jinja2), no JavaScript build step.

Pages call the same services as the API, with the caller taken from the session cookie
that ``/login`` sets from a token. The cookie is HttpOnly and SameSite=Strict. Handlers
only gather what a page shows; rules live in the services, geometry in ``graph_layout``,
and errors (not found, forbidden, invalid input) become error pages in one handler.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from passline.core.entities import Dataset, DatasetGrant, DatasetVersion
from passline.errors import InvalidInput, PermissionDenied, Unauthenticated
from passline.server.charts import BarChart, histogram_chart, short_number, top_values_chart
from passline.server.deps import COOKIE, ui_services, workspace_of
from passline.server.graph_layout import layout
from passline.services.dataset_common import LEVELS
from passline.services.identity import authenticate
from passline.services.workspace import Services

__all__ = ["BLOCKS", "router"]

router = APIRouter(include_in_schema=False)

Direction = Literal["up", "down", "both"]
DEFAULT_DEPTH = 5
AUDIT_PAGE = 50
VERSIONS_SHOWN = 100  # on a dataset page; older ones stay reachable by number

#: Blocks whose pages come later: route slug -> (title, what the block will do).
BLOCKS: dict[str, tuple[str, str]] = {
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


def data_url(**filters: Any) -> str:
    """The data catalog with the given search filters (empty ones dropped)."""
    kept = {k: v for k, v in filters.items() if v not in (None, "")}
    return "/data?" + urlencode(kept) if kept else "/data"


def dataset_url(dataset: str, selector: str | None = None) -> str:
    """The page of ``project/name``, or of one of its versions (``v3``, ``dsv_...``)."""
    project, _, name = dataset.partition("/")
    base = f"/data/{quote(project, safe='')}/{quote(name, safe='')}"
    return f"{base}/v/{quote(selector, safe='')}" if selector else base


def percent(fraction: float | None) -> str:
    """A fraction as a percentage, keeping small non-zero ones visible: ``<0.1%``."""
    if fraction is None:
        return ""
    if 0 < fraction < 0.001:
        return "<0.1%"
    return f"{fraction * 100:.1f}%".replace(".0%", "%")


HELPERS: dict[str, Any] = {
    "human_size": human_size,
    "when": when,
    "compact_json": compact_json,
    "lineage_url": lineage_url,
    "audit_url": audit_url,
    "data_url": data_url,
    "dataset_url": dataset_url,
    "percent": percent,
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


# --- data ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class LatestSummary:
    number: int
    rows: int
    created_at: datetime


@dataclass(frozen=True)
class CatalogRow:
    """A dataset in the catalog, with its latest version (None until one passes its checks)."""

    dataset: Dataset
    latest: LatestSummary | None


@dataclass(frozen=True)
class SchemaRow:
    """A column of a version, with the tags people set and the PII scan's suggestions."""

    name: str
    type: str
    nullable: bool
    tags: list[str]
    suggestions: list[tuple[str, float]]  # tag, fraction of non-empty values that matched
    examples: list[str]  # masked by the scanner; empty when values are hidden


@dataclass
class ColumnCard:
    """One column of a version's profile: its numbers and its chart."""

    name: str
    type: str
    kind: str
    stats: list[tuple[str, str]] = field(default_factory=list)
    quantiles: list[tuple[str, str, str]] = field(default_factory=list)  # min, p01.., max
    chart: BarChart | None = None
    chart_title: str = ""
    distinct: int = 0  # of a categorical column, to say how many the top-values chart leaves out
    suggestions: list[tuple[str, float]] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    hidden: bool = False


@router.get("/data", response_class=HTMLResponse)
def data_catalog(
    request: Request,
    text: str = "",
    tag: str = "",
    column: str = "",
    owner: str = "",
    sensitivity: str = "",
    project: str = "",
    svc: Services = Depends(ui_services),
) -> HTMLResponse:
    """Datasets the caller can see, searched, and the saved sources that feed them."""
    filters = {
        "text": text,
        "tag": tag,
        "column": column,
        "owner": owner,
        "sensitivity": sensitivity,
        "project": project,
    }
    cleaned = {k: v.strip() or None for k, v in filters.items()}
    datasets = svc.datasets.search(**cleaned)
    sources = [s for s in svc.sources.list() if cleaned["project"] in (None, s.project)]
    return _page(
        request,
        "data.html",
        svc,
        filters=filters,
        searched=any(cleaned.values()),
        rows=[CatalogRow(d, _latest(svc, d)) for d in datasets],
        sources=sources,
        projects=svc.projects.list(),
        levels=LEVELS,
    )


def _latest(svc: Services, dataset: Dataset) -> LatestSummary | None:
    # The catalog query brings the latest version's figures along: no query per row.
    if dataset.latest_number is None or dataset.latest_at is None:
        return None
    return LatestSummary(dataset.latest_number, dataset.latest_rows or 0, dataset.latest_at)


@router.get("/data/{project}/{name}", response_class=HTMLResponse)
def dataset_page(
    project: str,
    name: str,
    request: Request,
    v: str = "",
    svc: Services = Depends(ui_services),
) -> HTMLResponse:
    """One dataset: its versions, the schema of one of them, who may read it, its checks."""
    key = _dataset_key(project, name)
    dataset = svc.datasets.get(key)
    versions = svc.datasets.versions(key)
    selected = _selected_version(svc, key, versions, v.strip())
    grants = svc.datasets.grants(key)
    visible = _values_visible(svc, dataset, grants)
    return _page(
        request,
        "dataset.html",
        svc,
        dataset=dataset,
        key=key,
        versions=versions[:VERSIONS_SHOWN],
        version_count=len(versions),
        latest=next((x for x in versions if x.is_latest), None),
        selected=selected,
        schema=_schema(dataset, selected, visible) if selected else [],
        grants=grants,
        visible=visible,
    )


def _dataset_key(project: str, name: str) -> str:
    # A selector belongs in the version URL; "/data/p/n@v2" would silently show the dataset.
    if "@" in project or "@" in name:
        raise InvalidInput(
            f"'{project}/{name}' is not a dataset name; open a version at "
            f"{dataset_url(project + '/' + name.split('@')[0], 'v1')}."
        )
    return f"{project}/{name}"


def _selected_version(
    svc: Services, key: str, versions: list[DatasetVersion], selector: str
) -> DatasetVersion | None:
    """The version asked for, else the latest, else the newest (all may be quarantined)."""
    if selector:
        return svc.datasets.version(f"{key}@{selector}")
    return next((x for x in versions if x.is_latest), versions[0] if versions else None)


def _values_visible(svc: Services, dataset: Dataset, grants: list[DatasetGrant]) -> bool:
    """The services' read rule (restricted data: owner and grantees only)."""
    return svc.datasets.can_read(f"{dataset.project}/{dataset.name}")


def _schema(dataset: Dataset, version: DatasetVersion, visible: bool) -> list[SchemaRow]:
    findings = version.pii.get("columns", {})
    rows = []
    for column in version.columns:
        name = column["name"]
        finding = findings.get(name, {})
        rows.append(
            SchemaRow(
                name=name,
                type=column["type"],
                nullable=bool(column.get("nullable", True)),
                tags=dataset.column_tags.get(name, []),
                suggestions=_suggestions(finding),
                examples=_examples(finding) if visible else [],
            )
        )
    return rows


def _suggestions(finding: Mapping[str, Any]) -> list[tuple[str, float]]:
    fractions = finding.get("fractions", {})
    return [(tag, float(fractions.get(tag, 0.0))) for tag in finding.get("tags", [])]


def _examples(finding: Mapping[str, Any]) -> list[str]:
    examples = finding.get("examples", {})
    return [str(e) for tag in finding.get("tags", []) for e in examples.get(tag, [])][:3]


@router.get("/data/{project}/{name}/v/{selector}", response_class=HTMLResponse)
def version_page(
    project: str,
    name: str,
    selector: str,
    request: Request,
    svc: Services = Depends(ui_services),
) -> HTMLResponse:
    """One version: where it came from, its quality results and its profile."""
    key = _dataset_key(project, name)
    ref = f"{key}@{selector}"
    dataset = svc.datasets.get(key)
    version = svc.datasets.version(ref)
    profile = svc.datasets.profile(ref)
    grants = svc.datasets.grants(key)
    visible = _values_visible(svc, dataset, grants) and not any(
        "hidden" in summary for summary in profile.values()
    )
    parent = svc.datasets.version(f"{key}@{version.parent}") if version.parent else None
    return _page(
        request,
        "version.html",
        svc,
        dataset=dataset,
        key=key,
        version=version,
        parent=parent,
        source=_source_items(version.source),
        quality=_ordered_quality(version.quality),
        cards=[_card(c, profile.get(c["name"], {}), version, dataset) for c in version.columns],
        visible=visible,
    )


def _source_items(source: Mapping[str, Any]) -> list[tuple[str, str]]:
    """What the connector reported, as label/text pairs (lists of files joined)."""
    items = []
    for key, value in source.items():
        if key == "files" and value == [source.get("location")]:
            continue  # one file: already the location
        if key == "bytes" and isinstance(value, int):
            value = human_size(value)
        elif isinstance(value, list):
            value = ", ".join(str(v) for v in value)
        elif isinstance(value, dict):
            value = compact_json(value)
        items.append((key, str(value)))
    return items


def _ordered_quality(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    # Failed errors first, then failed warnings, then what passed: the reason for a
    # quarantine is what a reader came for.
    def rank(result: dict[str, Any]) -> int:
        if result.get("passed"):
            return 2
        return 0 if result.get("level") == "error" else 1

    return sorted(results, key=rank)


def _card(
    column: Mapping[str, Any], summary: Mapping[str, Any], version: DatasetVersion, dataset: Dataset
) -> ColumnCard:
    name, kind = column["name"], summary.get("kind", "other")
    card = ColumnCard(
        name=name,
        type=column["type"],
        kind=kind,
        suggestions=_suggestions(version.pii.get("columns", {}).get(name, {})),
        tags=dataset.column_tags.get(name, []),
        hidden="hidden" in summary,
    )
    rows, nulls = int(summary.get("rows", 0)), int(summary.get("nulls", 0))
    card.stats = [("rows", f"{rows:,}"), ("nulls", _nulls_text(nulls, summary))]
    if card.hidden:
        return card
    if "distinct" in summary:
        card.stats.append(("distinct ≈", f"{int(summary['distinct']):,}"))
    if kind == "numeric":
        _numeric_card(card, summary)
    elif kind == "temporal":
        _temporal_card(card, summary)
    elif kind == "categorical":
        _categorical_card(card, summary, rows - nulls)
    elif kind == "boolean":
        _boolean_card(card, summary, rows - nulls)
    return card


def _nulls_text(nulls: int, summary: Mapping[str, Any]) -> str:
    text = f"{nulls:,}"
    return f"{text} ({percent(summary.get('null_fraction', 0.0))})" if nulls else text


def _numeric_card(card: ColumnCard, summary: Mapping[str, Any]) -> None:
    card.stats += [
        ("mean", short_number(summary.get("mean"))),
        ("std", short_number(summary.get("std"))),
    ]
    card.quantiles = _spread(summary, short_number, short_number)
    card.chart = _histogram(summary, short_number)
    card.chart_title = f"Histogram of {card.name}"


def _temporal_card(card: ColumnCard, summary: Mapping[str, Any]) -> None:
    kind = card.type
    card.stats += [
        ("mean", temporal_text(summary.get("mean"), kind)),
        ("std", duration_text(summary.get("std"), kind)),
    ]
    short = _short_time(summary, kind)
    card.quantiles = _spread(summary, short, lambda value: temporal_text(value, kind))
    card.chart = _histogram(summary, short)
    card.chart_title = f"Histogram of {card.name}"


def _short_time(summary: Mapping[str, Any], kind: str) -> Callable[[Any], str]:
    # Grid cells and axis labels are narrow: dates when the column spans days, month-day
    # and minutes when it spans less; the full value stays in the cell's title.
    unit = _epoch_unit(kind)
    if unit is None:  # times of day and durations: numbers, already short
        return lambda value: temporal_text(value, kind)
    edges = [e for e in summary.get("histogram", {}).get("edges", []) if isinstance(e, int | float)]
    span = (max(edges) - min(edges)) * unit[0] if edges else 0.0
    cut = slice(0, 10) if span >= 2 * 86400 or unit[1] else slice(5, 16)
    return lambda value: temporal_text(value, kind)[cut]


def _spread(
    summary: Mapping[str, Any], short: Callable[[Any], str], full: Callable[[Any], str]
) -> list[tuple[str, str, str]]:
    """min, the quantiles and max, in order, as (label, short text, full text)."""
    quantiles = summary.get("quantiles", {})
    points = [
        ("min", summary.get("min")),
        *(("median" if q == "p50" else q, v) for q, v in quantiles.items()),
        ("max", summary.get("max")),
    ]
    return [(label, short(value), full(value)) for label, value in points]


def _categorical_card(card: ColumnCard, summary: Mapping[str, Any], present: int) -> None:
    if "min_length" in summary:
        lengths = f"{summary['min_length']:,} – {summary['max_length']:,}"
        card.stats.append(("length", lengths))
    top = summary.get("top", [])
    if top:
        card.chart = top_values_chart(top, present)
        card.chart_title = f"Most frequent values of {card.name}"
        card.distinct = int(summary.get("distinct", len(top)))


def _boolean_card(card: ColumnCard, summary: Mapping[str, Any], present: int) -> None:
    fraction = summary.get("true_fraction")
    if fraction is None:
        return
    trues = round(fraction * present)
    card.stats.append(("true", percent(fraction)))
    counts = [{"value": "true", "count": trues}, {"value": "false", "count": present - trues}]
    card.chart = top_values_chart(counts, present)
    card.chart_title = f"true and false in {card.name}"


def _histogram(summary: Mapping[str, Any], fmt: Callable[[Any], str]) -> BarChart | None:
    histogram = summary.get("histogram") or {}
    edges, counts = histogram.get("edges", []), histogram.get("counts", [])
    if not counts or len(edges) != len(counts) + 1:
        return None
    return histogram_chart(edges, counts, fmt)


# Temporal profile numbers are epoch units of the column's Arrow type (the extremes come
# already as ISO text): seconds per unit, and whether the type is a date.
_EPOCH = datetime(1970, 1, 1)
_TIMESTAMP = re.compile(r"timestamp\[(s|ms|us|ns)\b")
_SECONDS = {"s": 1.0, "ms": 1e-3, "us": 1e-6, "ns": 1e-9}


def _epoch_unit(arrow_type: str) -> tuple[float, bool] | None:
    if arrow_type.startswith("date32"):
        return 86400.0, True
    if arrow_type.startswith("date64"):
        return 1e-3, True
    match = _TIMESTAMP.match(arrow_type)
    return (_SECONDS[match[1]], False) if match else None


def temporal_text(value: Any, arrow_type: str) -> str:
    """A temporal profile value as a date or time: ``2026-01-15`` or ``2026-01-15 12:00:00``."""
    if isinstance(value, str):
        return value.replace("T", " ")
    unit = _epoch_unit(arrow_type)
    if unit is None or not isinstance(value, int | float):
        return short_number(value)  # time of day and durations stay numbers
    seconds, is_date = unit
    try:
        moment = _EPOCH + timedelta(seconds=round(float(value) * seconds, 6))
    except (OverflowError, ValueError):
        return short_number(value)
    return moment.date().isoformat() if is_date else moment.strftime("%Y-%m-%d %H:%M:%S")


def duration_text(value: Any, arrow_type: str) -> str:
    """A spread in epoch units as a duration: ``45 s``, ``3.2 h``, ``8.6 days``."""
    unit = _epoch_unit(arrow_type)
    if unit is None or not isinstance(value, int | float):
        return short_number(value)
    seconds = float(value) * unit[0]
    for size, name in ((86400, "days"), (3600, "h"), (60, "min")):
        if seconds >= size:
            return f"{seconds / size:.1f} {name}"
    return f"{seconds:.3g} s"


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
