"""The CLI end to end: real commands on a real workspace; user errors never print a trace."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from passline.cli.main import main


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("PASSLINE_HOME", str(tmp_path / "ws"))
    return tmp_path / "ws"


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def run_json(capsys: pytest.CaptureFixture[str], *args: str) -> object:
    code, out, err = run(capsys, *args, "--json")
    assert code == 0, err
    return json.loads(out)


def test_projects_artifacts_lineage_audit(
    home: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert run(capsys, "projects", "create", "retail", "-d", "Demand")[0] == 0
    assert [p["name"] for p in run_json(capsys, "projects", "list")] == ["retail"]
    source = tmp_path / "sales.csv"
    source.write_text("a,b\n1,2\n")
    artifact = run_json(capsys, "artifacts", "put", "retail", str(source))
    assert (
        run(capsys, "lineage", "register", "source:erp", "--label", "ERP", "-p", "retail")[0] == 0
    )
    code, out, _ = run(
        capsys,
        "lineage",
        "link",
        "source:erp",
        f"artifact:{artifact['id']}",
        "--type",
        "ingested_as",
    )
    assert code == 0 and "--ingested_as-->" in out
    graph = run_json(capsys, "lineage", f"artifact:{artifact['id']}", "--up")
    assert [n["ref"] for n in graph["nodes"]] == ["source:erp", f"artifact:{artifact['id']}"]
    down = run_json(capsys, "lineage", "source:erp", "--down", "--depth", "1")
    assert len(down["edges"]) == 1
    code, out, _ = run(capsys, "artifacts", "get", artifact["id"], str(tmp_path / "back.csv"))
    assert code == 0 and (tmp_path / "back.csv").read_text() == "a,b\n1,2\n"
    entries = run_json(capsys, "audit", "log", "--object", "project:retail")
    assert entries[0]["action"] == "project.create" and entries[0]["origin"] == "cli"
    code, out, _ = run(capsys, "audit", "verify")
    assert code == 0 and "intact" in out
    code, out, _ = run(capsys, "artifacts", "verify")
    assert code == 0 and "match their SHA-256" in out


def test_tokens_create_list_revoke(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    created = run_json(capsys, "tokens", "create", "laptop", "--ttl-days", "3")
    assert created["secret"].startswith(created["info"]["id"])
    listed = run_json(capsys, "tokens", "list")
    assert listed[0]["id"] == created["info"]["id"] and "secret" not in json.dumps(listed)
    code, out, _ = run(capsys, "tokens", "revoke", created["info"]["id"])
    assert code == 0 and "Revoked" in out
    code, _, err = run(capsys, "tokens", "revoke", created["info"]["id"])
    assert code == 4 and "already revoked" in err


@pytest.mark.parametrize(
    ("args", "exit_code", "message"),
    [
        (["lineage", "artifact:nope"], 3, "No object 'artifact:nope'"),
        (["lineage", "nope"], 2, "must look like 'kind:key'"),
        (["projects", "show", "ghost"], 3, "No project named 'ghost'"),
        (["projects", "create", "Bad Name"], 2, "project name must be"),
        (["projects", "add-member", "ghost", "x", "--role", "boss"], 2, "role must be one of"),
        (["artifacts", "put", "ghost", "/nonexistent.csv"], 2, "not a readable file"),
        (["lineage", "link", "source:a", "source:b", "-t", "x", "--attrs", "{bad"], 2, "JSON"),
    ],
)
def test_user_errors_are_messages_with_exit_codes(
    home: Path, capsys: pytest.CaptureFixture[str], args: list[str], exit_code: int, message: str
) -> None:
    code, out, err = run(capsys, *args)
    assert code == exit_code
    assert message in " ".join(err.split())
    assert "Traceback" not in out + err


def test_conflict_names_the_existing_project(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run(capsys, "projects", "create", "p")
    code, _, err = run(capsys, "projects", "create", "p")
    assert code == 4 and "A project named 'p' already exists (id prj_" in err


def test_audit_verify_fails_after_a_row_is_edited_by_hand(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import sqlite3

    run(capsys, "demo", "--quick")
    assert run(capsys, "audit", "verify")[0] == 0
    with sqlite3.connect(home / "passline.db") as db:
        db.execute("UPDATE audit_events SET actor = 'mallory' WHERE seq = 5")
    code, _, err = run(capsys, "audit", "verify")
    assert code == 8 and "entry 5 was changed" in err


def test_unreachable_database_names_the_url_without_password(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PASSLINE_HOME", str(tmp_path))
    monkeypatch.setenv(
        "PASSLINE_DATABASE_URL", "postgresql+psycopg://admin:s3cretpw@127.0.0.1:1/passline"
    )
    code, out, err = run(capsys, "projects", "list")
    assert code == 7
    assert (
        "Cannot connect to the metadata database at postgresql+psycopg://admin:***@127.0.0.1:1"
        in err
    )
    assert "s3cretpw" not in out + err and "Traceback" not in err


def test_console_script_runs_for_real(tmp_path: Path) -> None:
    env = {**os.environ, "PASSLINE_HOME": str(tmp_path / "ws")}
    exe = Path(sys.executable).with_name("passline")
    command = [str(exe), "demo", "--quick"]  # the whole demo is measured by make demo
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr
    assert "token:" in done.stdout and "http://127.0.0.1:8765/login" in done.stdout
    again = subprocess.run(command, env=env, capture_output=True, text=True, timeout=180)
    assert again.returncode == 0, again.stderr
    health = subprocess.run(
        [str(exe), "up", "--get", "/api/v1/health"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert json.loads(health.stdout)["status"] == "ok"


def test_help_works_everywhere(capsys: pytest.CaptureFixture[str]) -> None:
    for args in (["-h"], ["projects", "-h"], ["lineage", "-h"], ["audit", "log", "--help"]):
        code, out, _ = run(capsys, *args)
        assert code == 0 and "Usage" in out
