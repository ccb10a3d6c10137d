"""Evaluation throughput: cases/s of a suite run against the embedded model, at
concurrency 1, 2 and 4.

One suite of short factual questions (plus two that should be refused), scored by
``contains``, ``refusal`` and ``answer_relevance`` (local embeddings), run through
``EvaluationService.run`` against ``model:default`` (SmolLM2-135M on llama.cpp, answers
capped at 32 tokens, temperature 0, no cache). A run's figure is its cases divided by its
wall time: the model's answers, scoring, redaction and the batched writes of the results.

The same questions are also sent straight to the model (``llama_cpp`` through the embedded
provider, one after the other), so the table shows what evaluation adds per case. llama.cpp
is not re-entrant: the embedded model answers one call at a time, so concurrency can only
overlap the work around the model (retrieval, scoring, storage), and the gain is bounded by
that share. Against an OpenAI-compatible server that batches requests, concurrency scales
further; that is not measured here (no such server is installed offline).

Rounds alternate the concurrency order and the best round of each is kept (the machine is
shared). The model and the embedding model are loaded before any timing.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass
from typing import Any

from rich.console import Console, Group
from rich.table import Table

from bench.report import verdict
from bench.workspaces import DATA_DIR, settings_for
from passline.services.workspace import Workspace

__all__ = ["FULL", "QUICK", "EvalParams", "run", "run_benchmark"]

CONCURRENCY = (1, 2, 4)
SUITE = "bench/throughput"
MAX_TOKENS = 32
#: c=4 should not be slower than c=1 (it can only gain the work around the model)
GOAL_NOT_SLOWER = 0.9

QUESTIONS = [
    ("What is the capital of France?", "Paris"),
    ("What is 2 + 2?", "4"),
    ("What colour is the sky on a clear day?", "blue"),
    ("How many days are in a week?", "7"),
    ("What is the opposite of hot?", "cold"),
    ("Which animal says meow?", "cat"),
    ("What is the largest planet of the solar system?", "Jupiter"),
    ("How many legs does a spider have?", "8"),
    ("What do bees make?", "honey"),
    ("What is frozen water called?", "ice"),
    ("What is the sabbatical policy of ACME Corp?", None),
    ("How many days of pet leave does ACME Corp give?", None),
]


@dataclass(frozen=True)
class EvalParams:
    cases: int
    rounds: int


FULL = EvalParams(cases=12, rounds=2)
QUICK = EvalParams(cases=4, rounds=1)


def _cases(n: int) -> list[dict[str, Any]]:
    chosen = QUESTIONS[: n - 1] + [QUESTIONS[-1]] if n < len(QUESTIONS) else QUESTIONS
    out = []
    for i, (question, expected) in enumerate(chosen):
        case: dict[str, Any] = {"id": f"c{i + 1}", "question": question}
        if expected is None:
            case.update(refuse=True, scorers=["refusal", "answer_relevance"])
        else:
            case["expected"] = expected
        out.append(case)
    return out


def _model_only(questions: list[str]) -> float:
    """Seconds for the embedded model to answer the questions one after the other."""
    from passline.llm.embedded import embedded_model
    from passline.llm.types import ChatParams, Message

    model = embedded_model()
    params = ChatParams(max_tokens=MAX_TOKENS, temperature=0.0)
    started = time.perf_counter()
    for question in questions:
        model.chat([Message("user", question)], params)
    return time.perf_counter() - started


def run(params: EvalParams, console: Console) -> dict[str, Any]:
    home = DATA_DIR / "evaluation"
    shutil.rmtree(home, ignore_errors=True)
    workspace = Workspace.open(settings_for(home))
    try:
        svc = workspace.services(workspace.local_context("system"))
        svc.projects.create("bench")
        cases = _cases(params.cases)
        svc.evaluation.create_suite(SUITE, cases, ["contains", "refusal", "answer_relevance"])
        target = {"params": {"max_tokens": MAX_TOKENS}}
        console.print("evaluation: loading the model and the embeddings (not timed)")
        svc.evaluation.run(SUITE, "model:default", concurrency=1, target_options=target)
        best: dict[int, dict[str, Any]] = {}
        model_s: list[float] = []
        for round_ in range(params.rounds):
            order = CONCURRENCY if round_ % 2 == 0 else tuple(reversed(CONCURRENCY))
            model_s.append(_model_only([c["question"] for c in cases]))
            for concurrency in order:
                result = svc.evaluation.run(
                    SUITE, "model:default", concurrency=concurrency, target_options=target
                )
                figures = {
                    "cases_per_s": result.cases_per_s,
                    "seconds": result.duration_s,
                    "errored": result.errored,
                    "p50_latency_ms": result.aggregates.get("p50_latency_ms"),
                    "output_tokens": result.output_tokens,
                    "means": result.means(),
                }
                console.print(
                    f"evaluation: round {round_ + 1}, concurrency {concurrency}: "
                    f"{result.cases_per_s:.2f} cases/s"
                )
                if concurrency not in best or (result.cases_per_s or 0) > (
                    best[concurrency]["cases_per_s"] or 0
                ):
                    best[concurrency] = figures
        model_best = min(model_s)
        model_rate = len(cases) / model_best
        base = best[1]["cases_per_s"] or 0.0
        overhead_ms = (
            (best[1]["seconds"] - model_best) / len(cases) * 1000 if best[1]["seconds"] else None
        )
        c4 = (best[4]["cases_per_s"] or 0.0) / base if base else None
        return {
            "params": {"cases": len(cases), "rounds": params.rounds, "max_tokens": MAX_TOKENS},
            "model_only": {"seconds": model_best, "cases_per_s": model_rate},
            "runs": {str(k): v for k, v in sorted(best.items())},
            "speedup": {str(k): (best[k]["cases_per_s"] or 0.0) / base for k in best},
            "overhead_ms_per_case": overhead_ms,
            "goal": {
                "c4_over_c1_min": GOAL_NOT_SLOWER,
                "met": c4 is not None and c4 >= GOAL_NOT_SLOWER,
            },
        }
    finally:
        workspace.close()


def evaluation_table(result: dict[str, Any]) -> Group:
    table = Table(
        title=f"Evaluation throughput: {result['params']['cases']} cases against the embedded "
        f"model (answers <= {result['params']['max_tokens']} tokens, best of "
        f"{result['params']['rounds']})"
    )
    for name in ("run", "cases/s", "seconds", "vs c=1", "p50 case ms", "errored"):
        table.add_column(name, justify="left" if name == "run" else "right")
    model = result["model_only"]
    table.add_row(
        "model alone, sequential",
        f"{model['cases_per_s']:.2f}",
        f"{model['seconds']:.1f}",
        "-",
        "-",
        "-",
    )
    for concurrency, figures in result["runs"].items():
        table.add_row(
            f"eval run, concurrency {concurrency}",
            f"{figures['cases_per_s']:.2f}",
            f"{figures['seconds']:.1f}",
            f"{result['speedup'][concurrency]:.2f}x",
            f"{figures['p50_latency_ms'] or 0:.0f}",
            str(figures["errored"]),
        )
    overhead = result["overhead_ms_per_case"]
    line = (
        f"{verdict(result['goal']['met'])}: concurrency 4 at "
        f"{result['speedup']['4']:.2f}x concurrency 1 (goal >= {GOAL_NOT_SLOWER}x: the embedded "
        "model answers one call at a time); evaluation adds "
        + (f"{overhead:.0f} ms per case over the model alone" if overhead is not None else "-")
    )
    return Group(table, line)


def run_benchmark(quick: bool, console: Console) -> tuple[Group, dict[str, Any]]:
    """The ``python -m bench`` entry: tables and JSON payload of a full or quick run."""
    result = run(QUICK if quick else FULL, console)
    return evaluation_table(result), result
