"""Turning row-shaped Python values (SQL rows, Excel rows, JSON records) into Arrow batches
of one schema: shared by the SQL, Excel, HTTP and Redis connectors."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import pyarrow as pa

from passline.data.connectors.base import ReadReport
from passline.errors import InvalidInput

__all__ = ["RowBatcher", "arrow_type", "arrow_types"]


def arrow_type(name: str, column: str) -> pa.DataType:
    """The Arrow type named ``name`` ("int64", "string", "timestamp[us]", ...) for ``column``."""
    try:
        return pa.type_for_alias(name)
    except (ValueError, TypeError):
        raise InvalidInput(
            f"The type {name!r} given for column {column!r} is not an Arrow type name.",
            hint="Use e.g. int64, float64, string, bool, date32, timestamp[us], decimal128(p, s).",
        ) from None


def arrow_types(column_types: Mapping[str, str] | None) -> dict[str, pa.DataType]:
    """``{column: type name}`` as ``{column: Arrow type}``."""
    return {col: arrow_type(name, col) for col, name in (column_types or {}).items()}


class RowBatcher:
    """Turn chunks of Python values into record batches that all share one schema.

    The first chunk fixes the schema: types given in ``types``, else inferred by Arrow. Later
    chunks are converted to it, and a value that does not fit raises InvalidInput naming the
    column. A column the first chunk leaves without a value, or fills with values of mixed
    kinds, becomes text (a note says so): a stable schema matters more than a guess, and text
    holds anything. Columns that appear only after the first chunk are dropped, with a note,
    unless declared in ``types``.
    """

    def __init__(
        self,
        source: str,
        report: ReadReport,
        types: Mapping[str, pa.DataType] | None = None,
        hint: str = "Declare the column's type, e.g. column_types={'col': 'string'}.",
    ) -> None:
        self.source, self.report, self.hint = source, report, hint
        self.types = dict(types or {})
        self.schema: pa.Schema | None = None
        self._dropped: set[str] = set()

    def from_records(self, records: Sequence[Mapping[str, Any]], where: str) -> pa.RecordBatch:
        """A batch from dict-shaped records (missing keys are nulls)."""
        names = dict.fromkeys(key for record in records for key in record)
        return self.from_columns({n: [r.get(n) for r in records] for n in names}, where)

    def from_columns(self, columns: dict[str, list[Any]], where: str) -> pa.RecordBatch:
        """A batch from ``{column: values}``; ``where`` says which rows, for error messages."""
        if self.schema is None:
            self.schema = self._infer(columns)
        rows = len(next(iter(columns.values()), []))
        self._note_dropped(set(columns) - set(self.schema.names))
        arrays = [self._convert(f, columns.get(f.name, [None] * rows), where) for f in self.schema]
        return pa.RecordBatch.from_arrays(arrays, schema=self.schema)

    def _infer(self, columns: dict[str, list[Any]]) -> pa.Schema:
        fields = [
            pa.field(name, self._infer_type(name, values)) for name, values in columns.items()
        ]
        fields += [pa.field(n, t) for n, t in self.types.items() if n not in columns]
        return pa.schema(fields)

    def _infer_type(self, name: str, values: list[Any]) -> pa.DataType:
        if name in self.types:
            return self.types[name]
        try:
            inferred = pa.array(values).type
        except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
            self.report.notes.append(f"Column {name!r} mixes kinds of values; it is kept as text.")
            return pa.string()
        if pa.types.is_null(inferred):
            self.report.notes.append(
                f"Column {name!r} has no value in the first batch; it is kept as text."
            )
            return pa.string()
        if pa.types.is_decimal(inferred):
            # Arrow infers the precision of the values seen; allow wider values later.
            return pa.decimal128(38, inferred.scale)
        return inferred

    def _convert(self, field: pa.Field, values: list[Any], where: str) -> pa.Array:
        try:
            return _to_array(values, field.type)
        except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError, TypeError) as err:
            raise InvalidInput(
                f"{self.source}, {where}: column {field.name!r} has a value that does not fit "
                f"its type {field.type}, fixed by the first batch: {str(err)[:200]}",
                hint=self.hint,
            ) from None

    def _note_dropped(self, names: set[str]) -> None:
        for name in sorted(names - self._dropped):
            self.report.notes.append(
                f"Column {name!r} first appears after the first batch and is not kept; "
                "declare its type to keep it."
            )
        self._dropped |= names


def _to_array(values: list[Any], target: pa.DataType) -> pa.Array:
    if pa.types.is_string(target):
        return pa.array([_as_text(v) for v in values], type=target)
    if pa.types.is_nested(target):
        return pa.array(values, type=target)
    try:
        inferred = pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return pa.array(values, type=target)
    # A checked cast: pa.array(values, type=int64) would silently truncate 1.5 to 1.
    return inferred if inferred.type == target else inferred.cast(target)


def _as_text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, dict | list):
        return json.dumps(value, default=str, ensure_ascii=False)
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return str(value)
