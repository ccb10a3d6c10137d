"""Schedules and triggers queue runs; the worker claims and runs each once."""

from __future__ import annotations

from datetime import timedelta

import pytest

from passline.core.clock import utcnow
from passline.data.connectors.memory import TableConnector
from passline.errors import InvalidInput, NotFound
from passline.pipelines.runner import run_pipeline
from passline.pipelines.worker import run_queued
from passline.services.pipelines import claim_run, fire_triggers, queue_due_schedules
from passline.services.workspace import Services
from tests.pipelines import steps
from tests.pipelines.conftest import sales_rows

SOURCE = "tests.pipelines.steps:RETRAIN"


@pytest.fixture
def recorded(alice: Services) -> Services:
    pipeline = steps.retrain(source=SOURCE)
    run_pipeline(alice, pipeline, executor="inline")
    return alice


def test_a_new_dataset_version_queues_a_run_that_the_worker_runs(recorded: Services) -> None:
    recorded.pipelines.add_trigger("retail/retrain", "dataset", "retail/sales")
    recorded.ingest.ingest("retail/sales", TableConnector(sales_rows(shift=3.0)))
    queued = recorded.pipelines.runs("retail/retrain", status="queued")
    assert len(queued) == 1 and queued[0].trigger["version"] == "retail/sales@v2"
    outcomes = run_queued(recorded.workspace)
    assert outcomes == [("retail/retrain", "succeeded")]
    done = recorded.pipelines.run(queued[0].id)
    assert done.inputs["sales"]["ref"] == "retail/sales@v2"
    assert done.trigger["kind"] == "dataset" and done.actor == "alice"
    assert run_queued(recorded.workspace) == []  # nothing left, nothing run twice


def test_an_alert_queues_a_run(recorded: Services) -> None:
    recorded.pipelines.add_trigger("retail/retrain", "alert", "retail/forecast-drift")
    assert fire_triggers(recorded.workspace, "alert", "retail/other-monitor", {}) == []
    [run_id] = fire_triggers(recorded.workspace, "alert", "retail/forecast-drift", {"alert": "a1"})
    assert claim_run(recorded.workspace, run_id) is True
    assert claim_run(recorded.workspace, run_id) is False  # a second worker loses the race


def test_a_due_schedule_is_queued_once(recorded: Services) -> None:
    trigger = recorded.pipelines.add_trigger("retail/retrain", "schedule", "*/5 * * * *")
    assert trigger.next_run_at is not None
    later = utcnow() + timedelta(minutes=6)
    assert len(queue_due_schedules(recorded.workspace, later)) == 1
    assert queue_due_schedules(recorded.workspace, later) == []  # claimed: moved to next slot
    [queued] = recorded.pipelines.runs("retail/retrain", status="queued")
    assert queued.trigger["kind"] == "schedule"


def test_bad_triggers_are_refused(recorded: Services) -> None:
    with pytest.raises(InvalidInput, match="cron expression"):
        recorded.pipelines.add_trigger("retail/retrain", "schedule", "every monday")
    with pytest.raises(InvalidInput, match="one of schedule, dataset, alert"):
        recorded.pipelines.add_trigger("retail/retrain", "webhook", "x/y")
    with pytest.raises(NotFound, match="no pipeline named 'nope'"):
        recorded.pipelines.add_trigger("retail/nope", "dataset", "retail/sales")
    assert recorded.pipelines.triggers("retail") == []


def test_a_queued_run_whose_code_cannot_load_fails_with_the_reason(alice: Services) -> None:
    run_pipeline(alice, steps.retrain(source="tests.pipelines.gone:RETRAIN"), executor="inline")
    queued = alice.pipelines.enqueue("retail/retrain")
    [(ref, outcome)] = run_queued(alice.workspace)
    assert outcome.startswith("failed: Cannot import module 'tests.pipelines.gone'")
    assert alice.pipelines.run(queued.id).status == "failed"


def test_the_servers_scheduler_runs_queued_runs_in_its_pipelines_thread(
    recorded: Services,
) -> None:
    from passline.server.scheduler import SourceScheduler

    queued = recorded.pipelines.enqueue("retail/retrain", {"alpha": 4.0}, executor="inline")
    scheduler = SourceScheduler(recorded.workspace, interval_s=3600)
    try:
        scheduler.tick()
        scheduler.start_pipelines().result(timeout=120)
    finally:
        scheduler.stop()
    done = recorded.pipelines.run(queued.id)
    assert done.status == "succeeded" and done.params["alpha"] == 4.0
