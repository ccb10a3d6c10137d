"""A workspace with project fraud: alice (contributor) trains and registers fraud/scorer v1
from a run on fraud/transactions with auc 0.83; bob is an approver."""

from __future__ import annotations

import io
import pickle

import pytest

from passline.data.connectors.memory import TableConnector
from passline.services.workspace import Services, Workspace
from tests.conftest import services_as

pytest.importorskip("sklearn")

MODEL = "fraud/scorer"


def train(
    workspace: Workspace, auc: float = 0.83, user: str = "alice", n: int = 60, name: str = MODEL
) -> int:
    from sklearn.linear_model import LogisticRegression

    svc = services_as(workspace, user)
    rows = [{"amount": float(i), "hour": i % 24, "is_fraud": int(i % 7 == 0)} for i in range(n)]
    svc.ingest.ingest("fraud/transactions", TableConnector(rows))
    run = svc.tracking.start_run(svc.tracking.ensure_experiment("fraud", "scoring").id)
    svc.tracking.log_input(run.id, "fraud/transactions")
    svc.tracking.log_params(run.id, {"target": "is_fraud"})
    svc.tracking.log_metrics(run.id, [{"key": "auc", "value": auc}])
    model = LogisticRegression().fit(
        [[r["amount"], r["hour"]] for r in rows], [r["is_fraud"] for r in rows]
    )
    svc.tracking.log_artifact(run.id, "model/model.pkl", io.BytesIO(pickle.dumps(model)))
    svc.tracking.end_run(run.id)
    return svc.registry.register(name, f"runs:/{run.id}/model").version


def setup_project(workspace: Workspace) -> Services:
    admin = workspace.services(workspace.local_context("sdk"))
    admin.projects.create("fraud")
    for user, role in (("alice", "contributor"), ("bob", "approver")):
        admin.identity.create_user(user)
        admin.projects.add_member("fraud", user, role)
    train(workspace)
    return admin


@pytest.fixture
def fraud(workspace: Workspace) -> Services:
    return setup_project(workspace)


@pytest.fixture
def any_fraud(any_workspace: Workspace) -> Services:
    return setup_project(any_workspace)
