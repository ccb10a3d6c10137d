"""References to any Passline object: ``kind:key``, e.g. ``project:retail``.

A ref is how the lineage graph, the audit log and the UI name an object without knowing
its table. The kind says which service owns it; the key is that service's id or name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from passline.errors import InvalidInput

__all__ = ["Ref", "KNOWN_KINDS"]

#: Kinds in use today; later blocks add theirs (dataset_version, run, model_version, ...).
KNOWN_KINDS = frozenset(
    {
        "project",
        "user",
        "token",
        "artifact",
        "source",
        "dataset",
        "dataset_version",
        "run",
        "model",
        "model_version",
        "alias_move",
        "endpoint",
        "request",
        "prompt_version",
        "trace",
        "evaluation",
        "document",
        "story",
        "gate_evaluation",
        "feedback",
        "external",
        # evaluation (0007): suites, their versions, runs, and what runs evaluate
        "eval_suite",
        "eval_suite_version",
        "eval_run",
        "llm_model",
        "collection",
        # red teaming (0008): runs and their attempts (a finding becomes an eval case)
        "redteam_run",
        "redteam_attempt",
        # release gates (0009): gates (their checks are gate_evaluation), and the guard
        # policies a gate reads as evidence
        "gate",
        "guard_policy",
        # environments (0012): a release links the version it moved (audit: environment)
        "release",
        "environment",
        # pipelines (0013): a run links the dataset versions it read to what it produced
        "pipeline_run",
    }
)
_KIND = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


@dataclass(frozen=True, slots=True)
class Ref:
    kind: str
    key: str

    def __str__(self) -> str:
        return f"{self.kind}:{self.key}"

    @classmethod
    def parse(cls, text: str) -> Ref:
        kind, sep, key = text.strip().partition(":")
        if not sep or not key or not _KIND.match(kind):
            raise InvalidInput(
                f"A reference must look like 'kind:key' (for example 'project:retail'). "
                f"Got {text!r} instead."
            )
        if kind not in KNOWN_KINDS:
            known = ", ".join(sorted(KNOWN_KINDS))
            raise InvalidInput(f"Unknown object kind {kind!r} in {text!r}. Known kinds: {known}.")
        if len(key) > 200:
            raise InvalidInput(f"The key of reference {text[:60]!r}... is longer than 200 chars.")
        return cls(kind, key)
