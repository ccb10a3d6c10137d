"""The review flow on both backends: drafts wait, only accepted stories export; import,
analysis and permissions."""

from __future__ import annotations

import csv
import io

import pytest

from passline.backlog.entities import TBD
from passline.errors import InvalidInput, NotFound, PermissionDenied
from passline.services.workspace import Services, Workspace
from tests.backlog.test_drafting import MEETING


@pytest.fixture
def svc(any_workspace: Workspace) -> Services:
    services = any_workspace.services(any_workspace.local_context())
    services.projects.create("retail")
    return services


def test_review_then_export_only_accepted(svc: Services) -> None:
    batch = svc.backlog.draft("retail", text=MEETING, name="m.txt")
    assert batch.source_digest.startswith("sha256:") and batch.line_count == 11
    assert [s.status for s in batch.stories] == ["draft"] * 4
    with pytest.raises(InvalidInput, match="no accepted stories to export"):
        svc.backlog.export("retail")
    forecast, dashboard, export, alerts = batch.stories
    svc.backlog.accept(forecast.id)
    edited = svc.backlog.edit(
        dashboard.id, {"priority": "High", "points": 3, "labels": "ui, dashboard"}
    )
    assert edited.priority == "High" and edited.points == 3 and edited.labels == ["ui", "dashboard"]
    assert edited.status == "draft"
    svc.backlog.accept(dashboard.id)
    svc.backlog.reject(export.id)
    result = svc.backlog.export("retail", "jira-csv")
    rows = list(csv.DictReader(io.StringIO(result["content"], newline="")))
    assert result["count"] == 2 and [r["Summary"] for r in rows] == [
        forecast.title,
        dashboard.title,
    ]
    assert {s.status for s in svc.backlog.stories("retail", "draft")} == {"draft"}
    assert [s.id for s in svc.backlog.stories("retail", "rejected")] == [export.id]
    assert svc.backlog.batch(batch.id).stories[2].status == "rejected"
    assert svc.backlog.batches("retail")[0].summary.decisions
    assert alerts.id in {s.id for s in svc.backlog.stories("retail", batch_id=batch.id)}


def test_edits_are_checked(svc: Services) -> None:
    story = svc.backlog.draft("retail", text=MEETING, name="m.txt").stories[0]
    with pytest.raises(InvalidInput, match="'points' field must be a Fibonacci number"):
        svc.backlog.edit(story.id, {"points": 4})
    with pytest.raises(InvalidInput, match="'priority' field must be one of Highest"):
        svc.backlog.edit(story.id, {"priority": "P1"})
    with pytest.raises(InvalidInput, match="no editable field 'status'"):
        svc.backlog.edit(story.id, {"status": "accepted"})
    with pytest.raises(NotFound, match="No story 'sty_nope'"):
        svc.backlog.accept("sty_nope")


def test_no_requirements_gives_zero_stories_and_a_message(svc: Services) -> None:
    batch = svc.backlog.draft("retail", text="Ana: Morning all.\nTom: Lovely weather.\n")
    assert batch.stories == [] and "No requirements found" in batch.message


def test_import_and_analysis(svc: Services) -> None:
    batch = svc.backlog.draft("retail", text=MEETING, name="m.txt", accept_all=True)
    exported = svc.backlog.export("retail", "jira-json", jira_project="RET")["content"]
    imported = svc.backlog.import_stories("retail", exported, name="jira.json")
    assert imported.mode == "import" and len(imported.stories) == len(batch.stories)
    assert [s.status for s in imported.stories] == ["draft"] * 4
    analysis = svc.backlog.analyse("retail")
    assert analysis.stories == 8
    pairs = {frozenset((p["a"], p["b"])) for p in analysis.near_duplicates}
    for old, new in zip(batch.stories, imported.stories, strict=True):
        assert frozenset((old.id, new.id)) in pairs
    assert batch.stories[1].id in analysis.missing_estimates
    assert batch.stories[0].id not in analysis.missing_estimates
    assert batch.stories[1].id in analysis.missing_acceptance_criteria
    assert batch.stories[3].id not in analysis.missing_acceptance_criteria
    assert "priority" in analysis.open_fields[batch.stories[1].id]


def test_viewers_cannot_draft_or_review(svc: Services, any_workspace: Workspace) -> None:
    from tests.conftest import services_as

    svc.identity.create_user("vera")
    svc.projects.add_member("retail", "vera", "viewer")
    story = svc.backlog.draft("retail", text=MEETING).stories[0]
    vera = services_as(any_workspace, "vera")
    assert vera.backlog.story(story.id).title == story.title
    with pytest.raises(PermissionDenied, match="'contributor' role"):
        vera.backlog.accept(story.id)
    with pytest.raises(PermissionDenied, match="to draft backlog stories"):
        vera.backlog.draft("retail", text=MEETING)
    assert vera.backlog.story(story.id).priority in ("Highest", TBD)
