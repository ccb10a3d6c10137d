"""Web UI: server-rendered pages (Jinja2), no JavaScript build step.

Pages call the same services as the API, with the caller taken from the session cookie
that ``/login`` sets from a token. The cookie is HttpOnly and SameSite=Strict. Handlers
only gather what a page shows; rules live in the services, geometry in ``graph_layout``,
and errors (not found, forbidden, invalid input) become error pages in one handler.
"""

from __future__ import annotations

import json
import math
import re
import shlex
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any, Literal
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response

from passline.core.clock import utcnow
from passline.core.entities import (
    AliasMove,
    Dataset,
    DatasetGrant,
    DatasetVersion,
    Experiment,
    ModelVersion,
    RegisteredModel,
    ReleasePolicy,
    Run,
)
from passline.errors import InvalidInput, NotFound, PermissionDenied, Unauthenticated
from passline.server.charts import (
    BarChart,
    LineChart,
    Series,
    finite,
    histogram_chart,
    line_chart,
    short_number,
    top_values_chart,
)
from passline.server.deps import COOKIE, ui_services, workspace_of
from passline.server.drift_view import DriftView, drift_view
from passline.server.graph_layout import layout
from passline.services.dataset_common import LEVELS
from passline.services.endpoints import Endpoint
from passline.services.identity import authenticate
from passline.services.monitoring import parse_window
from passline.services.monitors import Alert
from passline.services.run_search import decode_token, encode_token
from passline.services.workspace import Services

__all__ = ["BLOCKS", "router"]

router = APIRouter(include_in_schema=False)

Direction = Literal["up", "down", "both"]
DEFAULT_DEPTH = 5
AUDIT_PAGE = 50
VERSIONS_SHOWN = 100  # on a dataset page; older ones stay reachable by number
#: What a monitor's alert did when it rolled a release back.
ROLLBACKS = ("canary_removed", "alias_rollback")

#: Blocks whose pages come later: route slug -> (title, what the block will do).
BLOCKS: dict[str, tuple[str, str]] = {}


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


def ms_when(millis: int | None) -> str:
    """A run's epoch milliseconds as :func:`when` writes a moment (UTC)."""
    if millis is None:
        return ""
    return when(datetime.fromtimestamp(millis / 1000, UTC))


def duration(start: int | None, end: int | None) -> str:
    """From start to end (epoch milliseconds) as people read it: ``850 ms``, ``4 min 12 s``."""
    if start is None or end is None:
        return ""
    seconds = max(end - start, 0) / 1000
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, seconds = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {seconds} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"


def metric_text(value: Any) -> str:
    """A metric value for a table cell: ``0.8312``, ``12,345``; NaN and infinities as such."""
    return short_number(value) if finite(value) is not None else str(value)


def run_url(run_id: str) -> str:
    return f"/runs/{quote(run_id, safe='')}"


def experiments_url(**params: Any) -> str:
    """The experiments page with the given parameters (empty ones dropped)."""
    kept = {k: v for k, v in params.items() if v not in (None, "")}
    return "/experiments?" + urlencode(kept) if kept else "/experiments"


def model_url(model: str, version: int | str | None = None) -> str:
    """The page of ``project/name``, or of one of its versions (``3``, an alias)."""
    project, _, name = model.partition("/")
    base = f"/models/{quote(project, safe='')}/{quote(name, safe='')}"
    return f"{base}/v/{quote(str(version), safe='')}" if version is not None else base


def dataset_label_url(label: str) -> str:
    """The page of a dataset version named by its label, ``project/name@v3``."""
    dataset, _, selector = label.rpartition("@")
    return dataset_url(dataset, selector) if dataset else dataset_url(label)


_VERSION_LABEL = re.compile(r"^(?P<model>[^/]+/[^/]+)/v(?P<number>\d+)$")
_DATASET_VERSION_LABEL = re.compile(r"^[^/@]+/[^/@]+@v\d+$")


def object_url(ref: str, label: str = "") -> str | None:
    """The UI page of a lineage node (run, model, version, dataset...), when it has one.

    Model and dataset versions are named by their label (``p/name/v3``, ``p/name@v3``),
    which their lineage nodes carry."""
    kind, _, key = ref.partition(":")
    if kind == "run":
        return run_url(key)
    if kind == "model" and "/" in key:
        return model_url(key)
    if kind == "dataset" and "/" in key:
        return dataset_url(key)
    if kind == "model_version" and (match := _VERSION_LABEL.match(label)):
        return model_url(match["model"], match["number"])
    if kind == "dataset_version" and _DATASET_VERSION_LABEL.match(label):
        return dataset_label_url(label)
    if kind == "project":
        return f"/projects/{quote(key, safe='')}"
    return None


def check_text(spec: Mapping[str, Any]) -> str:
    """A release check of a policy as written: ``metric_at_least(metric=auc, min=0.8)``."""
    params = ", ".join(f"{k}={v}" for k, v in sorted(spec.items()) if k != "name")
    return f"{spec.get('name')}({params})" if params else str(spec.get("name"))


