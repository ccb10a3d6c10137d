"""Named release checks: functions of a model version that pass or fail with evidence.

A release policy lists checks by name with their parameters; the registry runs them before
an alias moves. This is the hook the gate engine (the PM's release gates) plugs into:
register a function with :func:`release_check` and name it in a policy.

    @release_check("metric_at_least")
    def metric_at_least(version: ModelVersion, metric: str, min: float) -> CheckResult: ...
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from passline.core.entities import ModelVersion
from passline.errors import InvalidInput

__all__ = ["CHECKS", "CheckResult", "release_check", "run_check", "validate_checks"]


@dataclass(frozen=True)
class CheckResult:
    name: str
    passed: bool
    evidence: dict[str, Any] = field(default_factory=dict)
    message: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


Check = Callable[..., CheckResult]
CHECKS: dict[str, Check] = {}


def release_check(name: str) -> Callable[[Check], Check]:
    """Register a check under ``name`` (its keyword parameters are the policy's params)."""

    def register(function: Check) -> Check:
        CHECKS[name] = function
        return function

    return register


def _load_gate_check() -> None:
    """The ``gate`` check lives with the gate service, registered on first use."""
    if "gate" not in CHECKS:
        import passline.services.gates  # noqa: F401


def validate_checks(checks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Refuse unknown check names and parameters when a policy is set, not when it runs."""
    _load_gate_check()
    for spec in checks:
        name = spec.get("name") if isinstance(spec, dict) else None
        if name not in CHECKS:
            known = ", ".join(sorted(CHECKS))
            raise InvalidInput(f"Unknown release check {name!r}; the checks are {known}.")
        params = {k: v for k, v in spec.items() if k != "name"}
        accepted = [
            p for p in list(inspect.signature(CHECKS[name]).parameters)[1:] if p != "services"
        ]
        unknown = sorted(set(params) - set(accepted))
        if unknown:
            raise InvalidInput(
                f"Release check {name!r} has no parameter {unknown[0]!r}; "
                f"it takes {', '.join(accepted)}."
            )
    return checks


def run_check(version: ModelVersion, spec: dict[str, Any], services: Any = None) -> CheckResult:
    """Run one check; a check that takes ``services`` (the gate check) gets the caller's."""
    _load_gate_check()
    params = {k: v for k, v in spec.items() if k != "name"}
    if (
        spec.get("name") in CHECKS
        and "services" in inspect.signature(CHECKS[spec["name"]]).parameters
    ):
        params["services"] = services
    try:
        return CHECKS[spec["name"]](version, **params)
    except Exception as exc:  # a failing check is evidence, never a crash of the promotion
        return CheckResult(spec["name"], False, {"error": str(exc)}, f"check raised: {exc}")


def _metric(version: ModelVersion, metric: str) -> float | None:
    value = version.metrics.get(metric)
    return value if isinstance(value, int | float) else None


@release_check("metric_at_least")
def metric_at_least(version: ModelVersion, metric: str, min: float) -> CheckResult:
    value = _metric(version, metric)
    passed = value is not None and value >= min
    return CheckResult(
        "metric_at_least",
        passed,
        {"metric": metric, "value": value, "min": min},
        f"{metric} = {value} (needs >= {min})",
    )


@release_check("metric_at_most")
def metric_at_most(version: ModelVersion, metric: str, max: float) -> CheckResult:
    value = _metric(version, metric)
    passed = value is not None and value <= max
    return CheckResult(
        "metric_at_most",
        passed,
        {"metric": metric, "value": value, "max": max},
        f"{metric} = {value} (needs <= {max})",
    )


@release_check("has_training_data")
def has_training_data(version: ModelVersion) -> CheckResult:
    passed = bool(version.dataset_versions)
    return CheckResult(
        "has_training_data",
        passed,
        {"dataset_versions": version.dataset_versions},
        "trained on " + (", ".join(version.dataset_versions) or "no recorded dataset"),
    )


@release_check("has_signature")
def has_signature(version: ModelVersion) -> CheckResult:
    passed = bool(version.signature.get("inputs"))
    return CheckResult(
        "has_signature",
        passed,
        {"signature": version.signature},
        "input signature " + ("recorded" if passed else "missing"),
    )


@release_check("from_run")
def from_run(version: ModelVersion) -> CheckResult:
    return CheckResult(
        "from_run",
        version.run_id is not None,
        {"run_id": version.run_id},
        f"logged by run {version.run_id}" if version.run_id else "not from a run",
    )
