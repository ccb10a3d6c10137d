"""AI acceptance criteria: the Given/When/Then criteria an AI feature must meet, each mapped
to the gate criterion that checks it, so a story's "done" is the gate passing.

The classic set covers data, versioning, monitoring, rollback and documentation; the GenAI
set adds prompt versioning, content filtering, redacted logs, feedback, evaluation and
red-team thresholds.

    >>> [c.area for c in acceptance_criteria(genai=False)][:2]
    ['data', 'data']
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

__all__ = ["AcceptanceCriterion", "acceptance_criteria", "as_gate_yaml", "as_markdown"]


@dataclass(frozen=True)
class AcceptanceCriterion:
    area: str  # data | versioning | monitoring | rollback | documentation | genai
    title: str
    given: str
    when: str
    then: str
    gate: dict[str, Any] = field(default_factory=dict)  # the gate criterion that checks it

    @property
    def text(self) -> str:
        return f"Given {self.given}, when {self.when}, then {self.then}."

    def to_dict(self) -> dict[str, Any]:
        return {
            "area": self.area,
            "title": self.title,
            "given": self.given,
            "when": self.when,
            "then": self.then,
            "text": self.text,
            "gate_criterion": self.gate,
        }


_CLASSIC = [
    AcceptanceCriterion(
        "data",
        "Training data versions recorded",
        "a model version is a release candidate",
        "its lineage is read",
        "the dataset versions it was trained on are recorded",
        {"type": "training_data_recorded"},
    ),
    AcceptanceCriterion(
        "data",
        "Data quality checks pass",
        "the training dataset versions are recorded",
        "their quality checks run",
        "every check passes",
        {"type": "training_data_recorded", "quality_checks": True},
    ),
    AcceptanceCriterion(
        "versioning",
        "Model in the registry, approved by a non-author",
        "a model version is registered",
        "it is proposed for production",
        "an approver other than its author has approved it",
        {"type": "approved_by_non_author"},
    ),
    AcceptanceCriterion(
        "versioning",
        "Key metric meets its threshold",
        "the version's training run logged its metrics",
        "the key metric is compared with the agreed threshold",
        "it meets the threshold (TO BE DEFINED: metric and threshold)",
        {"type": "metric", "name": "TO BE DEFINED", "op": ">=", "threshold": 0.0},
    ),
    AcceptanceCriterion(
        "monitoring",
        "Dashboard shows latency, error rate and traffic",
        "the version serves canary or primary traffic",
        "the monitoring dashboard is opened",
        "it shows latency and error rate for at least 60 minutes of that traffic",
        {"type": "dashboard_traffic", "minutes": 60},
    ),
    AcceptanceCriterion(
        "monitoring",
        "No drift against the reference",
        "the endpoint receives production inputs",
        "they are compared with the training data",
        "no drift is detected",
        {"type": "no_drift"},
    ),
    AcceptanceCriterion(
        "rollback",
        "Rollback rehearsed and timed",
        "a previous version is available",
        "the alias is rolled back in a rehearsal",
        "the rollback completes in under 60 seconds and its time is recorded",
        {"type": "rollback_rehearsed", "max_seconds": 60},
    ),
    AcceptanceCriterion(
        "documentation",
        "Model card complete",
        "the model is registered",
        "its model card is rendered",
        "description, purpose, users, out-of-scope uses and limitations are filled in",
        {"type": "model_card_complete"},
    ),
]

_GENAI = [
    AcceptanceCriterion(
        "genai",
        "Prompt versioned",
        "the feature answers with a prompt",
        "the prompt is changed",
        "the change is a new registered prompt version with its author",
        {"type": "prompt_versioned"},
    ),
    AcceptanceCriterion(
        "genai",
        "Content filtering on, logs redacted",
        "users send free text",
        "an input or an answer holds personal data",
        "the guard policy redacts it and traces store only redacted content",
        {"type": "pii_redaction_on"},
    ),
    AcceptanceCriterion(
        "genai",
        "Feedback enabled",
        "users read an answer",
        "they rate it",
        "the feedback is recorded against the trace and the prompt version",
        {"type": "feedback_enabled"},
    ),
    AcceptanceCriterion(
        "genai",
        "Evaluation threshold",
        "an evaluation suite of expected answers exists",
        "the prompt version is evaluated",
        "faithfulness (the groundedness scorer) is at least 0.9",
        {"type": "eval_metric", "scorer": "groundedness", "min": 0.9},
    ),
    AcceptanceCriterion(
        "genai",
        "Red-team threshold",
        "the probe library is run against the feature",
        "the attack success rate is measured",
        "at most 5% of attacks succeed",
        {"type": "attack_success_max", "max": 0.05},
    ),
]


def acceptance_criteria(genai: bool = False) -> list[AcceptanceCriterion]:
    """The classic criteria, plus the GenAI ones when ``genai``."""
    return [*_CLASSIC, *(_GENAI if genai else [])]


def as_markdown(criteria: list[AcceptanceCriterion], feature: str = "the AI feature") -> str:
    lines = [f"# Acceptance criteria for {feature}", ""]
    for area in dict.fromkeys(c.area for c in criteria):
        lines += [f"## {area.capitalize()}", ""]
        for c in (c for c in criteria if c.area == area):
            lines.append(f"- **{c.title}**: {c.text} _(gate: `{c.gate['type']}`)_")
        lines.append("")
    return "\n".join(lines)


def as_gate_yaml(criteria: list[AcceptanceCriterion], name: str = "release") -> str:
    """A gate file (``passline gate create P NAME --file``) checking these criteria; the
    placeholders marked TO BE DEFINED are left for the team to fill in."""
    seen: list[dict[str, Any]] = []
    for c in criteria:
        spec = {**c.gate, "title": c.title}
        if spec not in seen:
            seen.append(spec)
    body = {"name": name, "description": "Generated AI acceptance criteria", "criteria": seen}
    return yaml.safe_dump(body, sort_keys=False)
