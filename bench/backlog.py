"""Story extraction: drafted stories against hand-labelled ones, for each drafting mode.

Ten short transcripts and requirement documents (``bench/data/backlog/``: txt, md, vtt, srt;
retail, fraud, HR, pricing, monitoring, support, data platform, and one stand-up with no
requirement at all), each with the stories a person would write, labelled by hand
(``*.expected.json``: title, source lines, priority, points, TO BE DEFINED where the meeting
did not say).

A drafted story matches an expected one when their source lines overlap or their titles
share at least half their words (one-to-one, in order). Reported per mode:

- story recall and precision (and F1);
- field accuracy on matched stories: priority and points equal to the label (TO BE DEFINED
  included: a value where the label says TO BE DEFINED counts as wrong);
- the invented-details rate: the share of drafted stories with a fact (number, name, date)
  in their title, description, criteria or labels that is not in the transcript. Goal: 0.

Modes: ``rules`` on every transcript; ``llm`` with the embedded model (SmolLM2-135M on
llama.cpp; its stories grounded, merged into the rules' stories on the same statement line,
added when new) on every transcript in a full run and on three in a quick one; skipped
when the ``llm`` extra or the model file is missing.
"""

from __future__ import annotations

import json
import re
import tempfile
import time
from pathlib import Path
from typing import Any

from rich.console import Console, Group
from rich.table import Table

from passline.backlog.entities import TBD, StoryDraft
from passline.backlog.grounding import invented_facts
from passline.backlog.sources import read_source

__all__ = ["DATA", "load_cases", "run", "run_benchmark", "score"]

DATA = Path(__file__).parent / "data" / "backlog"
QUICK_LLM = 3


def load_cases() -> list[dict[str, Any]]:
    cases = []
    for path in sorted(DATA.iterdir()):
        if path.name.endswith(".expected.json"):
            continue
        expected = json.loads(path.with_name(path.stem + ".expected.json").read_text())
        cases.append({"name": path.name, "data": path.read_bytes(), **expected})
    return cases


def _words(text: str) -> set[str]:
    return set(re.findall(r"[a-z0-9]+", text.lower())) - {"the", "a", "an", "to", "of", "for"}


def _matches(drafted: StoryDraft, expected: dict[str, Any]) -> bool:
    if set(drafted.source_lines) & set(expected["lines"]):
        return True
    a, b = _words(drafted.title), _words(expected["title"])
    return bool(a and b) and len(a & b) / min(len(a), len(b)) >= 0.5


def score(stories: list[StoryDraft], expected: list[dict[str, Any]], text: str) -> dict[str, Any]:
    """Matches, field accuracy and invented facts of one transcript's drafts."""
    free = list(range(len(expected)))
    pairs = []
    for story in stories:
        hit = next((i for i in free if _matches(story, expected[i])), None)
        if hit is not None:
            free.remove(hit)
            pairs.append((story, expected[hit]))
    invented = []
    for story in stories:
        said = " ".join([story.title, story.description, *story.acceptance_criteria, *story.labels])
        facts = invented_facts(said, text)
        if facts:
            invented.append({"title": story.title, "facts": sorted(facts)})
    return {
        "drafted": len(stories),
        "expected": len(expected),
        "matched": len(pairs),
        "priority_right": sum(str(s.priority) == str(e["priority"]) for s, e in pairs),
        "points_right": sum(str(s.points) == str(e["points"]) for s, e in pairs),
        "tbd_expected": sum((e["priority"] == TBD) + (e["points"] == TBD) for _, e in pairs),
        "tbd_kept": sum(
            (e["priority"] == TBD and s.priority == TBD) + (e["points"] == TBD and s.points == TBD)
            for s, e in pairs
        ),
        "invented": invented,
    }


def _totals(rows: list[dict[str, Any]], seconds: float) -> dict[str, Any]:
    drafted = sum(r["drafted"] for r in rows)
    expected = sum(r["expected"] for r in rows)
    matched = sum(r["matched"] for r in rows)
    recall = matched / expected if expected else 1.0
    precision = matched / drafted if drafted else 1.0
    f1 = 2 * recall * precision / (recall + precision) if recall + precision else 0.0
    invented = sum(len(r["invented"]) for r in rows)
    return {
        "transcripts": len(rows),
        "drafted": drafted,
        "expected": expected,
        "matched": matched,
        "recall": round(recall, 3),
        "precision": round(precision, 3),
        "f1": round(f1, 3),
        "priority_accuracy": round(sum(r["priority_right"] for r in rows) / max(1, matched), 3),
        "points_accuracy": round(sum(r["points_right"] for r in rows) / max(1, matched), 3),
        "tbd_kept_rate": round(
            sum(r["tbd_kept"] for r in rows) / max(1, sum(r["tbd_expected"] for r in rows)), 3
        ),
        "invented_stories": invented,
        "invented_rate": round(invented / drafted, 3) if drafted else 0.0,
        "seconds": round(seconds, 2),
    }


