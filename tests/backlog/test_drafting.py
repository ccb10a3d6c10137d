# ruff: noqa: E501  (MEETING keeps its long spoken lines)
"""Sources, rules-mode drafting, the TO BE DEFINED rule, the meeting summary."""

from __future__ import annotations

import io

import pytest

from passline.backlog.entities import TBD
from passline.backlog.meeting import summarise
from passline.backlog.rules import draft_rules
from passline.backlog.sources import read_source
from passline.errors import InvalidInput

MEETING = """\
Planning call
Priya: We need a demand forecast for every store, so that managers order the right stock.
Tom: That's top priority. Dev estimated 5 points.
Priya: Store managers must be able to see the forecast on a dashboard.
Ana: Should we include weather data?
Tom: The system shall export the forecast as CSV.
Ana: We don't need a mobile app.
Priya: As a buyer, I want alerts when stock runs low so that I can reorder in time. Done when an alert reaches the buyer within an hour.
Decision: we decided to start with 20 pilot stores.
Action item: Tom to share the sales data by Friday.
Ana: I'll set up the meeting with finance.
"""


def test_rules_find_the_requirements_and_only_those() -> None:
    stories = draft_rules(read_source(MEETING, "m.txt"))
    assert [s.source_lines for s in stories] == [[2, 3], [4], [6], [8]]
    forecast, dashboard, export, alerts = stories
    assert forecast.priority == "Highest" and forecast.points == 5
    assert forecast.description == (
        f"As a {TBD}, I want a demand forecast for every store, "
        "so that managers order the right stock"
    )
    assert dashboard.description.startswith("As store managers, I want to see the forecast")
    assert alerts.description.startswith("As a buyer, I want alerts when stock runs low")
    assert alerts.acceptance_criteria == [
        f"Given {TBD}, when {TBD}, then an alert reaches the buyer within an hour"
    ]
    assert "forecast" in export.labels


def test_unsaid_fields_are_exactly_to_be_defined() -> None:
    stories = draft_rules(read_source(MEETING, "m.txt"))
    dashboard = stories[1]
    assert dashboard.priority == TBD and dashboard.points == TBD
    assert dashboard.acceptance_criteria == [TBD]
    assert dashboard.description.endswith(f"so that {TBD}")
    assert set(dashboard.open_fields()) == {
        "priority",
        "points",
        "description",
        "acceptance_criteria",
    }


def test_an_estimate_that_is_not_fibonacci_stays_to_be_defined() -> None:
    text = "Sam: We need a returns report for each region. Dev estimated 4 points.\n"
    (story,) = draft_rules(read_source(text, "r.txt"))
    assert story.points == TBD


def test_no_requirements_means_no_stories() -> None:
    text = "Ana: Good morning everyone.\nTom: The weather was lovely at the weekend.\n"
    assert draft_rules(read_source(text, "chat.txt")) == []


def test_summary_decisions_actions_questions() -> None:
    summary = summarise(read_source(MEETING, "m.txt"))
    assert [d["line"] for d in summary.decisions] == [9]
    assert [(a.owner, a.line) for a in summary.action_items] == [("Tom", 10), ("Ana", 11)]
    assert [q["line"] for q in summary.open_questions] == [5]


def test_subtitles_keep_the_cue_line_numbers() -> None:
    vtt = (
        "WEBVTT\n\n1\n00:00:01.000 --> 00:00:04.000\n<v Priya>We need a price check for "
        "every store.</v>\n\n2\n00:00:05.000 --> 00:00:07.000\n<v Tom>That is high priority.</v>\n"
    )
    source = read_source(vtt, "call.vtt")
    assert source.numbered() == [
        (5, "Priya: We need a price check for every store."),
        (9, "Tom: That is high priority."),
    ]
    (story,) = draft_rules(source)
    assert story.source_lines == [5, 9] and story.priority == "High"
    srt = "1\n00:00:01,000 --> 00:00:04,000\nWe need a price check for every store.\n"
    assert read_source(srt, "call.srt").numbered() == [
        (3, "We need a price check for every store.")
    ]


@pytest.mark.parametrize("text", ["", "   \n\n  "])
def test_an_empty_transcript_is_refused(text: str) -> None:
    with pytest.raises(InvalidInput, match="empty: there is no transcript"):
        read_source(text, "empty.txt")


def test_a_non_english_transcript_is_said_so() -> None:
    text = (
        "Marie: Nous avons besoin d'une prévision de la demande pour chaque magasin. "
        "Paul: Oui, c'est la priorité pour le trimestre et il faut que les gérants la voient "
        "dans le tableau de bord avec les ventes de la semaine."
    )
    with pytest.raises(InvalidInput, match="does not look like English .*French"):
        read_source(text, "reunion.txt")


def test_a_malformed_docx_is_refused() -> None:
    pytest.importorskip("docx")
    with pytest.raises(InvalidInput, match="not a readable .docx file"):
        read_source(b"PK\x03\x04 this is not really a zip", "notes.docx")


def test_a_docx_is_numbered_by_paragraph() -> None:
    docx = pytest.importorskip("docx")
    document = docx.Document()
    document.add_paragraph("Requirements")
    document.add_paragraph("The system shall send a weekly sales summary to each manager.")
    buffer = io.BytesIO()
    document.save(buffer)
    (story,) = draft_rules(read_source(buffer.getvalue(), "reqs.docx"))
    assert story.source_lines == [2] and story.title.startswith("The system shall send")


def test_unsupported_files_are_refused() -> None:
    with pytest.raises(InvalidInput, match="cannot draft stories from .xlsx"):
        read_source(b"x", "sheet.xlsx")
