"""Stories out and back in: Jira CSV (the columns Jira's CSV importer maps), Jira REST bulk
create JSON, plain JSON and plain CSV.

Jira CSV: one row per story with Summary, Issue Type, Priority, Description, Story Points
and one Labels column per label (the importer reads repeated columns as a multi-value
field). Acceptance criteria and the source lines go in the description. A priority or an
estimate that is TO BE DEFINED leaves its cell empty (Jira rejects unknown priorities and
non-numeric points) and is named in the description's "To be defined" line instead.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Sequence
from typing import Any

from passline.backlog.entities import FIBONACCI, PRIORITIES, TBD, StoryDraft
from passline.errors import InvalidInput

__all__ = ["FORMATS", "STORY_POINTS_FIELD", "detect_format", "export_stories", "import_stories"]

FORMATS = ("jira-csv", "jira-json", "json", "csv")
STORY_POINTS_FIELD = "customfield_10016"  # Jira Cloud's usual "Story point estimate" field
_CSV_COLUMNS = (
    "title",
    "priority",
    "points",
    "description",
    "acceptance_criteria",
    "labels",
    "source_lines",
    "issue_type",
)
_AC_HEADER = "Acceptance criteria:"


def export_stories(
    stories: Sequence[StoryDraft],
    fmt: str,
    jira_project: str = "PROJ",
    points_field: str = STORY_POINTS_FIELD,
) -> str:
    """``stories`` as text in format ``fmt`` (one of :data:`FORMATS`)."""
    if fmt == "jira-csv":
        return _jira_csv(stories)
    if fmt == "jira-json":
        updates = [{"fields": _jira_fields(s, jira_project, points_field)} for s in stories]
        return json.dumps({"issueUpdates": updates}, indent=2, ensure_ascii=False) + "\n"
    if fmt == "json":
        return json.dumps([_plain(s) for s in stories], indent=2, ensure_ascii=False) + "\n"
    if fmt == "csv":
        return _plain_csv(stories)
    raise InvalidInput(f"The 'format' parameter must be one of {', '.join(FORMATS)}. Got {fmt!r}.")


def jira_description(story: StoryDraft) -> str:
    parts = [story.description, "", _AC_HEADER, *(f"- {c}" for c in story.acceptance_criteria)]
    open_ = [f for f in ("priority", "points") if str(getattr(story, f)) == TBD]
    if open_:
        parts += ["", f"To be defined: {', '.join(open_)}"]
    if story.source_lines:
        parts += ["", "Source lines: " + ", ".join(map(str, story.source_lines))]
    parts += ["", "(Drafted by Passline and reviewed before export.)"]
    return "\n".join(parts)


def _jira_csv(stories: Sequence[StoryDraft]) -> str:
    width = max([len(s.labels) for s in stories] + [1])
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(
        ["Summary", "Issue Type", "Priority", "Description", "Story Points", *(["Labels"] * width)]
    )
    for s in stories:
        labels = [_label(x) for x in s.labels] + [""] * (width - len(s.labels))
        writer.writerow(
            [
                s.title,
                s.issue_type,
                "" if s.priority == TBD else s.priority,
                jira_description(s),
                "" if s.points == TBD else s.points,
                *labels,
            ]
        )
    return out.getvalue()


def _label(label: str) -> str:
    return re.sub(r"\s+", "-", label.strip())  # Jira labels cannot contain spaces


def _jira_fields(story: StoryDraft, project: str, points_field: str) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "project": {"key": project},
        "summary": story.title,
        "issuetype": {"name": story.issue_type},
        "description": jira_description(story),
        "labels": [_label(x) for x in story.labels],
    }
    if story.priority != TBD:
        fields["priority"] = {"name": story.priority}
    if story.points != TBD:
        fields[points_field] = story.points
    return fields


def _plain(story: StoryDraft) -> dict[str, Any]:
    return story.model_dump(include=set(_CSV_COLUMNS))


def _plain_csv(stories: Sequence[StoryDraft]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(_CSV_COLUMNS)
    for s in stories:
        writer.writerow(
            [
                s.title,
                s.priority,
                s.points,
                s.description,
                "\n".join(s.acceptance_criteria),
                ";".join(s.labels),
                ",".join(map(str, s.source_lines)),
                s.issue_type,
            ]
        )
    return out.getvalue()


# -- import ------------------------------------------------------------------------------------


def detect_format(text: str) -> str:
    stripped = text.lstrip("\ufeff").lstrip()
    if stripped.startswith("{"):
        return "jira-json"
    if stripped.startswith("["):
        return "json"
    header = stripped.split("\n", 1)[0]
    return "jira-csv" if "Summary" in header else "csv"


def import_stories(text: str, fmt: str | None = None) -> list[StoryDraft]:
    """Stories read back from any of :data:`FORMATS` (detected when ``fmt`` is None)."""
    if not text.strip():
        raise InvalidInput("There is nothing to import: the file is empty.")
    fmt = fmt or detect_format(text)
    try:
        if fmt == "jira-csv":
            header, *rows = _rows(text)
            return [_from_jira_row(header, row) for row in rows if any(row)]
        if fmt == "jira-json":
            data = json.loads(text)
            return [_from_jira_fields(u["fields"]) for u in data["issueUpdates"]]
        if fmt == "json":
            return [_story(item) for item in json.loads(text)]
        if fmt == "csv":
            header, *rows = _rows(text)
            return [
                _from_plain_row(dict(zip(header, row, strict=False))) for row in rows if any(row)
            ]
    except (KeyError, TypeError, ValueError, csv.Error) as exc:
        raise InvalidInput(f"This is not a valid {fmt} backlog export: {exc}.") from None
    raise InvalidInput(f"The 'format' parameter must be one of {', '.join(FORMATS)}. Got {fmt!r}.")


def _rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text.lstrip("\ufeff"), newline="")))


def _from_jira_row(header: list[str], row: list[str]) -> StoryDraft:
    cells: dict[str, list[str]] = {}
    for name, value in zip(header, row, strict=False):
        cells.setdefault(name.strip(), []).append(value)
    first = {k: v[0] for k, v in cells.items()}
    description, criteria, lines = _split_description(first.get("Description", ""))
    return _story(
        {
            "title": first["Summary"],
            "issue_type": first.get("Issue Type") or "Story",
            "priority": first.get("Priority"),
            "points": first.get("Story Points") or first.get("Story point estimate"),
            "description": description,
            "acceptance_criteria": criteria,
            "labels": [x for x in cells.get("Labels", []) if x.strip()],
            "source_lines": lines,
        }
    )


def _split_description(text: str) -> tuple[str, list[str], list[int]]:
    description, _, rest = text.partition(_AC_HEADER)
    criteria = [
        line[2:].strip() for line in rest.split("\n\n", 1)[0].splitlines() if line.startswith("- ")
    ]
    match = re.search(r"Source lines: ([\d, ]+)", rest)
    lines = [int(n) for n in re.findall(r"\d+", match.group(1))] if match else []
    return description.strip() or TBD, criteria or [TBD], lines


def _from_jira_fields(fields: dict[str, Any]) -> StoryDraft:
    description, criteria, lines = _split_description(str(fields.get("description") or ""))
    points = next((v for k, v in fields.items() if k.startswith("customfield_")), None)
    return _story(
        {
            "title": fields["summary"],
            "issue_type": (fields.get("issuetype") or {}).get("name", "Story"),
            "priority": (fields.get("priority") or {}).get("name", TBD),
            "points": points,
            "description": description,
            "acceptance_criteria": criteria,
            "labels": fields.get("labels") or [],
            "source_lines": lines,
        }
    )


def _from_plain_row(row: dict[str, str]) -> StoryDraft:
    return _story(
        {
            "title": row["title"],
            "priority": row.get("priority"),
            "points": row.get("points"),
            "description": row.get("description") or TBD,
            "acceptance_criteria": [
                c for c in (row.get("acceptance_criteria") or "").split("\n") if c
            ],
            "labels": [x for x in (row.get("labels") or "").split(";") if x],
            "source_lines": [int(n) for n in re.findall(r"\d+", row.get("source_lines") or "")],
            "issue_type": row.get("issue_type") or "Story",
        }
    )


def _story(item: dict[str, Any]) -> StoryDraft:
    """A story from imported values, anything invalid or empty TO BE DEFINED."""
    if not str(item.get("title") or "").strip():
        raise ValueError("a story has no title/Summary")
    priority = str(item.get("priority") or TBD)
    points = str(item.get("points") or "").strip()
    number = int(float(points)) if re.fullmatch(r"\d+(\.0)?", points) else None
    return StoryDraft(
        title=str(item["title"]).strip(),
        priority=priority if priority in PRIORITIES else TBD,
        points=number if number in FIBONACCI else TBD,
        description=str(item.get("description") or TBD),
        acceptance_criteria=[str(c) for c in item.get("acceptance_criteria") or []] or [TBD],
        labels=[str(x) for x in item.get("labels") or []],
        source_lines=[int(n) for n in item.get("source_lines") or []],
        issue_type=str(item.get("issue_type") or "Story"),
    )
