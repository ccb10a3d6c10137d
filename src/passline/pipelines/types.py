"""The kinds of value a step passes on, and how each crosses a process boundary.

A step's annotations say what it takes and returns: ``Dataset`` (an Arrow table; a pandas
frame is accepted and converted), ``Model`` (any picklable object), ``Metrics`` (a mapping
of names to numbers) and ``File`` (bytes, or a path whose bytes are taken). Values travel
between processes, Ray workers and the cache as bytes; the digest of those bytes is what
downstream cache keys are built from, so a step that re-runs and produces the same output
leaves the steps after it cached.
"""

from __future__ import annotations

import hashlib
import io
import json
import pickle
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from passline.errors import InvalidInput

__all__ = ["KINDS", "Dataset", "File", "Metrics", "Model", "decode", "encode", "kind_of"]


class Dataset:
    """A table: ``pyarrow.Table`` (pandas DataFrames are converted on return)."""


class Model:
    """A trained model: any picklable object (scikit-learn estimators, pipelines...)."""


class Metrics:
    """A flat mapping of metric names to numbers."""


class File:
    """Bytes; a step may return a path, whose bytes are taken."""


KINDS: dict[type, str] = {Dataset: "dataset", Model: "model", Metrics: "metrics", File: "file"}
_EXPECTED = {
    "dataset": "a pyarrow.Table or a pandas.DataFrame",
    "model": "a picklable object (not None)",
    "metrics": "a dict of metric names to numbers",
    "file": "bytes or a path to an existing file",
}


def kind_of(annotation: Any) -> str | None:
    """The kind an annotation names, or None when it names none of them."""
    if isinstance(annotation, str):  # from __future__ import annotations keeps names as text
        return {cls.__name__: kind for cls, kind in KINDS.items()}.get(annotation.split(".")[-1])
    return KINDS.get(annotation)


def encode(step: str, kind: str, value: Any) -> bytes:
    """The value as bytes; a value of the wrong kind names the step and what it returned."""
    try:
        return _ENCODERS[kind](value)
    except (TypeError, ValueError, pickle.PicklingError, pa.ArrowException) as exc:
        raise InvalidInput(
            f"Step {step!r} must return {_EXPECTED[kind]} (its return annotation is "
            f"{kind.title()}); it returned {type(value).__name__}: {exc}",
            hint="Fix the step's return value or its annotation.",
        ) from None


def decode(kind: str, data: bytes) -> Any:
    return _DECODERS[kind](data)


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _encode_dataset(value: Any) -> bytes:
    if type(value).__name__ == "DataFrame" and hasattr(value, "to_dict"):
        value = pa.Table.from_pandas(value, preserve_index=False)
    if not isinstance(value, pa.Table):
        raise TypeError("not a table")
    sink = io.BytesIO()
    pq.write_table(value, sink, compression="zstd")
    return sink.getvalue()


def _encode_model(value: Any) -> bytes:
    if value is None:
        raise TypeError("None is not a model")
    return pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)


def _encode_metrics(value: Any) -> bytes:
    if not isinstance(value, dict):
        raise TypeError("not a dict")
    bad = [k for k, v in value.items() if not isinstance(k, str) or not _is_number(v)]
    if bad:
        raise ValueError(f"these entries are not name: number pairs: {bad[:5]}")
    return json.dumps({k: float(v) for k, v in value.items()}, sort_keys=True).encode()


def _is_number(value: Any) -> bool:
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return not isinstance(value, bool | str | bytes)


def _encode_file(value: Any) -> bytes:
    if isinstance(value, bytes | bytearray):
        return bytes(value)
    if isinstance(value, str | Path) and Path(value).is_file():
        return Path(value).read_bytes()
    raise TypeError("neither bytes nor an existing file")


_ENCODERS = {
    "dataset": _encode_dataset,
    "model": _encode_model,
    "metrics": _encode_metrics,
    "file": _encode_file,
}
_DECODERS = {
    "dataset": lambda data: pq.read_table(io.BytesIO(data)),
    "model": pickle.loads,
    "metrics": json.loads,
    "file": lambda data: data,
}
