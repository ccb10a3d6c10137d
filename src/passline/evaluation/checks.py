"""Release checks: an expression over a run's figures, evaluated and stored with the run.

    faithfulness >= 0.9 and no significant regression against production
    refusal.pass_rate == 1 and error_rate <= 0.05 and (cost_usd < 0.5 or cases < 10)

Grammar (keywords are case-insensitive)::

    check      := or
    or         := and ("or" and)*
    and        := not ("and" not)*
    not        := "not" not | "(" check ")" | comparison | regression
    comparison := METRIC (">=" | "<=" | ">" | "<" | "==" | "!=") NUMBER
    regression := "no" ["significant"] "regression" ["in" SCORER]
                  ("against" | "vs" | "versus") BASELINE

A METRIC is a scorer's name (its mean over scored cases), ``SCORER.pass_rate``,
``SCORER.unscored``, or a run figure: ``error_rate``, ``cases``, ``errored``, ``cost_usd``,
``judge_cost_usd``, ``p50_latency_ms``, ``p95_latency_ms``. ``faithfulness`` is another
name for ``groundedness``. A BASELINE is a run label (``production``), a run id, or a label
of the evaluated prompt (the latest run of its version on the same suite). Every name is
checked before the run starts; an unknown one is an error that lists the known ones.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from passline.errors import InvalidInput

__all__ = ["Check", "CheckOutcome", "parse_check"]

ALIASES = {"faithfulness": "groundedness"}
RUN_FIGURES = (
    "error_rate",
    "cases",
    "errored",
    "cost_usd",
    "judge_cost_usd",
    "p50_latency_ms",
    "p95_latency_ms",
)
_TOKEN = re.compile(r"\s*(>=|<=|==|!=|>|<|\(|\)|[-+]?\d+(?:\.\d+)?(?:e[-+]?\d+)?|[\w.@:/-]+)")
_OPS = {
    ">=": lambda a, b: a >= b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    "<": lambda a, b: a < b,
    "==": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
}
_AGAINST = ("against", "vs", "versus")
_KEYWORDS = {"and", "or", "not", "no", "significant", "regression", "in", *_AGAINST}

# (baseline, scorer or None) -> (passed, evidence)
RegressionCheck = Callable[[str, str | None], tuple[bool, dict[str, Any]]]


@dataclass
class CheckOutcome:
    passed: bool
    terms: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class _Node:
    kind: str  # and | or | not | cmp | regression
    children: tuple[_Node, ...] = ()
    text: str = ""
    metric: str = ""
    op: str = ""
    value: float = 0.0
    baseline: str = ""
    scorer: str | None = None


class Check:
    """A parsed release check; :meth:`evaluate` runs it on a run's aggregates."""

    def __init__(self, expression: str, root: _Node) -> None:
        self.expression = expression
        self._root = root

    def metrics(self) -> list[str]:
        return [n.metric for n in _walk(self._root) if n.kind == "cmp"]

    def baselines(self) -> list[str]:
        return [n.baseline for n in _walk(self._root) if n.kind == "regression"]

    def check_names(self, scorers: list[str]) -> None:
        """Every metric and regression scorer names something the run will have."""
        known = [*scorers, *(f"{s}.pass_rate" for s in scorers), *RUN_FIGURES]
        for node in _walk(self._root):
            name = node.metric if node.kind == "cmp" else node.scorer
            if name is None or node.kind not in ("cmp", "regression"):
                continue
            base = resolve_metric(name, scorers)
            if base not in known and not base.endswith(".unscored"):
                raise InvalidInput(
                    f"The release check names {name!r}, which this run will not have.",
                    hint=f"Known: {', '.join(known)}.",
                )

    def evaluate(
        self, figures: dict[str, float | None], regression: RegressionCheck
    ) -> CheckOutcome:
        terms: list[dict[str, Any]] = []
        passed = self._eval(self._root, figures, regression, terms)
        return CheckOutcome(passed, terms)

    def _eval(
        self,
        node: _Node,
        figures: dict[str, float | None],
        regression: RegressionCheck,
        terms: list[dict[str, Any]],
    ) -> bool:
        if node.kind == "and":
            return all([self._eval(c, figures, regression, terms) for c in node.children])
        if node.kind == "or":
            return any([self._eval(c, figures, regression, terms) for c in node.children])
        if node.kind == "not":
            return not self._eval(node.children[0], figures, regression, terms)
        if node.kind == "cmp":
            value = figures.get(resolve_metric(node.metric, list(figures)))
            ok = value is not None and _OPS[node.op](value, node.value)
            terms.append({"term": node.text, "passed": ok, "value": value})
            return ok
        ok, evidence = regression(
            node.baseline, node.scorer and resolve_metric(node.scorer, list(figures))
        )
        terms.append({"term": node.text, "passed": ok, **evidence})
        return ok


