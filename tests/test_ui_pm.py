"""The PM desk of the web UI, in-process: release gates and the maturity scorecard.

Project fraud (from tests/gates): alice registered fraud/scorer v1 from a run with auc 0.83
on fraud/transactions. Gate fraud/release asks for recorded training data (passes), auc
>= 0.9 (fails) and an f1 the model never logged (missing evidence). Vera views fraud only;
project ops has a gate she must not see.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient

from passline.server.app import create_app
from passline.services.maturity import UNKNOWN
from passline.services.workspace import Services, Workspace
from tests.gates.conftest import MODEL, setup_project
from tests.test_ui import login, text_of
from tests.test_ui_llm import page_of, row

CRITERIA = [
    {"type": "training_data_recorded"},
    {"type": "metric", "name": "auc", "op": ">=", "threshold": 0.9},
    {"type": "metric", "name": "f1", "threshold": 0.5},
]


@dataclass
class Desk:
    admin: TestClient
    vera: TestClient
    svc: Services
    evaluations: list[str]  # oldest first


@pytest.fixture
def desk(workspace: Workspace) -> Iterator[Desk]:
    svc = setup_project(workspace)
    svc.gates.create("fraud", "release", CRITERIA, description="before production")
    first = svc.gates.check("fraud", "release", f"{MODEL}@1")
    second = svc.gates.check("fraud", "release", f"{MODEL}@1")
    svc.projects.create("ops")
    svc.gates.create("ops", "hidden", [{"type": "prompt_versioned"}])
    svc.identity.create_user("vera")
    svc.projects.add_member("fraud", "vera", "viewer")
    app = create_app(workspace=workspace)
    with TestClient(app) as admin, TestClient(app) as vera:
        login(admin, svc.identity.create_token("pm-admin").secret)
        login(vera, svc.identity.create_token("pm-vera", user="vera").secret)
        yield Desk(admin, vera, svc, [first.id, second.id])


def result_row(page: str, index: int) -> str:
    return text_of(row(page, f"result-{index}"))


def test_the_desk_lists_gates_with_each_subjects_latest_status(desk: Desk) -> None:
    page = page_of(desk.admin, "/backlog")
    assert re.search(r'<a href="/backlog" class="active" aria-current="page">', page)
    assert "This block is not built yet." not in page
    gate = row(page, "gate-fraud-release")
    assert 'href="/gates/fraud/release"' in gate
    assert "fraud/scorer/v1" in text_of(gate) and "status-fail" in gate
    assert text_of(gate).count("fraud/scorer/v1") == 1  # the latest per subject only
    assert f"evaluation={desk.evaluations[-1]}" in gate
    assert "hidden" in text_of(row(page, "gate-ops-hidden"))  # the admin sees every project


def test_the_gate_page_shows_each_criterion_status_and_its_evidence(desk: Desk) -> None:
    page = page_of(desk.admin, "/gates/fraud/release")
    run_id = desk.svc.registry.version(MODEL, 1).run_id
    assert "pass" in result_row(page, 1) and "status-pass" in row(page, "result-1")
    failing = row(page, "result-2")
    assert "status-fail" in failing and "auc = 0.83 (needs >= 0.9)" in text_of(failing)
    assert f'href="/runs/{run_id}"' in failing  # the run that logged the metric
    missing = row(page, "result-3")
    assert "status-missing_evidence" in missing and "missing evidence" in text_of(missing)
    assert "no metric 'f1'" in text_of(missing)
    assert 'href="/lineage?' in row(page, "result-1")  # a dataset version, on its graph
    # The criteria, the history (newest first) and the audit trail are there too.
    assert "threshold=0.9" in text_of(row(page, "criterion-2"))
    history = re.findall(r'<tr id="evaluation-(gev_[^"]+)"', page)
    assert history == desk.evaluations[::-1]
    assert 'href="/audit?object=gate%3Afraud%2Frelease"' in page
    assert 'href="/models/fraud/scorer/v/1"' in page


def test_an_older_evaluation_can_be_shown(desk: Desk) -> None:
    oldest = desk.evaluations[0]
    page = text_of(page_of(desk.admin, f"/gates/fraud/release?evaluation={oldest}"))
    assert oldest in page and "not the latest" in page


@pytest.mark.parametrize(
    "path",
    ["/gates/fraud/nope", "/gates/nowhere/release", "/gates/fraud/release?evaluation=gev_nope"],
)
def test_unknown_gates_and_evaluations_are_404(desk: Desk, path: str) -> None:
    page = page_of(desk.admin, path, 404)
    assert "<html" in page  # the UI's error page, not JSON


def test_a_viewer_sees_the_gates_of_her_projects_only(desk: Desk) -> None:
    page = page_of(desk.vera, "/backlog")
    assert "status-fail" in row(page, "gate-fraud-release")
    assert 'id="gate-ops-hidden"' not in page and "ops" not in text_of(page).split()
    assert "status-missing_evidence" in page_of(desk.vera, "/gates/fraud/release")
    assert desk.vera.get("/gates/ops/hidden").status_code in (403, 404)
    card = text_of(page_of(desk.vera, "/maturity"))
    assert "MLOps" in card and "release gates" in card


def test_the_scorecard_reads_the_project(desk: Desk) -> None:
    desk.svc.registry.set_alias(MODEL, "staging", 1)
    page = page_of(desk.admin, "/maturity?project=fraud")
    assert re.search(r'<a href="/backlog" class="active"', page)
    assert '<svg class="chart chart-levels"' in page
    assert "models versioned in the registry" in text_of(page)
    assert "MLOps: 1/4 (initial)" in text_of(page)  # release gates: 1 signal of 6
    answered = text_of(page[page.find('id="questions"') :])
    assert "How many environments are there? DevOps 1: staging" in answered
    assert UNKNOWN in answered  # what the platform cannot tell


def test_the_scorecard_of_an_empty_workspace_asks_the_team(
    workspace: Workspace, admin: Services, app_client: TestClient
) -> None:
    login(app_client, admin.identity.create_token("pm").secret)
    page = page_of(app_client, "/maturity")
    assert '<svg class="chart chart-levels"' in page
    for area in ("DevOps", "MLOps", "LLMOps"):
        assert f"{area}: 0/4 (none)" in text_of(page)
    questions = len(admin.maturity.scorecard()["questions"])
    assert text_of(page).count(UNKNOWN) == questions
    assert len(re.findall(r'<dd class="unknown">', page)) == questions
    assert "to ask the team" in text_of(page)
    empty = text_of(page_of(app_client, "/backlog"))
    assert "member of no project" in empty


KICKOFF = """Customer support bot - kickoff
Nina: Customers need to track their order status in the chat.
Paul: It's important. Estimated 8 points.
Nina: The bot must hand over to a human agent when the customer asks for one.
Paul: Do we support French at launch? Still open.
Nina: Decision: launch in English only.
"""


def test_the_review_board_highlights_open_fields_and_reviews(desk: Desk) -> None:
    batch = desk.svc.backlog.draft("fraud", text=KICKOFF, name="kickoff.txt")
    first, second = batch.stories[:2]
    desk_page = page_of(desk.admin, "/backlog")
    assert f"{len(batch.stories)} draft stories to review" in text_of(desk_page)
    page = page_of(desk.admin, f"/backlog/review?project=fraud&batch={batch.id}")
    assert "kickoff.txt" in text_of(row(page, f"batch-{batch.id}"))
    assert "launch in English only" in text_of(page)  # the meeting's decision
    card = page[page.find(f'id="story-{second.id}"') :]
    assert '<mark class="tbd">TO BE DEFINED</mark>' in card  # never prioritised
    assert f'action="/backlog/stories/{first.id}/accept"' in page
    done = desk.admin.post(
        f"/backlog/stories/{first.id}/accept",
        data={"batch": batch.id, "status": "draft"},
        follow_redirects=False,
    )
    assert done.status_code == 303
    assert done.headers["location"].endswith(f"batch={batch.id}&status=draft#story-{first.id}")
    assert desk.svc.backlog.story(first.id).status == "accepted"
    assert f'id="story-{first.id}"' not in page_of(desk.admin, done.headers["location"])
    accepted = page_of(desk.admin, "/backlog/review?project=fraud&status=accepted")
    assert f'id="story-{first.id}"' in accepted


def test_a_viewer_reads_the_board_but_cannot_review(desk: Desk) -> None:
    story = desk.svc.backlog.draft("fraud", text=KICKOFF).stories[0]
    desk.svc.backlog.edit(story.id, {"title": "Say <b>hi</b> TO BE DEFINED"})
    page = page_of(desk.vera, "/backlog/review?project=fraud")
    assert f'id="story-{story.id}"' in page and "/accept" not in page
    assert 'Say &lt;b&gt;hi&lt;/b&gt; <mark class="tbd">TO BE DEFINED</mark>' in page
    refused = desk.vera.post(f"/backlog/stories/{story.id}/reject", follow_redirects=False)
    assert refused.status_code == 403
    assert desk.svc.backlog.story(story.id).status == "draft"
    assert page_of(desk.vera, "/backlog/review?project=ops", 403)
    assert page_of(desk.admin, "/backlog/review?status=nope", 422)
