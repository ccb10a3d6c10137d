"""The benchmark's hand-labelled corpus stays drafted well by the rules, with nothing
invented (a guard against rule changes that trade honesty for recall)."""

from __future__ import annotations

from bench.backlog import _rules, load_cases


def test_rules_mode_on_the_benchmark_corpus() -> None:
    cases = load_cases()
    assert len(cases) >= 10
    totals = _rules(cases)["totals"]
    assert totals["invented_stories"] == 0
    assert totals["recall"] >= 0.9 and totals["precision"] >= 0.9
    assert totals["tbd_kept_rate"] == 1.0
