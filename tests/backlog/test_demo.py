"""The demo's retail planning meeting: stories with TO BE DEFINED where the meeting was
vague, accepted and exported as a Jira CSV with the importer's columns."""

from __future__ import annotations

import csv
from pathlib import Path

from passline.backlog.entities import TBD
from passline.backlog.export import import_stories
from passline.demo_backlog import PROJECT, backlog_demo
from passline.services.workspace import Services, Workspace


def test_the_demo_meeting_becomes_a_jira_csv(
    workspace: Workspace, admin: Services, tmp_path: Path
) -> None:
    lines = backlog_demo(workspace, admin, tmp_path)
    assert lines[0].startswith("backlog:   5 stories")
    out = tmp_path / "backlog" / "retail-planning-stories.jira.csv"
    with out.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    assert rows[0][:5] == ["Summary", "Issue Type", "Priority", "Description", "Story Points"]
    assert set(rows[0][5:]) == {"Labels"} and all(len(r) == len(rows[0]) for r in rows)
    stories = import_stories(out.read_text("utf-8"))
    assert [(s.priority, s.points) for s in stories][0] == ("Highest", 8)
    vague = [s for s in stories if s.priority == TBD and s.points == TBD]
    assert len(vague) >= 3
    accepted = admin.backlog.stories(PROJECT, "accepted")
    assert len(accepted) == 5
    assert backlog_demo(workspace, admin, tmp_path)  # runs twice (a new batch each time)