def endpoint_url(key: str, **params: Any) -> str:
    """The page of endpoint ``project/name``, with the given parameters (empty ones dropped)."""
    project, _, name = key.partition("/")
    base = f"/serving/{quote(project, safe='')}/{quote(name, safe='')}"
    kept = {k: v for k, v in params.items() if v not in (None, "")}
    return f"{base}?{urlencode(kept)}" if kept else base


def ms_text(value: float | None) -> str:
    """A latency: ``25 ms``, ``1,000 ms``; a dash when there was no request."""
    return "—" if value is None else f"{short_number(value)} ms"


def is_rollback(alert: Alert) -> bool:
    return alert.action.get("kind") in ROLLBACKS


def action_text(action: Mapping[str, Any]) -> str:
    """What a monitor did when it alerted, in words."""
    kind = action.get("kind", "notify")
    took = action.get("time_to_rollback_ms")
    within = f" in {short_number(took)} ms" if took is not None else ""
    if kind == "canary_removed":
        return f"Canary v{action.get('version')} taken out of the traffic{within}"
    if kind == "alias_rollback":
        moved = (
            f"{action.get('alias')} moved back from v{action.get('from')} to v{action.get('to')}"
        )
        return moved + within
    if kind == "rollback_failed":
        return f"Rollback failed: {action.get('error', 'no reason given')}"
    return "Notified" if kind == "notify" else str(kind)


