"""The small filter language of MLflow's experiment, model and logged-model searches.

    name = 'scorer' and tags.team != 'ml' and name LIKE 'fraud-%'

Clauses ``field op 'value'`` joined by ``and``; ``op`` is ``=``, ``!=``, ``LIKE`` or
``ILIKE``. Each search names the fields it knows; any other field is an error that lists
them. (Run searches use Passline's full MLflow filter compiler, ``services.run_search``.)
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection
from dataclasses import dataclass

from passline.server.mlflow.errors import invalid

__all__ = ["Clause", "matches", "parse"]

_CLAUSE = re.compile(
    r"""\s*(?P<field>[A-Za-z_][\w.]*(?:\.`[^`]+`|\."[^"]+")?)
        \s*(?P<op>!=|=|(?i:ilike)\b|(?i:like)\b)
        \s*(?P<value>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")\s*""",
    re.VERBOSE,
)
_AND = re.compile(r"(?i:and)\b\s*")


@dataclass(frozen=True)
class Clause:
    field: str
    op: str
    value: str

    def test(self, actual: str | None) -> bool:
        if actual is None:
            return self.op == "!="
        if self.op == "=":
            return actual == self.value
        if self.op == "!=":
            return actual != self.value
        pattern = re.escape(self.value).replace("%", ".*").replace("_", ".")
        flags = re.IGNORECASE if self.op == "ILIKE" else 0
        return re.fullmatch(pattern, actual, flags | re.DOTALL) is not None


def parse(text: str | None, fields: Collection[str]) -> list[Clause]:
    """Clauses of ``text``; ``fields`` are the known ones (``tags.`` and ``params.`` prefixes
    are allowed when listed as ``tags.*``, ``params.*``)."""
    clauses: list[Clause] = []
    position, text = 0, (text or "").strip()
    while position < len(text):
        match = _CLAUSE.match(text, position)
        if match is None:
            raise invalid(
                f"Cannot parse the filter {text!r} at {text[position : position + 20]!r}: use "
                "clauses like name = 'x' joined by 'and'."
            )
        clauses.append(_clause(match, fields))
        position = match.end()
        if position < len(text):
            joiner = _AND.match(text, position)
            if joiner is None:
                raise invalid(f"Expected 'and' in the filter {text!r} at position {position}.")
            position = joiner.end()
    return clauses


def _clause(match: re.Match[str], fields: Collection[str]) -> Clause:
    field = match["field"].removeprefix("attributes.").removeprefix("attribute.")
    prefix, dot, key = field.partition(".")
    if dot and f"{prefix}.*" in fields:
        field = prefix + "." + key.strip("`'\"")
    elif field not in fields:
        raise invalid(
            f"Unknown field {match['field']!r} in the filter; this search supports "
            f"{', '.join(sorted(fields))}."
        )
    value = match["value"][1:-1].replace("\\'", "'").replace('\\"', '"')
    return Clause(field, match["op"].upper(), value)


def matches(clauses: list[Clause], lookup: Callable[[str], str | None]) -> bool:
    return all(c.test(lookup(c.field)) for c in clauses)
