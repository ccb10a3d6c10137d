"""The CLI, the REST API and the SDK (both transports) end to end, in rules mode."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from passline.cli.main import main
from passline.sdk.client import Client
from passline.services.workspace import Services
from tests.backlog.test_drafting import MEETING


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_draft_review_export_import(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PASSLINE_HOME", str(tmp_path / "ws"))
    meeting = tmp_path / "meeting.txt"
    meeting.write_text(MEETING)
    out = tmp_path / "stories.csv"
    code, text, err = cli(capsys, "backlog", "draft", str(meeting), "-o", str(out))
    assert code == 0, err
    assert "4 stories drafted" in text and "Action items" in text and "TO BE DEFINED" in text
    assert not out.exists() and "exported only after review" in err

    code, text, _ = cli(capsys, "backlog", "list", "--json")
    stories = json.loads(text)
    assert code == 0 and [s["status"] for s in stories] == ["draft"] * 4
    first, second = stories[0]["id"], stories[1]["id"]
    assert cli(capsys, "backlog", "accept", first)[0] == 0
    code, _, err = cli(
        capsys,
        "backlog",
        "edit",
        second,
        "--points",
        "3",
        "--criterion",
        "Given a store, when I open the dashboard, then I see its forecast",
    )
    assert code == 0, err
    assert cli(capsys, "backlog", "accept", second)[0] == 0
    assert cli(capsys, "backlog", "reject", stories[2]["id"])[0] == 0
    code, text, _ = cli(capsys, "backlog", "show", second)
    assert code == 0 and "Points: 3" in text and "Given a store" in text

    code, _, err = cli(capsys, "backlog", "export", "-o", str(out))
    assert code == 0, err
    rows = list(csv.DictReader(io.StringIO(out.read_text(), newline="")))
    assert [r["Story Points"] for r in rows] == ["5", "3"]

    code, text, err = cli(capsys, "backlog", "import", str(out), "-p", "backlog", "--json")
    assert code == 0, err and len(json.loads(text)["stories"]) == 2
    code, text, _ = cli(capsys, "backlog", "analyse", "--json")
    assert code == 0 and json.loads(text)["stories"] == 5

    forced = tmp_path / "forced.json"
    code, _, err = cli(
        capsys,
        "backlog",
        "draft",
        str(meeting),
        "-p",
        "backlog",
        "--accept-all",
        "--format",
        "jira-json",
        "-o",
        str(forced),
    )
    assert code == 0, err
    assert len(json.loads(forced.read_text())["issueUpdates"]) == 4

    code, text, _ = cli(capsys, "backlog", "summary", str(meeting), "--json")
    assert code == 0 and json.loads(text)["action_items"][0]["owner"] == "Tom"


def test_cli_bad_inputs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PASSLINE_HOME", str(tmp_path / "ws"))
    empty = tmp_path / "empty.vtt"
    empty.write_text("")
    code, _, err = cli(capsys, "backlog", "draft", str(empty))
    assert code == 2 and "empty.vtt is empty" in err
    bad = tmp_path / "notes.docx"
    bad.write_bytes(b"not a zip")
    code, _, err = cli(capsys, "backlog", "draft", str(bad))
    assert code == 2 and "not a readable .docx file" in err
    code, _, err = cli(capsys, "backlog", "draft", str(tmp_path / "missing.txt"))
    assert code == 2 and "not a readable file" in err
    chat = tmp_path / "chat.txt"
    chat.write_text("Ana: Morning all.\n")
    code, text, _ = cli(capsys, "backlog", "draft", str(chat))
    assert code == 0 and "No requirements found" in text


def test_rest_api(app_client: TestClient, admin: Services) -> None:
    admin.projects.create("retail")
    headers = {"Authorization": f"Bearer {admin.identity.create_token('t').secret}"}
    api = "/api/v1/backlog"
    response = app_client.post(
        f"{api}/drafts",
        headers=headers,
        json={"project": "retail", "text": MEETING, "name": "m.txt"},
    )
    assert response.status_code == 201, response.text
    batch = response.json()
    ids = [s["id"] for s in batch["stories"]]
    assert len(ids) == 4 and batch["summary"]["open_questions"]
    assert (
        app_client.get(f"{api}/export", headers=headers, params={"project": "retail"}).status_code
        == 422
    )
    assert (
        app_client.post(f"{api}/stories/{ids[0]}/accept", headers=headers).json()["status"]
        == "accepted"
    )
    response = app_client.patch(
        f"{api}/stories/{ids[1]}", headers=headers, json={"fields": {"priority": "Low"}}
    )
    assert response.json()["priority"] == "Low"
    assert app_client.post(f"{api}/stories/{ids[2]}/reject", headers=headers).status_code == 200
    export = app_client.get(
        f"{api}/export", headers=headers, params={"project": "retail", "format": "jira-json"}
    ).json()
    assert export["count"] == 1 and json.loads(export["content"])["issueUpdates"]
    stories = app_client.get(
        f"{api}/stories", headers=headers, params={"project": "retail", "status": "draft"}
    ).json()
    assert [s["id"] for s in stories] == [ids[1], ids[3]]
    response = app_client.post(
        f"{api}/import", headers=headers, json={"project": "retail", "content": export["content"]}
    )
    assert response.status_code == 201 and len(response.json()["stories"]) == 1
    assert (
        app_client.get(f"{api}/batches", headers=headers, params={"project": "retail"}).status_code
        == 200
    )
    assert app_client.get(f"{api}/batches/{batch['id']}", headers=headers).status_code == 200
    assert app_client.get(f"{api}/stories/{ids[0]}", headers=headers).status_code == 200
    assert (
        app_client.get(
            f"{api}/analysis", headers=headers, params={"project": "retail", "threshold": 0.99}
        ).status_code
        == 200
    )
    summary = app_client.post(f"{api}/summary", headers=headers, json={"text": MEETING}).json()
    assert summary["decisions"][0]["line"] == 9
    response = app_client.post(
        f"{api}/drafts", headers=headers, json={"project": "retail", "text": "", "name": "e.txt"}
    )
    assert response.status_code == 422 and "empty" in response.text
    assert (
        app_client.post(f"{api}/drafts", json={"project": "retail", "text": MEETING}).status_code
        == 401
    )


def test_sdk_both_transports(sdk: Client, tmp_path: Path) -> None:
    sdk.create_project("retail")
    meeting = tmp_path / "m.md"
    meeting.write_text(MEETING)
    batch = sdk.backlog.draft_file("retail", meeting)
    assert len(batch.stories) == 4 and batch.source_name == "m.md"
    story = sdk.backlog.edit(batch.stories[1].id, priority="Medium")
    assert story.priority == "Medium"
    sdk.backlog.accept(story.id)
    sdk.backlog.reject(batch.stories[0].id)
    assert sdk.backlog.story(story.id).status == "accepted"
    assert sdk.backlog.export("retail", "csv")["count"] == 1
    assert len(sdk.backlog.stories("retail", "draft")) == 2
    assert sdk.backlog.batch(batch.id).id == batch.id
    assert sdk.backlog.batches("retail")[0].id == batch.id
    again = sdk.backlog.draft("retail", MEETING, accept_all=True)
    assert {s.status for s in again.stories} == {"accepted"}
    imported = sdk.backlog.import_stories("retail", sdk.backlog.export("retail", "json")["content"])
    assert len(imported.stories) == 5
    assert sdk.backlog.analyse("retail", 0.99).stories == 12  # 3 + 4 + 5, rejected left out
    assert sdk.backlog.summary(MEETING).speakers == ["Priya", "Tom", "Ana"]
