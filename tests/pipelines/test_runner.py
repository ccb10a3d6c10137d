"""Running pipelines on the local executor: records, lineage, the cache, failures."""

from __future__ import annotations

from pathlib import Path

import pytest

from passline.data.connectors.memory import TableConnector
from passline.errors import InvalidInput, NotFound, PermissionDenied
from passline.pipelines import Pipeline
from passline.pipelines.runner import run_pipeline
from passline.services.workspace import Services
from tests.conftest import services_as
from tests.pipelines import steps
from tests.pipelines.conftest import sales_rows


def statuses(run) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {s.step: s.status for s in run.steps}


def test_a_run_records_steps_metrics_the_model_and_its_lineage(any_alice: Services) -> None:
    run = run_pipeline(any_alice, steps.retrain())
    assert run.status == "succeeded", run.error
    assert statuses(run) == {"features": "succeeded", "train": "succeeded", "evaluate": "succeeded"}
    assert run.outputs["metrics"]["rows"] == 80 and run.outputs["metrics"]["mae"] >= 0
    model = run.outputs["models"][0]
    assert (model["model"], model["version"], model["new"]) == ("retail/demand", 1, True)
    assert run.inputs["sales"]["ref"] == "retail/sales@v1"
    assert run.environment["python"] and "git" in run.code
    assert all(s.output_digest and s.duration_ms is not None for s in run.steps)
    version = any_alice.registry.version("retail/demand", 1)
    assert version.dataset_versions == ["retail/sales@v1"]
    tracked = any_alice.tracking.get_run(run.tracking_run_id)
    assert tracked.metrics["mae"] == pytest.approx(run.outputs["metrics"]["mae"])
    graph = any_alice.lineage.graph(f"pipeline_run:{run.id}", "both")
    kinds = {n.kind for n in graph.nodes}
    assert {"dataset_version", "pipeline_run", "model_version", "run"} <= kinds


def test_an_unchanged_rerun_skips_every_step_and_registers_nothing_new(alice: Services) -> None:
    first = run_pipeline(alice, steps.retrain(), executor="inline")
    second = run_pipeline(alice, steps.retrain(), executor="inline")
    assert set(statuses(second).values()) == {"cached"} and second.cache_hits == 3
    assert [s.output_digest for s in second.steps] == [s.output_digest for s in first.steps]
    assert second.outputs["models"][0]["version"] == 1
    assert second.outputs["models"][0]["new"] is False
    assert len(alice.registry.versions("retail/demand")) == 1


def test_a_changed_parameter_reruns_only_the_steps_after_it(alice: Services) -> None:
    run_pipeline(alice, steps.retrain(), executor="inline")
    changed = run_pipeline(alice, steps.retrain(), {"alpha": 10.0}, executor="inline")
    assert statuses(changed) == {
        "features": "cached",
        "train": "succeeded",
        "evaluate": "succeeded",
    }
    assert changed.outputs["models"][0]["version"] == 2
    assert changed.params["alpha"] == 10.0


def test_a_new_dataset_version_reruns_everything(alice: Services) -> None:
    run_pipeline(alice, steps.retrain(), executor="inline")
    alice.ingest.ingest("retail/sales", TableConnector(sales_rows(shift=5.0)))
    again = run_pipeline(alice, steps.retrain(), executor="inline")
    assert set(statuses(again).values()) == {"succeeded"}
    assert again.inputs["sales"]["ref"] == "retail/sales@v2"


def test_a_cycle_is_named_and_nothing_is_recorded(alice: Services) -> None:
    looped = Pipeline("looped", project="retail", steps=[steps.loop_a, steps.loop_b])
    with pytest.raises(InvalidInput, match=r"cycle: loop_\w -> loop_\w -> loop_\w"):
        run_pipeline(alice, looped)
    assert alice.pipelines.list("retail") == []


