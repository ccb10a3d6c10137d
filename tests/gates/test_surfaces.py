"""The scorecard on an empty and a populated workspace; the CLI, REST and SDK end to end."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from fastapi.testclient import TestClient

from passline.cli.main import main
from passline.sdk.client import Client
from passline.services.maturity import UNKNOWN, render_html, render_markdown
from passline.services.workspace import Services, Workspace
from tests.gates import state
from tests.gates.conftest import MODEL, setup_project, train

GATE_YAML = """
description: before production
criteria:
  - type: training_data_recorded
  - type: metric
    name: auc
    op: ">="
    threshold: 0.8
  - type: metric
    name: f1
    threshold: 0.5
"""


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_the_scorecard_of_an_empty_workspace_asks_the_team(admin: Services) -> None:
    card = admin.maturity.scorecard()
    assert {k: v["level"] for k, v in card["levels"].items()} == {
        "devops": 0,
        "mlops": 0,
        "llmops": 0,
    }
    assert {q["answer"] for q in card["questions"]} == {UNKNOWN}
    assert "unknown — ask the team" in render_markdown(card)
    assert render_html(card).startswith("<!doctype html>")


def test_the_scorecard_reads_the_platform(workspace: Workspace, fraud: Services) -> None:
    train(workspace, 0.85)
    fraud.registry.set_alias(MODEL, "staging", 1)
    fraud.registry.set_alias(MODEL, "staging", 2)
    fraud.registry.rollback(MODEL, "staging")
    fraud.registry.set_alias(MODEL, "production", 1)
    fraud.endpoints.create("fraud", "scorer", MODEL)
    state.traffic(fraud, "fraud/scorer", fraud.registry.version(MODEL, 1).id, 2, "primary")
    fraud.prompts.create("fraud/explain", "Why is {{ txn }} risky?", {"txn": "string"})
    state.eval_run(fraud, "fraud/cases", "fraud/explain@1", "groundedness", 0.92)
    state.redteam_run(fraud, "fraud", "fraud/explain@1", 20, 1)
    fraud.guards.set_policy("fraud", "assistant", {"input": [{"type": "pii"}]})
    state.feedback(fraud, "fraud")

    card = fraud.maturity.scorecard("fraud")
    facts = card["facts"]
    assert facts["models_with_lineage"] == 1 and facts["environments"] == ["production", "staging"]
    assert facts["rollbacks_measured"] == 1 and facts["endpoints_with_traffic"] == 1
    assert facts["prompts_evaluated"] == 1 and facts["feedback"] == 1
    assert card["levels"]["llmops"]["met"] == 6
    assert card["levels"]["devops"]["level"] >= 2
    answers = {q["question"]: q["answer"] for q in card["questions"]}
    assert answers["How many environments are there?"].startswith("2: production, staging")
    assert "measured rollback" in answers["How long does a rollback take?"]
    assert answers["What can the model fabricate?"] == "latest measured faithfulness 0.92"
    assert answers["Who handles incidents?"] == UNKNOWN
    assert "pii" in answers["Is there content filtering?"]


def test_scorecards_take_a_handful_of_queries(workspace: Workspace, fraud: Services) -> None:
    """No N+1: the same number of statements for one model or five."""
    from sqlalchemy import event

    def count() -> int:
        seen: list[str] = []
        engine = workspace.db.read_engine
        listener = lambda *a, **k: seen.append(a[2])  # noqa: E731
        event.listen(engine, "before_cursor_execute", listener)
        try:
            fraud.maturity.scorecard("fraud")
        finally:
            event.remove(engine, "before_cursor_execute", listener)
        return len(seen)

    before = count()
    assert 10 <= before <= 30
    for i in range(3):
        train(workspace, 0.8, name=f"fraud/scorer-{i}")
    assert fraud.maturity.scorecard("fraud")["facts"]["models"] == 4
    assert count() == before


def test_cli_end_to_end(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PASSLINE_HOME", str(tmp_path / "ws"))
    workspace = Workspace.open()
    setup_project(workspace)
    workspace.close()
    gate = tmp_path / "gate.yaml"
    gate.write_text(GATE_YAML)
    assert cli(capsys, "gate", "create", "fraud", "release", "--file", str(gate))[0] == 0
    code, out, _ = cli(capsys, "gate", "check", "fraud/release", "--for", f"{MODEL}@1")
    assert code == 1 and "missing evidence" in out and "does not pass" in out
    gate.write_text(GATE_YAML.split("  - type: metric\n    name: f1")[0])
    assert cli(capsys, "gate", "create", "fraud", "release", "-f", str(gate), "--replace")[0] == 0
    code, out, _ = cli(capsys, "gate", "check", "fraud/release", "--for", f"{MODEL}@1", "--json")
    assert code == 0 and json.loads(out)["passed"] is True
    code, out, _ = cli(capsys, "gate", "show", "fraud/release")
    assert code == 0 and "fraud/scorer/v1" in out
    code, out, _ = cli(capsys, "gate", "list", "fraud", "--json")
    assert [g["name"] for g in json.loads(out)] == ["release"]
    code, out, _ = cli(capsys, "gate", "types")
    assert code == 0 and "attack_success_max" in out

    gate.write_text("criteria: [{type: nope}]")
    code, _, err = cli(capsys, "gate", "create", "fraud", "bad", "-f", str(gate))
    assert code == 2 and "unknown type 'nope'" in err

    written = tmp_path / "acceptance.yaml"
    code, out, _ = cli(capsys, "gate", "criteria", "--genai", "-o", str(written), "-p", "fraud")
    assert code == 0 and "Given a model version is a release candidate" in out
    assert "Red-team threshold" in out and "Gate fraud/acceptance defined." in out
    types = [c["type"] for c in yaml.safe_load(written.read_text())["criteria"]]
    assert "pii_redaction_on" in types and "rollback_rehearsed" in types

    code, out, _ = cli(capsys, "maturity", "--project", "fraud")
    assert code == 0 and out.startswith("# Maturity scorecard: fraud")
    code, out, _ = cli(capsys, "maturity", "--format", "json")
    assert json.loads(out)["levels"]["mlops"]["level"] >= 1
    assert cli(capsys, "maturity", "--format", "html", "-o", str(tmp_path / "m.html"))[0] == 0
    assert "<h1>Maturity scorecard: workspace</h1>" in (tmp_path / "m.html").read_text()
    code, _, err = cli(capsys, "maturity", "--format", "pdf")
    assert code == 2 and "--format must be one of md, html, json" in err


def test_rest_api(app_client: TestClient, fraud: Services) -> None:
    headers = {"Authorization": f"Bearer {fraud.identity.create_token('t').secret}"}
    base = "/api/v1/projects/fraud/gates"
    body = {"name": "release", "criteria": [{"type": "metric", "name": "auc", "threshold": 0.9}]}
    created = app_client.post(base, json=body, headers=headers)
    assert created.status_code == 201 and created.json()["criteria"][0]["name"] == "auc"
    bad = app_client.post(base, json={"name": "x", "criteria": [{"type": "?"}]}, headers=headers)
    assert bad.status_code == 422 and "unknown type" in bad.text
    checked = app_client.post(
        f"{base}/release/check", json={"target": f"{MODEL}@1"}, headers=headers
    )
    assert checked.status_code == 200 and checked.json()["passed"] is False
    assert checked.json()["results"][0]["message"] == "auc = 0.83 (needs >= 0.9)"
    history = app_client.get(f"{base}/release/evaluations", headers=headers).json()
    assert [e["id"] for e in history] == [checked.json()["id"]]
    assert app_client.get(f"{base}/release", headers=headers).json()["name"] == "release"
    assert len(app_client.get(base, headers=headers).json()) == 1
    assert app_client.get(f"{base}/nope", headers=headers).status_code == 404
    assert len(app_client.get("/api/v1/gates/types", headers=headers).json()) == 12
    acceptance = app_client.get("/api/v1/gates/acceptance-criteria?genai=true", headers=headers)
    assert len(acceptance.json()["criteria"]) == 13
    card = app_client.get("/api/v1/maturity?project=fraud&format=md", headers=headers)
    assert card.headers["content-type"].startswith("text/markdown")
    assert app_client.get("/api/v1/maturity", headers=headers).json()["scope"] == "workspace"
    assert app_client.get("/api/v1/maturity").status_code == 401


def test_sdk_on_both_transports(sdk: Client, workspace: Workspace, tmp_path: Path) -> None:
    setup_project(workspace)
    gate = tmp_path / "gate.yaml"
    gate.write_text(GATE_YAML)
    created = sdk.gates.create("fraud", "release", file=gate)
    assert created.description == "before production" and len(created.criteria) == 3
    result = sdk.gates.check("fraud/release", f"{MODEL}@1")
    assert not result.passed and [r["type"] for r in result.failing()] == ["metric"]
    assert sdk.gates.evaluations("fraud/release")[0].id == result.id
    assert sdk.gates.get("fraud/release").id == created.id
    assert [g.name for g in sdk.gates.list("fraud")] == ["release"]
    assert {t["type"] for t in sdk.gates.types()} >= {"metric", "no_drift"}
    assert "Given" in sdk.gates.criteria(genai=True)["markdown"]
    assert sdk.maturity.scorecard("fraud")["facts"]["models"] == 1
