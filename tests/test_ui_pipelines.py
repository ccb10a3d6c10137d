"""The pipelines pages: a project's pipelines with their runs and triggers, and one run as
a graph of its steps, in-process. Project retail from tests/pipelines: a failing run, a
fixed one, and a rerun that is all cached; vera only views the project, nina is no member."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from passline.core.pipelines import StepRun
from passline.server.app import create_app
from passline.server.ui_pipelines import dag_layout
from passline.services.workspace import Workspace
from tests.test_ui import login, text_of
from tests.test_ui_llm import page_of, row

pytest.importorskip("sklearn")

from passline.pipelines.runner import run_pipeline  # noqa: E402
from tests.pipelines import steps  # noqa: E402
from tests.pipelines.conftest import setup_retail  # noqa: E402


def svg_of(page: str) -> str:
    match = re.search(r'<svg class="dag".*?</svg>', page, re.S)
    assert match, "no graph"
    return match.group(0)


def nodes(svg: str) -> dict[str, str]:
    """Step name -> status, from the boxes drawn."""
    found = re.findall(r'<g class="step status-(\w+)" data-step="([^"]+)"', svg)
    return {step: status for status, step in found}


def edges(svg: str) -> set[tuple[str, str]]:
    return set(re.findall(r'<path class="edge" data-src="([^"]+)" data-dst="([^"]+)"', svg))


RETRAIN_EDGES = {("features", "train"), ("train", "evaluate"), ("features", "evaluate")}


def test_the_runs_of_a_pipeline_as_graphs_with_statuses_and_cache_hits(
    workspace: Workspace,
) -> None:
    alice = setup_retail(workspace)
    failed = run_pipeline(alice, steps.retrain(), {"fail": True}, executor="inline")
    fixed = run_pipeline(alice, steps.retrain(), executor="inline")
    cached = run_pipeline(alice, steps.retrain(), executor="inline")
    assert (failed.status, fixed.status, cached.cache_hits) == ("failed", "succeeded", 3)
    alice.pipelines.add_trigger("retail/retrain", "schedule", "0 5 * * 1")
    admin = workspace.services(workspace.local_context("sdk"))
    admin.identity.create_user("nina")
    with TestClient(create_app(workspace=workspace)) as http:
        login(http, admin.identity.create_token("ui", user="vera").secret)  # a viewer
        assert "/projects/retail/pipelines" in page_of(http, "/projects/retail")
        listing = page_of(http, "/projects/retail/pipelines")
        failed_page = page_of(http, f"/pipeline-runs/{failed.id}")
        fixed_page = page_of(http, f"/pipeline-runs/{fixed.id}")
        cached_page = page_of(http, f"/pipeline-runs/{cached.id}")
        assert "No pipeline run with id" in page_of(http, "/pipeline-runs/plr_nope", 404)
        login(http, admin.identity.create_token("ui-nina", user="nina").secret)
        assert http.get(f"/pipeline-runs/{cached.id}").status_code in (403, 404)
        assert http.get("/projects/retail/pipelines").status_code in (403, 404)

    # The listing: the latest run first with its cache hits, every run linked, the schedule.
    text = text_of(listing)
    latest = text[text.index("Latest run") :][:120]
    assert cached.id in latest and "succeeded · 3/3 cached" in latest
    for run, status, hits in ((failed, "failed", 0), (fixed, "succeeded", 1), (cached, "", 3)):
        line = text_of(row(listing, f"run-{run.id}"))
        assert status in line and f"{hits}/3 cached" in line and "manual" in line
        assert f'href="/pipeline-runs/{run.id}"' in listing
    assert text.index(cached.id) < text.index(fixed.id) < text.index(failed.id)
    schedule = text_of(row(listing, f"trigger-{alice.pipelines.triggers('retail')[0].id}"))
    assert "schedule" in schedule and "0 5 * * 1" in schedule and "alice" in schedule

    # One box per step, coloured by status, with the edges from upstream steps.
    graph = svg_of(failed_page)
    assert nodes(graph) == {"features": "succeeded", "train": "failed", "evaluate": "skipped"}
    assert edges(graph) == RETRAIN_EDGES
    assert "3 attempts" in graph  # train was retried twice
    assert nodes(svg_of(fixed_page)) == {
        "features": "cached",
        "train": "succeeded",
        "evaluate": "succeeded",
    }
    graph = svg_of(cached_page)
    assert set(nodes(graph).values()) == {"cached"} and edges(graph) == RETRAIN_EDGES
    assert graph.count(">cached</text>") == 3

    # The failed run: its traceback, escaped, and nothing out.
    assert "Step train failed after 3 attempts" in text_of(failed_page)
    traceback = re.search(r'<pre class="traceback">(.*?)</pre>', failed_page, re.S)
    assert traceback and "Traceback" in traceback.group(1)
    assert "no rows for week 53" in traceback.group(1)

    # The fixed run: steps table, dataset version in, metrics and the model version out.
    train = text_of(row(fixed_page, "step-train"))
    step = next(s for s in fixed.steps if s.step == "train")
    assert "succeeded" in train and str(step.output_digest)[:12] in train
    assert str(step.cache_key)[:12] in train
    assert 'href="/data/retail/sales/v/v1">retail/sales@v1</a>' in fixed_page
    assert 'href="/models/retail/demand/v/1">retail/demand v1</a>' in fixed_page
    out = text_of(fixed_page)
    assert "mae" in out and "rows" in out and fixed.environment["python"] in out
    assert f"{fixed.environment['packages']}" in out and "Trigger manual" in out
    assert '<pre class="traceback">' not in fixed_page


def test_a_project_without_pipelines_and_an_unknown_project(workspace: Workspace) -> None:
    admin = workspace.services(workspace.local_context("sdk"))
    admin.projects.create("empty")
    with TestClient(create_app(workspace=workspace)) as http:
        login(http, admin.identity.create_token("ui").secret)
        assert "No pipeline yet" in text_of(page_of(http, "/projects/empty/pipelines"))
        assert "No project named" in page_of(http, "/projects/nope/pipelines", 404)


def step(name: str, position: int, *upstream: str) -> StepRun:
    return StepRun(
        step=name,
        position=position,
        status="pending",
        kind="dataset",
        attempts=0,
        upstream=list(upstream),
    )


def ys(d: str) -> list[float]:
    return [float(y) for y in re.findall(r",(-?[\d.]+)", d)]


def test_the_layout_puts_steps_in_columns_and_bows_an_edge_over_a_step_it_skips() -> None:
    dag = dag_layout([step("a", 0), step("b", 1, "a"), step("c", 2, "a", "b")])
    at = {b.step.step: b for b in dag.boxes}
    assert [at[n].column for n in "abc"] == [0, 1, 2] and at["a"].y == at["b"].y == at["c"].y
    skip = next(e for e in dag.edges if (e.src, e.dst) == ("a", "c"))
    assert 0 < min(ys(skip.d)) < at["b"].y  # over b, still on the canvas
    assert max(b.x + b.width for b in dag.boxes) < dag.width
    assert max(b.y + b.height for b in dag.boxes) < dag.height
    assert {(e.src, e.dst) for e in dag.edges} == {("a", "b"), ("a", "c"), ("b", "c")}


def test_an_edge_with_room_between_the_steps_it_skips_runs_straight() -> None:
    dag = dag_layout([step("a", 0), step("b", 1, "a"), step("c", 2, "a", "b"), step("d", 3, "a")])
    at = {b.step.step: b for b in dag.boxes}
    assert at["b"].column == at["d"].column == 1 and at["b"].y < at["d"].y
    skip = next(e for e in dag.edges if (e.src, e.dst) == ("a", "c"))
    assert at["b"].y + at["b"].height < min(ys(skip.d)) <= max(ys(skip.d)) < at["d"].y
    assert all(b.x >= 0 and b.y >= 0 for b in dag.boxes)
