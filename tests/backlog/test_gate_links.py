"""Stories linked to gate criteria: done for real once the linked criteria pass in their
gate's latest evaluation; on both backends, and through the CLI, REST, SDK and review board."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from passline.cli.main import main
from passline.errors import InvalidInput, NotFound
from passline.sdk.client import Client
from passline.services.workspace import Services, Workspace
from tests.backlog.test_drafting import MEETING
from tests.gates.conftest import MODEL, setup_project
from tests.test_ui import login
from tests.test_ui_llm import page_of

CRITERIA = [
    {"type": "training_data_recorded"},
    {"type": "metric", "name": "auc", "op": ">=", "threshold": 0.9},
]


@pytest.fixture
def fraud(workspace: Workspace) -> Services:
    return setup_project(workspace)


def stories(svc: Services) -> list[str]:
    svc.gates.create("fraud", "release", CRITERIA)
    return [s.id for s in svc.backlog.draft("fraud", text=MEETING, name="m.txt").stories]


def test_a_story_is_done_for_real_when_its_criteria_pass(any_workspace: Workspace) -> None:
    svc = setup_project(any_workspace)
    first, second, *_ = stories(svc)
    linked = svc.backlog.link(first, "fraud/release", 1)
    assert linked.gate_links == [
        {
            "gate": "fraud/release",
            "criterion": 1,
            "type": "training_data_recorded",
            "status": "not evaluated",
        }
    ]
    assert not linked.done_for_real
    svc.gates.check("fraud", "release", f"{MODEL}@1")
    assert svc.backlog.story(first).done_for_real
    svc.backlog.link(second, "fraud/release", 1)
    failing = svc.backlog.link(second, "fraud/release", 2)
    assert [g["status"] for g in failing.gate_links] == ["pass", "fail"]
    assert not failing.done_for_real
    done = {s.id: s.done_for_real for s in svc.backlog.stories("fraud")}
    assert done[first] and not done[second]
    assert svc.backlog.link(second, "fraud/release", 2, remove=True).done_for_real
    assert json.loads(svc.backlog.story(first).model_dump_json())["done_for_real"] is True


def test_bad_links_are_refused(fraud: Services) -> None:
    first, *_ = stories(fraud)
    with pytest.raises(InvalidInput, match=r"must be a number in \[1, 2\]. Got 3 instead"):
        fraud.backlog.link(first, "fraud/release", 3)
    with pytest.raises(NotFound, match="No gate 'fraud/nope'"):
        fraud.backlog.link(first, "fraud/nope", 1)
    with pytest.raises(InvalidInput, match="PROJECT/NAME"):
        fraud.backlog.link(first, "release", 1)


def test_cli(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PASSLINE_HOME", str(tmp_path / "ws"))
    workspace = Workspace.open()
    first, *_ = stories(setup_project(workspace))
    workspace.close()
    assert main(["gate", "check", "fraud/release", "--for", f"{MODEL}@1"]) == 1
    capsys.readouterr()
    assert main(["backlog", "link", first, "--gate", "fraud/release", "--criterion", "1"]) == 0
    out = capsys.readouterr().out
    assert "fraud/release #1 (training_data_recorded): pass" in out and "done for real" in out
    code = main(["backlog", "link", first, "--gate", "fraud/release", "--criterion", "9"])
    assert code == 2 and "Got 9 instead" in capsys.readouterr().err


def test_rest_sdk_and_review_board(sdk: Client, workspace: Workspace) -> None:
    first, *_ = stories(setup_project(workspace))
    sdk.gates.check("fraud/release", f"{MODEL}@1")
    assert sdk.backlog.link(first, "fraud/release", 1).done_for_real


def test_review_board_shows_done_for_real(app_client: TestClient, fraud: Services) -> None:
    first, *_ = stories(fraud)
    fraud.gates.check("fraud", "release", f"{MODEL}@1")
    headers = {"Authorization": f"Bearer {fraud.identity.create_token('t').secret}"}
    body = {"gate": "fraud/release", "criterion": 1}
    linked = app_client.post(f"/api/v1/backlog/stories/{first}/links", json=body, headers=headers)
    assert linked.status_code == 200 and linked.json()["done_for_real"] is True
    login(app_client, fraud.identity.create_token("pm").secret)
    page = page_of(app_client, "/backlog/review?project=fraud")
    assert page.count("done-for-real") == 1 and 'href="/gates/fraud/release"' in page
