"""Evaluation cases and suite files: what is asked, what the right answer is, and how it
is scored.

A suite file (YAML or JSON) has a ``cases`` list and, optionally, ``scorers``, ``name`` and
``description``::

    description: HR handbook questions
    scorers:
      - contains
      - {type: groundedness, threshold: 0.7}
    cases:
      - id: leave-days
        question: How many days of annual leave do I get?
        expected: 25 days
        reference_facts: [Every employee gets 25 days of paid annual leave]
        tags: [leave]
      - id: sabbatical
        question: What is the sabbatical policy?
        refuse: true            # nothing documents one: the right answer is a refusal
        scorers: [refusal]      # the suite's scorers that apply to this case

Every problem is reported with the case (its id and position) and the field: an unknown
field, a missing question, a scorer that needs ``expected`` on a case that has none.
"""

from __future__ import annotations

import difflib
import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from passline.errors import InvalidInput

__all__ = ["CASE_FIELDS", "Case", "SuiteFile", "case_label", "load_suite_file", "parse_cases"]

MAX_CASES = 10_000


class Case(BaseModel):
    """One evaluation case. ``question`` or ``inputs`` (a prompt's variables) says what is
    asked; ``expected``, ``reference_facts`` and ``refuse`` say what a right answer is."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    question: str | None = None
    inputs: dict[str, Any] = Field(default_factory=dict)
    expected: Any = None
    reference_facts: list[str] = Field(default_factory=list)
    context: list[str] = Field(default_factory=list)
    refuse: bool = False
    tags: list[str] = Field(default_factory=list)
    scorers: list[str] | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)

    @property
    def asked(self) -> str:
        """The question, or the inputs as text when there is no question."""
        if self.question:
            return self.question
        text = self.inputs.get("question")
        if isinstance(text, str):
            return text
        return "; ".join(f"{k}: {v}" for k, v in self.inputs.items())


CASE_FIELDS = tuple(Case.model_fields)
_SUITE_FIELDS = ("name", "description", "scorers", "cases")
_LISTS_OF_TEXT = ("reference_facts", "context", "tags")


class SuiteFile(BaseModel):
    """What a suite file holds, checked."""

    model_config = ConfigDict(frozen=True)

    name: str | None = None
    description: str = ""
    scorers: list[dict[str, Any]] = Field(default_factory=list)
    cases: list[Case]


def case_label(raw: Any, position: int) -> str:
    """How errors name a case: its id when it has one, and its position (1-based)."""
    if isinstance(raw, dict) and isinstance(raw.get("id"), str):
        return f"Case {raw['id']!r} (case {position})"
    return f"Case {position}"


def _unknown(what: str, key: str, allowed: tuple[str, ...]) -> InvalidInput:
    close = difflib.get_close_matches(key, allowed, n=1)
    maybe = f" Did you mean {close[0]!r}?" if close else ""
    return InvalidInput(
        f"{what}: unknown field {key!r}.{maybe}",
        hint=f"Allowed fields: {', '.join(allowed)}.",
    )


def _check_case(raw: Any, position: int) -> Case:
    label = case_label(raw, position)
    if not isinstance(raw, dict):
        raise InvalidInput(f"{label} must be a mapping of fields. Got {type(raw).__name__}.")
    for key in raw:
        if key not in CASE_FIELDS:
            raise _unknown(label, str(key), CASE_FIELDS)
    data = dict(raw)
    data.setdefault("id", f"case-{position}")
    if not isinstance(data["id"], str | int) or not str(data["id"]).strip():
        raise InvalidInput(f"{label}: field 'id' must be a non-empty string.")
    data["id"] = str(data["id"])
    if len(data["id"]) > 200:
        raise InvalidInput(f"{label}: field 'id' is longer than 200 characters.")
    question, inputs = data.get("question"), data.get("inputs")
    if question is not None and (not isinstance(question, str) or not question.strip()):
        raise InvalidInput(f"{label}: field 'question' must be a non-empty string.")
    if inputs is not None and not isinstance(inputs, dict):
        raise InvalidInput(f"{label}: field 'inputs' must be a mapping of variable to value.")
    if not question and not inputs:
        raise InvalidInput(
            f"{label}: field 'question' is missing (or give 'inputs', the prompt's variables)."
        )
    for key in _LISTS_OF_TEXT:
        value = data.get(key)
        if isinstance(value, str):
            data[key] = [value]
        elif value is not None and (
            not isinstance(value, list) or not all(isinstance(v, str) for v in value)
        ):
            raise InvalidInput(f"{label}: field {key!r} must be a list of strings.")
    if "refuse" in data and not isinstance(data["refuse"], bool):
        raise InvalidInput(f"{label}: field 'refuse' must be true or false.")
    scorers = data.get("scorers")
    if scorers is not None and (
        not isinstance(scorers, list) or not all(isinstance(s, str) for s in scorers)
    ):
        raise InvalidInput(f"{label}: field 'scorers' must be a list of the suite's scorer names.")
    if "metadata" in data and not isinstance(data["metadata"], dict):
        raise InvalidInput(f"{label}: field 'metadata' must be a mapping.")
    return Case.model_validate(data)


def parse_cases(raw: Any) -> list[Case]:
    """Cases from plain data (a list of mappings), checked; ids must be unique."""
    if not isinstance(raw, list) or not raw:
        raise InvalidInput("A suite needs a non-empty list of 'cases'.")
    if len(raw) > MAX_CASES:
        raise InvalidInput(f"A suite holds at most {MAX_CASES:,} cases. Got {len(raw):,}.")
    cases = [c if isinstance(c, Case) else _check_case(c, i) for i, c in enumerate(raw, 1)]
    seen: dict[str, int] = {}
    for position, case in enumerate(cases, 1):
        if case.id in seen:
            raise InvalidInput(
                f"Case {case.id!r} (case {position}): the id is already used by case "
                f"{seen[case.id]}; case ids must be unique in a suite."
            )
        seen[case.id] = position
    return cases


def parse_suite(data: Any, source: str = "the suite") -> SuiteFile:
    """A suite from plain data: top-level fields checked, then every case."""
    if isinstance(data, list):
        data = {"cases": data}
    if not isinstance(data, dict):
        raise InvalidInput(f"{source} must be a mapping with 'cases' (or a list of cases).")
    for key in data:
        if key not in _SUITE_FIELDS:
            raise _unknown(f"{source}", str(key), _SUITE_FIELDS)
    scorers = data.get("scorers") or []
    if not isinstance(scorers, list):
        raise InvalidInput(f"{source}: 'scorers' must be a list (names or mappings with 'type').")
    specs = [{"type": s} if isinstance(s, str) else s for s in scorers]
    if not all(isinstance(s, dict) for s in specs):
        raise InvalidInput(f"{source}: each scorer is a name or a mapping with 'type'.")
    return SuiteFile(
        name=data.get("name"),
        description=str(data.get("description") or ""),
        scorers=specs,
        cases=parse_cases(data.get("cases")),
    )


def load_suite_file(path: str | Path) -> SuiteFile:
    """A suite from a ``.yaml``, ``.yml`` or ``.json`` file."""
    import yaml

    file = Path(path)
    if not file.is_file():
        raise InvalidInput(f"No suite file at {file}.", hint="Check the path.")
    text = file.read_text(encoding="utf-8")
    try:
        data = json.loads(text) if file.suffix == ".json" else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as exc:
        raise InvalidInput(f"{file.name} is not valid {file.suffix[1:].upper()}: {exc}") from None
    return parse_suite(data, file.name)
