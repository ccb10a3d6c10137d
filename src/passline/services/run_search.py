"""Run search: MLflow's filter and order-by syntax, compiled to one SQL query.

    metrics.auc > 0.8 and params.model = 'gbm' and tags.`team` != 'ml' and status = 'FINISHED'

Each clause is ``entity.key op value``, joined by ``and`` (as in MLflow; there is no
``or``). Metric clauses compare the latest value of the metric (``run_latest_metrics``),
so a search over ten thousand runs is one indexed query, not a loop over runs.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, exists, func, select

from passline.errors import InvalidInput
from passline.services.run_rows import LATEST, PARAMS, RUNS, TAGS

__all__ = [
    "Clause",
    "apply_order",
    "compile_filter",
    "decode_token",
    "encode_token",
    "parse_filter",
]

_ENTITIES = {
    "metrics": "metric",
    "metric": "metric",
    "params": "param",
    "param": "param",
    "parameters": "param",
    "parameter": "param",
    "tags": "tag",
    "tag": "tag",
    "attributes": "attribute",
    "attribute": "attribute",
    "attr": "attribute",
    "run": "attribute",
}
_ATTRIBUTES = {
    "status": RUNS.c.status,
    "run_name": RUNS.c.name,
    "run_id": RUNS.c.id,
    "start_time": RUNS.c.start_time,
    "end_time": RUNS.c.end_time,
    "user_id": RUNS.c.user,
    "created": RUNS.c.start_time,
}
_KEYED = {"metric": LATEST, "param": PARAMS, "tag": TAGS}
_OPS = ("!=", ">=", "<=", "=", ">", "<", "ILIKE", "LIKE", "NOT IN", "IN")
_TOKEN = re.compile(
    r"""\s*(?:
        (?P<ident>[A-Za-z_]+\.(?:`[^`]+`|"[^"]+"|[\w.\-/]+))
      | (?P<op>!=|>=|<=|=|>|<|(?i:not\s+in)\b|(?i:ilike)\b|(?i:like)\b|(?i:in)\b)
      | (?P<string>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")
      | (?P<number>-?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)
      | (?P<list>\((?:[^()'"]|'[^']*'|"[^"]*")*\))
      | (?P<and>(?i:and)\b)
      | (?P<bare>[A-Za-z_][\w]*)
    )""",
    re.VERBOSE,
)


@dataclass(frozen=True)
class Clause:
    entity: str  # metric | param | tag | attribute
    key: str
    op: str
    value: Any


def parse_filter(text: str | None) -> list[Clause]:
    """Parse a filter string; the error names the position and what was expected."""
    if not text or not text.strip():
        return []
    tokens = list(_tokens(text))
    clauses, position = [], 0
    while position < len(tokens):
        clauses.append(_clause(tokens[position : position + 3], text))
        position += 3
        if position < len(tokens):
            if tokens[position][0] != "and":
                raise _error(text, f"expected 'and' before {tokens[position][1]!r}")
            position += 1
            if position == len(tokens):
                raise _error(text, "a clause must follow 'and'")
    return clauses


def _tokens(text: str) -> list[tuple[str, str]]:
    out, position = [], 0
    while position < len(text.rstrip()):
        match = _TOKEN.match(text, position)
        if match is None or match.end() == position:
            raise _error(text, f"cannot read {text[position : position + 20].strip()!r}")
        kind = match.lastgroup or ""
        out.append((kind, match.group(kind)))
        position = match.end()
    return out


def _clause(parts: list[tuple[str, str]], text: str) -> Clause:
    if len(parts) < 3:
        raise _error(text, "each clause is 'entity.key operator value'")
    (kind, ident), (op_kind, op), (value_kind, raw) = parts
    if kind == "bare":  # MLflow allows attributes without a prefix: status = 'FINISHED'
        kind, ident = "ident", f"attributes.{ident}"
    if kind != "ident" or op_kind != "op":
        raise _error(text, f"expected 'entity.key operator value', got {ident!r} {op!r}")
    prefix, _, key = ident.partition(".")
    entity = _ENTITIES.get(prefix.lower())
    if entity is None:
        raise _error(
            text, f"unknown entity {prefix!r}; use metrics., params., tags. or attributes."
        )
    key = key.strip('`"')
    op = " ".join(op.upper().split())
    return Clause(entity, key, op, _value(entity, key, op, value_kind, raw, text))


def _value(entity: str, key: str, op: str, kind: str, raw: str, text: str) -> Any:
    if op in ("IN", "NOT IN"):
        if kind != "list":
            raise _error(text, f"{op} takes a list such as ('a', 'b')")
        return [_unquote(v.strip()) for v in re.findall(r"'[^']*'|\"[^\"]*\"", raw)]
    if entity == "metric" or (
        entity == "attribute" and key in ("start_time", "end_time", "created")
    ):
        if kind != "number":
            raise _error(text, f"{entity} {key!r} compares with a number, got {raw}")
        return float(raw)
    if kind != "string":
        raise _error(text, f"{entity} {key!r} compares with a quoted string, got {raw}")
    if op not in ("=", "!=", "LIKE", "ILIKE"):
        raise _error(text, f"{entity} {key!r} supports =, !=, LIKE, ILIKE, IN; got {op}")
    return _unquote(raw)


def _unquote(raw: str) -> str:
    return raw[1:-1].replace("\\'", "'").replace('\\"', '"')


def _error(text: str, what: str) -> InvalidInput:
    return InvalidInput(
        f"Cannot parse the run filter {text!r}: {what}.",
        hint="Example: metrics.auc > 0.8 and params.model = 'gbm' and status = 'FINISHED'",
    )


def _compare(column: Any, op: str, value: Any) -> ColumnElement[bool]:
    if op == "=":
        return column == value
    if op == "!=":
        return column != value
    if op == ">":
        return column > value
    if op == ">=":
        return column >= value
    if op == "<":
        return column < value
    if op == "<=":
        return column <= value
    if op == "LIKE":
        return column.like(value)
    if op == "ILIKE":
        return func.lower(column).like(str(value).lower())
    if op == "IN":
        return column.in_(value)
    return column.not_in(value)


def compile_filter(clauses: list[Clause]) -> list[ColumnElement[bool]]:
    """SQL conditions on ``runs``, one per clause (EXISTS subqueries for keys)."""
    conditions = []
    for clause in clauses:
        if clause.entity == "attribute":
            column = _ATTRIBUTES.get(clause.key)
            if column is None:
                raise InvalidInput(
                    f"Unknown run attribute {clause.key!r}; the attributes are "
                    f"{', '.join(sorted(_ATTRIBUTES))}."
                )
            conditions.append(_compare(column, clause.op, clause.value))
            continue
        table = _KEYED[clause.entity]
        test = [
            table.c.run_id == RUNS.c.id,
            table.c.key == clause.key,
            _compare(table.c.value, clause.op, clause.value),
        ]
        if clause.entity == "metric":
            test.append(LATEST.c.is_nan.is_(False))
        conditions.append(exists(select(1).where(and_(*test))))
    return conditions


_ORDER = re.compile(
    r"^\s*(?P<ident>[A-Za-z_]+\.(?:`[^`]+`|\"[^\"]+\"|[\w.\-/]+)|[A-Za-z_]\w*)"
    r"(?:\s+(?P<dir>ASC|DESC))?\s*$",
    re.IGNORECASE,
)


def apply_order(query: Select[Any], order_by: list[str] | None) -> Select[Any]:
    """ORDER BY each ``entity.key [ASC|DESC]``; newest first when nothing is given."""
    for index, item in enumerate(order_by or []):
        match = _ORDER.match(item)
        if match is None:
            raise InvalidInput(f"Cannot read the order {item!r}: use e.g. 'metrics.auc DESC'.")
        ident = match["ident"] if "." in match["ident"] else f"attributes.{match['ident']}"
        prefix, _, key = ident.partition(".")
        entity, key = _ENTITIES.get(prefix.lower()), key.strip('`"')
        descending = (match["dir"] or "ASC").upper() == "DESC"
        query = _order_one(query, entity, key, descending, index)
    return query.order_by(RUNS.c.start_time.desc(), RUNS.c.id.desc())


def _order_one(
    query: Select[Any], entity: str | None, key: str, descending: bool, index: int
) -> Select[Any]:
    if entity == "attribute" and key in _ATTRIBUTES:
        column = _ATTRIBUTES[key]
    elif entity in ("metric", "param", "tag"):
        table = _KEYED[entity].alias(f"order_{index}")
        query = query.outerjoin(table, and_(table.c.run_id == RUNS.c.id, table.c.key == key))
        column = table.c.value
    else:
        raise InvalidInput(f"Cannot order runs by {entity}.{key}.")
    # Runs without the value go last either way, as in MLflow.
    return query.order_by(column.is_(None), column.desc() if descending else column.asc())


def encode_token(offset: int) -> str:
    return base64.urlsafe_b64encode(f"offset:{offset}".encode()).decode()


def decode_token(token: str | None) -> int:
    if not token:
        return 0
    try:
        kind, _, value = base64.urlsafe_b64decode(token.encode()).decode().partition(":")
        if kind == "offset" and value.isdigit():
            return int(value)
    except (ValueError, UnicodeDecodeError):
        pass
    raise InvalidInput(f"The page token {token!r} is not one this server issued.")
