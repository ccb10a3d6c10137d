"""Environments and releases through the CLI, the REST API and the SDK (both transports)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from passline.cli.main import main
from passline.errors import Conflict, NotFound
from passline.sdk.client import Client
from passline.services.workspace import Services, Workspace
from tests.environments.conftest import setup_envs
from tests.gates.conftest import MODEL, train


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_end_to_end(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PASSLINE_HOME", str(tmp_path / "ws"))
    workspace = Workspace.open()
    setup_envs(workspace)
    train(workspace, 0.9)
    workspace.close()

    code, out, _ = cli(capsys, "env", "list", "fraud")
    assert code == 0 and "dev" in out and "production" in out and "required" in out
    code, out, _ = cli(
        capsys,
        "env", "set", "fraud", "staging",
        "--gate", "smoke", "--endpoint", "scorer-staging",
        "--setting", "replicas=2", "--setting", "region=eu", "--no-require-approval",
    )  # fmt: skip
    assert code == 0 and "fraud/smoke" in out and "scorer-staging" in out
    code, out, _ = cli(capsys, "env", "show", "fraud", "staging", "--json")
    env = json.loads(out)["environment"]
    assert env["settings"] == {"replicas": 2, "region": "eu"} and env["require_approval"] is False
    code, _, err = cli(capsys, "env", "set", "fraud", "qa", "--setting", "oops")
    assert code == 2 and "--setting takes KEY=VALUE" in err

    code, out, _ = cli(capsys, "release", "create", MODEL, "--version", "1", "--to", "dev")
    assert code == 0 and "(first environment) -> dev released" in out
    code, out, _ = cli(capsys, "release", "create", MODEL, "-v", "1", "--to", "staging")
    assert code == 0 and "dev -> staging released" in out and "gate fraud/smoke passes" in out
    code, _, err = cli(capsys, "release", "create", MODEL, "-v", "2", "--to", "staging")
    assert code == 4 and "v2 is not in dev; release it there first" in err
    code, _, err = cli(capsys, "release", "create", MODEL, "-v", "1", "--to", "prod")
    assert code == 3 and "its environments are dev, staging, production" in err

    code, out, _ = cli(capsys, "release", "create", MODEL, "-v", "2", "--to", "dev", "--json")
    second = json.loads(out)
    assert code == 0 and second["previous_version"] == 1
    code, out, _ = cli(capsys, "release", "rollback", second["id"], "--reason", "bad")
    assert code == 0 and "in dev is v1 again (was v2); took" in out and " ms " in out
    code, out, _ = cli(capsys, "release", "list", "fraud", "--env", "dev", "--json")
    assert [r["status"] for r in json.loads(out)] == ["rollback", "rolled_back", "released"]
    code, out, _ = cli(capsys, "release", "list", "fraud")
    assert code == 0 and "refused" in out and "rollback" in out
    code, out, _ = cli(capsys, "release", "show", second["id"])
    assert code == 0 and "rolled back by" in out


def test_rest_api(app_client: TestClient, envs: Services) -> None:
    headers = {"Authorization": f"Bearer {envs.identity.create_token('t').secret}"}
    base = "/api/v1/projects/fraud/environments"
    listed = app_client.get(base, headers=headers)
    assert [e["name"] for e in listed.json()] == ["dev", "staging", "production"]
    put = app_client.put(f"{base}/qa", json={"position": 1, "gates": ["smoke"]}, headers=headers)
    assert put.status_code == 200 and put.json()["gates"] == ["fraud/smoke"]
    assert app_client.get(f"{base}/qa", headers=headers).json()["position"] == 1
    assert app_client.delete(f"{base}/qa", headers=headers).status_code == 204

    body = {"subject": MODEL, "version": 1, "to": "dev", "reason": "api"}
    created = app_client.post("/api/v1/releases", json=body, headers=headers)
    assert created.status_code == 201 and created.json()["status"] == "released"
    missing = app_client.post("/api/v1/releases", json={**body, "to": "qa"}, headers=headers)
    assert missing.status_code == 404
    assert "its environments are dev, staging, production" in missing.json()["message"]
    skipped = app_client.post(
        "/api/v1/releases", json={**body, "to": "production"}, headers=headers
    )
    assert skipped.status_code == 409 and skipped.json()["details"]["release"].startswith("rel_")
    release_id = created.json()["id"]
    assert app_client.get(f"/api/v1/releases/{release_id}", headers=headers).json()["reason"] == (
        "api"
    )
    history = app_client.get("/api/v1/projects/fraud/releases?environment=dev", headers=headers)
    assert [r["id"] for r in history.json()] == [release_id]
    back = app_client.post(
        f"/api/v1/releases/{release_id}/rollback", json={"reason": "x"}, headers=headers
    )
    assert back.status_code == 201 and back.json()["duration_ms"] > 0
    assert back.json()["version"] is None  # dev held nothing before
    assert app_client.get(base).status_code == 401


def test_sdk_on_both_transports(sdk: Client, workspace: Workspace) -> None:
    setup_envs(workspace)
    envs = sdk.environments
    assert [e.name for e in envs.list("fraud")] == ["dev", "staging", "production"]
    changed = envs.configure("fraud", "staging", gates=["smoke"], settings={"replicas": 2})
    assert changed.gates == ["fraud/smoke"] and envs.get("fraud", "staging") == changed
    first = envs.release(MODEL, 1, to="dev")
    staged = envs.release(MODEL, 1, to="staging", reason="sdk")
    assert staged.gates[0]["passed"] and staged.from_environment == "dev"
    assert [r.id for r in envs.releases("fraud", "dev")] == [first.id]
    assert envs.get_release(staged.id) == staged
    with pytest.raises(NotFound, match="its environments are dev, staging, production"):
        envs.release(MODEL, 1, to="qa")
    with pytest.raises(Conflict, match="is not the live release|already in"):
        envs.release(MODEL, 1, to="dev")
    back = envs.rollback(staged.id)
    assert back.rollback_of == staged.id and back.duration_ms > 0
    envs.configure("fraud", "qa")
    envs.delete("fraud", "qa")
    assert len(envs.list("fraud")) == 3
