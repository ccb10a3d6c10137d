"""Running cases against a target with bounded concurrency, and the run's aggregates.

Each case runs in a worker thread: the target answers, then every scorer that applies to
the case scores it. A target that raises marks that case ``errored`` with the error's
message and the run goes on; a scorer that raises leaves its score unscored with the
reason. Outcomes come back in completion order, so the caller can store them in batches and
report progress while the pool works.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from passline.errors import PasslineError
from passline.evaluation.cases import Case
from passline.evaluation.scorers import Sample, Score, Scorer, ScoringEnv, applicable
from passline.evaluation.targets import Target, TargetAnswer

__all__ = ["MAX_CONCURRENCY", "Outcome", "aggregate", "run_cases"]

MAX_CONCURRENCY = 32


@dataclass
class Outcome:
    case: Case
    position: int
    answer: TargetAnswer | None = None
    scores: dict[str, Score] = field(default_factory=dict)
    error: str | None = None

    @property
    def status(self) -> str:
        return "errored" if self.error is not None else "ok"

    @property
    def judge_cost_usd(self) -> float:
        return sum(s.cost_usd for s in self.scores.values())


def _error_text(exc: BaseException) -> str:
    if isinstance(exc, PasslineError):
        return f"{type(exc).__name__}: {exc.message}"[:2000]
    return f"{type(exc).__name__}: {exc}"[:2000]


def run_case(
    target: Target, case: Case, position: int, scorers: list[Scorer], env: ScoringEnv
) -> Outcome:
    """One case, start to end; never raises."""
    outcome = Outcome(case, position)
    try:
        outcome.answer = target.answer(case)
    except Exception as exc:  # noqa: BLE001 - the case is errored, the run goes on
        outcome.error = _error_text(exc)
        return outcome
    context = tuple(outcome.answer.context or case.context)
    sample = Sample(case, outcome.answer.text, context, env)
    outcome.scores = {s.name: s.run(sample) for s in applicable(scorers, case)}
    return outcome


def run_cases(
    target: Target,
    cases: list[tuple[int, Case]],
    scorers: list[Scorer],
    env: ScoringEnv,
    concurrency: int = 1,
) -> Iterator[Outcome]:
    """Outcomes of ``cases`` (position, case), as they complete."""
    if concurrency == 1:
        for position, case in cases:
            yield run_case(target, case, position, scorers, env)
        return
    with ThreadPoolExecutor(concurrency, thread_name_prefix="passline-eval") as pool:
        futures = [pool.submit(run_case, target, c, p, scorers, env) for p, c in cases]
        for future in as_completed(futures):
            yield future.result()


def aggregate(outcomes: list[Outcome], scorers: list[str], duration_s: float) -> dict[str, Any]:
    """Per scorer: mean, spread and pass rate over scored cases; run totals and latency."""
    ok = [o for o in outcomes if o.error is None]
    per_scorer: dict[str, Any] = {}
    for name in scorers:
        scores = [o.scores[name] for o in ok if name in o.scores]
        values = np.array([s.value for s in scores if s.value is not None], dtype=np.float64)
        passed = [s.passed for s in scores if s.passed is not None]
        per_scorer[name] = {
            "mean": float(values.mean()) if len(values) else None,
            "std": float(values.std()) if len(values) else None,
            "min": float(values.min()) if len(values) else None,
            "scored": int(len(values)),
            "unscored": len(scores) - int(len(values)),
            "pass_rate": (sum(passed) / len(passed)) if passed else None,
        }
    latencies = np.array([o.answer.latency_ms for o in ok if o.answer], dtype=np.float64)
    total = len(outcomes)
    return {
        "scorers": per_scorer,
        "cases": total,
        "errored": total - len(ok),
        "error_rate": (total - len(ok)) / total if total else 0.0,
        "p50_latency_ms": float(np.percentile(latencies, 50)) if len(latencies) else None,
        "p95_latency_ms": float(np.percentile(latencies, 95)) if len(latencies) else None,
        "input_tokens": sum(o.answer.input_tokens for o in ok if o.answer),
        "output_tokens": sum(o.answer.output_tokens for o in ok if o.answer),
        "cost_usd": sum(o.answer.cost_usd for o in ok if o.answer),
        "judge_cost_usd": sum(o.judge_cost_usd for o in outcomes),
        "duration_s": duration_s,
        "cases_per_s": total / duration_s if duration_s > 0 else None,
    }


def figures(aggregates: dict[str, Any]) -> dict[str, float | None]:
    """The names a release check can use, with their values."""
    out: dict[str, float | None] = {}
    for name, figures_ in aggregates.get("scorers", {}).items():
        out[name] = figures_["mean"]
        out[f"{name}.pass_rate"] = figures_["pass_rate"]
        out[f"{name}.unscored"] = figures_["unscored"]
    for key in (
        "error_rate",
        "cases",
        "errored",
        "cost_usd",
        "judge_cost_usd",
        "p50_latency_ms",
        "p95_latency_ms",
    ):
        out[key] = aggregates.get(key)
    return out
