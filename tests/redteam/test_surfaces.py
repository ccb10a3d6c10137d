"""The CLI, the REST API and the SDK (both transports) end to end, on the weak fake model."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from passline.cli.main import main
from passline.sdk.client import Client
from passline.services.workspace import Services
from tests.redteam.conftest import FakeModel


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_run_list_show_to_case_probes(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    obeying: FakeModel,
) -> None:
    monkeypatch.setenv("PASSLINE_HOME", str(tmp_path / "ws"))
    assert cli(capsys, "projects", "create", "hr")[0] == 0
    target = ["--target", "model:default", "-p", "hr", "-n", "1"]
    code, out, err = cli(capsys, "redteam", "run", *target, "-c", "prompt_injection", "--json")
    assert code == 0, err
    run = json.loads(out)
    assert run["status"] == "completed" and run["successes"] == 1

    code, out, _ = cli(
        capsys, "redteam", "run", *target, "-c", "system_prompt_leak,output_handling"
    )
    assert code == 0
    assert "By category" in out and "LLM07 System Prompt Leakage" in out
    assert "planted canary" in out and "user:" in out  # a transcript of a successful attack

    code, out, _ = cli(capsys, "redteam", "list", "-p", "hr", "--json")
    assert code == 0 and len(json.loads(out)) == 2
    code, out, _ = cli(capsys, "redteam", "show", run["id"], "--all")
    assert code == 0 and "Attempts" in out and run["results"][0]["id"] in out
    attempt = run["results"][0]["id"]
    code, out, _ = cli(capsys, "redteam", "to-case", attempt, "--suite", "hr/findings", "--json")
    assert code == 0 and json.loads(out)["case_count"] == 1
    code, out, _ = cli(capsys, "redteam", "probes", "-c", "encoding", "--json")
    assert code == 0 and {p["category"] for p in json.loads(out)} == {"encoding"}
    code, _, err = cli(capsys, "redteam", "run", *target, "-c", "nope")
    assert code != 0 and "Unknown red-team category 'nope'" in err


def test_rest_api(app_client: TestClient, admin: Services, obeying: FakeModel) -> None:
    admin.projects.create("hr")
    headers = {"Authorization": f"Bearer {admin.identity.create_token('t').secret}"}
    body = {
        "target": "model:default",
        "project": "hr",
        "categories": ["prompt_injection"],
        "limit": 2,
    }
    started = app_client.post("/api/v1/redteam/runs", json=body, headers=headers)
    assert started.status_code == 202, started.text
    run_id = started.json()["id"]
    for _ in range(200):
        run = app_client.get(f"/api/v1/redteam/runs/{run_id}", headers=headers).json()
        if run["status"] != "running":
            break
        time.sleep(0.05)
    assert run["status"] == "completed" and run["successes"] == 2
    attempt = run["results"][0]["id"]
    one = app_client.get(f"/api/v1/redteam/attempts/{attempt}", headers=headers)
    assert one.json()["outcome"] == "success"
    made = app_client.post(
        f"/api/v1/redteam/attempts/{attempt}/case", json={"suite": "hr/rt"}, headers=headers
    )
    assert made.status_code == 201 and made.json()["suite"] == "hr/rt"
    listed = app_client.get("/api/v1/redteam/runs", params={"project": "hr"}, headers=headers)
    assert [r["id"] for r in listed.json()] == [run_id]
    probes = app_client.get(
        "/api/v1/redteam/probes", params={"categories": ["bias"]}, headers=headers
    )
    assert probes.status_code == 200 and probes.json()[0]["category"] == "bias"
    missing = app_client.get("/api/v1/redteam/runs/rtr_x", headers=headers)
    assert missing.status_code == 404
    assert app_client.get("/api/v1/redteam/runs").status_code == 401


def test_sdk_on_both_transports(sdk: Client, obeying: FakeModel) -> None:
    sdk.create_project("hr")
    seen: list[tuple[int, int]] = []
    run = sdk.redteam.run(
        "model:default",
        ["prompt_injection", "misinformation"],
        project="hr",
        limit=1,
        progress=lambda done, total: seen.append((done, total)),
    )
    assert run.status == "completed" and run.attempts == 2 and run.asr == 1.0
    assert seen and seen[-1] == (2, 2)
    assert sdk.redteam.get_run(run.id).results == run.results
    assert sdk.redteam.attempt(run.results[0].id).id == run.results[0].id
    version = sdk.redteam.to_case(run.results[0].id, "hr/findings", case_id="finding-1")
    assert [c["id"] for c in version.cases] == ["finding-1"]
    assert [r.id for r in sdk.redteam.runs("hr")] == [run.id]
    assert len(sdk.redteam.probes(["harmful"])) == 5
