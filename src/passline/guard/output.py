"""Output checks: restricted data the answer must not carry, and the schema it must follow.

Restricted data is what the policy names: terms (``salary``, ``bonus``), regular
expressions, and literal values (figures from a salary file, a project code name). A
value or a pattern anywhere is a hit; a term alone is not (an HR assistant may say "your
salary is paid monthly"), but a number near a term is: ``numbers_near_terms`` flags any
amount within ``window`` characters of a restricted term, which is how a salary figure
shows up in however many phrasings ("earns 85k", "salary: $85,000", "paid 85 000 EUR").

Findings name the kind of rule and its index in the policy and the position, never the
matched text (the values themselves are sensitive).
"""

from __future__ import annotations

import json
import re
from functools import cached_property
from typing import Any, Literal

from pydantic import Field, field_validator

from passline.guard.base import Action, Guard, GuardConfig, GuardContext, Span, Verdict, counts

__all__ = ["RestrictedConfig", "RestrictedGuard", "SchemaConfig", "SchemaGuard"]

# amounts: currency signs or words, thousands groups, "85k"; plain years are not amounts
_AMOUNT = re.compile(
    r"(?:[$€£¥]\s?)?(?<![\w.,])\d{1,3}(?:[ ,.\u00a0\u202f]\d{3})+(?:[.,]\d+)?(?:\s?[kKmM]\b)?"
    r"(?:\s?(?:€|\$|£|eur|euros?|usd|dollars?|gbp|pounds?)\b)?"
    r"|(?:[$€£¥]\s?)\d+(?:[.,]\d+)?(?:\s?[kKmM]\b)?"
    r"|(?<![\w.,])\d+(?:[.,]\d+)?\s?[kK]\b"
    r"|(?<![\w.,])\d+(?:[.,]\d+)?\s?(?:€|eur|euros?|usd|dollars?|gbp|pounds?)\b"
    r"|(?<![\w.,])(?!(?:19|20)\d{2}\b)\d{4,}(?:[.,]\d+)?\b",
    re.IGNORECASE,
)


_KINDS = {
    "value": "restricted value(s)",
    "pattern": "match(es) of a restricted pattern",
    "term": "restricted term(s)",
    "amount_near_term": "amount(s) near a restricted term",
}


class RestrictedConfig(GuardConfig):
    """Data the text must not carry.

    Attributes:
        terms: words or phrases that mark restricted data (``salary``, ``compensation``).
        patterns: regular expressions whose matches are restricted.
        values: literal values that are restricted (matched case-insensitively).
        numbers_near_terms: an amount within ``window`` characters of a term is a hit.
        window: how near, in characters.
        terms_alone: a term alone, without an amount, is also a hit.
    """

    type: Literal["restricted"] = "restricted"
    action: Action = "block"
    terms: tuple[str, ...] = ()
    patterns: tuple[str, ...] = ()
    values: tuple[str, ...] = ()
    numbers_near_terms: bool = True
    window: int = Field(default=60, ge=0, le=1000)
    terms_alone: bool = False

    can_redact = True

    @field_validator("patterns")
    @classmethod
    def _compiles(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for i, pattern in enumerate(value):
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"pattern #{i} is not a valid regular expression: {exc}") from None
        return value


