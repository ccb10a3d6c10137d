"""The same retrieval through the SDK (in-process and HTTP), the REST API and the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from passline.cli.main import main
from passline.errors import InvalidInput, PermissionDenied
from passline.sdk.client import Client
from tests.rag.conftest import ACL_YAML, POLICIES, SALARIES, FakeLLM, write_tree


def setup_hr(sdk: Client, tmp_path: Path) -> tuple[Path, Path]:
    sdk.create_project("hr")
    for user in ("alice", "bob"):
        sdk.create_user(user)
    sdk.groups.create("hr-team", "People team")
    sdk.groups.create("employees")
    sdk.groups.add_member("hr-team", "alice")
    for user in ("alice", "bob"):
        sdk.groups.add_member("employees", user)
    docs = write_tree(tmp_path / "docs", {**POLICIES, **SALARIES})
    acl = docs / "ACL.yaml"  # inside the folder: it is not indexed itself
    acl.write_text(ACL_YAML)
    return docs, acl


def test_the_sdk_behaves_the_same_on_both_transports(
    sdk: Client, tmp_path: Path, fake_llm: FakeLLM
) -> None:
    docs, acl = setup_hr(sdk, tmp_path)
    assert sdk.groups.get("hr-team").members == ["alice"]
    report = sdk.rag.index("hr/handbook", docs, acl_file=acl)  # creates the collection
    assert sorted((f.path, f.status) for f in report.files) == [
        ("policies/leave.md", "added"),
        ("policies/remote.md", "added"),
        ("salaries/bands-2026.txt", "added"),
    ]
    assert {f.status for f in sdk.rag.index("hr/handbook", docs, acl_file=acl).files} == {
        "unchanged"
    }
    [collection] = sdk.rag.collections()
    assert (collection.ref, collection.documents) == ("hr/handbook", 3)
    bob = sdk.rag.retrieve("How much does the CTO earn?", collection="hr/handbook", as_user="bob")
    assert all(p.path.startswith("policies/") for p in bob.passages)
    answer = sdk.rag.ask("How many days of leave?", collection="hr/handbook", as_user="bob")
    assert answer.sources[0].path == "policies/leave.md" and answer.sources[0].cited
    alice = sdk.rag.ask("How much does the CTO earn?", collection="hr/handbook", as_user="alice")
    assert alice.sources[0].path == "salaries/bands-2026.txt"
    seen = sdk.rag.who_saw("hr/handbook:salaries/bands-2026.txt")
    assert [v.user for v in seen.users] == ["alice"]
    assert sdk.rag.document(seen.document.ref) == seen.document
    assert {r.user for r in sdk.rag.asked_by("bob")} == {"bob"}
    assert [d.acl.groups for d in sdk.rag.documents("hr/handbook")] == [
        ["employees"],
        ["employees"],
        ["hr-team"],
    ]
    sdk.groups.remove_member("hr-team", "alice")
    assert sdk.groups.get("hr-team").members == []


def test_errors_are_the_same_on_both_transports(sdk: Client, tmp_path: Path) -> None:
    docs, _ = setup_hr(sdk, tmp_path)
    bad = tmp_path / "bad.yaml"
    bad.write_text("'*': {groups: [nobody-group]}")
    with pytest.raises(InvalidInput, match="names group 'nobody-group' \\(rule '\\*'\\)"):
        sdk.rag.index("hr/handbook", docs, acl_file=bad)
    with pytest.raises(InvalidInput, match="match no ACL rule"):
        sdk.rag.index("hr/handbook", docs, acl_file=_only(tmp_path))
    with pytest.raises(InvalidInput, match="Name the collection as project/name"):
        sdk.rag.retrieve("q", collection="handbook")


def test_rest_routes_need_a_token_and_speak_json(
    app_client: TestClient, admin_token: str, admin: object, tmp_path: Path, fake_llm: FakeLLM
) -> None:
    assert app_client.get("/api/v1/collections").status_code == 401
    auth = {"Authorization": f"Bearer {admin_token}"}
    app_client.post("/api/v1/projects", json={"name": "hr"}, headers=auth)
    made = app_client.post(
        "/api/v1/collections", json={"project": "hr", "name": "kb"}, headers=auth
    )
    assert made.status_code == 201 and made.json()["embedding_model"] == "all-MiniLM-L6-v2"
    import base64

    body = {
        "documents": [{"path": "a.md", "content": base64.b64encode(b"Lunch is at noon.").decode()}],
        "acl": {"roles": ["viewer"]},
    }
    indexed = app_client.post("/api/v1/collections/hr/kb/documents", json=body, headers=auth)
    assert indexed.status_code == 200, indexed.text
    asked = app_client.post(
        "/api/v1/collections/hr/kb/ask", json={"question": "When is lunch?"}, headers=auth
    )
    assert asked.status_code == 200 and asked.json()["sources"][0]["path"] == "a.md"
    refused = app_client.post(
        "/api/v1/collections/hr/kb/retrieve", json={"question": "x", "k": 0}, headers=auth
    )
    assert refused.status_code == 422 and refused.json()["code"] == "invalid_input"


def test_the_cli(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    fake_llm: FakeLLM,
) -> None:
    monkeypatch.setenv("PASSLINE_HOME", str(tmp_path / "ws"))

    def run(*args: str) -> str:
        code = main(list(args))
        out, err = capsys.readouterr()
        assert code == 0, err
        return out

    run("projects", "create", "hr")
    for user in ("alice", "bob"):
        run("users", "create", user)
    for group in ("hr-team", "employees"):
        run("groups", "create", group)
    run("groups", "add-member", "hr-team", "alice")
    run("groups", "add-member", "employees", "bob")
    assert "hr-team" in run("groups", "list")
    docs = write_tree(tmp_path / "docs", {**POLICIES, **SALARIES})
    (tmp_path / "ACL.yaml").write_text(ACL_YAML)
    out = run(
        "rag",
        "index",
        str(docs),
        "--collection",
        "hr/handbook",
        "--acl",
        str(tmp_path / "ACL.yaml"),
    )
    assert "3 added" in out and "groups: hr-team" in out
    assert "other" in run("rag", "create", "hr/other", "--chunk-tokens", "100")
    assert "handbook" in run("rag", "collections")
    assert "salaries/bands-2026.txt" in run("rag", "documents", "hr/handbook")
    out = run("rag", "ask", "How many days of leave?", "--collection", "hr/handbook", "--as", "bob")
    assert "[1] Leave policy (policies/leave.md)" in out
    answer = json.loads(
        run("rag", "ask", "What does the CTO earn?", "-c", "hr/handbook", "--as", "bob", "--json")
    )
    assert all(s["path"].startswith("policies/") for s in answer["sources"])
    found = json.loads(
        run("rag", "retrieve", "CTO salary", "-c", "hr/handbook", "--as", "alice", "--json")
    )
    assert found["passages"][0]["path"] == "salaries/bands-2026.txt"
    out = run("rag", "who-saw", "hr/handbook:salaries/bands-2026.txt")
    assert "alice" in out and "CTO salary" in out
    assert "bob" in run("rag", "asked-by", "bob")
    run("groups", "remove-member", "hr-team", "alice")
    code = main(["rag", "ask", "q", "-c", "hr/handbook", "--as", "nobody"])
    assert code == 3 and "No user named 'nobody'" in capsys.readouterr().err


def test_asking_as_another_user_is_refused_over_http(
    workspace: object, app_client: TestClient, admin: object
) -> None:
    from passline.sdk.transports import HttpTransport

    admin.projects.create("hr")  # type: ignore[attr-defined]
    admin.identity.create_user("bob")  # type: ignore[attr-defined]
    admin.rag.create_collection("hr", "kb")  # type: ignore[attr-defined]
    token = admin.identity.create_token("bob", user="bob").secret  # type: ignore[attr-defined]
    bob = Client(HttpTransport("http://testserver", token, client=app_client))
    with pytest.raises(PermissionDenied, match="'bob' cannot ask as 'root'|cannot ask as"):
        bob.rag.ask("q", collection="hr/kb", as_user=admin.identity.whoami().name)  # type: ignore[attr-defined]


def _only(tmp_path: Path) -> Path:
    path = tmp_path / "only-salaries.yaml"
    path.write_text("salaries/*: {groups: [hr-team]}")
    return path
