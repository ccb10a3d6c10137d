"""The demo's gate: the retail forecast's promotion is blocked, the rollback is rehearsed,
the promotion goes through; a scorecard per project is written."""

from __future__ import annotations

import io
import pickle
from pathlib import Path

from passline.data.connectors.memory import TableConnector
from passline.demo_gates import MODEL, gates_demo
from passline.services.workspace import Workspace
from tests.conftest import services_as


def retail(workspace: Workspace) -> None:
    from sklearn.linear_model import LinearRegression

    admin = workspace.services(workspace.local_context("sdk"))
    admin.projects.create("retail-demand")
    for user, role in (("alice", "contributor"), ("bob", "approver")):
        admin.identity.create_user(user)
        admin.projects.add_member("retail-demand", user, role)
    alice = services_as(workspace, "alice")
    rows = [{"week": float(i), "units": float(2 * i)} for i in range(30)]
    alice.ingest.ingest("retail-demand/sales", TableConnector(rows))
    run = alice.tracking.start_run(alice.tracking.ensure_experiment("retail-demand", "f").id)
    alice.tracking.log_input(run.id, "retail-demand/sales")
    alice.tracking.log_metrics(run.id, [{"key": "mae", "value": 31.5}])
    model = LinearRegression().fit([[r["week"]] for r in rows], [r["units"] for r in rows])
    alice.tracking.log_artifact(run.id, "model/model.pkl", io.BytesIO(pickle.dumps(model)))
    alice.tracking.end_run(run.id)
    alice.registry.register(MODEL, f"runs:/{run.id}/model")
    alice.registry.update_model(
        MODEL,
        "Weekly units.",
        {"purpose": "p", "users": "u", "out_of_scope": "o", "limitations": "l"},
    )
    admin.registry.set_policy("retail-demand", "production", True, [{"name": "has_training_data"}])
    services_as(workspace, "bob").registry.approve(MODEL, 1)
    alice.registry.promote(MODEL, 1)
    alice.registry.register(MODEL, f"runs:/{run.id}/model")  # v2, for the rehearsal


def test_the_gate_blocks_then_allows_and_scorecards_are_written(
    workspace: Workspace, tmp_path: Path
) -> None:
    retail(workspace)
    admin = workspace.services(workspace.local_context("cli"))
    lines = gates_demo(workspace, admin, tmp_path)
    assert lines[0].startswith(f"gate:      {MODEL} v1 blocked by retail-demand/release: ")
    assert "rollback_rehearsed" in lines[0]
    assert lines[1].startswith("gate:      retail-demand/release passes for v1")
    assert lines[2].startswith("maturity:  retail-demand: DevOps")
    assert (tmp_path / "maturity" / "retail-demand.html").is_file()
    history = admin.registry.history(MODEL, "production")
    assert history[0].evidence["checks"][-1]["name"] == "gate"
    again = gates_demo(workspace, admin, tmp_path)  # idempotent: passes at once
    assert again[0].startswith("gate:      retail-demand/release passes")