class RestrictedGuard(Guard[RestrictedConfig]):
    @cached_property
    def _terms(self) -> list[re.Pattern[str]]:
        # a term matches its plural and inflections: "salary" finds "salaries"
        return [re.compile(rf"(?<!\w){_stem(t)}\w*", re.I) for t in self.config.terms]

    @cached_property
    def _patterns(self) -> list[re.Pattern[str]]:
        return [re.compile(p) for p in self.config.patterns]

    @cached_property
    def _values(self) -> list[re.Pattern[str]]:
        return [re.compile(rf"(?<!\w){re.escape(v)}(?!\w)", re.I) for v in self.config.values]

    def check(self, text: str, context: GuardContext) -> Verdict:
        found: list[tuple[str, int, int, int]] = []  # kind, index, start, end
        for kind, rules in (("value", self._values), ("pattern", self._patterns)):
            for i, rule in enumerate(rules):
                found += [(kind, i, m.start(), m.end()) for m in rule.finditer(text)]
        terms = [
            (i, m.start(), m.end()) for i, t in enumerate(self._terms) for m in t.finditer(text)
        ]
        if terms and self.config.terms_alone:
            found += [("term", i, s, e) for i, s, e in terms]
        if terms and self.config.numbers_near_terms:
            found += self._amounts_near(text, terms)
        found.sort(key=lambda f: f[2])
        kinds = counts([f[0] for f in found])
        reasons = [f"{n} {_KINDS[k]}" for k, n in kinds.items()]
        named = sorted({self.config.terms[i] for i, _, _ in terms})
        if found and named:
            reasons.append(f"terms: {', '.join(named)}")
        return Verdict(
            hit=bool(found),
            reasons=reasons,
            findings=[{"type": k, "rule": i, "start": s, "end": e} for k, i, s, e in found],
            spans=[Span(s, e, "RESTRICTED") for _, _, s, e in found],
            score=1.0 if found else 0.0,
        )

    def _amounts_near(self, text: str, terms: list[tuple[int, int, int]]) -> list[Any]:
        window = self.config.window
        near = []
        for m in _AMOUNT.finditer(text):
            closest = min(terms, key=lambda t: _gap(t[1], t[2], m.start(), m.end()))
            if _gap(closest[1], closest[2], m.start(), m.end()) <= window:
                near.append(("amount_near_term", closest[0], m.start(), m.end()))
        return near


def _stem(term: str) -> str:
    """The term as a regex that also matches its inflections ("salary": "salaries")."""
    if len(term) > 4 and term[-1].isalpha():
        return re.escape(term[:-1])
    return re.escape(term)


def _gap(a_start: int, a_end: int, b_start: int, b_end: int) -> int:
    return max(0, b_start - a_end, a_start - b_end)


class SchemaConfig(GuardConfig):
    """The text must be JSON valid against ``json_schema`` (a JSON Schema document)."""

    type: Literal["schema"] = "schema"
    action: Action = "block"
    json_schema: dict[str, Any] = Field(alias="schema")

    model_config = GuardConfig.model_config | {"populate_by_name": True}

    @field_validator("json_schema")
    @classmethod
    def _valid_schema(cls, value: dict[str, Any]) -> dict[str, Any]:
        from jsonschema import SchemaError, validators

        try:
            validators.validator_for(value).check_schema(value)
        except SchemaError as exc:
            raise ValueError(f"not a valid JSON Schema: {exc.message}") from None
        return value


class SchemaGuard(Guard[SchemaConfig]):
    @cached_property
    def _validator(self) -> Any:
        from jsonschema import validators

        schema = self.config.json_schema
        return validators.validator_for(schema)(schema)

    def check(self, text: str, context: GuardContext) -> Verdict:
        try:
            document = json.loads(text)
        except ValueError as exc:
            where = f"line {exc.lineno} column {exc.colno}" if hasattr(exc, "lineno") else ""
            return Verdict(
                hit=True,
                reasons=[f"not JSON ({where})".replace(" ()", "")],
                findings=[{"type": "not_json"}],
                score=1.0,
            )
        errors = sorted(self._validator.iter_errors(document), key=lambda e: list(e.path))
        # the path and the rule that failed, never the offending value (it may be personal)
        findings = [
            {"type": "schema", "path": _path(e.absolute_path), "rule": e.validator}
            for e in errors[:20]
        ]
        return Verdict(
            hit=bool(errors),
            reasons=[f"{f['path']}: fails '{f['rule']}'" for f in findings[:5]],
            findings=findings,
            score=1.0 if errors else 0.0,
        )


def _path(parts: Any) -> str:
    return "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in parts)