def _rules(cases: list[dict[str, Any]]) -> dict[str, Any]:
    from passline.backlog.rules import draft_rules

    rows, started = [], time.perf_counter()
    for case in cases:
        source = read_source(case["data"], case["name"])
        row = score(draft_rules(source), case["stories"], source.text)
        rows.append({"name": case["name"], **row})
    return {"totals": _totals(rows, time.perf_counter() - started), "cases": rows}


def _llm(cases: list[dict[str, Any]], console: Console) -> dict[str, Any]:
    try:
        import llama_cpp  # noqa: F401

        from passline.llm.embedded import model_file

        model_file()
    except Exception as exc:  # noqa: BLE001
        return {"skipped": f"the embedded model is not available: {exc}"}
    from passline.services.workspace import Workspace
    from passline.settings import Settings

    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as home:
        workspace = Workspace.open(Settings(home=Path(home)))
        svc = workspace.services(workspace.local_context())
        svc.projects.create("bench")
        started = time.perf_counter()
        for case in cases:
            console.print(f"  llm mode: {case['name']}")
            source = read_source(case["data"], case["name"])
            batch = svc.backlog.draft(
                "bench", text=case["data"].decode(), name=case["name"], mode="llm"
            )
            row = score(list(batch.stories), case["stories"], source.text)
            notes = [" ".join(s.notes) for s in batch.stories]
            model = {
                "model_drafted": sum("drafted by the model" in n for n in notes),
                "model_also_drafted": sum("the model also drafted it" in n for n in notes),
            }
            rows.append({"name": case["name"], **model, **row})
        seconds = time.perf_counter() - started
        workspace.close()
    totals = _totals(rows, seconds)
    for key in ("model_drafted", "model_also_drafted"):
        totals[key] = sum(r[key] for r in rows)
    return {"totals": totals, "cases": rows}


def run(quick: bool, console: Console) -> dict[str, Any]:
    cases = load_cases()
    console.print(f"backlog: {len(cases)} transcripts, rules mode")
    result: dict[str, Any] = {"quick": quick, "modes": {"rules": _rules(cases)}}
    llm_cases = cases[:QUICK_LLM] if quick else cases
    console.print(f"backlog: llm mode (embedded model) on {len(llm_cases)} transcripts")
    result["modes"]["llm"] = _llm(llm_cases, console)
    return result


def backlog_table(result: dict[str, Any]) -> Table:
    grid = Table(title="Story extraction (hand-labelled transcripts)", header_style="bold")
    columns = [
        "mode",
        "transcripts",
        "drafted",
        "expected",
        "recall",
        "precision",
        "f1",
        "priority ok",
        "points ok",
        "TBD kept",
        "invented rate",
        "seconds",
    ]
    for column in columns:
        grid.add_column(column)
    for mode, data in result["modes"].items():
        if "skipped" in data:
            grid.add_row(mode, "skipped: " + data["skipped"][:60], *[""] * (len(columns) - 2))
            continue
        t = data["totals"]
        grid.add_row(
            mode,
            str(t["transcripts"]),
            str(t["drafted"]),
            str(t["expected"]),
            f"{t['recall']:.0%}",
            f"{t['precision']:.0%}",
            f"{t['f1']:.2f}",
            f"{t['priority_accuracy']:.0%}",
            f"{t['points_accuracy']:.0%}",
            f"{t['tbd_kept_rate']:.0%}",
            f"{t['invented_rate']:.0%}",
            f"{t['seconds']:.1f}",
        )
    return grid


def run_benchmark(quick: bool, console: Console) -> tuple[Group, dict[str, Any]]:
    """The ``python -m bench`` entry: tables and JSON payload of a full or quick run."""
    result = run(quick, console)
    return Group(backlog_table(result)), result


if __name__ == "__main__":  # pragma: no cover - a manual entry
    out = Console()
    group, payload = run_benchmark(quick=True, console=out)
    out.print(group)
    out.print_json(json.dumps({m: d.get("totals", d) for m, d in payload["modes"].items()}))
