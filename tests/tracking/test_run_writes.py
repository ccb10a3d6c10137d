"""Logging to a run on both backends: the latest value of a metric, who may write, what a
parameter may not become, and two writers on one run at once."""

from __future__ import annotations

import io
import math
import threading
from typing import Any

import pyarrow as pa
import pytest

from passline.data.connectors.memory import TableConnector
from passline.errors import Conflict, NotFound, PermissionDenied
from passline.services.workspace import Services, Workspace
from tests.conftest import services_as


@pytest.fixture
def svc(any_workspace: Workspace) -> Services:
    services = any_workspace.services(any_workspace.local_context("sdk"))
    services.projects.create("fraud")
    return services


@pytest.fixture
def run_id(svc: Services) -> str:
    return svc.tracking.start_run(svc.tracking.ensure_experiment("fraud", "e").id).id


def _log(svc: Services, run_id: str, *points: tuple[str, Any, int, int]) -> None:
    svc.tracking.log_metrics(
        run_id, [{"key": k, "value": v, "step": s, "timestamp": t} for k, v, s, t in points]
    )


def _latest(svc: Services, run_id: str) -> dict[str, Any]:
    return dict(svc.tracking.get_run(run_id).metrics)


def test_the_highest_step_wins_then_the_latest_timestamp(svc: Services, run_id: str) -> None:
    _log(svc, run_id, ("loss", 1.0, 5, 100))
    _log(svc, run_id, ("loss", 2.0, 3, 900))  # a lower step, however recent: ignored
    assert _latest(svc, run_id) == {"loss": 1.0}
    _log(svc, run_id, ("loss", 3.0, 5, 50))  # the same step, an older time: ignored
    assert _latest(svc, run_id) == {"loss": 1.0}
    _log(svc, run_id, ("loss", 4.0, 5, 100))  # the same step and time: the newer write wins
    assert _latest(svc, run_id) == {"loss": 4.0}
    _log(svc, run_id, ("loss", 5.0, 5, 150))
    assert _latest(svc, run_id) == {"loss": 5.0}
    _log(svc, run_id, ("loss", 6.0, 6, 1))  # a higher step, however old
    assert _latest(svc, run_id) == {"loss": 6.0}
    history = svc.tracking.metric_history(run_id, "loss")
    assert [(p.step, p.timestamp, p.value) for p in history] == [
        (3, 900, 2.0),
        (5, 50, 3.0),
        (5, 100, 1.0),
        (5, 100, 4.0),
        (5, 150, 5.0),
        (6, 1, 6.0),
    ]


def test_within_one_batch_the_same_rules_pick_each_keys_latest(svc: Services, run_id: str) -> None:
    _log(
        svc,
        run_id,
        ("auc", 0.7, 2, 10),
        ("auc", 0.9, 1, 99),
        ("auc", 0.8, 2, 10),  # ties the first: the later point in the batch wins
        ("fpr", 0.3, 0, 5),
        ("fpr", 0.2, 0, 4),
    )
    assert _latest(svc, run_id) == {"auc": 0.8, "fpr": 0.3}
    assert len(svc.tracking.metric_history(run_id, "auc")) == 3


def test_nan_and_infinities_are_kept_as_such_and_never_match_a_filter(
    svc: Services, run_id: str
) -> None:
    _log(svc, run_id, ("loss", math.nan, 1, 1), ("gain", math.inf, 1, 1), ("drop", "-inf", 1, 1))
    assert _latest(svc, run_id) == {"loss": "NaN", "gain": "Infinity", "drop": "-Infinity"}
    matches = svc.tracking.search_runs(project="fraud", filter="metrics.loss > -1")
    assert matches.runs == []
    _log(svc, run_id, ("loss", 0.5, 2, 1))  # a later finite value replaces the NaN
    assert svc.tracking.search_runs(project="fraud", filter="metrics.loss > -1").runs[0].id == (
        run_id
    )
    assert [p.value for p in svc.tracking.metric_history(run_id, "loss")] == ["NaN", 0.5]


def test_a_refused_parameter_change_writes_nothing_of_its_call(svc: Services, run_id: str) -> None:
    svc.tracking.log_params(run_id, {"lr": 0.1})
    with pytest.raises(Conflict, match="'lr' of run .* is already '0.1'"):
        svc.tracking.log_params(run_id, {"depth": 3, "lr": 0.2})
    assert svc.tracking.get_run(run_id).params == {"lr": "0.1"}
    svc.tracking.log_params(run_id, {"depth": 3, "lr": "0.1"})
    assert svc.tracking.get_run(run_id).params == {"lr": "0.1", "depth": "3"}


def test_tags_are_replaced_and_deleted(svc: Services, run_id: str) -> None:
    svc.tracking.set_tags(run_id, {"team": "risk", "stage": "dev"})
    svc.tracking.set_tags(run_id, {"stage": "prod"})
    assert svc.tracking.get_run(run_id).tags == {"team": "risk", "stage": "prod"}
    svc.tracking.delete_tag(run_id, "team")
    assert svc.tracking.get_run(run_id).tags == {"stage": "prod"}


