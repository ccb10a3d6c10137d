"""The registry: versions from runs with their lineage, aliases with history, policies that
refuse, approvals by someone else, rollback, safe loading, model cards."""

from __future__ import annotations

import io
import pickle
from pathlib import Path

import pytest

from passline.data.connectors.memory import TableConnector
from passline.errors import Conflict, IntegrityError, InvalidInput, NotFound, PermissionDenied
from passline.services.workspace import Services, Workspace
from tests.conftest import services_as

sklearn = pytest.importorskip("sklearn")


@pytest.fixture
def svc(any_workspace: Workspace) -> Services:
    services = any_workspace.services(any_workspace.local_context("sdk"))
    services.projects.create("fraud")
    for user, role in (("alice", "contributor"), ("bob", "approver")):
        services.identity.create_user(user)
        services.projects.add_member("fraud", user, role)
    return services


def train_and_register(workspace: Workspace, user: str, auc: float) -> tuple[Services, str]:
    """As ``user``: ingest data, train a tiny model in a run, register it."""
    from sklearn.linear_model import LogisticRegression

    svc = services_as(workspace, user)
    rows = [{"amount": float(i), "hour": i % 24, "is_fraud": int(i % 7 == 0)} for i in range(60)]
    svc.ingest.ingest("fraud/transactions", TableConnector(rows))
    run = svc.tracking.start_run(svc.tracking.ensure_experiment("fraud", "scoring").id)
    svc.tracking.log_input(run.id, "fraud/transactions")
    svc.tracking.log_params(run.id, {"target": "is_fraud", "C": 1.0})
    svc.tracking.log_metrics(run.id, [{"key": "auc", "value": auc}])
    model = LogisticRegression().fit(
        [[r["amount"], r["hour"]] for r in rows], [r["is_fraud"] for r in rows]
    )
    svc.tracking.log_artifact(run.id, "model/model.pkl", io.BytesIO(pickle.dumps(model)))
    svc.tracking.end_run(run.id)
    version = svc.registry.register("fraud/scorer", f"runs:/{run.id}/model")
    return svc, version.id


def test_a_version_records_its_run_data_metrics_and_signature(
    any_workspace: Workspace, svc: Services
) -> None:
    alice, _ = train_and_register(any_workspace, "alice", 0.83)
    version = alice.registry.version("fraud/scorer", 1)
    assert version.format == "sklearn" and version.author == "alice"
    assert version.metrics == {"auc": 0.83}
    assert version.dataset_versions == ["fraud/transactions@v1"]
    assert [c["name"] for c in version.signature["inputs"]] == ["amount", "hour"]
    assert [c["name"] for c in version.signature["outputs"]] == ["is_fraud"]
    up = svc.lineage.graph(version.ref, "up")
    assert {n.kind for n in up.nodes} >= {"run", "dataset_version", "source"}
    predict = svc.registry.load("fraud/scorer", 1).predict([[7.0, 7]])
    assert list(predict) in ([0], [1])


def test_policy_refuses_the_author_alone_then_an_approver_unlocks(
    any_workspace: Workspace, svc: Services
) -> None:
    svc.registry.set_policy(
        "fraud",
        "production",
        require_approval=True,
        checks=[
            {"name": "metric_at_least", "metric": "auc", "min": 0.8},
            {"name": "has_training_data"},
        ],
    )
    alice, _ = train_and_register(any_workspace, "alice", 0.83)
    with pytest.raises(
        PermissionDenied, match="an approval by an approver other than the author"
    ) as caught:
        alice.registry.promote("fraud/scorer", 1)
    assert caught.value.details["missing"] == [
        "an approval by an approver other than the author (alice)"
    ]
    with pytest.raises(PermissionDenied, match="needs the 'approver' role"):
        alice.registry.approve("fraud/scorer", 1)
    bob = services_as(any_workspace, "bob")
    bob.registry.approve("fraud/scorer", 1, comment="reviewed the FPR on dataset B")
    move = alice.registry.promote("fraud/scorer", 1, reason="first release")
    assert (move.from_version, move.to_version) == (None, 1)
    assert svc.registry.get_model("fraud/scorer").aliases == {"production": 1}


def test_the_author_cannot_approve_their_own_version(
    any_workspace: Workspace, svc: Services
) -> None:
    svc.projects.add_member("fraud", "alice", "approver")
    alice, _ = train_and_register(any_workspace, "alice", 0.9)
    with pytest.raises(PermissionDenied, match="is the author"):
        alice.registry.approve("fraud/scorer", 1)


