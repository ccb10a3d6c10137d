"""Evaluation end to end on each surface: the CLI (with its exit codes), the REST API (runs
in the server's background, followed by polling) and the SDK on both transports."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient

from passline.cli.main import main
from passline.llm.types import Message
from passline.sdk.client import Client
from passline.server.app import create_app
from passline.services.workspace import Workspace
from tests.evaluation.conftest import FakeModel

SUITE = """\
description: arithmetic
scorers:
  - contains
  - {type: numeric, tolerance: 0}
cases:
  - id: add
    question: What is 2 + 2?
    expected: "4"
  - id: times
    question: What is 6 times 7?
    expected: 42
  - id: minus
    question: What is 10 - 3?
    expected: 7
"""


def calculator(messages: list[Message]) -> str:
    question = messages[-1].content
    return {"What is 2 + 2?": "4", "What is 6 times 7?": "42"}.get(question, "I think 8.")


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_the_cli_end_to_end(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    fake_model: FakeModel,
) -> None:
    monkeypatch.setenv("PASSLINE_HOME", str(tmp_path / "ws"))
    fake_model.reply = calculator
    (tmp_path / "suite.yaml").write_text(SUITE)
    assert run(capsys, "projects", "create", "math")[0] == 0
    code, out, _ = run(
        capsys, "eval", "suite", "create", "math/basics", "-f", str(tmp_path / "suite.yaml")
    )
    assert code == 0 and "math/basics@v1: 3 cases, scorers contains, numeric" in out
    code, out, _ = run(capsys, "eval", "suite", "show", "math/basics")
    assert "What is 6 times 7?" in out
    code, out, _ = run(capsys, "eval", "suite", "list", "--json")
    assert [s["name"] for s in json.loads(out)] == ["basics"]

    code, out, err = run(
        capsys,
        "eval",
        "run",
        "math/basics",
        "--target",
        "model:fake",
        "-j",
        "2",
        "--check",
        "numeric >= 0.9",
    )
    assert code == 1, err  # the release check failed: a CI gate
    assert "release check FAILED: numeric >= 0.9" in out and "3 cases (0 errored)" in out
    code, out, _ = run(capsys, "eval", "run", "math/basics", "-t", "model:fake", "--json")
    first = json.loads(out)
    assert code == 0 and first["aggregates"]["scorers"]["numeric"]["mean"] == pytest.approx(2 / 3)
    assert [r["case_id"] for r in first["results"]] == ["add", "times", "minus"]
    assert run(capsys, "eval", "label", first["id"], "production")[0] == 0

    fake_model.reply = lambda messages: "I don't know."
    code, out, _ = run(capsys, "eval", "run", "math/basics", "-t", "model:fake", "--json")
    second = json.loads(out)
    code, out, _ = run(capsys, "eval", "compare", first["id"], second["id"], "--json")
    compared = json.loads(out)
    assert code == 0 and compared["baseline"] == first["id"]
    assert {d["scorer"]: d["diff"] for d in compared["scorers"]} == {
        "contains": pytest.approx(-2 / 3),
        "numeric": pytest.approx(-2 / 3),
    }
    code, out, _ = run(capsys, "eval", "compare", first["id"], second["id"])
    assert "B - A" in out and "-0.667" in out
    code, out, _ = run(capsys, "eval", "runs")
    assert code == 0 and "production" in out
    code, out, _ = run(capsys, "eval", "show", second["id"])
    assert "I don't know." in out
    code, out, _ = run(capsys, "eval", "scorers")
    assert "groundedness" in out and "llm_judge" in out

    (tmp_path / "bad.yaml").write_text("cases:\n  - id: add\n    question: Q?\n    expcted: 4\n")
    code, _, err = run(
        capsys, "eval", "suite", "create", "math/basics", "-f", str(tmp_path / "bad.yaml")
    )
    assert code == 2 and "Case 'add' (case 1): unknown field 'expcted'" in err
    assert "Traceback" not in err
    code, _, err = run(capsys, "eval", "run", "math/basics", "-t", "nonsense")
    assert code == 2 and "A target is TYPE:VALUE" in err


@pytest.fixture
def http(workspace: Workspace) -> Any:
    admin = workspace.services(workspace.local_context("sdk"))
    admin.projects.create("math")
    token = admin.identity.create_token("eval-tests").secret
    with TestClient(create_app(workspace=workspace)) as client:
        client.headers["Authorization"] = f"Bearer {token}"
        yield client


def test_the_rest_api_starts_runs_in_the_background(
    http: TestClient, fake_model: FakeModel
) -> None:
    fake_model.reply = calculator
    suite = yaml.safe_load(SUITE)
    made = http.post(
        "/api/v1/eval/suites",
        json={"suite": "math/basics", "cases": suite["cases"], "scorers": suite["scorers"]},
    )
    assert made.status_code == 201 and made.json()["version"] == 1
    assert http.get("/api/v1/eval/suites/math/basics").json()["case_count"] == 3
    assert http.get("/api/v1/eval/suites/math/basics@1").json()["version"] == 1
    assert http.get("/api/v1/eval/suites", params={"project": "math"}).json()[0]["name"] == "basics"
    started = http.post(
        "/api/v1/eval/runs",
        json={
            "suite": "math/basics",
            "target": "model:fake",
            "concurrency": 2,
            "check": "contains >= 0.5",
        },
    )
    assert started.status_code == 202 and started.json()["status"] == "running"
    run_id = started.json()["id"]
    body = started.json()
    deadline = time.monotonic() + 30
    while body["status"] == "running" and time.monotonic() < deadline:
        time.sleep(0.05)
        body = http.get(f"/api/v1/eval/runs/{run_id}", params={"results": "false"}).json()
    assert body["status"] == "completed" and body["check"]["passed"] is True
    full = http.get(f"/api/v1/eval/runs/{run_id}").json()
    assert len(full["results"]) == 3
    assert http.put(f"/api/v1/eval/runs/{run_id}/labels/production").json()["labels"] == [
        "production"
    ]
    compared = http.post("/api/v1/eval/compare", json={"baseline": run_id, "candidate": run_id})
    assert {d["verdict"] for d in compared.json()["scorers"]} == {"no significant change"}
    bad = http.post("/api/v1/eval/suites", json={"suite": "math/x", "cases": [{"id": "a"}]})
    assert (
        bad.status_code == 422
        and "Case 'a' (case 1): field 'question' is missing" in (bad.json()["message"])
    )
    assert http.get("/api/v1/eval/runs/evr_nope").status_code == 404
    assert http.get("/api/v1/eval/scorers").json()["refusal"]
    online = http.post("/api/v1/projects/math/eval/online", json={"sample": 5})
    assert online.status_code == 200 and online.json()["scored"] == 0  # eval traces excluded
    assert http.get("/api/v1/projects/math/eval/online").json() == []
    scheduled = http.put(
        "/api/v1/projects/math/eval/online/schedule", json={"schedule": "0 * * * *"}
    )
    assert scheduled.json()["enabled"] is True and scheduled.json()["next_run_at"]


def test_the_sdk_on_both_transports(sdk: Client, fake_model: FakeModel) -> None:
    fake_model.reply = calculator
    sdk.create_project("math")
    ev = sdk.evaluation
    version = ev.create_suite(
        "math/basics",
        [{"id": "add", "question": "What is 2 + 2?", "expected": "4"}],
        ["contains"],
    )
    assert ev.suite("math/basics").id == version.id
    seen: list[tuple[int, int]] = []
    result = ev.run(
        "math/basics",
        "model:fake",
        concurrency=1,
        progress=lambda done, total: seen.append((done, total)),
    )
    assert result.status == "completed" and result.means() == {"contains": 1.0}
    assert seen[-1] == (1, 1)
    assert [r.id for r in ev.runs(suite="math/basics")] == [result.id]
    added = ev.add_cases(
        "math/basics", [{"id": "times", "question": "What is 6 times 7?", "expected": "42"}]
    )
    assert added.version == 2 and [v.version for v in ev.suite_versions("math/basics")] == [2, 1]
    assert ev.compare(result.id, result.id).regressions == []
    assert "contains" in ev.scorers()