HELPERS: dict[str, Any] = {
    "human_size": human_size,
    "when": when,
    "ms_when": ms_when,
    "duration": duration,
    "compact_json": compact_json,
    "lineage_url": lineage_url,
    "audit_url": audit_url,
    "data_url": data_url,
    "dataset_url": dataset_url,
    "dataset_label_url": dataset_label_url,
    "percent": percent,
    "metric_text": metric_text,
    "short_number": short_number,
    "run_url": run_url,
    "experiments_url": experiments_url,
    "model_url": model_url,
    "check_text": check_text,
    "object_url": object_url,
    "endpoint_url": endpoint_url,
    "ms_text": ms_text,
    "is_rollback": is_rollback,
    "action_text": action_text,
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


# --- experiments and runs -------------------------------------------------------------------

RUNS_PAGE = 50
MAX_RUNS_PAGE = 500
KEY_COLUMNS = 6  # metric and param columns in the runs table; a run's page has them all
_PLAIN_KEY = re.compile(r"^[\w.\-/]+$")


@dataclass(frozen=True)
class ExperimentItem:
    experiment: Experiment
    runs: int


@dataclass(frozen=True)
class SortLink:
    """A column header that orders the runs by its key, and which way it orders them now."""

    url: str
    current: str  # "", "ASC" or "DESC"


def order_term(entity: str, key: str) -> str:
    """``metrics.auc``, or ``metrics.`val loss``` when the key needs quoting."""
    return f"{entity}.{key}" if _PLAIN_KEY.match(key) else f"{entity}.`{key}`"


@router.get("/experiments", response_class=HTMLResponse)
def experiments_page(
    request: Request,
    project: str = "",
    experiment: str = "",
    filter: str = "",
    order: str = "",
    page_token: str = "",
    per_page: int = RUNS_PAGE,
    svc: Services = Depends(ui_services),
) -> HTMLResponse:
    """Experiments by project, and the runs of one of them (or of a project, or of all)
    searched with MLflow's filter syntax, ordered and paged; ticked runs are compared."""
    per_page = min(max(per_page, 1), MAX_RUNS_PAGE)
    project, experiment = project.strip(), experiment.strip()
    chosen = svc.tracking.get_experiment(experiment) if experiment else None
    scope = chosen.project if chosen else project or None
    if scope and not chosen:
        svc.projects.get(scope)  # an unknown project is a 404 page, not an empty table
    # Grouped by project in the side bar: the service lists them in creation order.
    listed = sorted(svc.tracking.experiments(), key=lambda e: (e.project, e.name.lower()))
    items = [ExperimentItem(e, svc.tracking.count_runs(e.id)) for e in listed]
    orders = [part.strip() for part in order.split(",") if part.strip()]
    state = {
        "project": "" if chosen else project,
        "experiment": experiment,
        "filter": filter.strip(),
        "order": order.strip(),
        "per_page": per_page if per_page != RUNS_PAGE else "",
    }
    runs: list[Run] = []
    error: str | None = None
    newer = older = None
    try:
        found = svc.tracking.search_runs(
            project=scope,
            experiments=[chosen.id] if chosen else None,
            filter=state["filter"] or None,
            order_by=orders or None,
            max_results=per_page,
            page_token=page_token.strip() or None,
        )
        runs = found.runs
        offset = decode_token(page_token.strip() or None)
        if found.next_page_token:
            older = experiments_url(**state, page_token=found.next_page_token)
        if offset:
            back = max(offset - per_page, 0)
            newer = experiments_url(**state, page_token=encode_token(back) if back else "")
    except InvalidInput as exc:  # a bad filter, order or page token: said next to the form
        error = str(exc)
    metric_keys = sorted({k for r in runs for k in r.metrics})
    # Runs of one experiment share their parameters; across experiments they rarely do, and
    # a column per parameter of every experiment would push the metrics off the screen.
    param_keys = sorted({k for r in runs for k in r.params}) if chosen else []
    page = _page(
        request,
        "experiments.html",
        svc,
        items=items,
        projects=[p.name for p in svc.projects.list()],
        chosen=chosen,
        scope=scope,
        state=state,
        runs=runs,
        error=error,
        newer=newer,
        older=older,
        metric_keys=metric_keys[:KEY_COLUMNS],
        param_keys=param_keys[:KEY_COLUMNS],
        more_keys=max(len(metric_keys) - KEY_COLUMNS, 0) + max(len(param_keys) - KEY_COLUMNS, 0),
        sort={
            (entity, key): _sort_link(state, orders, entity, key)
            for entity, keys in (
                ("metrics", metric_keys),
                ("params", param_keys),
                ("attributes", ["run_name", "status", "start_time"]),
            )
            for key in keys
        },
        per_page=per_page,
        default_per_page=RUNS_PAGE,
    )
    if error:
        page.status_code = 422
    return page


def _sort_link(state: dict[str, Any], orders: list[str], entity: str, key: str) -> SortLink:
    # A click orders by this column alone: descending first for metrics (best scores on
    # top), ascending first for the rest; a second click turns it around.
    term = order_term(entity, key)
    current = ""
    if orders:
        head, _, direction = orders[0].rpartition(" ")
        if head.strip() == term:
            current = direction.upper()
        elif orders[0].strip() == term:
            current = "ASC"
    first = "DESC" if entity == "metrics" or key == "start_time" else "ASC"
    if current:
        following = "ASC" if current == "DESC" else "DESC"
    else:
        following = first
    url = experiments_url(**{**state, "order": f"{term} {following}"})
    return SortLink(url, current)


@router.get("/experiments/compare", response_class=HTMLResponse)
def compare_page(
    request: Request,
    run: list[str] = Query(default=[]),
    only_differences: bool = False,
    svc: Services = Depends(ui_services),
) -> HTMLResponse:
    """Runs side by side: params with differing values marked, latest metrics, and one
    chart per metric the runs share, a line per run."""
    ids = list(dict.fromkeys(r.strip() for r in run if r.strip()))
    if len(ids) < 2:
        raise InvalidInput(
            f"Tick at least two runs to compare; got {len(ids)}.",
            hint="Choose them on the experiments page and press Compare.",
        )
    compared = svc.tracking.compare(ids)
    runs = [svc.tracking.get_run(r) for r in ids]
    shared = [k for k in sorted(set.intersection(*(set(r.metrics) for r in runs)))]
    charts = []
    for key in shared:
        histories = [(r.name, svc.tracking.metric_history(r.id, key)) for r in runs]
        charts.append((key, _metric_chart(histories)))
    colours = {r.id: charts[0][1].lines[i].color for i, r in enumerate(runs)} if charts else {}
    return _page(
        request,
        "compare.html",
        svc,
        runs=runs,
        params=[p for p in compared["params"] if p["differs"] or not only_differences],
        metrics=[m for m in compared["metrics"] if m["differs"] or not only_differences],
        differing=sum(p["differs"] for p in compared["params"]),
        differing_metrics=sum(m["differs"] for m in compared["metrics"]),
        charts=charts,
        not_shared=sorted({k for r in runs for k in r.metrics} - set(shared)),
        colours=colours,
        only_differences=only_differences,
        query=[("run", r) for r in ids],
    )


def _metric_chart(histories: list[tuple[str, list[Any]]]) -> LineChart:
    """One line per history; x is the step, or the order of logging when every point of
    every history has the same step (values logged again and again without one)."""
    steps = {p.step for _, points in histories for p in points}
    by_order = len(steps) == 1 and any(len(points) > 1 for _, points in histories)
    series = [
        Series(name, [(i if by_order else p.step, p.value) for i, p in enumerate(points)])
        for name, points in histories
    ]
    return line_chart(series, x_title="point" if by_order else "step")


@router.get("/runs/{run_id}", response_class=HTMLResponse)
def run_page(run_id: str, request: Request, svc: Services = Depends(ui_services)) -> HTMLResponse:
    """One run: what it was given, what it measured (with each metric's history drawn),
    what it read and wrote, and the code and environment it ran in."""
    found = svc.tracking.get_run(run_id)
    charts = [
        (key, _metric_chart([(key, svc.tracking.metric_history(found.id, key))]))
        for key in sorted(found.metrics)
    ]
    return _page(
        request,
        "run.html",
        svc,
        run=found,
        charts=charts,
        code=_code_items(found.code),
        environment=json.dumps(found.environment, indent=2, sort_keys=True, default=str),
        versions=_registered_from(svc, found),
    )


def _code_items(code: Mapping[str, Any]) -> list[tuple[str, str]]:
    # The commit first (what one would check out), then the rest as recorded.
    first = ("commit", "git_commit", "revision", "version", "branch", "git_branch", "repository")
    keys = sorted(code, key=lambda k: (first.index(k) if k in first else len(first), k))
    return [
        (k, compact_json(code[k]) if isinstance(code[k], dict | list) else str(code[k]))
        for k in keys
    ]


def _registered_from(svc: Services, found: Run) -> list[tuple[str, str]]:
    """The model versions registered from this run, as (label, page): one lineage hop down."""
    try:
        graph = svc.lineage.graph(found.ref, "down", 1)
    except NotFound:  # a run recorded before it had a lineage node
        return []
    return sorted(
        (n.label, object_url(n.ref, n.label) or lineage_url(n.ref))
        for n in graph.nodes
        if n.kind == "model_version"
    )


# --- models ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class AliasState:
    """An alias of a model: where it points, since when, and its release policy with what
    the candidate version (the latest) has and lacks."""

    alias: str
    holder: int | None
    since: AliasMove | None
    policy: ReleasePolicy | None
    candidate: int | None
    verdict: dict[str, Any] | None


@router.get("/models", response_class=HTMLResponse)
def models_page(
    request: Request, project: str = "", svc: Services = Depends(ui_services)
) -> HTMLResponse:
    """Registered models in the projects the caller can see."""
    project = project.strip()
    models = svc.registry.models(project or None)
    return _page(
        request,
        "models.html",
        svc,
        models=models,
        project=project,
        projects=[p.name for p in svc.projects.list()],
    )


@router.get("/models/{project}/{name}", response_class=HTMLResponse)
def model_page(
    project: str, name: str, request: Request, svc: Services = Depends(ui_services)
) -> HTMLResponse:
    """A model: its versions, its aliases under their release policy, every alias move."""
    key = f"{project}/{name}"
    model = svc.registry.get_model(key)
    versions = svc.registry.versions(key)
    history = svc.registry.history(key)
    return _page(
        request,
        "model.html",
        svc,
        model=model,
        key=key,
        versions=versions,
        history=history,
        aliases=_alias_states(svc, model, history),
        runs=_runs_by_id(svc, model.project, [v.run_id for v in versions if v.run_id]),
    )


def _runs_by_id(svc: Services, project: str, ids: list[str]) -> dict[str, Run]:
    """The runs behind a model's versions, in one search (deleted ones are left out)."""
    wanted = sorted(set(ids))
    if not wanted or any("'" in i for i in wanted):
        return {}
    listed = ", ".join(f"'{i}'" for i in wanted)
    found = svc.tracking.search_runs(
        project=project, filter=f"attributes.run_id IN ({listed})", max_results=len(wanted)
    )
    return {r.id: r for r in found.runs}


def _alias_states(
    svc: Services, model: RegisteredModel, history: list[AliasMove]
) -> list[AliasState]:
    key = f"{model.project}/{model.name}"
    policies = {p.alias: p for p in svc.registry.policies(model.project)}
    names = sorted(set(model.aliases) | set(policies), key=lambda a: (a != "production", a))
    states = []
    for alias in names:
        holder = model.aliases.get(alias)
        since = next((m for m in history if m.alias == alias), None)  # newest first
        policy = policies.get(alias)
        candidate = model.latest_version
        verdict = None
        if policy is not None and candidate is not None:
            verdict = svc.registry.evaluate(key, candidate, alias)
        states.append(AliasState(alias, holder, since, policy, candidate, verdict))
    return states


@router.get("/models/{project}/{name}/v/{version}", response_class=HTMLResponse)
def model_version_page(
    project: str,
    name: str,
    version: str,
    request: Request,
    svc: Services = Depends(ui_services),
) -> HTMLResponse:
    """A version: its files and their digests, signature, metrics, training data, run and
    approvals. ``version`` is a number, ``vN`` or an alias."""
    key = f"{project}/{name}"
    model = svc.registry.get_model(key)
    found: ModelVersion = svc.registry.version(key, version)
    run = _run_or_none(svc, found.run_id)
    return _page(request, "model_version.html", svc, model=model, key=key, version=found, run=run)


def _run_or_none(svc: Services, run_id: str | None) -> Run | None:
    if run_id is None:
        return None
    try:
        return svc.tracking.get_run(run_id)
    except (NotFound, PermissionDenied):
        return None  # the version still says which run it came from


@router.get("/models/{project}/{name}/card", response_class=HTMLResponse)
def model_card_page(
    project: str,
    name: str,
    request: Request,
    version: str = "",
    svc: Services = Depends(ui_services),
) -> HTMLResponse:
    """The model card of a version (production's, else the latest, when none is named)."""
    key = f"{project}/{name}"
    model = svc.registry.get_model(key)
    shown = svc.registry.version(key, _card_version(model, version))
    card = svc.registry.card(key, shown.version)
    return _page(
        request,
        "model_card.html",
        svc,
        model=model,
        key=key,
        version=shown,
        versions=[v.version for v in svc.registry.versions(key)],
        card_html=card["html"],
        markdown_url=f"{model_url(key)}/card.md?{urlencode({'version': shown.version})}",
    )


def _card_version(model: RegisteredModel, asked: str) -> int | str:
    """The version asked for, else production's, else the latest (as the service chooses)."""
    chosen = asked.strip() or model.aliases.get("production") or model.latest_version
    if chosen is None:
        raise NotFound(
            f"Model {model.project}/{model.name} has no version yet, so it has no card.",
            hint="Register one with 'passline models register'.",
        )
    return chosen


@router.get("/models/{project}/{name}/card.md")
def model_card_markdown(
    project: str, name: str, version: str = "", svc: Services = Depends(ui_services)
) -> Response:
    """The model card as Markdown, to download."""
    key = f"{project}/{name}"
    shown = svc.registry.version(key, _card_version(svc.registry.get_model(key), version))
    card = svc.registry.card(key, shown.version)
    filename = re.sub(r"[^\w.-]", "_", f"{project}-{name}-v{shown.version}-card.md")
    return PlainTextResponse(
        card["markdown"],
        media_type="text/markdown; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


# --- serving and monitoring -----------------------------------------------------------------

WINDOWS = ("15m", "1h", "24h", "7d")
ROLES = ("primary", "canary", "shadow")  # the order they are shown in
ALERTS_SHOWN = 10  # on an endpoint's page
ALERTS_READ = 200  # the project's latest, of which the endpoint's are kept (no endpoint filter)
ALERTS_PAGE = 50  # on the monitoring page
SEGMENTS_SHOWN = 30
#: A disparity ratio (highest / lowest segment) at or beyond this is flagged: the lowest
#: segment is under four fifths of the highest (the "four-fifths rule" of fairness audits).
DISPARITY_FLAG = 1.25
QUANTILES = (("p50", "p50_ms"), ("p95", "p95_ms"), ("p99", "p99_ms"))
#: Columns of the realised-performance tables, by the kind of labels.
REALISED = {
    "classification": ("accuracy", "precision", "recall", "false_positive_rate"),
    "regression": ("mae", "mape"),
}


@dataclass(frozen=True)
class ServedEndpoint:
    """A row of the serving page: an endpoint, the version its alias holds, its last hour."""

    endpoint: Endpoint
    version: int | None
    totals: dict[str, Any]
    shadow_calls: int


@dataclass(frozen=True)
class RoleTraffic:
    """An endpoint's traffic of one role in the window, from the per-minute summaries."""

    role: str
    versions: list[int]
    requests: int
    errors: int

    @property
    def error_rate(self) -> float:
        return self.errors / self.requests if self.requests else 0.0


@dataclass(frozen=True)
class SegmentValue:
    segment: str
    value: float
    rows: int  # a segment of a few rows swings far: the reader weighs the ratio by them


@dataclass(frozen=True)
class Disparity:
    """How far apart the best and worst segments are on one metric (1.0 is parity)."""

    metric: str
    ratio: float | None  # None: the lowest segment's value is 0
    highest: SegmentValue
    lowest: SegmentValue

    @property
    def flagged(self) -> bool:
        return self.ratio is None or self.ratio >= DISPARITY_FLAG


@dataclass
class VersionPerformance:
    """Realised metrics of one version, overall and (with a segment) per segment value."""

    version: str
    metrics: dict[str, Any]
    segments: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    more_segments: int = 0
    disparities: list[Disparity] = field(default_factory=list)


@router.get("/serving", response_class=HTMLResponse)
def serving_page(
    request: Request, project: str = "", svc: Services = Depends(ui_services)
) -> HTMLResponse:
    """Every endpoint the caller can see, with what it serves and its last hour of traffic."""
    project = project.strip()
    return _page(
        request,
        "serving.html",
        svc,
        items=[_served(svc, e) for e in svc.endpoints.list(project or None)],
        project=project,
        projects=[p.name for p in svc.projects.list()],
    )


def _served(svc: Services, endpoint: Endpoint) -> ServedEndpoint:
    board = svc.monitoring.dashboard(_key(endpoint), "1h")
    shadow = sum(m["requests"] for m in board["series"] if m["role"] == "shadow")
    held = _alias_version(svc, endpoint)
    return ServedEndpoint(endpoint, held.version if held else None, board["totals"], shadow)


def _key(endpoint: Endpoint) -> str:
    return f"{endpoint.project}/{endpoint.name}"


def _alias_version(svc: Services, endpoint: Endpoint) -> ModelVersion | None:
    """The version the endpoint's alias points at; None while it points at none."""
    try:
        return svc.registry.version(endpoint.model, endpoint.alias)
    except NotFound:
        return None


@router.get("/serving/{project}/{name}", response_class=HTMLResponse)
def endpoint_page(
    project: str,
    name: str,
    request: Request,
    window: str = "1h",
    segment: str = "",
    role: str = "primary",
    svc: Services = Depends(ui_services),
) -> HTMLResponse:
    """An endpoint's dashboard over a window: latency, throughput and errors per role, the
    predictions, realised performance per version (and segment), drift of the inputs and
    predictions of one role (``role``), monitors, alerts, and how to call it. A window the
    service refuses is said above the charts (422)."""
    key = f"{project}/{name}"
    endpoint = svc.endpoints.get(key)
    window, segment, role = window.strip(), segment.strip(), role.strip() or "primary"
    held = _alias_version(svc, endpoint)
    fields = _segment_fields(held, endpoint)
    role_error = _drift_role_error(role)
    context: dict[str, Any] = {
        "endpoint": endpoint,
        "key": key,
        "held": held,
        "window": window,
        "windows": WINDOWS,
        "segment": segment,
        "fields": fields,
        "call": _call_example(request, key, held),
        "monitors": [m for m in svc.monitors.list(project) if m.endpoint == key],
        "alerts": [a for a in svc.monitors.alerts(project, ALERTS_READ) if a.endpoint == key][
            :ALERTS_SHOWN
        ],
        "error": None,
        "segment_error": _segment_error(segment, fields, held),
        "disparity_flag": DISPARITY_FLAG,
        "drift_role": role,
        "drift_roles": DRIFT_ROLES if endpoint.canary_version else DRIFT_ROLES[:1],
        "drift": None,
        "drift_error": role_error,
    }
    try:
        board = svc.monitoring.dashboard(key, window)
    except InvalidInput as exc:  # a bad window: said next to the selector, nothing drawn
        context["error"] = str(exc)
    else:
        context.update(_traffic(board, window))
        context.update(_predictions(svc.monitoring.predictions(key, window)))
        chosen = segment if segment and not context["segment_error"] else None
        performance = _performance(svc.monitoring.realised(key, window, chosen))
        context.update(performance=performance, metric_columns=_metric_columns(performance))
        if not role_error:
            context.update(_endpoint_drift(svc, endpoint, window, role))
    page = _page(request, "endpoint.html", svc, **context)
    if context["error"] or context["segment_error"] or role_error:
        page.status_code = 422
    return page


def _segment_fields(held: ModelVersion | None, endpoint: Endpoint) -> list[str]:
    """The inputs a segment can be: the served version's, less the redacted ones (the log
    keeps them as a placeholder, so every row would be one segment)."""
    inputs = held.signature.get("inputs", []) if held else []
    return [c["name"] for c in inputs if c["name"] not in endpoint.redact]


def _segment_error(segment: str, fields: list[str], held: ModelVersion | None) -> str | None:
    if not segment or segment in fields:
        return None
    if not fields:
        why = f"v{held.version} has no logged input" if held else "the alias holds no version"
        return f"There is no input to segment by: {why}. Got {segment!r}."
    return (
        f"The segment must be one of the served version's inputs: {', '.join(fields)}. "
        f"Got {segment!r} instead."
    )


def _call_example(request: Request, key: str, held: ModelVersion | None) -> str:
    """A curl command that calls the endpoint with one record shaped like its signature."""
    port = workspace_of(request).settings.gateway_port
    url = f"http://127.0.0.1:{port}/v1/endpoints/{key}/predict"
    inputs = held.signature.get("inputs", []) if held else []
    record = {c["name"]: _example_value(str(c.get("type", ""))) for c in inputs}
    body = json.dumps({"records": [record]})
    return (
        f"curl -s -X POST {url} \\\n"
        '  -H "Authorization: Bearer $PASSLINE_TOKEN" -H "Content-Type: application/json" \\\n'
        f"  -d {shlex.quote(body)}"
    )


def _example_value(arrow_type: str) -> Any:
    if arrow_type.startswith(("double", "float", "decimal")):
        return 0.0
    if arrow_type.startswith(("int", "uint")):
        return 0
    if arrow_type.startswith("bool"):
        return False
    if "string" in arrow_type:
        return ""
    return None


def _traffic(board: Mapping[str, Any], window: str) -> dict[str, Any]:
    """The dashboard's numbers and charts: latency per role, throughput, error rate."""
    end = utcnow().timestamp()  # as the service reads its window
    span = (end - parse_window(window).total_seconds(), end)
    by_role = _by_role(board["series"])
    return {
        "totals": board["totals"],
        "roles": [_role_traffic(role, rows) for role, rows in by_role.items()],
        "latency": [(role, _latency_chart(rows, span)) for role, rows in by_role.items()],
        "throughput": line_chart(
            [
                Series(role, _every_minute(_per_minute(rows, _requests), span))
                for role, rows in by_role.items()
            ],
            x_title="time (UTC)",
            x_span=span,
            time_axis=True,
            from_zero=True,
        ),
        "error_chart": line_chart(
            [Series(role, _per_minute(rows, _error_percent)) for role, rows in by_role.items()],
            x_title="time (UTC)",
            x_span=span,
            time_axis=True,
            from_zero=True,
        ),
    }


def _by_role(series: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    grouped: dict[str, list[dict[str, Any]]] = {}
    for minute in series:
        grouped.setdefault(minute["role"], []).append(minute)
    order = {role: i for i, role in enumerate(ROLES)}
    return {role: grouped[role] for role in sorted(grouped, key=lambda r: order.get(r, len(order)))}


def _role_traffic(role: str, rows: list[dict[str, Any]]) -> RoleTraffic:
    versions = sorted({r["version"] for r in rows if r["version"] is not None})
    requests = sum(r["requests"] for r in rows)
    return RoleTraffic(role, versions, requests, sum(r["errors"] for r in rows))


def _per_minute(
    rows: list[dict[str, Any]], fold: Callable[[list[dict[str, Any]]], float | None]
) -> list[tuple[float, float | None]]:
    """``(epoch second, value)`` per minute; a minute's rows (one per version that answered
    in it) are folded into one value."""
    minutes: dict[float, list[dict[str, Any]]] = {}
    for row in rows:
        minutes.setdefault(datetime.fromisoformat(row["minute"]).timestamp(), []).append(row)
    return [(x, fold(group)) for x, group in sorted(minutes.items())]


def _requests(rows: list[dict[str, Any]]) -> float:
    return float(sum(r["requests"] for r in rows))


def _error_percent(rows: list[dict[str, Any]]) -> float:
    requests = sum(r["requests"] for r in rows)
    return 100 * sum(r["errors"] for r in rows) / requests if requests else 0.0


def _every_minute(
    points: list[tuple[float, float | None]], span: tuple[float, float]
) -> list[tuple[float, float | None]]:
    """The window's every minute: a quiet one is 0 requests, not a line across the gap."""
    seen = dict(points)
    first = math.ceil(span[0] / 60) * 60
    return [(float(m), seen.get(float(m), 0.0)) for m in range(first, int(span[1]) + 1, 60)]


def _latency_chart(rows: list[dict[str, Any]], span: tuple[float, float]) -> LineChart:
    """p50, p95 and p99 of one role per minute; with two versions in a minute, the slower."""
    series = [
        Series(label, _per_minute(rows, partial(_slowest, key=key))) for label, key in QUANTILES
    ]
    return line_chart(series, x_title="time (UTC)", x_span=span, time_axis=True, from_zero=True)


def _slowest(rows: list[dict[str, Any]], key: str) -> float | None:
    values = [r[key] for r in rows if r[key] is not None]
    return max(values) if values else None


def _predictions(found: Mapping[str, Any]) -> dict[str, Any]:
    """The prediction distribution as a histogram (numbers) or bars (categories)."""
    distribution, rows = found["distribution"], found["rows"]
    chart: BarChart | None = None
    if rows and distribution["kind"] == "numeric":
        chart = histogram_chart(distribution["edges"], distribution["counts"])
    elif rows:
        counts = [{"value": v, "count": n} for v, n in distribution["counts"].items()]
        chart = top_values_chart(counts, rows)
    return {"prediction_rows": rows, "distribution": distribution, "prediction_chart": chart}


def _performance(report: Mapping[str, Any]) -> list[VersionPerformance]:
    """Realised metrics per version, newest version first."""
    found = []
    for version, entry in report["versions"].items():
        segments = sorted(entry.get("segments", {}).items(), key=lambda kv: -kv[1]["rows"])
        found.append(
            VersionPerformance(
                version,
                entry,
                segments[:SEGMENTS_SHOWN],
                max(len(segments) - SEGMENTS_SHOWN, 0),
                [
                    _disparity(m, d, entry["segments"])
                    for m, d in entry.get("disparity", {}).items()
                ],
            )
        )
    return sorted(found, key=lambda p: _version_number(p.version), reverse=True)


def _metric_columns(performance: list[VersionPerformance]) -> list[str]:
    """The metrics the versions' labels allow, in the order of ``REALISED``."""
    kinds = {p.metrics.get("kind") for p in performance}
    return [metric for kind, metrics in REALISED.items() if kind in kinds for metric in metrics]


def _version_number(label: str) -> int:
    return int(label[1:]) if label[1:].isdigit() else -1


def _disparity(
    metric: str, found: Mapping[str, Any], segments: Mapping[str, Mapping[str, Any]]
) -> Disparity:
    def side(end: Mapping[str, Any]) -> SegmentValue:
        return SegmentValue(end["segment"], end["value"], segments[end["segment"]]["rows"])

    return Disparity(metric, found["ratio"], side(found["highest"]), side(found["lowest"]))


# --- drift ----------------------------------------------------------------------------------

DRIFT_ROLES = ("primary", "canary")  # a shadow's answers reach no caller: its drift is moot
#: Drift errors a page shows as a message (the rest of the page still stands).
DRIFT_ERRORS = (InvalidInput, NotFound, PermissionDenied)


def _drift_role_error(role: str) -> str | None:
    if role in DRIFT_ROLES:
        return None
    return f"The drift role must be one of {', '.join(DRIFT_ROLES)}. Got {role!r} instead."


def _endpoint_drift(svc: Services, endpoint: Endpoint, window: str, role: str) -> dict[str, Any]:
    """The drift report of the window's traffic of ``role`` against the training data, read
    once; what the service refuses (no training data in the lineage, a reference the caller
    may not read, an alias holding no version) is said in the section."""
    try:
        columns = _drift_columns(svc, endpoint, role)
        report = svc.drift.endpoint_drift(_key(endpoint), window, role, columns=columns)
        return {"drift": drift_view(report, _edge_formatter(svc, report))}
    except DRIFT_ERRORS as exc:
        return {"drift_error": exc.message}


def _drift_columns(svc: Services, endpoint: Endpoint, role: str) -> list[str] | None:
    """The version's inputs less the redacted ones (logged as ``***``, so they would read
    as text); None (the service's choice: every input) when nothing is redacted."""
    if not endpoint.redact:
        return None
    canary = role == "canary" and endpoint.canary_version
    version = svc.registry.version(
        endpoint.model, endpoint.canary_version if canary else endpoint.alias
    )
    inputs = [c["name"] for c in version.signature.get("inputs", [])]
    return [name for name in inputs if name not in endpoint.redact] or None


def _edge_formatter(
    svc: Services, report: Mapping[str, Any]
) -> Callable[[str, str], Callable[[Any], str]]:
    """How a column's bin edges read: temporal ones (epoch units of the reference version's
    column type) as dates, or times when they span less than two days; numbers as numbers."""
    columns = report["columns"]
    if not any(c["kind"] == "temporal" for c in columns.values()):
        return lambda column, kind: short_number
    version = svc.datasets.version(report["reference"])
    types = {c["name"]: str(c["type"]) for c in version.columns}

    def formatter(column: str, kind: str) -> Callable[[Any], str]:
        if kind != "temporal" or column not in types:
            return short_number
        edges = (columns[column].get("distribution") or {}).get("edges", [])
        return _short_time({"histogram": {"edges": edges}}, types[column])

    return formatter


@router.get("/drift", response_class=HTMLResponse)
def drift_page(
    request: Request,
    reference: str = "",
    current: str = "",
    svc: Services = Depends(ui_services),
) -> HTMLResponse:
    """Two dataset versions compared column by column, from their stored profiles. A ref
    the service refuses is said under the form, with its status (404, 403 or 422)."""
    reference, current = reference.strip(), current.strip()
    view: DriftView | None = None
    error, status = None, 200
    if reference and current:
        try:
            report = svc.drift.compare(reference, current)
            view = drift_view(report, _edge_formatter(svc, report))
        except DRIFT_ERRORS as exc:
            error, status = exc.message, exc.http_status
    page = _page(
        request,
        "drift.html",
        svc,
        reference=reference,
        current=current,
        view=view,
        error=error,
        suggestions=_version_suggestions(svc, (reference, current)),
    )
    page.status_code = status
    return page


def _version_suggestions(svc: Services, refs: Iterable[str]) -> list[str]:
    """The versions of the datasets named (for the inputs' suggestions), newest first."""
    labels: list[str] = []
    for ref in refs:
        dataset = ref.rpartition("@")[0] or ref
        if not dataset or "/" not in dataset:
            continue
        try:
            versions = svc.datasets.versions(dataset)
        except DRIFT_ERRORS:
            continue
        labels += [v.label for v in versions[:VERSIONS_SHOWN] if v.label not in labels]
    return labels


@router.get("/monitoring", response_class=HTMLResponse)
def monitoring_page(
    request: Request, project: str = "", svc: Services = Depends(ui_services)
) -> HTMLResponse:
    """Monitors and their last check, and the latest alerts, rollbacks first to the eye."""
    project = project.strip()
    monitors = svc.monitors.list(project or None)
    alerts = svc.monitors.alerts(project or None, ALERTS_PAGE)
    return _page(
        request,
        "monitoring.html",
        svc,
        monitors=monitors,
        alerts=alerts,
        rollbacks=sum(is_rollback(a) for a in alerts),
        broken=sum(m.last_status == "alert" for m in monitors),
        project=project,
        projects=[p.name for p in svc.projects.list()],
        alerts_page=ALERTS_PAGE,
    )


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
