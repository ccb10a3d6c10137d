"""A guard policy: which guards check an app's inputs and outputs, and how strictly.

::

    input:
      - type: pii                  # redact personal data before the model sees it
      - type: injection
        threshold: 0.5
      - type: topic
        topics: ["leave and holidays", "expense claims"]
    output:
      - type: restricted
        terms: [salary, bonus]
        exempt_groups: [hr]
      - type: pii
    latency_budget_ms: 200         # guards run concurrently; slower ones are overruns
    fail_mode: open                # an overrun or a failing guard: open allows, closed blocks
    shadow: false                  # true: record what would happen, never block or change
    content: redacted              # what traces may store: redacted | metrics_only
"""

from __future__ import annotations

from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializeAsAny,
    ValidationError,
    field_validator,
    model_validator,
)

from passline.errors import InvalidInput
from passline.guard.base import GuardConfig, guard_types

__all__ = ["GuardPolicy"]


def _parse_guard(raw: Any) -> GuardConfig:
    if isinstance(raw, GuardConfig):
        return raw
    if not isinstance(raw, dict) or not isinstance(raw.get("type"), str):
        raise ValueError("each guard is a mapping with a 'type' (e.g. {type: pii})")
    known = guard_types()
    if raw["type"] not in known:
        raise ValueError(f"unknown guard type {raw['type']!r}; choose among {sorted(known)}")
    return known[raw["type"]][0].model_validate(raw)


class GuardPolicy(BaseModel):
    """The guards of one app, and the rules they run under (see the module docstring)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    input: tuple[SerializeAsAny[GuardConfig], ...] = ()
    output: tuple[SerializeAsAny[GuardConfig], ...] = ()
    latency_budget_ms: float = Field(default=200.0, gt=0, le=60_000)
    fail_mode: Literal["open", "closed"] = "open"
    shadow: bool = False
    content: Literal["redacted", "metrics_only"] = "redacted"

    @field_validator("input", "output", mode="before")
    @classmethod
    def _guards(cls, value: Any) -> tuple[GuardConfig, ...]:
        if value is None:
            return ()
        if not isinstance(value, list | tuple):
            raise ValueError("a list of guards")
        guards = []
        for i, item in enumerate(value):
            try:
                guards.append(_parse_guard(item))
            except ValidationError as exc:
                kind = item.get("type") if isinstance(item, dict) else None
                details = "; ".join(_describe(e) for e in exc.errors())
                raise ValueError(f"guard #{i} ({kind}): {details}") from None
        return tuple(guards)

    @model_validator(mode="after")
    def _consistent(self) -> GuardPolicy:
        for stage in ("input", "output"):
            labels = [g.label for g in getattr(self, stage)]
            twice = sorted({label for label in labels if labels.count(label) > 1})
            if twice:
                raise ValueError(
                    f"{stage}: two guards named {twice[0]!r}; give one a distinct 'name'"
                )
            for guard in getattr(self, stage):
                if guard.action == "redact" and not guard.can_redact:
                    raise ValueError(
                        f"{stage}: the {guard.type!r} guard finds no spans to redact; "
                        "its action must be 'block' or 'allow'"
                    )
        return self

    def guards(self, stage: str) -> tuple[GuardConfig, ...]:
        if stage not in ("input", "output"):
            raise InvalidInput(f"The stage must be 'input' or 'output'. Got {stage!r} instead.")
        return self.input if stage == "input" else self.output

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)

    @classmethod
    def parse(cls, data: Any) -> GuardPolicy:
        """A policy from a mapping, or YAML/JSON text; InvalidInput says what is wrong."""
        if isinstance(data, GuardPolicy):
            return data
        if isinstance(data, str | bytes):
            try:
                data = yaml.safe_load(data) or {}
            except yaml.YAMLError as exc:
                raise InvalidInput(f"The guard policy is not valid YAML or JSON: {exc}") from None
        if not isinstance(data, dict):
            raise InvalidInput(
                f"A guard policy is a mapping (input, output, ...). Got {type(data).__name__}."
            )
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            raise InvalidInput(
                "The guard policy is not valid: " + "; ".join(_describe(e) for e in exc.errors()),
                hint="See docs/guardrails.md for the policy format.",
            ) from None


def _describe(error: Any) -> str:
    where = ".".join(str(p) for p in error["loc"] if not str(p).startswith("function-"))
    message = error["msg"].removeprefix("Value error, ")
    got = error.get("input")
    shown = f" Got {got!r}." if error["type"] in ("literal_error", "extra_forbidden") else ""
    text = f"{where}: {message}" if where else message
    return text if text.endswith(".") and not shown else f"{text.rstrip('.')}.{shown}"
