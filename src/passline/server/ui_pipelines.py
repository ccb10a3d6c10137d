"""Web UI of pipelines: ``/projects/{project}/pipelines`` and ``/pipeline-runs/{run_id}``.

The project page lists each pipeline with its latest run (status, cache hits, duration,
trigger) and its recent runs, then the project's triggers. A run's page draws its steps as
a graph, server-side SVG (one box per step, coloured by status, an arrow from each
upstream step), then the steps table, the dataset versions in, the metrics, model versions
and releases out, the code and environment it ran with, and the failing step's traceback.
Pages call the services as the signed-in user, so the viewer role is enforced there.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from passline.core.pipelines import PipelineInfo, PipelineRun, StepRun
from passline.server.deps import ui_services
from passline.server.graph_layout import shorten
from passline.server.ui import _page, model_url
from passline.server.ui_envs import environments_url
from passline.services.workspace import Services

__all__ = ["dag_layout", "pipeline_run_url", "pipelines_url", "router"]

router = APIRouter(include_in_schema=False)

RUNS = 20  # recent runs shown per pipeline

BOX_W = 200
BOX_H = 66
COL_GAP = 60
ROW_GAP = 20
MARGIN = 16
ARC_STEP = 12  # each edge going over the steps it skips runs higher than the last
NAME_CHARS = 24  # what fits in BOX_W in bold 13px


def pipelines_url(project: str) -> str:
    return f"/projects/{quote(project, safe='')}/pipelines"


def pipeline_run_url(run_id: str) -> str:
    return f"/pipeline-runs/{quote(run_id, safe='')}"


# --- the graph -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StepBox:
    """A step's rectangle; (x, y) is its top-left corner."""

    step: StepRun
    name: str  # shortened to fit
    column: int
    x: float
    y: float
    width: float = BOX_W
    height: float = BOX_H


@dataclass(frozen=True, slots=True)
class StepEdge:
    src: str
    dst: str
    d: str  # SVG path


@dataclass(frozen=True, slots=True)
class Dag:
    width: float
    height: float
    boxes: list[StepBox]
    edges: list[StepEdge]


def dag_layout(steps: list[StepRun]) -> Dag:
    """Steps in columns by their longest path from a source; an edge per upstream step.

    Within a column, steps follow the mean row of their upstream steps, then their order
    in the pipeline. An edge that would cross a box in a column it skips goes over them."""
    names = {s.step for s in steps}
    depth: dict[str, int] = {}

    def depth_of(name: str, seen: frozenset[str]) -> int:
        if name not in depth:
            step = next(s for s in steps if s.step == name)
            ups = [u for u in step.upstream if u in names and u not in seen]
            depth[name] = max((depth_of(u, seen | {name}) + 1 for u in ups), default=0)
        return depth[name]

    columns: dict[int, list[StepRun]] = defaultdict(list)
    for step in sorted(steps, key=lambda s: s.position):
        columns[depth_of(step.step, frozenset())].append(step)
    row: dict[str, float] = {}
    for col in sorted(columns):
        placed = sorted(columns[col], key=lambda s: (_mean_row(s, row), s.position))
        columns[col] = placed
        row.update({s.step: i - (len(placed) - 1) / 2 for i, s in enumerate(placed)})
    tallest = max((len(c) for c in columns.values()), default=0)
    boxes = {
        s.step: StepBox(
            step=s,
            name=shorten(s.step, NAME_CHARS),
            column=col,
            x=col * (BOX_W + COL_GAP),
            y=(row[s.step] + (tallest - 1) / 2) * (BOX_H + ROW_GAP),
        )
        for col, members in columns.items()
        for s in members
    }
    edges, top = _edges(steps, boxes)
    dx, dy = MARGIN, MARGIN - top
    shifted = [StepBox(b.step, b.name, b.column, b.x + dx, b.y + dy) for b in boxes.values()]
    ncols = len(columns)
    return Dag(
        width=2 * MARGIN + ncols * (BOX_W + COL_GAP) - (COL_GAP if ncols else 0),
        height=2 * MARGIN - top + max(tallest * (BOX_H + ROW_GAP) - ROW_GAP, 0),
        boxes=sorted(shifted, key=lambda b: b.step.position),
        edges=[StepEdge(e.src, e.dst, _shift(e.d, dx, dy)) for e in edges],
    )


def _mean_row(step: StepRun, row: dict[str, float]) -> float:
    placed = [row[u] for u in step.upstream if u in row]
    return sum(placed) / len(placed) if placed else 0.0