def test_failing_checks_are_listed(any_workspace: Workspace, svc: Services) -> None:
    svc.registry.set_policy(
        "fraud",
        "production",
        require_approval=False,
        checks=[{"name": "metric_at_least", "metric": "auc", "min": 0.9}],
    )
    train_and_register(any_workspace, "alice", 0.7)
    with pytest.raises(
        PermissionDenied, match=r"check metric_at_least: auc = 0.7 \(needs >= 0.9\)"
    ):
        svc.registry.promote("fraud/scorer", 1)
    with pytest.raises(InvalidInput, match="Unknown release check"):
        svc.registry.set_policy("fraud", "staging", checks=[{"name": "vibes"}])


def test_rollback_returns_to_the_previous_version_and_history_keeps_every_move(
    any_workspace: Workspace, svc: Services
) -> None:
    train_and_register(any_workspace, "alice", 0.8)
    train_and_register(any_workspace, "alice", 0.85)
    with pytest.raises(Conflict, match="no earlier version"):
        svc.registry.rollback("fraud/scorer")  # nothing promoted yet
    svc.registry.promote("fraud/scorer", 1)
    with pytest.raises(Conflict, match="no earlier version to roll back to"):
        svc.registry.rollback("fraud/scorer")
    svc.registry.promote("fraud/scorer", 2, reason="better auc")
    back = svc.registry.rollback("fraud/scorer", reason="revenue dropped")
    assert (back.from_version, back.to_version, back.kind) == (2, 1, "rollback")
    assert back.duration_ms is not None and back.duration_ms >= 0
    history = svc.registry.history("fraud/scorer", "production")
    assert [(m.from_version, m.to_version, m.kind) for m in history] == [
        (2, 1, "rollback"),
        (1, 2, "promote"),
        (None, 1, "promote"),
    ]
    assert history[0].reason == "revenue dropped" and history[0].actor == svc.ctx.actor.name


def test_a_tampered_model_file_is_refused(any_workspace: Workspace, svc: Services) -> None:
    train_and_register(any_workspace, "alice", 0.8)
    version = svc.registry.version("fraud/scorer", 1)
    digest = version.files[0]["digest"]
    blob = any_workspace.settings.home / "artifacts" / "sha256" / digest[:2] / digest[2:4] / digest
    blob.write_bytes(pickle.dumps("evil payload, same length?"))
    with pytest.raises(IntegrityError):
        svc.registry.load("fraud/scorer", 1)


def test_bad_sources_and_unknown_names(svc: Services) -> None:
    with pytest.raises(InvalidInput, match="runs:/RUN_ID/path"):
        svc.registry.register("fraud/m", "s3://bucket/model.pkl")
    with pytest.raises(NotFound, match="No run"):
        svc.registry.register("fraud/m", "runs:/run_nope/model")
    with pytest.raises(NotFound, match="No model named"):
        svc.registry.version("fraud/ghost", 1)


def test_file_versions_and_cards(any_workspace: Workspace, svc: Services, tmp_path: Path) -> None:
    code = b"def predict(rows):\n    return [len(r) for r in rows]\n"
    version = svc.registry.register_file("rules", "fraud", io.BytesIO(code), "rules.py")
    assert version.format == "python" and version.run_id is None
    assert svc.registry.load("fraud/rules", 1).predict([[1, 2], [3]]) == [2, 1]
    svc.registry.update_model(
        "fraud/rules",
        description="Hand-written rules",
        intended_use={"purpose": "flag card fraud for review"},
    )
    card = svc.registry.card("fraud/rules")
    assert "flag card fraud for review" in card["markdown"] and "TO BE DEFINED" in card["markdown"]
    assert "<h1>" in card["html"] and "<script" not in card["html"]


def test_lineage_of_a_version_holds_only_its_own_history(
    any_workspace: Workspace, svc: Services
) -> None:
    train_and_register(any_workspace, "alice", 0.8)
    second = services_as(any_workspace, "alice")
    second.ingest.ingest(
        "fraud/transactions", TableConnector([{"amount": 1.0, "hour": 1, "is_fraud": 0}])
    )
    train_and_register(any_workspace, "alice", 0.9)
    svc.registry.promote("fraud/scorer", 1)
    svc.registry.promote("fraud/scorer", 2)
    v1 = svc.registry.version("fraud/scorer", 1)
    up = {n.ref for n in svc.lineage.graph(v1.ref, "up").nodes}
    assert not any(ref.startswith("model_version:") and ref != v1.ref for ref in up)
    down = svc.lineage.graph(v1.ref, "down")
    assert [n.kind for n in down.nodes if n.depth == 1] == ["alias_move"]
