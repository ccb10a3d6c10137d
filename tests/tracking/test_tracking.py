"""Experiments and runs on both backends: params, metrics (NaN/inf too), tags, inputs,
artifacts, search with MLflow-style filters, compare."""

from __future__ import annotations

import io
import math

import pyarrow as pa
import pytest

from passline.data.connectors.memory import TableConnector
from passline.errors import Conflict, InvalidInput, NotFound
from passline.services.workspace import Services, Workspace


@pytest.fixture
def svc(any_workspace: Workspace) -> Services:
    services = any_workspace.services(any_workspace.local_context("sdk"))
    services.projects.create("fraud")
    return services


def test_a_run_records_params_metrics_tags_and_ends(svc: Services) -> None:
    exp = svc.tracking.ensure_experiment("fraud", "baseline")
    assert svc.tracking.ensure_experiment("fraud", "baseline").id == exp.id
    run = svc.tracking.start_run(exp.id, name="gbm-1", tags={"team": "risk"})
    svc.tracking.log_params(run.id, {"model": "gbm", "depth": 6})
    svc.tracking.log_params(run.id, {"model": "gbm"})  # same value again: fine
    svc.tracking.log_metrics(
        run.id,
        [{"key": "auc", "value": 0.81, "step": s} for s in range(3)]
        + [{"key": "loss", "value": v, "step": i} for i, v in enumerate([math.nan, math.inf, 0.4])],
    )
    done = svc.tracking.end_run(run.id)
    assert done.status == "FINISHED" and done.end_time
    assert done.params == {"model": "gbm", "depth": "6"} and done.tags == {"team": "risk"}
    assert done.metrics == {"auc": 0.81, "loss": 0.4}
    history = svc.tracking.metric_history(run.id, "loss")
    assert [p.value for p in history] == ["NaN", "Infinity", 0.4]


def test_changing_a_param_is_a_conflict(svc: Services) -> None:
    run = svc.tracking.start_run(svc.tracking.ensure_experiment("fraud", "e").id)
    svc.tracking.log_params(run.id, {"lr": 0.1})
    with pytest.raises(Conflict, match="'lr' of run .* is already '0.1'; it cannot become '0.2'"):
        svc.tracking.log_params(run.id, {"lr": 0.2})


def test_bad_inputs(svc: Services) -> None:
    run = svc.tracking.start_run(svc.tracking.ensure_experiment("fraud", "e").id)
    with pytest.raises(InvalidInput, match="must be a number"):
        svc.tracking.log_metrics(run.id, [{"key": "auc", "value": "high"}])
    with pytest.raises(InvalidInput, match="status must be one of"):
        svc.tracking.end_run(run.id, "DONE")
    with pytest.raises(NotFound, match="No run with id 'run_nope'"):
        svc.tracking.get_run("run_nope")
    with pytest.raises(InvalidInput, match="without '..'"):
        svc.tracking.log_artifact(run.id, "../etc/passwd", io.BytesIO(b"x"))


def test_search_with_filters_order_and_pages(svc: Services) -> None:
    exp = svc.tracking.ensure_experiment("fraud", "sweep")
    for i in range(12):
        run = svc.tracking.start_run(exp.id, name=f"r{i}")
        svc.tracking.log_params(run.id, {"model": "gbm" if i % 2 else "lr"})
        svc.tracking.log_metrics(run.id, [{"key": "auc", "value": 0.7 + i / 100}])
        if i < 10:
            svc.tracking.end_run(run.id)
    page = svc.tracking.search_runs(
        project="fraud",
        filter="metrics.auc > 0.75 and params.model = 'gbm'",
        order_by=["metrics.auc DESC"],
    )
    assert [r.name for r in page.runs] == ["r11", "r9", "r7"]
    running = svc.tracking.search_runs(project="fraud", filter="attributes.status = 'RUNNING'")
    assert {r.name for r in running.runs} == {"r10", "r11"}
    first = svc.tracking.search_runs(project="fraud", order_by=["metrics.auc ASC"], max_results=5)
    second = svc.tracking.search_runs(
        project="fraud",
        order_by=["metrics.auc ASC"],
        max_results=5,
        page_token=first.next_page_token,
    )
    assert [r.name for r in first.runs + second.runs] == [f"r{i}" for i in range(10)]
    with pytest.raises(InvalidInput, match="Cannot parse the run filter"):
        svc.tracking.search_runs(filter="metrics.auc >> 1")
    with pytest.raises(InvalidInput, match="compares with a number"):
        svc.tracking.search_runs(filter="metrics.auc > 'x'")


def test_inputs_are_lineage_and_artifacts_are_stored(svc: Services) -> None:
    dataset = svc.ingest.ingest("fraud/transactions", TableConnector(pa.table({"x": [1, 2]})))
    run = svc.tracking.start_run(svc.tracking.ensure_experiment("fraud", "e").id)
    svc.tracking.log_input(run.id, "fraud/transactions@v1")
    stored = svc.tracking.log_artifact(run.id, "model/model.pkl", io.BytesIO(b"weights"))
    assert stored["size"] == 7
    got = svc.tracking.get_run(run.id)
    assert got.inputs[0]["label"] == "fraud/transactions@v1"
    assert [a["path"] for a in got.artifacts] == ["model/model.pkl"]
    up = svc.lineage.graph(f"run:{run.id}", "up")
    assert dataset.ref in {n.ref for n in up.nodes}
    down = svc.lineage.graph(f"run:{run.id}", "down")
    assert any(n.kind == "artifact" for n in down.nodes)


def test_compare(svc: Services) -> None:
    exp = svc.tracking.ensure_experiment("fraud", "e")
    a, b = svc.tracking.start_run(exp.id), svc.tracking.start_run(exp.id)
    svc.tracking.log_params(a.id, {"lr": 0.1, "depth": 3})
    svc.tracking.log_params(b.id, {"lr": 0.2, "depth": 3})
    table = svc.tracking.compare([a.id, b.id])
    assert {p["key"]: p["differs"] for p in table["params"]} == {"depth": False, "lr": True}
