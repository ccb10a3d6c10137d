"""Gate files and every criterion type: pass, fail and missing evidence (never a crash)."""

from __future__ import annotations

from typing import Any

import pytest

from passline.errors import InvalidInput
from passline.gates.criteria import CRITERIA, parse_gate_yaml
from passline.services.workspace import Services, Workspace
from tests.conftest import services_as
from tests.gates import state
from tests.gates.conftest import MODEL, train


def statuses(svc: Services, criteria: list[dict[str, Any]], target: str) -> list[str]:
    svc.gates.create("fraud", "g", criteria, replace=True)
    return [r["status"] for r in svc.gates.check("fraud", "g", target).results]


def one(svc: Services, criterion: dict[str, Any], target: str = f"{MODEL}@1") -> dict[str, Any]:
    svc.gates.create("fraud", "g", [criterion], replace=True)
    return svc.gates.check("fraud", "g", target).results[0]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("criteria: [{type: nope}]", "Criterion 1 has unknown type 'nope'; the types are"),
        (
            "criteria: [{type: metric, name: auc, threshold: 1, colour: red}]",
            "Criterion 1 (metric) has no parameter 'colour'; it takes title, name, op",
        ),
        (
            "criteria: [{type: metric, name: auc}]",
            "The 'threshold' parameter of Criterion 1 (metric): Field required",
        ),
        (
            "criteria: [{type: attack_success_max, max: 5}]",
            "The 'max' parameter of Criterion 1 (attack_success_max): Input should be less "
            "than or equal to 1. Got 5 instead.",
        ),
        ("criteria: [{type: metric, name: auc, op: '=>', threshold: 1}]", "'op' parameter"),
        ("criteria: []", "A gate needs a non-empty list of criteria"),
        ("criteria: [metric]", "Criterion 1 must be a mapping with a 'type'"),
        ("steps: []", "A gate file has no key 'steps'"),
        ("criteria: [", "The gate file is not valid YAML"),
        ("42", "A gate file is a mapping"),
    ],
)
def test_bad_gate_files_are_refused_with_the_parameter_named(text: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_gate_yaml(text)


def test_a_gate_file_keeps_criteria_as_given_and_a_list_is_enough() -> None:
    spec = parse_gate_yaml("- {type: metric, name: auc, threshold: 0.8}\n- type: feedback_enabled")
    assert spec["criteria"] == [
        {"type": "metric", "name": "auc", "threshold": 0.8},
        {"type": "feedback_enabled"},
    ]
    assert len(CRITERIA) == 12


def test_training_data_metric_and_approvals(workspace: Workspace, fraud: Services) -> None:
    recorded = one(fraud, {"type": "training_data_recorded"})
    assert recorded["message"] == "trained on fraud/transactions@v1"
    assert recorded["evidence"] == [fraud.datasets.version("fraud/transactions@v1").ref]
    metric = {"type": "metric", "name": "auc", "threshold": 0.8}
    assert one(fraud, metric)["status"] == "pass"
    assert one(fraud, {**metric, "threshold": 0.9})["message"] == "auc = 0.83 (needs >= 0.9)"
    missing = one(fraud, {**metric, "name": "f1"})
    assert missing["status"] == "missing_evidence" and "has no metric 'f1'" in missing["message"]
    assert one(fraud, {**metric, "dataset": "fraud/transactions"})["status"] == "pass"
    quality = {"type": "training_data_recorded", "quality_checks": True}
    assert one(fraud, quality)["message"] == "no quality checks ran on the training data"
    checks = "expectations:\n  - {type: not_null, column: amount}\n"
    fraud.datasets.configure("fraud/transactions", expectations=checks)
    train(workspace, 0.83, n=70)  # v2 of the data, checked at ingest
    assert (
        one(fraud, quality, f"{MODEL}@2")["message"]
        == "1 quality check(s) pass on the training data"
    )
    on_other = one(fraud, {**metric, "dataset": "fraud/other"})
    assert on_other["status"] == "missing_evidence"

    approved = {"type": "approved_by_non_author"}
    assert one(fraud, approved)["status"] == "missing_evidence"
    services_as(workspace, "bob").registry.approve(MODEL, 1)
    assert one(fraud, approved)["status"] == "pass"
    assert one(fraud, {**approved, "min_approvals": 2})["status"] == "fail"


def test_rollback_and_model_card(workspace: Workspace, fraud: Services) -> None:
    rollback = {"type": "rollback_rehearsed", "max_seconds": 60}
    assert one(fraud, rollback)["status"] == "missing_evidence"
    train(workspace, 0.85)
    fraud.registry.set_alias(MODEL, "staging", 1)
    fraud.registry.set_alias(MODEL, "staging", 2)
    fraud.registry.rollback(MODEL, "staging")
    passed = one(fraud, rollback)
    assert passed["status"] == "pass" and passed["evidence"][0].startswith("alias_move:")
    assert passed["details"]["seconds"] < 60
    assert one(fraud, {**rollback, "max_seconds": 1e-9})["status"] == "fail"

    card = {"type": "model_card_complete"}
    assert one(fraud, card)["details"]["missing"] == [
        "description",
        "purpose",
        "users",
        "out_of_scope",
        "limitations",
    ]
    fraud.registry.update_model(
        MODEL,
        "Scores card transactions.",
        {"purpose": "p", "users": "u", "out_of_scope": "o", "limitations": "l"},
    )
    assert one(fraud, card)["status"] == "pass"


def test_dashboard_traffic_and_no_drift(workspace: Workspace, fraud: Services) -> None:
    traffic = {"type": "dashboard_traffic", "minutes": 5, "role": "canary"}
    assert one(fraud, traffic)["message"] == "no endpoint serves fraud/scorer"
    assert one(fraud, {"type": "no_drift"})["status"] == "missing_evidence"
    fraud.registry.set_alias(MODEL, "production", 1)
    fraud.endpoints.create("fraud", "scorer", MODEL)
    assert one(fraud, traffic)["status"] == "missing_evidence"  # no traffic yet
    version_id = fraud.registry.version(MODEL, 1).id
    state.traffic(fraud, "fraud/scorer", version_id, 3, "canary")
    short = one(fraud, traffic)
    assert short["status"] == "fail" and short["details"]["minutes"] == 3
    state.traffic(fraud, "fraud/scorer", version_id, 6, "primary")
    assert one(fraud, traffic)["status"] == "fail"  # primary traffic is not canary traffic
    assert one(fraud, {**traffic, "role": "any"})["status"] == "pass"
    strict = one(fraud, {**traffic, "role": "any", "max_error_rate": 0.001})
    assert strict["status"] == "fail"
    drift = one(fraud, {"type": "no_drift", "window": "1h"})
    assert drift["status"] == "missing_evidence"  # summaries, but no logged inputs
    assert drift["evidence"] == ["endpoint:fraud/scorer"]


def test_genai_criteria(workspace: Workspace, fraud: Services) -> None:
    prompt = "prompt:fraud/explain@1"
    assert one(fraud, {"type": "prompt_versioned"})["status"] == "missing_evidence"
    fraud.prompts.create("fraud/explain", "Why is {{ txn }} risky?", {"txn": "string"})
    assert one(fraud, {"type": "prompt_versioned"}, prompt)["status"] == "pass"
    assert one(fraud, {"type": "prompt_versioned"})["status"] == "pass"
    assert one(fraud, {"type": "training_data_recorded"}, prompt)["status"] == "missing_evidence"
    assert one(fraud, {"type": "model_card_complete"}, prompt)["status"] == "missing_evidence"

    score = {"type": "eval_metric", "scorer": "contains", "min": 0.9}
    assert one(fraud, score, prompt)["status"] == "missing_evidence"
    run_id = state.eval_run(fraud, "fraud/explain-cases", "fraud/explain@1", "contains", 0.95)
    passed = one(fraud, score, prompt)
    assert passed["status"] == "pass" and passed["evidence"] == [f"eval_run:{run_id}"]
    assert one(fraud, {**score, "min": 0.99}, prompt)["status"] == "fail"
    assert one(fraud, {**score, "scorer": "faithfulness"}, prompt)["status"] == "missing_evidence"

    attack = {"type": "attack_success_max", "max": 0.05}
    assert one(fraud, attack, prompt)["status"] == "missing_evidence"
    state.redteam_run(fraud, "fraud", "fraud/explain@1", 40, 1)
    assert one(fraud, attack, prompt)["status"] == "pass"
    state.redteam_run(fraud, "fraud", "fraud/explain@1", 10, 5)
    assert one(fraud, attack, prompt)["message"].startswith("attack success 50%")

    pii = {"type": "pii_redaction_on", "app": "assistant"}
    assert one(fraud, pii, prompt)["status"] == "missing_evidence"
    fraud.guards.set_policy("fraud", "assistant", {"input": [{"type": "injection"}]})
    assert one(fraud, pii, prompt)["status"] == "fail"
    fraud.guards.set_policy("fraud", "assistant", {"input": [{"type": "pii"}]})
    assert one(fraud, pii, prompt)["status"] == "pass"

    assert one(fraud, {"type": "feedback_enabled"}, prompt)["status"] == "missing_evidence"
    state.feedback(fraud, "fraud")
    assert one(fraud, {"type": "feedback_enabled"}, prompt)["status"] == "pass"
    assert one(fraud, {"type": "feedback_enabled", "min_feedback": 2}, prompt)["status"] == "fail"