def test_viewers_read_contributors_write_strangers_do_neither(
    any_workspace: Workspace, svc: Services, run_id: str
) -> None:
    for name in ("vic", "cora", "sam"):
        svc.identity.create_user(name)
    svc.projects.add_member("fraud", "vic", "viewer")
    svc.projects.add_member("fraud", "cora", "contributor")
    vic, cora, sam = (services_as(any_workspace, n) for n in ("vic", "cora", "sam"))
    cora.tracking.log_metrics(run_id, [{"key": "auc", "value": 0.9}])
    cora.tracking.log_params(run_id, {"lr": 0.1})
    cora.tracking.set_tags(run_id, {"team": "risk"})
    writes = [
        lambda s: s.tracking.log_metrics(run_id, [{"key": "auc", "value": 0.1}]),
        lambda s: s.tracking.log_params(run_id, {"depth": 3}),
        lambda s: s.tracking.set_tags(run_id, {"team": "ops"}),
        lambda s: s.tracking.delete_tag(run_id, "team"),
    ]
    for write in writes:
        with pytest.raises(
            PermissionDenied,
            match="'vic' needs the 'contributor' role in project 'fraud' to use this run, "
            "and has 'viewer'",
        ):
            write(vic)
        with pytest.raises(PermissionDenied, match="'sam' needs .* and is not a member"):
            write(sam)
    seen = vic.tracking.get_run(run_id)
    assert (seen.metrics, seen.params, seen.tags) == ({"auc": 0.9}, {"lr": "0.1"}, {"team": "risk"})
    assert [p.value for p in vic.tracking.metric_history(run_id, "auc")] == [0.9]
    with pytest.raises(PermissionDenied, match="is not a member"):
        sam.tracking.get_run(run_id)
    with pytest.raises(NotFound, match="No run with id 'run_nope'"):
        sam.tracking.log_metrics("run_nope", [{"key": "auc", "value": 0.1}])


def test_finished_and_deleted_runs_still_take_what_is_logged(svc: Services, run_id: str) -> None:
    # Today's rule, kept: ending or deleting a run does not close it to late writes.
    svc.tracking.end_run(run_id)
    _log(svc, run_id, ("auc", 0.8, 1, 1))
    svc.tracking.delete_run(run_id)
    _log(svc, run_id, ("auc", 0.9, 2, 2))
    svc.tracking.log_params(run_id, {"lr": 0.1})
    run = svc.tracking.get_run(run_id)
    assert (run.status, run.metrics, run.params) == ("FINISHED", {"auc": 0.9}, {"lr": "0.1"})


def test_two_writers_on_one_run_lose_nothing(svc: Services, run_id: str) -> None:
    calls, start = 25, threading.Barrier(2)
    errors: list[BaseException] = []

    def writer(offset: int) -> None:
        try:
            start.wait(timeout=30)
            for call in range(calls):
                step = 2 * call + offset  # one writer the even steps, the other the odd
                _log(svc, run_id, ("shared", float(step), step, 1), (f"k{call}", step, step, 1))
        except BaseException as exc:  # reported below, not lost in the thread
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(offset,)) for offset in (0, 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    latest = _latest(svc, run_id)
    assert latest["shared"] == float(2 * calls - 1)
    assert all(latest[f"k{call}"] == 2 * call + 1 for call in range(calls))
    assert len(svc.tracking.metric_history(run_id, "shared")) == 2 * calls


@pytest.mark.parametrize("sqlite_json", [True, False])
def test_a_page_of_runs_reads_the_same_whichever_way_its_ids_are_bound(
    svc: Services, monkeypatch: pytest.MonkeyPatch, sqlite_json: bool
) -> None:
    # SQLite binds a page's run ids as one JSON array when it has json_each, else one by one.
    from passline.services import run_rows

    monkeypatch.setattr(run_rows, "_sqlite_has_json", lambda: sqlite_json)
    svc.ingest.ingest("fraud/transactions", TableConnector(pa.table({"x": [1, 2]})))
    experiment = svc.tracking.ensure_experiment("fraud", "sweep")
    made = {}
    for number in range(5):
        run = svc.tracking.start_run(experiment.id, name=f"r{number}", tags={"n": str(number)})
        svc.tracking.log_params(run.id, {"model": "gbm" if number % 2 else "lr"})
        _log(svc, run.id, ("auc", 0.5 + number / 10, 0, 1), ("loss", math.nan, 0, 1))
        svc.tracking.log_artifact(run.id, "model/model.pkl", io.BytesIO(b"w" * number))
        if number == 3:
            svc.tracking.log_input(run.id, "fraud/transactions@v1")
        made[run.id] = number
    page = svc.tracking.search_runs(project="fraud", filter="params.model = 'gbm'")
    assert [r.name for r in page.runs] == ["r3", "r1"]
    for run in page.runs:
        assert run == svc.tracking.get_run(run.id)
        number = made[run.id]
        assert run.metrics == {"auc": 0.5 + number / 10, "loss": "NaN"}
        assert run.tags == {"n": str(number)} and run.params == {"model": "gbm"}
        assert [(a["path"], a["size"]) for a in run.artifacts] == [("model/model.pkl", number)]
    assert [i["label"] for i in page.runs[0].inputs] == ["fraud/transactions@v1"]
    assert page.runs[1].inputs == []
