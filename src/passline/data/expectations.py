"""Data quality expectations: declared in YAML, checked on Arrow record batches as they stream.

The YAML file holds one key, ``expectations``, a list of items::

    expectations:
      - {type: not_null, column: store_id, level: error}
      - {type: unique, column: txn_id}              # level defaults to error
      - {type: range, column: price, min: 0, max: 10000, level: warning}
      - {type: allowed_values, column: country, values: [FR, DE, US]}
      - {type: regex, column: email, pattern: '^[^@]+@[^@]+$'}
      - {type: row_count, min: 1, max: 1000000}
      - {type: freshness, column: event_time, max_age: 2d}   # newest value no older than
      - {type: reference, column: store_id, dataset: stores, key: store_id}  # foreign key

Every item takes ``level: error`` (the default) or ``level: warning``; :func:`has_errors`
tells whether any failed expectation is an error. The types, by stable id:

- ``not_null`` (column): the column has no nulls.
- ``unique`` (column): no non-null value occurs twice, across all batches. Nulls are ignored
  (use ``not_null`` for them).
- ``range`` (column, min and/or max, numbers, inclusive): on a numeric column, every
  non-null value lies in [min, max]; NaN counts as outside.
- ``allowed_values`` (column, values): every non-null value is one of ``values`` (cast to
  the column's type; on a text column, ``1`` means ``"1"``).
- ``regex`` (column, pattern): every non-null text value contains a match of ``pattern``
  (RE2 syntax, as Arrow runs it; anchor with ``^...$`` to match the whole value).
- ``row_count`` (min and/or max, integers): the number of rows over all batches.
- ``freshness`` (column, max_age such as ``45s``, ``30m``, ``12h``, ``2d``, ``1w``): the
  newest value of a timestamp or date column is no older than max_age before ``now``.
  Naive timestamps are read as UTC, a date as midnight UTC.
- ``reference`` (column, dataset, key): every non-null value occurs in the ``key`` column of
  ``dataset``, whose values the caller's ``reference_lookup(dataset, key)`` supplies.

Nulls are only judged by ``not_null``: the other column checks look at non-null values.

Evaluation is vectorised with ``pyarrow.compute``; per batch, each check keeps counts and
at most 5 sample values. ``unique`` and ``reference`` must remember values across batches:
they keep each batch's ``value_counts`` as Arrow arrays (no Python objects) and merge them
with a hash aggregation whenever the pending entries double, so memory is about the number
of distinct values times (value size + 8 bytes), ~16 bytes a row for a unique int64 id,
and up to about three times that just before a merge.

    runner = ExpectationRunner(parse_expectations(text))
    for batch in connector.batches():
        runner.update(batch)
    results = runner.finish(reference_lookup=lookup, now=utcnow())
    if has_errors(results): ...
"""

from __future__ import annotations

import difflib
import math
import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any, ClassVar, Literal

import pyarrow as pa
import pyarrow.compute as pc
import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    Strict,
    ValidationError,
    field_validator,
    model_validator,
)

from passline.core.clock import as_utc, utcnow
from passline.errors import InvalidInput, PasslineError

__all__ = [
    "EXPECTATION_TYPES",
    "AllowedValues",
    "Expectation",
    "ExpectationResult",
    "ExpectationRunner",
    "Freshness",
    "NotNull",
    "Range",
    "Reference",
    "Regex",
    "RowCount",
    "Unique",
    "dump_expectations",
    "has_errors",
    "parse_expectations",
]

SAMPLE_SIZE = 5
Level = Literal["error", "warning"]
Number = Annotated[float, Strict()]  # strict: "abc", "1" and true are refused, 1 is accepted
ReferenceLookup = Callable[[str, str], "pa.Array | pa.ChunkedArray | Iterable[Any]"]
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}

# --- configuration: one frozen model per type -----------------------------------------------


