"""Autologging scikit-learn: one record per top-level fit, with params, scores, the model
and the training data; the patches are gone after the block."""

from __future__ import annotations

import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from passline.sdk.client import Client
from passline.sdk.sklearn import autolog


def test_autolog_records_a_pipeline_once(sdk: Client) -> None:
    sdk.create_project("fraud")
    rows = [{"amount": float(i), "hour": i % 24, "is_fraud": int(i % 4 == 0)} for i in range(80)]
    sdk.datasets.ingest("fraud/transactions", data=rows)
    X = [[r["amount"], r["hour"]] for r in rows]
    y = [r["is_fraud"] for r in rows]
    original_fit = LogisticRegression.fit
    with (
        sdk.start_run("fraud/auto", capture_code=False) as run,
        autolog(run, dataset="fraud/transactions", X_test=X[:20], y_test=y[:20]) as fitted,
    ):
        Pipeline([("scale", StandardScaler()), ("clf", LogisticRegression())]).fit(X, y)
    assert LogisticRegression.fit is original_fit
    assert len(fitted) == 1
    got = sdk.runs.get(run.id)
    assert got.params["estimator"] == "Pipeline" and "steps" in got.params
    assert 0 <= got.metrics["training_score"] <= 1 and "test_score" in got.metrics
    assert [i["label"] for i in got.inputs] == ["fraud/transactions@v1"]
    assert {a["path"] for a in got.artifacts} >= {"model/model.pkl"}


def test_autolog_restores_fit_after_an_error(sdk: Client) -> None:
    sdk.create_project("p")
    original_fit = LogisticRegression.fit
    with pytest.raises(ValueError), sdk.start_run("p/e", capture_code=False) as run, autolog(run):
        LogisticRegression().fit([[1.0]], [0])  # one class: sklearn refuses
    assert LogisticRegression.fit is original_fit