def test_a_failing_step_fails_the_run_with_its_traceback_and_keeps_finished_outputs(
    alice: Services,
) -> None:
    failed = run_pipeline(alice, steps.retrain(), {"fail": True})
    assert failed.status == "failed"
    assert statuses(failed) == {"features": "succeeded", "train": "failed", "evaluate": "skipped"}
    train = next(s for s in failed.steps if s.step == "train")
    assert "Traceback" in train.error and "no rows for week 53" in train.error
    assert train.attempts == 3  # the step allows two retries
    assert "no rows for week 53" in failed.error
    assert failed.outputs == {} and alice.registry.models("retail") == []
    fixed = run_pipeline(alice, steps.retrain(), executor="inline")
    assert statuses(fixed)["features"] == "cached" and fixed.status == "succeeded"


def test_an_output_of_the_wrong_type_fails_without_retries(alice: Services) -> None:
    wrong = Pipeline("wrong", project="retail", steps=[steps.start, steps.not_a_table])
    run = run_pipeline(alice, wrong)
    step = next(s for s in run.steps if s.step == "not_a_table")
    assert run.status == "failed" and step.status == "failed" and step.attempts == 1
    assert "must return a pyarrow.Table or a pandas.DataFrame" in step.error
    assert "it returned dict" in step.error


def test_a_flaky_step_is_retried(alice: Services, tmp_path: Path) -> None:
    flaky = Pipeline(
        "flaky",
        project="retail",
        steps=[steps.start, steps.flaky],
        params={"marker": str(tmp_path / "tries")},
    )
    run = run_pipeline(alice, flaky)
    assert run.status == "succeeded"
    assert next(s for s in run.steps if s.step == "flaky").attempts == 2


def test_a_step_past_its_timeout_is_stopped(alice: Services) -> None:
    slow = Pipeline("slow", project="retail", steps=[steps.start, steps.slow])
    run = run_pipeline(alice, slow)
    step = next(s for s in run.steps if s.step == "slow")
    assert step.status == "failed" and "ran past its timeout of 1 s" in step.error
    assert step.duration_ms < 10_000


def test_bad_inputs_fail_before_anything_is_recorded(alice: Services) -> None:
    with pytest.raises(InvalidInput, match="has no parameter 'alhpa'"):
        run_pipeline(alice, steps.retrain(), {"alhpa": 2})
    with pytest.raises(NotFound):
        run_pipeline(alice, steps.retrain(inputs={"sales": "retail/nothing-here"}))
    with pytest.raises(InvalidInput, match="executor must be 'local', 'ray' or 'inline'"):
        run_pipeline(alice, steps.retrain(), executor="spark")
    assert alice.pipelines.list("retail") == []


def test_a_viewer_cannot_run_a_pipeline(alice: Services) -> None:
    vera = services_as(alice.workspace, "vera")
    with pytest.raises(PermissionDenied, match="contributor"):
        run_pipeline(vera, steps.retrain())
    run = run_pipeline(alice, steps.retrain(), executor="inline")
    assert vera.pipelines.run(run.id).status == "succeeded"  # viewers read runs


def test_releases_stop_at_the_first_gate_that_refuses(alice: Services) -> None:
    admin = alice.workspace.services(alice.workspace.local_context("sdk"))
    impossible = [{"type": "metric", "name": "mae", "op": "<=", "threshold": 0.0}]
    admin.gates.create("retail", "staging", impossible, "nothing passes", True)
    admin.environments.configure("retail", "staging", gates=["staging"])
    run = run_pipeline(
        alice, steps.retrain(release_to=["dev", "staging", "production"]), executor="inline"
    )
    assert run.status == "succeeded"
    releases = run.outputs["releases"]
    assert [(r["to"], r["status"]) for r in releases] == [
        ("dev", "released"),
        ("staging", "refused"),
    ]
    assert "mae" in releases[1]["message"]
    assert alice.registry.version("retail/demand", "dev").version == 1