class Expectation(BaseModel):
    """Base of every expectation: a stable ``type`` id and a level."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    type: str
    level: Level = "error"

    @property
    def column_name(self) -> str | None:
        return getattr(self, "column", None)


class _ColumnExpectation(Expectation):
    column: Annotated[str, Strict()]


class NotNull(_ColumnExpectation):
    type: Literal["not_null"] = "not_null"


class Unique(_ColumnExpectation):
    type: Literal["unique"] = "unique"


class Range(_ColumnExpectation):
    type: Literal["range"] = "range"
    min: Number | None = None
    max: Number | None = None

    @model_validator(mode="after")
    def _bounds(self) -> Range:
        _check_bounds(self.min, self.max)
        return self


class AllowedValues(_ColumnExpectation):
    type: Literal["allowed_values"] = "allowed_values"
    values: tuple[str | int | float | bool, ...] = Field(min_length=1)


class Regex(_ColumnExpectation):
    type: Literal["regex"] = "regex"
    pattern: Annotated[str, Strict()]

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, pattern: str) -> str:
        try:  # compile with Arrow's engine (RE2), the one that will run it
            pc.match_substring_regex(pa.array([""]), pattern)
        except pa.ArrowInvalid as exc:
            raise ValueError(f"must be a valid RE2 regular expression ({exc})") from None
        return pattern


class RowCount(Expectation):
    type: Literal["row_count"] = "row_count"
    min: Annotated[int, Strict(), Field(ge=0)] | None = None
    max: Annotated[int, Strict(), Field(ge=0)] | None = None

    @model_validator(mode="after")
    def _bounds(self) -> RowCount:
        _check_bounds(self.min, self.max)
        return self


class Freshness(_ColumnExpectation):
    type: Literal["freshness"] = "freshness"
    max_age: Annotated[str, Strict()]

    @field_validator("max_age")
    @classmethod
    def _duration(cls, value: str) -> str:
        parse_duration(value)
        return value

    @property
    def max_age_delta(self) -> timedelta:
        return parse_duration(self.max_age)


class Reference(_ColumnExpectation):
    type: Literal["reference"] = "reference"
    dataset: Annotated[str, Strict()]
    key: Annotated[str, Strict()]


EXPECTATION_TYPES: dict[str, type[Expectation]] = {
    cls.model_fields["type"].default: cls
    for cls in (NotNull, Unique, Range, AllowedValues, Regex, RowCount, Freshness, Reference)
}


def _check_bounds(low: float | None, high: float | None) -> None:
    if low is None and high is None:
        raise ValueError("needs 'min', 'max' or both")
    if low is not None and high is not None and low > high:
        raise ValueError(f"has 'min' ({_show(low)}) greater than 'max' ({_show(high)})")


def parse_duration(text: str) -> timedelta:
    """``'45s'``, ``'30m'``, ``'12h'``, ``'2d'``, ``'1w'`` (decimals allowed) as a timedelta."""
    match = _DURATION.match(text)
    if not match:
        raise ValueError("must be a duration such as '45s', '30m', '12h', '2d' or '1w'")
    return timedelta(seconds=float(match[1]) * _UNIT_SECONDS[match[2]])


# --- parsing --------------------------------------------------------------------------------


def parse_expectations(yaml_text: str) -> list[Expectation]:
    """Read the YAML described in the module docstring.

    Raises:
        InvalidInput: naming the line of a syntax error, or each bad item by index, field,
            value received and values allowed (all problems at once, in ``details``).
    """
    items = _items(_load_yaml(yaml_text))
    parsed, problems = [], []
    for index, item in enumerate(items):
        try:
            parsed.append(_parse_item(index, item))
        except _ItemProblems as exc:
            problems.extend(exc.problems)
    if problems:
        heading = "" if len(problems) == 1 else f"{len(problems)} problems in the expectations:\n"
        raise InvalidInput(heading + "\n".join(problems), problems=problems)
    return parsed


def dump_expectations(expectations: Iterable[Expectation]) -> str:
    """The YAML that :func:`parse_expectations` reads back to equal expectations."""
    items = [e.model_dump(mode="json", exclude_none=True) for e in expectations]
    return yaml.safe_dump({"expectations": items}, sort_keys=False)


class _ItemProblems(Exception):
    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


def _load_yaml(text: str) -> Any:
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise InvalidInput(
            f"The expectations YAML is not valid{where}: {problem}.",
            hint="Check the indentation and quoting near that line.",
        ) from None


def _items(doc: Any) -> list[Any]:
    shape = "a mapping with one key, 'expectations', holding a list of items"
    if not isinstance(doc, dict):
        got = "an empty document" if doc is None else f"{type(doc).__name__} {_show(doc)}"
        raise InvalidInput(f"The expectations YAML must be {shape}. Got {got} instead.")
    extra = sorted(str(k) for k in doc if k != "expectations")
    if extra:
        raise InvalidInput(f"The expectations YAML must be {shape}. Got the key '{extra[0]}'.")
    items = doc.get("expectations")
    if items is None:
        return []
    if not isinstance(items, list):
        raise InvalidInput(f"'expectations' must be a list of items. Got {_show(items)} instead.")
    return items


def _parse_item(index: int, item: Any) -> Expectation:
    at = f"expectations[{index}]"
    if not isinstance(item, dict):
        raise _ItemProblems(
            [f"{at} must be a mapping such as {{type: not_null, column: id}}. Got {_show(item)}."]
        )
    type_id = item.get("type")
    model = EXPECTATION_TYPES.get(type_id) if isinstance(type_id, str) else None
    if model is None:
        raise _ItemProblems([_unknown_type(at, type_id)])
    column = item.get("column")
    where = f"expectation '{type_id}'" + (
        f" on column '{column}'" if isinstance(column, str) else ""
    )
    where += f" ({at})"
    try:
        return model.model_validate(item)
    except ValidationError as exc:
        raise _ItemProblems(_describe_errors(exc, where, model)) from None


def _unknown_type(at: str, type_id: Any) -> str:
    known = ", ".join(sorted(EXPECTATION_TYPES))
    if type_id is None:
        return f"{at} has no 'type'. Known types: {known}."
    close = difflib.get_close_matches(str(type_id), EXPECTATION_TYPES, n=1)
    guess = f" Did you mean '{close[0]}'?" if close else ""
    return f"Unknown expectation type {_show(type_id)} at {at}. Known types: {known}.{guess}"


_EXPECTED = {
    "float_type": "a number",
    "float_parsing": "a number",
    "int_type": "an integer",
    "int_parsing": "an integer",
    "string_type": "a string",
    "tuple_type": "a list",
    "list_type": "a list",
    "bool_type": "true or false",
}


def _describe_errors(exc: ValidationError, where: str, model: type[Expectation]) -> list[str]:
    problems, seen = [], set()
    for error in exc.errors():
        name = str(error["loc"][0]) if error["loc"] else None
        if name in seen:
            continue  # a union reports one error per member; one line per field is enough
        seen.add(name)
        problems.append(_describe(error, name, where, model))
    return problems


def _describe(error: Any, name: str | None, where: str, model: type[Expectation]) -> str:
    kind, got = error["type"], error.get("input")
    ctx = error.get("ctx") or {}
    if kind == "missing":
        return f"The {where} is missing the required field '{name}'."
    if kind == "extra_forbidden":
        allowed = ", ".join(sorted(model.model_fields))
        return f"The {where} has an unknown field '{name}'. Allowed fields: {allowed}."
    subject = f"The '{name}' of {where}" if name else f"The {where}"
    if kind == "literal_error":
        return f"{subject} must be one of {ctx.get('expected')}. Got {_show(got)} instead."
    if kind == "value_error":
        reason = str(ctx.get("error", error["msg"]))
        return f"{subject} {reason}." + (f" Got {_show(got)} instead." if name else "")
    if len(error["loc"]) > 1:  # an item inside a list, e.g. values: [[1]]
        return f"{subject} must hold strings, numbers or booleans. Got {_show(got)} instead."
    if kind in _EXPECTED:
        return f"{subject} must be {_EXPECTED[kind]}. Got {_show(got)} instead."
    return f"{subject} is not valid: {error['msg']}. Got {_show(got)} instead."


# --- results --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ExpectationResult:
    """The outcome of one expectation; ``observed`` holds JSON-ready numbers and samples."""

    type: str
    column: str | None
    level: Level
    passed: bool
    observed: dict[str, Any]
    message: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def has_errors(results: Iterable[ExpectationResult]) -> bool:
    """Whether any expectation at level ``error`` failed (warnings never block)."""
    return any(not r.passed and r.level == "error" for r in results)


@dataclass(frozen=True)
class _Context:
    reference_lookup: ReferenceLookup | None
    now: datetime


# --- evaluation -----------------------------------------------------------------------------


class ExpectationRunner:
    """Checks a list of expectations over a stream of record batches.

    Call :meth:`update` once per batch (or table) and :meth:`finish` at the end.
    """

    def __init__(self, expectations: Sequence[Expectation]) -> None:
        self.expectations = tuple(expectations)
        self._checks = [_CHECKS[e.type](e) for e in self.expectations]

    def update(self, batch: pa.RecordBatch | pa.Table) -> None:
        for check in self._checks:
            check.update(batch)

    def finish(
        self,
        reference_lookup: ReferenceLookup | None = None,
        now: datetime | None = None,
    ) -> list[ExpectationResult]:
        """One result per expectation, in order; ``now`` defaults to the current UTC time."""
        moment = utcnow() if now is None else as_utc(now)
        context = _Context(reference_lookup, moment)
        return [check.finish(context) for check in self._checks]


class _Check(ABC):
    spec: Expectation

    def __init__(self, spec: Expectation) -> None:
        self.spec = spec

    @abstractmethod
    def update(self, batch: pa.RecordBatch | pa.Table) -> None: ...

    @abstractmethod
    def finish(self, context: _Context) -> ExpectationResult: ...

    def result(self, passed: bool, message: str, **observed: Any) -> ExpectationResult:
        spec = self.spec
        return ExpectationResult(
            spec.type, spec.column_name, spec.level, passed, _jsonable(observed), message
        )


class _ColumnCheck(_Check):
    """A check on one column: finds it in each batch, refuses unsuitable types once."""

    spec: _ColumnExpectation
    needs: ClassVar[str] = ""  # e.g. "a numeric column", shown when the type does not fit

    def __init__(self, spec: Expectation) -> None:
        super().__init__(spec)
        self.rows = 0
        self.unexpected = 0
        self.samples: list[Any] = []
        self.problem: str | None = None

    def accepts(self, column_type: pa.DataType) -> bool:
        return True

    def update(self, batch: pa.RecordBatch | pa.Table) -> None:
        name = self.spec.column
        if self.problem is not None:
            return
        if name not in batch.schema.names:
            self.problem = f"{name}: column not found (columns: {', '.join(batch.schema.names)})"
            return
        column = _decoded(batch.column(name))
        if not self.accepts(column.type):
            self.problem = f"{name}: {self.spec.type} needs {self.needs}; it is {column.type}"
            return
        self.rows += len(column)
        self.observe(column)

    @abstractmethod
    def observe(self, column: pa.Array | pa.ChunkedArray) -> None: ...

    def finish(self, context: _Context) -> ExpectationResult:
        if self.problem is not None:
            return self.result(False, self.problem, rows=self.rows)
        return self.evaluate(context)

    @abstractmethod
    def evaluate(self, context: _Context) -> ExpectationResult: ...

    def flag(self, column: pa.Array | pa.ChunkedArray, bad: pa.Array | pa.ChunkedArray) -> None:
        """Count the rows where ``bad`` is true and keep a few of their values as samples."""
        bad = pc.fill_null(bad, False)
        count = _count(bad)
        self.unexpected += count
        if count and len(self.samples) < SAMPLE_SIZE:
            _add_samples(self.samples, pc.filter(column, bad))

    def summary(self, failed: str, passed: str) -> ExpectationResult:
        """The common result: fail with ``failed`` (+ samples) when anything was flagged."""
        name = self.spec.column
        if not self.unexpected:
            return self.result(True, f"{name}: {passed}", rows=self.rows, unexpected_count=0)
        message = f"{name}: {failed}, e.g. {', '.join(_show(v) for v in self.samples)}"
        return self.result(
            False,
            message,
            rows=self.rows,
            unexpected_count=self.unexpected,
            sample=self.samples,
        )


class _NotNullCheck(_ColumnCheck):
    def observe(self, column: pa.Array | pa.ChunkedArray) -> None:
        self.unexpected += column.null_count

    def evaluate(self, context: _Context) -> ExpectationResult:
        name, nulls = self.spec.column, self.unexpected
        message = f"{name}: {_plural(nulls, 'null value')} in {_plural(self.rows, 'row')}"
        if not nulls:
            message = f"{name}: no nulls in {_plural(self.rows, 'row')}"
        return self.result(not nulls, message, rows=self.rows, null_count=nulls)


class _DistinctCounts:
    """Distinct values and their counts over many batches, as Arrow arrays."""

    def __init__(self) -> None:
        self._parts: list[pa.Table] = []
        self._pending = 0
        self._merged_size = 0

    def add(self, column: pa.Array | pa.ChunkedArray) -> None:
        counts = pc.value_counts(column.drop_null())
        self._parts.append(
            pa.table({"value": counts.field("values"), "count": counts.field("counts")})
        )
        self._pending += len(counts)
        if self._pending > max(1_000_000, 2 * self._merged_size):  # doubling: linear overall
            self._merge()

    def table(self) -> pa.Table:
        """Columns ``value`` and ``count``, one row per distinct value, first seen first."""
        self._merge()
        if not self._parts:
            return pa.table({"value": pa.array([]), "count": pa.array([], pa.int64())})
        return self._parts[0]

    def _merge(self) -> None:
        if len(self._parts) <= 1:
            return
        merged = (
            pa.concat_tables(self._parts)
            .group_by("value", use_threads=False)
            .aggregate([("count", "sum")])
            .rename_columns({"count_sum": "count"})
        )
        self._parts = [merged.select(["value", "count"])]
        self._pending = self._merged_size = merged.num_rows


class _UniqueCheck(_ColumnCheck):
    needs = "a column of scalar values"

    def __init__(self, spec: Expectation) -> None:
        super().__init__(spec)
        self.counts = _DistinctCounts()

    def accepts(self, column_type: pa.DataType) -> bool:
        return _is_scalar_type(column_type)

    def observe(self, column: pa.Array | pa.ChunkedArray) -> None:
        self.counts.add(column)

    def evaluate(self, context: _Context) -> ExpectationResult:
        counts = self.counts.table()
        duplicated = counts.filter(pc.greater(counts["count"], 1))
        self.unexpected = _count_sum(duplicated["count"])
        self.samples = duplicated["value"].slice(0, SAMPLE_SIZE).to_pylist()
        values = _plural(duplicated.num_rows, "duplicated value")
        return self.summary(
            f"{_plural(self.unexpected, 'row')} share {values}",
            f"all {_plural(counts.num_rows, 'non-null value')} are distinct",
        )


class _RangeCheck(_ColumnCheck):
    spec: Range
    needs = "a numeric column"

    def __init__(self, spec: Expectation) -> None:
        super().__init__(spec)
        self.low: float | None = None
        self.high: float | None = None

    def accepts(self, column_type: pa.DataType) -> bool:
        return (
            pa.types.is_integer(column_type)
            or pa.types.is_floating(column_type)
            or (pa.types.is_decimal(column_type))
        )

    def observe(self, column: pa.Array | pa.ChunkedArray) -> None:
        if pa.types.is_decimal(column.type):
            column = pc.cast(column, pa.float64())  # bounds are floats; precision is ample
        bad: Any = None  # the model guarantees at least one bound
        if self.spec.min is not None:
            bad = pc.less(column, self.spec.min)
        if self.spec.max is not None:
            above = pc.greater(column, self.spec.max)
            bad = above if bad is None else pc.or_(bad, above)
        if pa.types.is_floating(column.type):
            bad = pc.or_(bad, pc.is_nan(column))
        self.flag(column, bad)
        self._track_extremes(column)

    def _track_extremes(self, column: pa.Array | pa.ChunkedArray) -> None:
        extremes = pc.min_max(column)
        low, high = extremes["min"].as_py(), extremes["max"].as_py()
        if low is not None:
            self.low = low if self.low is None else min(self.low, low)
            self.high = high if self.high is None else max(self.high, high)

    def evaluate(self, context: _Context) -> ExpectationResult:
        bounds = f"[{_show(self.spec.min, '-inf')}, {_show(self.spec.max, 'inf')}]"
        result = self.summary(
            f"{_plural(self.unexpected, 'value')} outside {bounds}",
            f"all values within {bounds}",
        )
        observed = result.observed | _jsonable({"min": self.low, "max": self.high})
        return replace(result, observed=observed)


class _AllowedValuesCheck(_ColumnCheck):
    spec: AllowedValues
    needs = "a column of scalar values"

    def __init__(self, spec: Expectation) -> None:
        super().__init__(spec)
        self.value_set: pa.Array | None = None

    def accepts(self, column_type: pa.DataType) -> bool:
        return _is_scalar_type(column_type)

    def observe(self, column: pa.Array | pa.ChunkedArray) -> None:
        if self.value_set is None:
            self.value_set = _value_set(self.spec.values, column.type)
        allowed = pc.is_in(column, value_set=self.value_set)
        self.flag(column, pc.and_(pc.invert(allowed), pc.is_valid(column)))

    def evaluate(self, context: _Context) -> ExpectationResult:
        shown = ", ".join(_show(v) for v in self.spec.values[:10])
        shown += ", ..." if len(self.spec.values) > 10 else ""
        return self.summary(
            f"{_plural(self.unexpected, 'value')} not in [{shown}]",
            f"all values in [{shown}]",
        )


class _RegexCheck(_ColumnCheck):
    spec: Regex
    needs = "a text column"

    def accepts(self, column_type: pa.DataType) -> bool:
        return pa.types.is_string(column_type) or pa.types.is_large_string(column_type)

    def observe(self, column: pa.Array | pa.ChunkedArray) -> None:
        matched = pc.match_substring_regex(column, self.spec.pattern)
        self.flag(column, pc.invert(matched))

    def evaluate(self, context: _Context) -> ExpectationResult:
        pattern = _show(self.spec.pattern)
        return self.summary(
            f"{_plural(self.unexpected, 'value')} do not match {pattern}",
            f"all values match {pattern}",
        )


class _FreshnessCheck(_ColumnCheck):
    spec: Freshness
    needs = "a timestamp or date column"

    def __init__(self, spec: Expectation) -> None:
        super().__init__(spec)
        self.newest: datetime | None = None

    def accepts(self, column_type: pa.DataType) -> bool:
        return pa.types.is_timestamp(column_type) or pa.types.is_date(column_type)

    def observe(self, column: pa.Array | pa.ChunkedArray) -> None:
        tz = getattr(column.type, "tz", None)
        newest = pc.cast(pc.max(column), pa.timestamp("us", tz=tz), safe=False).as_py()
        if newest is not None:
            newest = as_utc(newest)
            self.newest = newest if self.newest is None else max(self.newest, newest)

    def evaluate(self, context: _Context) -> ExpectationResult:
        name, limit = self.spec.column, self.spec.max_age
        if self.newest is None:
            return self.result(False, f"{name}: no values to judge freshness", rows=self.rows)
        age = context.now - self.newest
        passed = age <= self.spec.max_age_delta
        verdict = "within" if passed else "more than"
        message = (
            f"{name}: newest value {self.newest.isoformat()} is {_age(age)} old, {verdict} {limit}"
        )
        return self.result(
            passed,
            message,
            rows=self.rows,
            newest=self.newest,
            age_seconds=age.total_seconds(),
            now=context.now,
        )


class _ReferenceCheck(_ColumnCheck):
    spec: Reference
    needs = "a column of scalar values"

    def __init__(self, spec: Expectation) -> None:
        super().__init__(spec)
        self.counts = _DistinctCounts()

    def accepts(self, column_type: pa.DataType) -> bool:
        return _is_scalar_type(column_type)

    def observe(self, column: pa.Array | pa.ChunkedArray) -> None:
        self.counts.add(column)

    def evaluate(self, context: _Context) -> ExpectationResult:
        target = f"{self.spec.dataset}.{self.spec.key}"
        known = self._reference_values(context, target)
        if isinstance(known, str):
            return self.result(False, f"{self.spec.column}: {known}", rows=self.rows)
        counts = self.counts.table()
        missing = counts.filter(pc.invert(pc.is_in(counts["value"], value_set=known)))
        self.unexpected = _count_sum(missing["count"])
        self.samples = missing["value"].slice(0, SAMPLE_SIZE).to_pylist()
        return self.summary(
            f"{_plural(self.unexpected, 'value')} not found in {target}",
            f"all values found in {target}",
        )

    def _reference_values(self, context: _Context, target: str) -> pa.Array | str:
        """The referenced key values cast to this column's type, or why they are unavailable."""
        if context.reference_lookup is None:
            return f"no reference lookup was supplied, so {target} cannot be checked"
        try:
            found = context.reference_lookup(self.spec.dataset, self.spec.key)
        except PasslineError as exc:
            return f"cannot read {target}: {exc.message}"
        values = _as_array(found)
        value_type = self.counts.table()["value"].type
        try:
            return pc.cast(values, value_type) if values.type != value_type else values
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            return f"{target} holds {values.type} values, which do not compare with {value_type}"


