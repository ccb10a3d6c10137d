"""A workspace with a served fraud model: v1 and v2 (logistic regressions on raw columns)
and v3, whose ``predict`` raises, all registered from runs on one dataset."""

from __future__ import annotations

import io
import pickle
from collections.abc import Iterator
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from fastapi.testclient import TestClient

from passline.data.connectors.memory import TableConnector
from passline.services.workspace import Services, Workspace

sklearn = pytest.importorskip("sklearn")

MODEL = "shop/scorer"
FEATURES = ["amount", "hour", "channel"]


class Exploding:
    """A model whose predict fails, as a model with a bug in production does."""

    feature_names_in_ = np.array(FEATURES, dtype=object)

    def predict(self, frame: Any) -> Any:
        raise ValueError("the encoder met a category it never saw")


def transactions(n: int = 400, seed: int = 0, shift: float = 0.0) -> pa.Table:
    rng = np.random.default_rng(seed)
    amount = np.round(rng.lognormal(3.0 + shift, 0.8, n), 2)
    hour = rng.integers(0, 24, n)
    channel = rng.choice(["web", "store", "app"], n)
    risk = 0.8 * (np.log1p(amount) - 3.2) + 1.5 * (hour < 6) - 2.0
    fraud = rng.random(n) < 1 / (1 + np.exp(-risk))
    return pa.table(
        {
            "txn_id": [f"t{seed}-{i}" for i in range(n)],
            "amount": amount,
            "hour": hour.astype(np.int64),
            "channel": channel,
            "is_fraud": fraud.astype(np.int64),
        }
    )


def pipeline(c: float = 1.0) -> Any:
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder

    columns = ColumnTransformer(
        [("channel", OneHotEncoder(handle_unknown="ignore"), ["channel"])], remainder="passthrough"
    )
    return make_pipeline(columns, LogisticRegression(C=c, class_weight="balanced", max_iter=500))


def register(svc: Services, model: Any) -> int:
    run = svc.tracking.start_run(svc.tracking.ensure_experiment("shop", "scoring").id)
    svc.tracking.log_input(run.id, "shop/transactions@v1")
    svc.tracking.log_params(run.id, {"target": "is_fraud", "features": ",".join(FEATURES)})
    svc.tracking.log_artifact(run.id, "model/model.pkl", io.BytesIO(pickle.dumps(model)))
    svc.tracking.end_run(run.id)
    return svc.registry.register(MODEL, f"runs:/{run.id}/model").version


@pytest.fixture
def served(workspace: Workspace) -> Services:
    svc = workspace.services(workspace.local_context("sdk"))
    svc.projects.create("shop")
    table = transactions()
    svc.ingest.ingest("shop/transactions", TableConnector(table))
    frame = table.to_pandas()
    for c in (1.0, 0.01):
        register(svc, pipeline(c).fit(frame[FEATURES], frame["is_fraud"]))
    register(svc, Exploding())
    svc.registry.set_alias(MODEL, "production", 1)
    return svc


@pytest.fixture
def token(served: Services) -> str:
    return served.identity.create_token("gateway-tests").secret


@pytest.fixture
def gateway(workspace: Workspace, served: Services) -> Iterator[TestClient]:
    from passline.serving.gateway import create_gateway_app

    with TestClient(create_gateway_app(workspace, flush_s=0.05)) as client:
        yield client


def records(n: int = 3, seed: int = 1) -> list[dict[str, Any]]:
    rows = transactions(n, seed).select(FEATURES).to_pylist()
    return rows


def flush(client: TestClient) -> None:
    """Write what the gateway's log has queued now (the writer thread does it every tick)."""
    client.app.state.gateway.log.flush()  # type: ignore[attr-defined]
