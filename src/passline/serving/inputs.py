"""Request bodies to model inputs, checked against the version's signature.

Accepted bodies: JSON (``{"records": [{...}, ...]}``, ``{"instances": [...]}`` or a bare list
of records, with optional ``"keys"``: one business key per record, such as a transaction id,
that a labels dataset can later be joined on), an Arrow IPC stream
(``application/vnd.apache.arrow.stream``) or Parquet (``application/vnd.apache.parquet``),
where a ``_key`` column carries the keys. Every field of the signature must be there with a
value of its type; a field the model does not take, a missing one, a wrong type or a NaN is
refused with a message naming the field (HTTP 422).
"""

from __future__ import annotations

import io
import json
import math
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from passline.errors import InvalidInput

__all__ = ["ARROW", "PARQUET", "parse_body"]

ARROW = "application/vnd.apache.arrow.stream"
PARQUET = "application/vnd.apache.parquet"
_NUMERIC = {
    "int8",
    "int16",
    "int32",
    "int64",
    "uint8",
    "uint16",
    "uint32",
    "uint64",
    "float",
    "double",
    "halffloat",
    "float16",
    "float32",
    "float64",
}


KEY_COLUMN = "_key"


def parse_body(
    body: bytes, content_type: str, signature: dict[str, Any]
) -> tuple[pa.Table, list[str] | None]:
    """The request's rows as an Arrow table with exactly the signature's columns, and the
    records' keys when the caller sent them."""
    kind = content_type.split(";")[0].strip().lower()
    if kind in (ARROW, PARQUET, "application/x-parquet"):
        table = _arrow(body) if kind == ARROW else _parquet(body)
        keys = None
        if KEY_COLUMN in table.column_names:
            keys = [str(k) for k in table.column(KEY_COLUMN).to_pylist()]
            table = table.drop_columns([KEY_COLUMN])
        return _conform(table, signature), keys
    # A JSON body is checked value by value as its columns are built (fields, types, finite
    # numbers, no nulls, in the signature's order), so it needs no second pass.
    return _json(body, signature)


def _arrow(body: bytes) -> pa.Table:
    try:
        return pa.ipc.open_stream(pa.py_buffer(body)).read_all()
    except (pa.ArrowInvalid, OSError) as exc:
        raise InvalidInput(f"The body is not an Arrow IPC stream: {exc}.") from None


def _parquet(body: bytes) -> pa.Table:
    try:
        return pq.read_table(io.BytesIO(body))
    except (pa.ArrowInvalid, OSError) as exc:
        raise InvalidInput(f"The body is not a Parquet file: {exc}.") from None


def _json(body: bytes, signature: dict[str, Any]) -> tuple[pa.Table, list[str] | None]:
    try:
        payload = json.loads(body or b"null")
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidInput(
            f"The body is not JSON: {exc}.", hint='Send {"records": [{"field": value, ...}]}.'
        ) from None
    records = (
        payload.get("records", payload.get("instances")) if isinstance(payload, dict) else payload
    )
    if (
        not isinstance(records, list)
        or not records
        or not all(isinstance(r, dict) for r in records)
    ):
        raise InvalidInput(
            'Send a non-empty list of records: {"records": [{"field": value, ...}]}.'
        )
    _check_fields(records, signature)
    keys = payload.get("keys") if isinstance(payload, dict) else None
    if keys is not None and (
        not isinstance(keys, list)
        or len(keys) != len(records)
        or not all(isinstance(k, str | int) for k in keys)
    ):
        raise InvalidInput(f"'keys' must list one string or integer per record ({len(records)}).")
    if not signature.get("inputs"):
        return pa.Table.from_pylist(records), _keys(keys)
    columns = {c["name"]: [r.get(c["name"]) for r in records] for c in signature.get("inputs", [])}
    table = pa.table(
        {name: _column(name, values, _type_of(signature, name)) for name, values in columns.items()}
    )
    return table, _keys(keys)


def _keys(keys: list[Any] | None) -> list[str] | None:
    return [str(k) for k in keys] if keys is not None else None


def _check_fields(records: list[dict[str, Any]], signature: dict[str, Any]) -> None:
    expected = [c["name"] for c in signature.get("inputs", [])]
    for index, record in enumerate(records):
        missing = [name for name in expected if name not in record]
        if missing:
            raise InvalidInput(
                f"Field {missing[0]!r} is missing in record {index}.",
                hint=f"The model takes: {', '.join(expected)}.",
                field=missing[0],
            )
        extra = sorted(set(record) - set(expected))
        if extra:
            raise InvalidInput(
                f"Field {extra[0]!r} in record {index} is not an input of the model.",
                hint=f"The model takes: {', '.join(expected)}.",
                field=extra[0],
            )


def _type_of(signature: dict[str, Any], name: str) -> str:
    return next(c["type"] for c in signature["inputs"] if c["name"] == name)


def _column(name: str, values: list[Any], kind: str) -> pa.Array:
    if kind in _NUMERIC:
        for index, value in enumerate(values):
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise InvalidInput(
                    f"Field {name!r} must be a number ({kind}); record {index} has {value!r}.",
                    field=name,
                )
            if isinstance(value, float) and not math.isfinite(value):
                raise InvalidInput(
                    f"Field {name!r} is not a finite number in record {index}.", field=name
                )
        return pa.array(
            values, pa.float64() if kind.startswith(("float", "double", "half")) else pa.int64()
        )
    if kind == "bool":
        if not all(isinstance(v, bool) for v in values):
            raise InvalidInput(f"Field {name!r} must be true or false.", field=name)
        return pa.array(values, pa.bool_())
    if not all(isinstance(v, str) for v in values):
        bad = next(v for v in values if not isinstance(v, str))
        raise InvalidInput(f"Field {name!r} must be a string; got {bad!r}.", field=name)
    return pa.array(values, pa.string())


def _conform(table: pa.Table, signature: dict[str, Any]) -> pa.Table:
    expected = [c["name"] for c in signature.get("inputs", [])]
    if not expected:
        return table
    missing = [name for name in expected if name not in table.column_names]
    if missing:
        raise InvalidInput(f"Field {missing[0]!r} is missing.", field=missing[0])
    extra = [name for name in table.column_names if name not in expected]
    if extra:
        raise InvalidInput(f"Field {extra[0]!r} is not an input of the model.", field=extra[0])
    if table.num_rows == 0:
        raise InvalidInput("The request has no rows.")
    for name in expected:
        column = table.column(name)
        if pa.types.is_floating(column.type) and pc.any(pc.is_nan(column)).as_py():
            raise InvalidInput(f"Field {name!r} holds NaN.", field=name)
        if column.null_count:
            raise InvalidInput(f"Field {name!r} holds nulls.", field=name)
    return table.select(expected)
