"""Evaluation: cases and suites, scorers, targets, runs, comparisons and release checks.

The parts that need no database live here and are reused by red teaming (a probe runs
through a :class:`Target`, a finding joins a suite as a :class:`Case`); storage, roles,
audit and lineage are in ``passline.services.evaluation``. See docs/evaluation.md.

Extension points (one required method each):

- :class:`Scorer` (``score(sample) -> Score``), registered by type with
  :func:`register_scorer` or the ``passline.scorers`` entry-point group;
- :class:`Target` (``answer(case, history=None) -> TargetAnswer``).
"""

from __future__ import annotations

from passline.evaluation.cases import Case, load_suite_file, parse_cases, parse_suite
from passline.evaluation.checks import parse_check
from passline.evaluation.scorers import (
    ENTRY_POINT_GROUP,
    Sample,
    Score,
    Scorer,
    ScoringEnv,
    build_scorer,
    register_scorer,
    scorer_types,
)
from passline.evaluation.targets import (
    EndpointTarget,
    FunctionTarget,
    OpenAITarget,
    PromptTarget,
    Target,
    TargetAnswer,
    build_target,
)
from passline.evaluation.text import claims, is_refusal

__all__ = [
    "ENTRY_POINT_GROUP",
    "Case",
    "EndpointTarget",
    "FunctionTarget",
    "OpenAITarget",
    "PromptTarget",
    "Sample",
    "Score",
    "Scorer",
    "ScoringEnv",
    "Target",
    "TargetAnswer",
    "build_scorer",
    "build_target",
    "claims",
    "is_refusal",
    "load_suite_file",
    "parse_cases",
    "parse_check",
    "parse_suite",
    "register_scorer",
    "scorer_types",
]