def _edges(steps: list[StepRun], boxes: dict[str, StepBox]) -> tuple[list[StepEdge], float]:
    """The edges, and the topmost y any of them reaches (negative when one goes over)."""
    edges: list[StepEdge] = []
    top, bowed = 0.0, 0
    for step in sorted(steps, key=lambda s: s.position):
        dst = boxes[step.step]
        for name in step.upstream:
            src = boxes.get(name)
            if src is None:
                continue
            y0, y1 = src.y + BOX_H / 2, dst.y + BOX_H / 2
            between = [
                b
                for b in boxes.values()
                if src.column < b.column < dst.column
                and b.y - 4 < max(y0, y1)
                and b.y + BOX_H + 4 > min(y0, y1)
            ]
            if between:
                # Over the columns it skips: up in the gap after the source, across above
                # every box of those columns, down in the gap before the destination.
                skipped = [b for b in boxes.values() if src.column < b.column < dst.column]
                lift = min(b.y for b in skipped) - ROW_GAP / 2 - ARC_STEP * bowed
                bowed += 1
                xs, xd, g = src.x + BOX_W, dst.x, COL_GAP
                d = (
                    f"M{xs:g},{y0:g} C{xs + g / 2:g},{y0:g} {xs + g / 2:g},{lift:g} "
                    f"{xs + g:g},{lift:g} L{xd - g:g},{lift:g} "
                    f"C{xd - g / 2:g},{lift:g} {xd - g / 2:g},{y1:g} {xd:g},{y1:g}"
                )
                top = min(top, lift - 2)
            else:
                xs, xd = src.x + BOX_W, dst.x
                bend = max((xd - xs) / 2, COL_GAP / 2)
                d = f"M{xs:g},{y0:g} C{xs + bend:g},{y0:g} {xd - bend:g},{y1:g} {xd:g},{y1:g}"
            edges.append(StepEdge(name, step.step, d))
    return edges, top


def _shift(d: str, dx: float, dy: float) -> str:
    """Move every ``x,y`` pair of an SVG path by (dx, dy)."""
    out = []
    for token in d.split():
        command = token[0] if token[0].isalpha() else ""
        x, y = (float(v) for v in token.removeprefix(command).split(","))
        out.append(f"{command}{round(x + dx, 1):g},{round(y + dy, 1):g}")
    return " ".join(out)


# --- formatting ----------------------------------------------------------------------------


def ms(value: float | None) -> str:
    """A duration in milliseconds: ``12 ms``, ``1,234 ms``; a dash when not measured."""
    return "—" if value is None else f"{value:,.0f} ms"


def cache_text(run: PipelineRun) -> str:
    """``2/3 cached``."""
    return f"{run.cache_hits}/{len(run.steps)} cached"


def trigger_text(trigger: dict[str, Any]) -> str:
    """What started a run: ``manual``, ``schedule 0 3 * * *``, ``dataset retail/sales``."""
    kind = str(trigger.get("kind", "manual"))
    rest = [str(v) for k, v in sorted(trigger.items()) if k != "kind" and v not in (None, "")]
    return " ".join([kind, *rest])


def short(value: str | None, chars: int = 12) -> str:
    return (value or "")[:chars]


# --- pages ---------------------------------------------------------------------------------


@dataclass
class Row:
    """A pipeline with its recent runs, the newest one with its steps."""

    info: PipelineInfo
    runs: list[PipelineRun]
    latest: PipelineRun | None


@router.get("/projects/{project}/pipelines", response_class=HTMLResponse)
def pipelines_page(
    project: str, request: Request, svc: Services = Depends(ui_services)
) -> HTMLResponse:
    """The project's pipelines, each with its latest and recent runs, and its triggers."""
    rows = []
    for info in svc.pipelines.list(project):
        runs = [svc.pipelines.run(r.id) for r in svc.pipelines.runs(f"{project}/{info.name}", RUNS)]
        rows.append(Row(info, runs, runs[0] if runs else None))
    return _page(
        request,
        "pipelines.html",
        svc,
        project=project,
        rows=rows,
        triggers=svc.pipelines.triggers(project),
        **_helpers(),
    )


@router.get("/pipeline-runs/{run_id}", response_class=HTMLResponse)
def pipeline_run_page(
    run_id: str, request: Request, svc: Services = Depends(ui_services)
) -> HTMLResponse:
    """One run: its steps as a graph and a table, what went in and out, and any traceback."""
    run = svc.pipelines.run(run_id)
    failed = [s for s in run.steps if s.status == "failed" and s.error]
    return _page(
        request,
        "pipeline_run.html",
        svc,
        run=run,
        project=run.project,
        name=run.pipeline.partition("/")[2],
        dag=dag_layout(run.steps),
        failed=failed,
        **_helpers(),
    )


def _helpers() -> dict[str, Any]:
    return {
        "ms": ms,
        "cache_text": cache_text,
        "trigger_text": trigger_text,
        "short": short,
        "pipelines_url": pipelines_url,
        "pipeline_run_url": pipeline_run_url,
        "environments_url": environments_url,
        "version_page": model_url,
    }
