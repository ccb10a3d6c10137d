"""Runs and models through the SDK, on both transports (in-process and HTTP)."""

from __future__ import annotations

import math

import pytest
from sklearn.linear_model import LogisticRegression

from passline.errors import Conflict, InvalidInput, PermissionDenied
from passline.sdk.client import Client


@pytest.fixture
def pl(sdk: Client) -> Client:
    sdk.create_project("fraud")
    sdk.datasets.ingest(
        "fraud/transactions",
        data=[{"amount": float(i), "hour": i % 24, "is_fraud": int(i % 5 == 0)} for i in range(40)],
    )
    return sdk


def test_a_run_in_a_with_block_logs_everything_and_registers(pl: Client) -> None:
    X = [[float(i), i % 24] for i in range(40)]
    y = [int(i % 5 == 0) for i in range(40)]
    with pl.start_run("fraud/scoring", name="lr", inputs=["fraud/transactions"]) as run:
        run.log_params({"C": 1.0, "target": "is_fraud"})
        for step in range(5):
            run.log_metric("loss", 1 / (step + 1), step=step)
        run.log_metrics({"auc": 0.88, "odd": math.nan})
        version = run.log_model(LogisticRegression().fit(X, y), register_as="fraud/scorer")
    got = pl.runs.get(run.id)
    assert got.status == "FINISHED" and got.params["C"] == "1.0"
    assert got.metrics == {"loss": 0.2, "auc": 0.88, "odd": "NaN"}
    assert got.inputs[0]["label"] == "fraud/transactions@v1"
    assert got.environment["python"] and "packages" in got.environment
    assert [p.value for p in pl.runs.metric_history(run.id, "loss")] == [1.0, 0.5, 1 / 3, 0.25, 0.2]
    assert version.version == 1 and version.dataset_versions == ["fraud/transactions@v1"]
    model = pl.models.load("fraud/scorer", 1)
    assert len(model.predict([[3.0, 3]])) == 1


def test_a_failing_block_marks_the_run_failed(pl: Client) -> None:
    with pytest.raises(RuntimeError), pl.start_run("fraud/scoring") as run:
        raise RuntimeError("diverged")
    got = pl.runs.get(run.id)
    assert got.status == "FAILED" and "diverged" in got.tags["passline.error"]


def test_search_compare_and_registry_flow(pl: Client) -> None:
    ids = []
    for c in (0.1, 1.0, 10.0):
        with pl.start_run("fraud/sweep", capture_code=False) as run:
            run.log_params({"C": c})
            run.log_metrics({"auc": 0.8 + c / 100})
            run.log_model(LogisticRegression(C=c).fit([[0.0], [1.0]], [0, 1]))
            ids.append(run.id)
    page = pl.runs.search(
        project="fraud", filter="metrics.auc > 0.805", order_by=["metrics.auc DESC"]
    )
    assert [r.params["C"] for r in page.runs] == ["10.0", "1.0"]
    assert pl.runs.compare(ids[:2])["params"][0]["differs"]
    reopened = pl.start_run("fraud/sweep", capture_code=False)
    reopened.log_params({"C": 1})
    with pytest.raises(Conflict, match="cannot become"):
        reopened.log_params({"C": 2})
    reopened.end()
    for run_id in ids[:2]:
        pl.models.register("fraud/sweep-model", f"runs:/{run_id}/model")
    pl.models.promote("fraud/sweep-model", 1, reason="baseline")
    pl.models.promote("fraud/sweep-model", 2)
    back = pl.models.rollback("fraud/sweep-model")
    assert (back.from_version, back.to_version) == (2, 1)
    assert pl.models.get("fraud/sweep-model").aliases == {"production": 1}
    assert [m.kind for m in pl.models.history("fraud/sweep-model")] == [
        "rollback",
        "promote",
        "promote",
    ]
    card = pl.models.card("fraud/sweep-model")
    assert "# Model card: fraud/sweep-model version 1" in card["markdown"]
    pl.models.set_policy(
        "fraud", "production", checks=[{"name": "metric_at_least", "metric": "auc", "min": 0.9}]
    )
    with pytest.raises(PermissionDenied, match="metric_at_least"):
        pl.models.promote("fraud/sweep-model", 2)
    with pytest.raises(InvalidInput, match="runs:/RUN_ID/path"):
        pl.models.register("fraud/x", "nowhere")