class _RowCountCheck(_Check):
    spec: RowCount

    def __init__(self, spec: Expectation) -> None:
        super().__init__(spec)
        self.rows = 0

    def update(self, batch: pa.RecordBatch | pa.Table) -> None:
        self.rows += batch.num_rows

    def finish(self, context: _Context) -> ExpectationResult:
        low, high = self.spec.min, self.spec.max
        passed = (low is None or self.rows >= low) and (high is None or self.rows <= high)
        bounds = f"[{_show(low, '0')}, {_show(high, 'inf')}]"
        verdict = "within" if passed else "outside"
        return self.result(passed, f"row count {self.rows} {verdict} {bounds}", rows=self.rows)


_CHECKS: dict[str, type[_Check]] = {
    "not_null": _NotNullCheck,
    "unique": _UniqueCheck,
    "range": _RangeCheck,
    "allowed_values": _AllowedValuesCheck,
    "regex": _RegexCheck,
    "row_count": _RowCountCheck,
    "freshness": _FreshnessCheck,
    "reference": _ReferenceCheck,
}


# --- helpers --------------------------------------------------------------------------------


def _decoded(column: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    if pa.types.is_dictionary(column.type):
        return pc.cast(column, column.type.value_type)
    return column


def _is_scalar_type(t: pa.DataType) -> bool:
    return not (pa.types.is_nested(t) or pa.types.is_union(t) or pa.types.is_null(t))


def _count(mask: pa.Array | pa.ChunkedArray) -> int:
    return int(pc.sum(mask).as_py() or 0)


def _count_sum(counts: pa.ChunkedArray) -> int:
    return int(pc.sum(counts).as_py() or 0)


def _add_samples(samples: list[Any], values: pa.Array | pa.ChunkedArray) -> None:
    for value in pc.unique(values).slice(0, SAMPLE_SIZE).to_pylist():
        if len(samples) < SAMPLE_SIZE and value not in samples:
            samples.append(value)


def _value_set(values: Sequence[Any], column_type: pa.DataType) -> pa.Array:
    """The allowed values as an array of the column's type; those that cannot convert drop."""
    if pa.types.is_string(column_type) or pa.types.is_large_string(column_type):
        return pa.array([v if isinstance(v, str) else _show(v) for v in values], column_type)
    kept = []
    for value in values:  # a loop over the configured values, never over rows
        try:
            kept.append(pa.scalar(value).cast(column_type).as_py())
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
            continue
    return pa.array(kept, column_type)


def _as_array(values: Any) -> pa.Array:
    if isinstance(values, pa.ChunkedArray):
        return values.combine_chunks()
    if isinstance(values, pa.Array):
        return values
    return pa.array(list(values))


def _age(age: timedelta) -> str:
    seconds = age.total_seconds()
    for unit in ("w", "d", "h", "m"):
        if abs(seconds) >= _UNIT_SECONDS[unit]:
            return f"{seconds / _UNIT_SECONDS[unit]:.1f}{unit}"
    return f"{seconds:.0f}s"


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" + ("" if count == 1 else "s")


def _show(value: Any, default: str = "None") -> str:
    """A short, readable rendering of a value for messages."""
    if value is None:
        return default
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, str):
        return repr(value if len(value) <= 40 else value[:37] + "...")
    return str(value)


def _jsonable(value: Any) -> Any:
    """Observed values as JSON-ready types: dates as ISO text, NaN and decimals as text."""
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, Decimal | timedelta):
        return str(value)
    if isinstance(value, bytes):
        return value.hex()
    return value
