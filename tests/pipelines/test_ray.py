"""The same pipeline, batch scoring and drift on a real local Ray instance (2 CPUs)."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from passline.data.connectors.memory import TableConnector
from passline.errors import Unavailable
from passline.pipelines.batch import chunked_drift, score_dataset
from passline.pipelines.runner import run_pipeline
from passline.services.workspace import Services, Workspace
from passline.settings import Settings
from tests.pipelines import steps
from tests.pipelines.conftest import sales_rows

ray = pytest.importorskip("ray")

pytestmark = [
    pytest.mark.serial,
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
    pytest.mark.filterwarnings("ignore::ResourceWarning"),
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
]


@pytest.fixture(scope="module")
def local_ray():  # type: ignore[no-untyped-def]
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield
    ray.shutdown()


def test_a_pipeline_runs_unchanged_on_ray(local_ray: None, alice: Services) -> None:
    on_ray = run_pipeline(alice, steps.retrain(), executor="ray")
    assert on_ray.status == "succeeded", on_ray.error
    assert on_ray.executor == "ray"
    assert {s.status for s in on_ray.steps} == {"succeeded"}
    assert on_ray.outputs["models"][0]["version"] == 1
    again = run_pipeline(alice, steps.retrain())  # locally now: the cache is shared
    assert {s.status for s in again.steps} == {"cached"}


def test_a_failing_step_on_ray_reports_its_traceback(local_ray: None, alice: Services) -> None:
    failed = run_pipeline(alice, steps.retrain(), {"fail": True}, executor="ray")
    train = next(s for s in failed.steps if s.step == "train")
    assert failed.status == "failed" and "no rows for week 53" in train.error


def test_batch_scoring_and_drift_agree_locally_and_on_ray(local_ray: None, alice: Services) -> None:
    run_pipeline(alice, steps.retrain())
    alice.registry.set_alias("retail/demand", "production", 1)
    wide = [{**r, "price_sq": r["price"] ** 2} for r in sales_rows()]
    alice.ingest.ingest("retail/wide", TableConnector(wide))
    local = score_dataset(alice, "retail/wide", "retail/demand@1", chunk_rows=25)
    on_ray = score_dataset(
        alice,
        "retail/wide",
        "retail/demand@1",
        executor="ray",
        chunk_rows=25,
        output="retail/sales-scored",
    )
    assert local["rows"] == on_ray["rows"] == 80
    scored = alice.datasets.read(on_ray["output"])
    assert scored.column("prediction").to_pylist() == pytest.approx(list(local["scores"]))
    drift_local = chunked_drift(
        alice,
        "retail/sales@v1",
        "retail/sales-scored@v1",
        columns=["price", "units"],
        chunk_rows=30,
    )
    drift_ray = chunked_drift(
        alice,
        "retail/sales@v1",
        "retail/sales-scored@v1",
        columns=["price", "units"],
        chunk_rows=30,
        executor="ray",
    )
    assert drift_local["columns"] == drift_ray["columns"]


def test_an_unreachable_ray_address_fails_fast_and_records_nothing(alice: Services) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings = alice.workspace.settings
    alice.workspace.settings = Settings(home=settings.home, ray_address=f"127.0.0.1:{port}")
    try:
        with pytest.raises(Unavailable, match=f"Cannot reach the Ray cluster at 127.0.0.1:{port}"):
            run_pipeline(alice, steps.retrain(), executor="ray")
    finally:
        alice.workspace.settings = settings
    assert alice.pipelines.list("retail") == []


def test_the_demo_pipeline_runs_locally_then_on_ray_and_releases_through_the_gate(
    local_ray: None, workspace: Workspace, tmp_path: Path
) -> None:
    from passline.data.connectors.sql import SqlConnector
    from passline.demo_data import sales, write_erp
    from passline.demo_pipeline import STAGING_GATE, retail_retrain

    admin = workspace.services(workspace.local_context("sdk"))
    admin.projects.create("retail-demand")
    erp = write_erp(tmp_path / "erp.db", sales(range(1, 41)))
    admin.ingest.ingest("retail-demand/sales", SqlConnector(erp, "SELECT * FROM sales"))
    admin.gates.create("retail-demand", "staging", STAGING_GATE, "staging needs", True)
    admin.environments.configure("retail-demand", "staging", gates=["staging"])

    local = run_pipeline(admin, retail_retrain)
    assert local.status == "succeeded", local.error
    assert [(r["to"], r["status"]) for r in local.outputs["releases"]] == [
        ("dev", "released"),
        ("staging", "released"),
    ]
    on_ray = run_pipeline(admin, retail_retrain, {"holdout_weeks": 6}, executor="ray")
    assert on_ray.status == "succeeded", on_ray.error
    assert [s.status for s in on_ray.steps] == ["cached", "succeeded", "succeeded"]
    assert on_ray.outputs["models"][0]["version"] == 2
    staging = admin.registry.version("retail-demand/demand-forecast", "staging")
    assert staging.version == 2
    again = run_pipeline(admin, retail_retrain, {"holdout_weeks": 6})
    assert {s.status for s in again.steps} == {"cached"}
    assert [r["status"] for r in again.outputs["releases"]] == ["unchanged", "unchanged"]
