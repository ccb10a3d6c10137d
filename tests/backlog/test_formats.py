"""Jira CSV, Jira REST JSON, JSON and CSV: valid whatever the fields hold, and read back."""

from __future__ import annotations

import csv
import io
import json

import pytest

from passline.backlog.entities import TBD, StoryDraft
from passline.backlog.export import FORMATS, export_stories, import_stories
from passline.errors import InvalidInput

NASTY = StoryDraft(
    title='Export "top sellers", by region\nand by week',
    priority="High",
    points=8,
    description='As a planner, I want a "quick" export, so that I can share it, fast',
    acceptance_criteria=[
        "Given a region, when I export, then the file has, commas",
        'And "quotes"',
    ],
    labels=["export", "reporting"],
    source_lines=[3, 4],
)
VAGUE = StoryDraft(title="Something for promotions", source_lines=[9])


@pytest.mark.parametrize("fmt", FORMATS)
def test_round_trip_keeps_every_field(fmt: str) -> None:
    text = export_stories([NASTY, VAGUE], fmt)
    back = import_stories(text)
    assert [s.model_dump(exclude={"notes"}) for s in back] == [
        s.model_dump(exclude={"notes"}) for s in (NASTY, VAGUE)
    ]


def test_jira_csv_has_the_importer_columns_and_valid_quoting() -> None:
    text = export_stories([NASTY, VAGUE], "jira-csv")
    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert rows[0] == [
        "Summary",
        "Issue Type",
        "Priority",
        "Description",
        "Story Points",
        "Labels",
        "Labels",
    ]
    assert len(rows) == 3 and all(len(r) == 7 for r in rows)
    nasty, vague = rows[1], rows[2]
    assert nasty[0] == NASTY.title and nasty[1] == "Story" and nasty[2] == "High"
    assert nasty[4] == "8" and nasty[5:] == ["export", "reporting"]
    assert "Acceptance criteria:\n- Given a region, when I export" in nasty[3]
    # Jira rejects unknown priorities and non-numeric points: those cells stay empty and the
    # description says what is still to be defined.
    assert vague[2] == "" and vague[4] == ""
    assert "To be defined: priority, points" in vague[3] and f"- {TBD}" in vague[3]


def test_jira_json_is_a_bulk_create_body() -> None:
    body = json.loads(export_stories([NASTY, VAGUE], "jira-json", "RETAIL"))
    first, second = (u["fields"] for u in body["issueUpdates"])
    assert first["project"] == {"key": "RETAIL"} and first["issuetype"] == {"name": "Story"}
    assert first["summary"] == NASTY.title and first["priority"] == {"name": "High"}
    assert first["customfield_10016"] == 8 and first["labels"] == ["export", "reporting"]
    assert "priority" not in second and "customfield_10016" not in second


def test_import_refuses_broken_files() -> None:
    with pytest.raises(InvalidInput, match="nothing to import"):
        import_stories("  ")
    with pytest.raises(InvalidInput, match="not a valid jira-json backlog export"):
        import_stories('{"issues": []}')
    with pytest.raises(InvalidInput, match="not a valid csv backlog export"):
        import_stories("name,value\nx,1\n")
    with pytest.raises(InvalidInput, match="'format' parameter must be one of"):
        export_stories([VAGUE], "xml")
