"""Promotion policies name gates: an alias does not move until the gate passes, and the
refusal names the failing criteria; each check is stored and audited (SQLite and Postgres)."""

from __future__ import annotations

import pytest

from passline.errors import InvalidInput, NotFound, PermissionDenied
from passline.services.workspace import Services, Workspace
from tests.conftest import services_as
from tests.gates.conftest import MODEL, train

GATE = [
    {"type": "training_data_recorded"},
    {"type": "metric", "name": "auc", "op": ">=", "threshold": 0.8},
    {"type": "rollback_rehearsed", "max_seconds": 60},
]


def test_promotion_is_refused_until_the_gate_passes(
    any_workspace: Workspace, any_fraud: Services
) -> None:
    admin = any_fraud
    admin.gates.create("fraud", "release", GATE, "before production")
    admin.registry.set_policy(
        "fraud",
        "production",
        require_approval=False,
        checks=[{"name": "gate", "gate": "fraud/release"}],
    )
    alice = services_as(any_workspace, "alice")
    with pytest.raises(
        PermissionDenied, match="gate fraud/release fails: rollback_rehearsed"
    ) as err:
        alice.registry.promote(MODEL, 1)
    assert "never been rolled back" in str(err.value)

    train(any_workspace, 0.84)  # rehearse: staging v1 -> v2, then roll back
    alice.registry.set_alias(MODEL, "staging", 1)
    alice.registry.set_alias(MODEL, "staging", 2)
    alice.registry.rollback(MODEL, "staging", "rehearsal")
    move = alice.registry.promote(MODEL, 1, reason="gate passes")
    assert move.to_version == 1
    assert move.evidence["checks"][0]["passed"] is True

    evaluations = admin.gates.evaluations("fraud", "release")
    assert [e.passed for e in evaluations] == [True, False]
    assert evaluations[0].subject_label == "fraud/scorer/v1"
    assert evaluations[0].results[2]["evidence"][0].startswith("alias_move:")
    checks = [e for e in admin.audit.log(object="gate:fraud/release") if e.action == "gate.check"]
    assert len(checks) == 2 and admin.audit.verify().ok
    assert len(admin.gates.evaluations_for(alice.registry.version(MODEL, 1).ref)) == 2


def test_policies_and_gates_refuse_bad_names(any_fraud: Services) -> None:
    with pytest.raises(InvalidInput, match="Release check 'gate' has no parameter 'colour'"):
        any_fraud.registry.set_policy("fraud", "production", checks=[{"name": "gate", "colour": 1}])
    with pytest.raises(NotFound, match="No gate fraud/nope"):
        any_fraud.gates.check("fraud", "nope", f"{MODEL}@1")
    with pytest.raises(InvalidInput, match="--for takes MODEL@VERSION"):
        any_fraud.gates.subject("endpoint:fraud/x")
    any_fraud.gates.create("fraud", "g", [{"type": "feedback_enabled"}])
    with pytest.raises(Exception, match="already exists"):
        any_fraud.gates.create("fraud", "g", [{"type": "feedback_enabled"}])


def test_only_project_admins_define_gates(workspace: Workspace, fraud: Services) -> None:
    with pytest.raises(PermissionDenied, match="needs the 'admin' role"):
        services_as(workspace, "alice").gates.create("fraud", "g", [{"type": "feedback_enabled"}])


def test_a_prompt_label_waits_for_its_gate(workspace: Workspace, fraud: Services) -> None:
    fraud.prompts.create("fraud/explain", "Why is {{ txn }} risky?", {"txn": "string"})
    fraud.gates.create("fraud", "genai", [{"type": "feedback_enabled"}])
    fraud.registry.set_policy(
        "fraud", "live", require_approval=False, checks=[{"name": "gate", "gate": "fraud/genai"}]
    )
    with pytest.raises(PermissionDenied, match="no feedback recorded in fraud"):
        fraud.prompts.set_label("fraud/explain@1", "live")
