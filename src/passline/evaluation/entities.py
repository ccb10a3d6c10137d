"""What evaluation returns on every surface: suites and their versions, runs with per-case
results, comparisons, and online evaluation figures."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import Field

from passline.core.entities import Entity

__all__ = [
    "CaseResult",
    "Comparison",
    "EvalRun",
    "OnlineConfig",
    "OnlinePoint",
    "OnlineReport",
    "ScorerDifference",
    "Suite",
    "SuiteVersion",
]


class Suite(Entity):
    id: str
    project: str
    name: str
    description: str = ""
    latest_version: int | None = None
    cases: int = 0
    created_by: str
    created_at: datetime

    @property
    def ref(self) -> str:
        return f"{self.project}/{self.name}"


class SuiteVersion(Entity):
    id: str
    suite: str  # project/name
    version: int
    digest: str
    description: str = ""
    scorers: list[dict[str, Any]] = Field(default_factory=list)
    cases: list[dict[str, Any]] = Field(default_factory=list)
    case_count: int = 0
    author: str
    created_at: datetime

    @property
    def ref(self) -> str:
        return f"eval_suite_version:{self.id}"

    @property
    def label(self) -> str:
        return f"{self.suite}@v{self.version}"


class CaseResult(Entity):
    case_id: str
    position: int
    status: str  # ok | errored
    answer: str | None = None
    context: list[str] = Field(default_factory=list)
    scores: dict[str, dict[str, Any]] = Field(default_factory=dict)
    error: str | None = None
    latency_ms: float | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    trace_id: str | None = None


class EvalRun(Entity):
    id: str
    project: str
    suite: str  # project/name
    suite_version: int
    name: str = ""
    target: dict[str, Any]
    target_label: str = ""
    status: str  # running | completed | failed
    concurrency: int = 1
    scorers: list[dict[str, Any]] = Field(default_factory=list)
    aggregates: dict[str, Any] = Field(default_factory=dict)
    check: dict[str, Any] | None = None
    cases: int = 0
    done: int = 0
    errored: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    judge_cost_usd: float = 0.0
    duration_s: float | None = None
    cases_per_s: float | None = None
    message: str = ""
    labels: list[str] = Field(default_factory=list)
    created_by: str
    started_at: datetime
    finished_at: datetime | None = None
    results: list[CaseResult] = Field(default_factory=list)

    @property
    def ref(self) -> str:
        return f"eval_run:{self.id}"

    def means(self) -> dict[str, float | None]:
        """Each scorer's mean over the scored cases."""
        return {k: v.get("mean") for k, v in self.aggregates.get("scorers", {}).items()}


class ScorerDifference(Entity):
    scorer: str
    n: int
    mean_baseline: float | None
    mean_candidate: float | None
    diff: float | None
    ci_low: float | None
    ci_high: float | None
    verdict: str  # regression | improvement | no significant change | not comparable
    paired: bool = True


class Comparison(Entity):
    baseline: str  # run id
    candidate: str
    suite: str
    confidence: float
    resamples: int
    seed: int
    scorers: list[ScorerDifference]
    regressions: list[str] = Field(default_factory=list)
    improvements: list[str] = Field(default_factory=list)
    # cases that passed in the baseline and fail in the candidate, per scorer
    newly_failing: dict[str, list[str]] = Field(default_factory=dict)


class OnlineReport(Entity):
    project: str
    sampled: int
    scored: int
    skipped: int  # already scored, or with no answer to score
    hallucinated: int
    hallucination_rate: float | None
    guard_hits: int
    negative_feedback: int
    duration_s: float


class OnlinePoint(Entity):
    prompt_version: str | None  # project/name@vN, None for calls without a prompt
    bucket: datetime
    traces: int
    grounded_traces: int  # traces with retrieved passages to score against
    hallucinated: int
    hallucination_rate: float | None
    mean_groundedness: float | None
    guard_hit_rate: float
    negative_feedback_rate: float


class OnlineConfig(Entity):
    project: str
    app: str | None = None
    sample: int
    threshold: float
    schedule: str
    enabled: bool
    created_by: str
    next_run_at: datetime | None = None
    last_run_at: datetime | None = None
    last_status: str | None = None
