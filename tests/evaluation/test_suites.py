"""Suites: files checked case by case with errors that name the case and the field, and
versions that are immutable and content-addressed, on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from passline.errors import InvalidInput, NotFound, PermissionDenied
from passline.evaluation.cases import load_suite_file, parse_suite
from passline.evaluation.scorers import build_scorers
from passline.services.workspace import Services
from tests.conftest import services_as

CASES: list[dict[str, Any]] = [
    {"id": "leave", "question": "How many days of leave?", "expected": "25 days"},
    {"id": "remote", "question": "How many remote days?", "expected": "3"},
    {"id": "sabbatical", "question": "Sabbatical policy?", "refuse": True, "scorers": ["refusal"]},
]
SCORERS: list[Any] = ["contains", "refusal"]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            {"cases": [{"id": "leave", "question": "Q?", "expcted": "25"}]},
            "Case 'leave' (case 1): unknown field 'expcted'. Did you mean 'expected'?",
        ),
        (
            {
                "scorers": ["contains"],
                "cases": [{"question": "Q?", "expected": "1"}, {"question": "R?"}],
            },
            "Case 'case-2' (case 2): scorer 'contains' needs field 'expected', which is missing.",
        ),
        (
            {"scorers": ["numeric"], "cases": [{"id": "n", "question": "Q?", "expected": "many"}]},
            "Case 'n' (case 1): scorer 'numeric' needs field 'expected' to be a number. "
            "Got 'many'.",
        ),
        (
            {"scorers": ["context_recall"], "cases": [{"id": "r", "question": "Q?"}]},
            "Case 'r' (case 1): scorer 'context_recall' needs field 'reference_facts', which is "
            "missing.",
        ),
        (
            {"cases": [{"id": "q", "expected": "x"}]},
            "Case 'q' (case 1): field 'question' is missing",
        ),
        (
            {"cases": [{"id": "a", "question": "Q?"}, {"id": "a", "question": "R?"}]},
            "Case 'a' (case 2): the id is already used by case 1",
        ),
        (
            {
                "scorers": ["contains"],
                "cases": [{"id": "a", "question": "Q?", "scorers": ["exact"]}],
            },
            "Case 'a' (case 1): field 'scorers' names 'exact', which is not one of the suite's",
        ),
        (
            {"cases": [{"id": "a", "question": "Q?", "tags": [1, 2]}]},
            "Case 'a' (case 1): field 'tags' must be a list of strings.",
        ),
        ({"cases": [], "name": "x"}, "A suite needs a non-empty list of 'cases'."),
        ({"cases": [{"question": "Q?"}], "scorer": ["exact"]}, "unknown field 'scorer'"),
        (
            {"scorers": ["contains", "contains"], "cases": [{"question": "Q?", "expected": "x"}]},
            "Two scorers are named 'contains'",
        ),
    ],
)
def test_bad_suites_are_refused_naming_the_case_and_field(
    data: dict[str, Any], message: str
) -> None:
    with pytest.raises(InvalidInput) as error:
        content = parse_suite(data, "suite.yaml")
        build_scorers(content.scorers, content.cases)
    assert message in str(error.value)


def test_the_service_reports_the_same_errors(svc: Services) -> None:
    with pytest.raises(
        InvalidInput, match="Case 'case-2' .case 2.: scorer 'contains' needs field 'expected'"
    ):
        svc.evaluation.create_suite(
            "qa/bad", [{"question": "Q?", "expected": "x"}, {"question": "R?"}], ["contains"]
        )
    assert svc.evaluation.suites("qa") == []


def test_suite_files_yaml_and_json(tmp_path: Path) -> None:
    good = tmp_path / "suite.yaml"
    good.write_text(
        "description: handbook\nscorers: [contains, {type: numeric, tolerance: 1}]\n"
        "cases:\n  - id: leave\n    question: How many days?\n    expected: 25\n"
    )
    loaded = load_suite_file(good)
    assert loaded.description == "handbook" and loaded.cases[0].expected == 25
    assert loaded.scorers == [{"type": "contains"}, {"type": "numeric", "tolerance": 1}]
    broken = tmp_path / "broken.json"
    broken.write_text('{"cases": [')
    with pytest.raises(InvalidInput, match="broken.json is not valid JSON"):
        load_suite_file(broken)
    with pytest.raises(InvalidInput, match="No suite file at"):
        load_suite_file(tmp_path / "missing.yaml")


def test_versions_are_immutable_and_content_addressed(any_svc: Services) -> None:
    ev = any_svc.evaluation
    first = ev.create_suite("qa/handbook", CASES, SCORERS, "three questions")
    assert (first.version, first.case_count, first.suite) == (1, 3, "qa/handbook")
    assert ev.create_suite("qa/handbook", CASES, SCORERS).id == first.id  # same content
    changed = ev.create_suite(
        "qa/handbook", [*CASES[:2], {"id": "new", "question": "Q?", "expected": "x"}], SCORERS
    )
    assert changed.version == 2 and changed.digest != first.digest
    assert ev.suite("qa/handbook@1").cases == first.cases
    assert ev.suite("qa/handbook").version == 2
    assert [v.version for v in ev.suite_versions("qa/handbook")] == [2, 1]
    added = ev.add_cases("qa/handbook", [{"id": "new", "question": "Q2?", "expected": "y"}])
    assert added.version == 3 and added.case_count == 3
    assert [c["question"] for c in added.cases if c["id"] == "new"] == ["Q2?"]
    assert [(s.name, s.latest_version, s.cases) for s in ev.suites("qa")] == [("handbook", 3, 3)]
    with pytest.raises(NotFound, match="no evaluation suite named 'other'"):
        ev.suite("qa/other")
    with pytest.raises(NotFound, match="has no version 9"):
        ev.suite("qa/handbook@9")
    with pytest.raises(InvalidInput, match="Name a suite as project/name"):
        ev.suite("handbook")


def test_viewers_read_suites_and_only_contributors_write_them(svc: Services) -> None:
    svc.identity.create_user("vera")
    svc.projects.add_member("qa", "vera", "viewer")
    svc.evaluation.create_suite("qa/handbook", CASES, SCORERS)
    vera = services_as(svc.workspace, "vera")
    assert vera.evaluation.suite("qa/handbook").case_count == 3
    with pytest.raises(PermissionDenied, match="'contributor' role in project 'qa'"):
        vera.evaluation.create_suite("qa/handbook", CASES[:1], SCORERS)
    with pytest.raises(PermissionDenied):
        vera.evaluation.run("qa/handbook", "model:default")
