"""Gate criteria as data: one frozen model per criterion type, with a stable ``type`` id.

A gate is a list of these; the YAML a user writes is validated here, before anything is
stored, and the service (``passline.services.gates``) checks each one against the platform.

    name: release
    description: what the retail model needs before production
    criteria:
      - type: training_data_recorded
      - type: metric
        name: mae
        op: "<="
        threshold: 40
"""

from __future__ import annotations

from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from passline.errors import InvalidInput

__all__ = ["CRITERIA", "Criterion", "describe", "parse_criteria", "parse_gate_yaml"]

Op = Literal[">=", ">", "<=", "<", "=="]


class Criterion(BaseModel):
    """Configuration only: what to check. The check itself lives in the gate service."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    type: str
    title: str = ""  # optional wording shown instead of the generated one


class TrainingDataRecorded(Criterion):
    """The version's training dataset versions are recorded (and, optionally, their quality
    checks pass)."""

    type: Literal["training_data_recorded"] = "training_data_recorded"
    quality_checks: bool = False


class ApprovedByNonAuthor(Criterion):
    """Someone other than the version's author approved it."""

    type: Literal["approved_by_non_author"] = "approved_by_non_author"
    min_approvals: int = Field(default=1, ge=1)


class Metric(Criterion):
    """A metric of the version compares to a threshold (optionally: measured on a dataset)."""

    type: Literal["metric"] = "metric"
    name: str
    op: Op = ">="
    threshold: float
    dataset: str | None = None


class NoDrift(Criterion):
    """The endpoint serving the model shows no data drift against the reference."""

    type: Literal["no_drift"] = "no_drift"
    endpoint: str | None = None
    window: str = "24h"
    reference: str | None = None


class DashboardTraffic(Criterion):
    """The dashboard holds latency and error metrics for at least N minutes of traffic."""

    type: Literal["dashboard_traffic"] = "dashboard_traffic"
    minutes: int = Field(default=60, ge=1)
    role: Literal["canary", "primary", "any"] = "any"
    endpoint: str | None = None
    window: str = "7d"
    max_error_rate: float | None = Field(default=None, ge=0, le=1)


class RollbackRehearsed(Criterion):
    """A rollback of the model was performed and measured under ``max_seconds``."""

    type: Literal["rollback_rehearsed"] = "rollback_rehearsed"
    max_seconds: float = Field(default=60, gt=0)


class ModelCardComplete(Criterion):
    """The model card's fields are filled in: the description and intended-use entries."""

    type: Literal["model_card_complete"] = "model_card_complete"
    fields: list[str] = Field(
        default_factory=lambda: ["description", "purpose", "users", "out_of_scope", "limitations"]
    )


class EvalMetric(Criterion):
    """A scorer's mean on the latest completed evaluation run of the prompt version."""

    type: Literal["eval_metric"] = "eval_metric"
    scorer: str
    min: float
    suite: str | None = None


class AttackSuccessMax(Criterion):
    """The latest completed red-team run's attack success rate is at most ``max``."""

    type: Literal["attack_success_max"] = "attack_success_max"
    max: float = Field(ge=0, le=1)
    max_age_days: int | None = Field(default=None, ge=1)


class PiiRedactionOn(Criterion):
    """The app's guard policy redacts personal data and traces store redacted content."""

    type: Literal["pii_redaction_on"] = "pii_redaction_on"
    app: str | None = None


class PromptVersioned(Criterion):
    """The prompt is a registered, versioned prompt (for a model: its project has one)."""

    type: Literal["prompt_versioned"] = "prompt_versioned"
    prompt: str | None = None


class FeedbackEnabled(Criterion):
    """Users have given feedback on the app's answers (at least ``min_feedback``)."""

    type: Literal["feedback_enabled"] = "feedback_enabled"
    min_feedback: int = Field(default=1, ge=1)


CRITERIA: dict[str, type[Criterion]] = {
    cls.model_fields["type"].default: cls
    for cls in (
        TrainingDataRecorded,
        ApprovedByNonAuthor,
        Metric,
        NoDrift,
        DashboardTraffic,
        RollbackRehearsed,
        ModelCardComplete,
        EvalMetric,
        AttackSuccessMax,
        PiiRedactionOn,
        PromptVersioned,
        FeedbackEnabled,
    )
}