def resolve_metric(name: str, known: list[str]) -> str:
    """``faithfulness`` is ``groundedness`` unless a scorer is named ``faithfulness``."""
    head, dot, tail = name.partition(".")
    if head not in known and head in ALIASES:
        head = ALIASES[head]
    return head + dot + tail


def _walk(node: _Node) -> list[_Node]:
    return [node, *(n for c in node.children for n in _walk(c))]


class _Parser:
    def __init__(self, expression: str) -> None:
        self.text = expression
        self.tokens: list[tuple[str, int]] = []
        position = 0
        while position < len(expression):
            match = _TOKEN.match(expression, position)
            if match is None or not match.group(1):
                if expression[position:].strip() == "":
                    break
                raise self._error(
                    f"unexpected character {expression[position:].strip()[0]!r}", position
                )
            self.tokens.append((match.group(1), match.start(1)))
            position = match.end()
        self.index = 0

    def _error(self, what: str, position: int | None = None) -> InvalidInput:
        if position is None:
            position = (
                self.tokens[self.index][1] if self.index < len(self.tokens) else len(self.text)
            )
        return InvalidInput(
            f"The release check {self.text!r} cannot be read at character {position + 1}: {what}.",
            hint="Write terms like 'groundedness >= 0.9', 'error_rate <= 0.05' or 'no "
            "significant regression against production', joined by and/or/not.",
        )

    def peek(self) -> str | None:
        return self.tokens[self.index][0].lower() if self.index < len(self.tokens) else None

    def take(self, what: str = "more") -> str:
        """The next token, whatever it is (``what`` names it in the error at the end)."""
        if self.peek() is None:
            raise self._error(f"expected {what} at the end")
        self.index += 1
        return self.tokens[self.index - 1][0]

    def expect(self, literal: str) -> str:
        token = self.peek()
        if token != literal:
            found = (
                f", found {self.tokens[self.index][0]!r}" if token is not None else " at the end"
            )
            raise self._error(f"expected {literal!r}{found}")
        return self.take()

    def parse(self) -> _Node:
        if not self.tokens:
            raise self._error("it is empty", 0)
        node = self.or_()
        if self.index < len(self.tokens):
            raise self._error(f"unexpected {self.tokens[self.index][0]!r}")
        return node

    def or_(self) -> _Node:
        nodes = [self.and_()]
        while self.peek() == "or":
            self.take()
            nodes.append(self.and_())
        return nodes[0] if len(nodes) == 1 else _Node("or", tuple(nodes))

    def and_(self) -> _Node:
        nodes = [self.not_()]
        while self.peek() == "and":
            self.take()
            nodes.append(self.not_())
        return nodes[0] if len(nodes) == 1 else _Node("and", tuple(nodes))

    def not_(self) -> _Node:
        token = self.peek()
        if token == "not":
            self.take()
            return _Node("not", (self.not_(),))
        if token == "(":
            self.take()
            node = self.or_()
            self.expect(")")
            return node
        if token == "no":
            return self.regression()
        return self.comparison()

    def _span(self, start: int) -> str:
        begin = self.tokens[start][1]
        last, at = self.tokens[self.index - 1]
        return self.text[begin : at + len(last)]

    def comparison(self) -> _Node:
        start = self.index
        metric = self.take("a metric")
        if metric.lower() in _KEYWORDS or not re.fullmatch(r"[A-Za-z_][\w.]*", metric):
            raise self._error(f"expected a metric name, found {metric!r}", self.tokens[start][1])
        op = self.take("a comparison (>=, <=, >, <, ==, !=)")
        if op not in _OPS:
            raise self._error(
                f"expected a comparison after {metric!r}, found {op!r}",
                self.tokens[self.index - 1][1],
            )
        number = self.take("a number")
        try:
            value = float(number)
        except ValueError:
            raise self._error(
                f"expected a number after {op!r}, found {number!r}", self.tokens[self.index - 1][1]
            ) from None
        return _Node("cmp", text=self._span(start), metric=metric, op=op, value=value)

    def regression(self) -> _Node:
        start = self.index
        self.expect("no")
        if self.peek() == "significant":
            self.take()
        self.expect("regression")
        scorer = None
        if self.peek() == "in":
            self.take()
            scorer = self.take("a scorer name")
        if self.peek() not in _AGAINST:
            raise self._error("expected 'against' and a baseline after 'regression'")
        self.take()
        baseline = self.take("a baseline (a run label such as production, or a run id)")
        if baseline.lower() in _KEYWORDS or baseline in "()":
            raise self._error(
                f"expected a baseline, found {baseline!r}", self.tokens[self.index - 1][1]
            )
        return _Node("regression", text=self._span(start), baseline=baseline, scorer=scorer)


def parse_check(expression: str) -> Check:
    """A release check from its text; a syntax error names the character and what was
    expected there."""
    if not isinstance(expression, str):
        raise InvalidInput(f"A release check is a string. Got {type(expression).__name__}.")
    if len(expression) > 2000:
        raise InvalidInput("A release check is at most 2,000 characters.")
    return Check(expression, _Parser(expression).parse())
