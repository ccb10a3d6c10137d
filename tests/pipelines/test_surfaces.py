"""Pipelines through the CLI, the REST API and the SDK on both transports."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from passline.cli.main import main
from passline.pipelines.runner import run_pipeline
from passline.pipelines.worker import run_queued
from passline.sdk.client import Client
from passline.services.workspace import Services, Workspace
from tests.conftest import services_as
from tests.pipelines import steps
from tests.pipelines.conftest import setup_retail

STEPS_FILE = Path(steps.__file__)


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_end_to_end(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PASSLINE_HOME", str(tmp_path / "ws"))
    workspace = Workspace.open()
    setup_retail(workspace)
    workspace.close()
    source = f"{STEPS_FILE}:RETRAIN"

    code, out, err = cli(capsys, "pipeline", "run", source)
    assert code == 0, err
    assert "retail/retrain: succeeded" in out and "0 of 3 steps cached" in out
    assert "model: retail/demand v1 (new version)" in out and "metric mae:" in out
    code, out, _ = cli(capsys, "pipeline", "run", "retail/retrain", "-p", "alpha=1.0")
    assert code == 0 and "3 of 3 steps cached" in out and "already registered" in out
    code, out, err = cli(capsys, "pipeline", "run", source, "-p", "fail=true", "-e", "inline")
    assert code == 1 and "failed" in out and "no rows for week 53" in err
    code, out, _ = cli(capsys, "pipeline", "show", "retail/retrain", "--json")
    shown = json.loads(out)
    assert shown["status"] == "failed" and shown["steps"][1]["status"] == "failed"
    code, out, _ = cli(capsys, "pipeline", "runs", "retail/retrain", "--json")
    assert [r["status"] for r in json.loads(out)] == ["failed", "succeeded", "succeeded"]
    code, out, _ = cli(capsys, "pipeline", "list", "retail")
    assert code == 0 and "retail/retrain" in out

    code, out, _ = cli(
        capsys, "pipeline", "trigger", "retail/retrain", "--on-dataset", "retail/sales"
    )
    assert code == 0 and "on dataset retail/sales" in out
    code, out, _ = cli(capsys, "pipeline", "schedule", "retail/retrain", "--cron", "0 5 * * 1")
    assert code == 0 and "next at" in out
    code, out, _ = cli(capsys, "pipeline", "triggers", "retail", "--json")
    triggers = json.loads(out)
    assert sorted(t["kind"] for t in triggers) == ["dataset", "schedule"]
    assert cli(capsys, "pipeline", "untrigger", triggers[0]["id"])[0] == 0
    code, out, _ = cli(capsys, "pipeline", "run-queued")
    assert code == 0 and "Nothing queued." in out


def test_cli_bad_inputs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PASSLINE_HOME", str(tmp_path / "ws"))
    workspace = Workspace.open()
    setup_retail(workspace)
    workspace.close()
    looped = tmp_path / "looped.py"
    looped.write_text(
        "from passline.pipelines import Dataset, Pipeline, step\n"
        "@step\ndef a(b: Dataset) -> Dataset: return b\n"
        "@step\ndef b(a: Dataset) -> Dataset: return a\n"
        "P = Pipeline('looped', project='retail', steps=[a, b])\n"
    )
    code, _, err = cli(capsys, "pipeline", "run", f"{looped}:P")
    assert code == 2 and "form a cycle" in err and "Traceback" not in err
    code, _, err = cli(capsys, "pipeline", "run", f"{tmp_path}/missing.py:P")
    assert code == 3 and "No pipeline file" in err
    code, _, err = cli(capsys, "pipeline", "run", f"{looped}:nothing")
    assert code == 2 and "is not a passline Pipeline" in err
    code, _, err = cli(capsys, "pipeline", "run", f"{STEPS_FILE}:RETRAIN", "-p", "alpha")
    assert code == 2 and "--param takes NAME=VALUE" in err
    code, _, err = cli(capsys, "pipeline", "schedule", "retail/retrain", "--cron", "0 5 * * *")
    assert code == 3 and "no pipeline named 'retrain'" in err
    code, _, err = cli(capsys, "pipeline", "schedule", "retail/retrain", "--cron", "daily")
    assert code == 2 and "cron expression" in err
    code, _, err = cli(capsys, "pipeline", "show", "plr_nope")
    assert code == 3 and "No pipeline run with id 'plr_nope'" in err


def test_rest_api(app_client: TestClient, alice: Services) -> None:
    run = run_pipeline(
        alice, steps.retrain(source="tests.pipelines.steps:RETRAIN"), executor="inline"
    )
    token = alice.identity.create_token("t").secret
    headers = {"Authorization": f"Bearer {token}"}
    listed = app_client.get("/api/v1/projects/retail/pipelines", headers=headers).json()
    assert [p["name"] for p in listed] == ["retrain"]
    shown = app_client.get("/api/v1/pipelines/retail/retrain", headers=headers).json()
    assert shown["last_run"]["id"] == run.id
    found = app_client.get(f"/api/v1/pipeline-runs/{run.id}", headers=headers).json()
    assert [s["status"] for s in found["steps"]] == ["succeeded"] * 3
    queued = app_client.post(
        "/api/v1/pipelines/retail/retrain/runs",
        json={"params": {"alpha": 2.0}, "executor": "inline"},
        headers=headers,
    )
    assert queued.status_code == 202 and queued.json()["status"] == "queued"
    assert run_queued(alice.workspace) == [("retail/retrain", "succeeded")]
    runs = app_client.get("/api/v1/pipeline-runs", params={"ref": "retail"}, headers=headers)
    assert [r["status"] for r in runs.json()] == ["succeeded", "succeeded"]
    added = app_client.post(
        "/api/v1/pipelines/retail/retrain/triggers",
        json={"kind": "alert", "target": "retail/drift"},
        headers=headers,
    )
    assert added.status_code == 201
    gone = app_client.delete(f"/api/v1/pipeline-triggers/{added.json()['id']}", headers=headers)
    assert gone.status_code == 204
    vera = services_as(alice.workspace, "vera").identity.create_token("v").secret
    refused = app_client.post(
        "/api/v1/pipelines/retail/retrain/runs",
        json={},
        headers={"Authorization": f"Bearer {vera}"},
    )
    assert refused.status_code == 403
    assert app_client.get("/api/v1/projects/retail/pipelines").status_code == 401
    missing = app_client.get("/api/v1/pipelines/retail/nope", headers=headers)
    assert missing.status_code == 404


def test_sdk_on_both_transports(sdk: Client, workspace: Workspace) -> None:
    setup_retail(workspace)
    admin = workspace.services(workspace.local_context("sdk"))
    run_pipeline(admin, steps.retrain(source="tests.pipelines.steps:RETRAIN"), executor="inline")
    api = sdk.pipelines
    assert [p.name for p in api.list("retail")] == ["retrain"]
    queued = api.run("retail/retrain", {"alpha": 3.0}, "inline", wait=False)
    if queued.status == "queued":  # over HTTP the server's scheduler runs it
        run_queued(workspace)
    done = api.follow(queued.id, timeout_s=60)
    assert done.status == "succeeded" and done.params["alpha"] == 3.0
    assert api.get_run(done.id).outputs["models"][0]["version"] == 2
    trigger = api.add_trigger("retail/retrain", "dataset", "retail/sales")
    assert [t.id for t in api.triggers("retail")] == [trigger.id]
    api.remove_trigger(trigger.id)
    assert api.triggers("retail") == []
    assert len(api.runs("retail/retrain")) == 2


def test_cli_batch_scoring_and_drift(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from passline.data.connectors.memory import TableConnector
    from tests.pipelines.conftest import sales_rows

    monkeypatch.setenv("PASSLINE_HOME", str(tmp_path / "ws"))
    workspace = Workspace.open()
    alice = setup_retail(workspace)
    run_pipeline(alice, steps.retrain(), executor="inline")
    wide = [{**r, "price_sq": r["price"] ** 2} for r in sales_rows()]
    alice.ingest.ingest("retail/wide", TableConnector(wide))
    workspace.close()

    code, out, err = cli(
        capsys,
        "pipeline",
        "score",
        "retail/wide",
        "retail/demand@1",
        "--output",
        "retail/scored",
        "--chunk-rows",
        "30",
        "--json",
    )
    assert code == 0, err
    scored = json.loads(out)
    assert scored["rows"] == 80 and scored["output"] == "retail/scored@v1"
    assert scored["peak_rss_mb"]["worker"] > 0
    code, out, _ = cli(
        capsys, "pipeline", "drift", "retail/wide@v1", "retail/scored@v1", "-c", "price", "--json"
    )
    assert code == 0 and json.loads(out)["executor"] == "local"
    code, _, err = cli(capsys, "pipeline", "score", "retail/wide", "retail/nope@1")
    assert code == 3 and "nope" in err
    code, _, err = cli(
        capsys, "--url", "http://127.0.0.1:9", "pipeline", "score", "retail/wide", "retail/demand@1"
    )
    assert code == 2 and "runs where the data is" in err