def _params(cls: type[Criterion]) -> list[str]:
    return [name for name in cls.model_fields if name != "type"]


def parse_criterion(spec: Any, index: int) -> Criterion:
    """One criterion from a mapping; errors name the criterion, the parameter and the value."""
    where = f"Criterion {index + 1}"
    if not isinstance(spec, dict) or "type" not in spec:
        raise InvalidInput(f"{where} must be a mapping with a 'type'. Got {spec!r} instead.")
    cls = CRITERIA.get(spec["type"])
    if cls is None:
        raise InvalidInput(
            f"{where} has unknown type {spec['type']!r}; the types are {', '.join(CRITERIA)}.",
            hint="passline gate types lists each type with its parameters.",
        )
    unknown = sorted(set(spec) - set(cls.model_fields))
    if unknown:
        raise InvalidInput(
            f"{where} ({spec['type']}) has no parameter {unknown[0]!r}; "
            f"it takes {', '.join(_params(cls)) or 'no parameters'}."
        )
    try:
        return cls.model_validate(spec)
    except ValidationError as exc:
        error = exc.errors()[0]
        name = ".".join(str(p) for p in error["loc"]) or "type"
        got = spec.get(str(error["loc"][0])) if error["loc"] else spec
        raise InvalidInput(
            f"The {name!r} parameter of {where} ({spec['type']}): {error['msg']}. "
            f"Got {got!r} instead."
        ) from None


def parse_criteria(specs: Any) -> list[Criterion]:
    if not isinstance(specs, list) or not specs:
        raise InvalidInput(f"A gate needs a non-empty list of criteria. Got {specs!r} instead.")
    return [parse_criterion(spec, i) for i, spec in enumerate(specs)]


def parse_gate_yaml(text: str) -> dict[str, Any]:
    """``{"description": ..., "criteria": [...]}`` from a gate file (a mapping or a list)."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise InvalidInput(f"The gate file is not valid YAML: {exc}") from None
    if isinstance(data, list):
        data = {"criteria": data}
    if not isinstance(data, dict):
        raise InvalidInput("A gate file is a mapping with 'criteria' (a list) or a list.")
    unknown = sorted(set(data) - {"name", "description", "criteria"})
    if unknown:
        raise InvalidInput(
            f"A gate file has no key {unknown[0]!r}; it takes name, description, criteria."
        )
    criteria = parse_criteria(data.get("criteria"))
    return {
        "name": data.get("name"),
        "description": str(data.get("description") or ""),
        "criteria": [c.model_dump(exclude_defaults=True) | {"type": c.type} for c in criteria],
    }


def describe(criterion: Criterion) -> str:
    """A one-line reading of a criterion, e.g. ``metric mae <= 40.0``."""
    if criterion.title:
        return criterion.title
    params = criterion.model_dump(exclude_defaults=True, exclude={"type", "title"})
    if isinstance(criterion, Metric):
        on = f" on {criterion.dataset}" if criterion.dataset else ""
        return f"metric {criterion.name} {criterion.op} {criterion.threshold:g}{on}"
    if isinstance(criterion, EvalMetric):
        return f"eval {criterion.scorer} >= {criterion.min:g}"
    if isinstance(criterion, AttackSuccessMax):
        return f"attack success <= {criterion.max:.0%}"
    extra = ", ".join(f"{k}={v}" for k, v in params.items())
    return f"{criterion.type} ({extra})" if extra else criterion.type


def catalogue() -> list[dict[str, Any]]:
    """Every criterion type with its parameters and their defaults."""
    out = []
    for name, cls in CRITERIA.items():
        params = {
            key: (None if field.is_required() else field.get_default(call_default_factory=True))
            for key, field in cls.model_fields.items()
            if key not in ("type", "title")
        }
        required = [k for k, f in cls.model_fields.items() if f.is_required()]
        doc = " ".join((cls.__doc__ or "").replace("``", "").split())
        out.append({"type": name, "description": doc, "params": params, "required": required})
    return out
