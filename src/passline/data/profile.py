"""Column profiles computed in one vectorised pass, stored as mergeable sketches.

A profile is the reference that drift monitoring compares live data against, so it keeps
sketches rather than only summary numbers: exact moments (count, mean, M2) that merge with
Chan's formula, a KLL quantile sketch (DataSketches), a HyperLogLog for distinct counts and
bounded top-k counts. Two profiles merge without re-reading data (an appended version's
profile is parent + new part), and any histogram can be derived from the KLL afterwards.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Any

import datasketches
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from passline.data.hll import HyperLogLog, _temporal_ints

__all__ = ["ColumnProfile", "DatasetProfile", "column_kind"]

KLL_K = 200
TOP_K = 20
TOP_KEEP = 1000  # counts kept per column while merging, so the top 20 stay accurate
TOP_PER_BATCH = 200  # a batch's most frequent values that join the running counts
KLL_FEED = 16_384  # values per batch given to the quantile sketch
QUANTILES = (0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99)
HISTOGRAM_BINS = 20


def column_kind(kind: pa.DataType) -> str:
    if pa.types.is_boolean(kind):
        return "boolean"
    if pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_decimal(kind):
        return "numeric"
    if pa.types.is_temporal(kind):
        return "temporal"
    if pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_dictionary(kind):
        return "categorical"
    return "other"


def _numeric_values(array: pa.Array, kind: str) -> np.ndarray:
    """Non-null values as float64 (temporal values as their integer epoch units)."""
    present = array.drop_null() if array.null_count else array
    if kind == "temporal":
        return np.ascontiguousarray(_temporal_ints(present), dtype=np.float64)
    values = np.asarray(present.to_numpy(zero_copy_only=False), dtype=np.float64)
    values = values[np.isfinite(values)] if kind == "numeric" else values
    return np.ascontiguousarray(values)


@dataclass
class ColumnProfile:
    """One column's sketches. ``update`` takes an Arrow array; ``merge`` combines two."""

    name: str
    type: str
    kind: str
    count: int = 0
    nulls: int = 0
    hll: HyperLogLog = field(default_factory=HyperLogLog)
    moments_n: int = 0  # values behind mean/m2 (non-null, finite)
    mean: float = 0.0
    m2: float = 0.0
    min: Any = None
    max: Any = None
    kll: Any = None
    top: dict[str, int] = field(default_factory=dict)
    true_count: int = 0
    min_length: int | None = None
    max_length: int | None = None

    @classmethod
    def for_field(cls, column: pa.Field) -> ColumnProfile:
        kind = column_kind(column.type)
        profile = cls(column.name, str(column.type), kind)
        if kind in ("numeric", "temporal"):
            profile.kll = datasketches.kll_doubles_sketch(KLL_K)
        return profile

    def update(self, array: pa.Array | pa.ChunkedArray) -> None:
        if isinstance(array, pa.ChunkedArray):
            array = array.combine_chunks()
        self.nulls += array.null_count
        present = len(array) - array.null_count
        if present == 0:
            return
        if self.kind == "categorical":
            self._update_categories(array)  # feeds the HyperLogLog its distinct values
        else:
            self.hll.update(array)
        if self.kind in ("numeric", "temporal"):
            self._update_numbers(_numeric_values(array, self.kind))
        elif self.kind == "boolean":
            self.true_count += int(pc.sum(array).as_py() or 0)
        self.count += present

    def _update_numbers(self, values: np.ndarray) -> None:
        if len(values) == 0:
            return
        mean_b = float(values.mean())
        self._combine_moments(len(values), mean_b, float(((values - mean_b) ** 2).sum()))
        self.min = float(values.min()) if self.min is None else min(self.min, float(values.min()))
        self.max = float(values.max()) if self.max is None else max(self.max, float(values.max()))
        self.kll.update(_kll_sample(values))

    def _combine_moments(self, n_b: int, mean_b: float, m2_b: float) -> None:
        # Chan et al.: exact mean and variance of the union from each part's (n, mean, M2).
        n_a = self.moments_n
        total = n_a + n_b
        if total == 0:
            return
        delta = mean_b - self.mean
        self.mean += delta * n_b / total
        self.m2 += m2_b + delta * delta * n_a * n_b / total
        self.moments_n = total

    def _update_categories(self, array: pa.Array) -> None:
        if pa.types.is_dictionary(array.type):
            array = array.dictionary_decode()
        # One hash pass: every other statistic is computed on the distinct values.
        counts = pc.value_counts(array.drop_null())
        distinct = counts.field("values")
        self.hll.update(distinct, distinct=True)
        keep = min(TOP_PER_BATCH, len(counts))
        # For a plain array the sort key's name is ignored; only the order matters.
        top = counts.take(
            pc.select_k_unstable(counts.field("counts"), keep, [("counts", "descending")])
        )
        for value, count in zip(
            top.field("values").to_pylist(), top.field("counts").to_pylist(), strict=True
        ):
            self.top[str(value)] = self.top.get(str(value), 0) + int(count)
        self._trim_top()
        if not pa.types.is_binary(distinct.type) and len(distinct):
            low, high = pc.min_max(pc.utf8_length(distinct)).values()
            self.min_length = _min(self.min_length, low.as_py())
            self.max_length = _max(self.max_length, high.as_py())
            first, last = pc.min_max(distinct).values()
            self.min = _min(self.min, first.as_py())
            self.max = _max(self.max, last.as_py())

    def _trim_top(self) -> None:
        if len(self.top) > TOP_KEEP:
            kept = sorted(self.top.items(), key=lambda item: -item[1])[:TOP_KEEP]
            self.top = dict(kept)

    def merge(self, other: ColumnProfile) -> ColumnProfile:
        """A new profile of both parts' data (the inputs are left unchanged)."""
        merged = ColumnProfile.from_dict(self.to_dict())
        merged.nulls += other.nulls
        merged.hll = merged.hll.merge(other.hll)
        if other.count and merged.kind in ("numeric", "temporal"):
            merged._combine_moments(other.moments_n, other.mean, other.m2)
            merged.min = _min(merged.min, other.min)
            merged.max = _max(merged.max, other.max)
            merged.kll.merge(other.kll)
        if merged.kind == "categorical":
            for value, count in other.top.items():
                merged.top[value] = merged.top.get(value, 0) + count
            merged._trim_top()
            merged.min, merged.max = _min(merged.min, other.min), _max(merged.max, other.max)
            merged.min_length = _min(merged.min_length, other.min_length)
            merged.max_length = _max(merged.max_length, other.max_length)
        merged.true_count += other.true_count
        merged.count += other.count
        return merged

    def summary(self) -> dict[str, Any]:
        """Plain numbers for people and for diffs: what the UI and `data show` display."""
        rows = self.count + self.nulls
        out: dict[str, Any] = {
            "type": self.type,
            "kind": self.kind,
            "rows": rows,
            "nulls": self.nulls,
            "null_fraction": self.nulls / rows if rows else 0.0,
            "distinct": min(self.hll.estimate(), self.count),
        }
        if self.kind in ("numeric", "temporal") and self.count:
            out.update(self._number_summary())
        if self.kind == "categorical" and self.count:
            out["top"] = [{"value": v, "count": c} for v, c in self._top_items()]
            out.update(
                min=self.min, max=self.max, min_length=self.min_length, max_length=self.max_length
            )
        if self.kind == "boolean" and self.count:
            out["true_fraction"] = self.true_count / self.count
        return out

    def _number_summary(self) -> dict[str, Any]:
        n = self.moments_n
        std = float(np.sqrt(self.m2 / (n - 1))) if n > 1 else 0.0
        quantiles = self.kll.get_quantiles(list(QUANTILES)) if not self.kll.is_empty() else []
        return {
            "mean": self.mean,
            "std": std,
            "min": self._render(self.min),
            "max": self._render(self.max),
            "quantiles": {
                f"p{int(q * 100):02d}": float(v) for q, v in zip(QUANTILES, quantiles, strict=True)
            },
            "histogram": self.histogram(),
        }

    def _render(self, value: float | None) -> Any:
        """Extremes in the column's own terms: integers as integers, times as ISO text."""
        if value is None:
            return None
        if self.kind == "numeric" and self.type.startswith(("int", "uint")):
            return int(value)
        if self.kind != "temporal":
            return value
        kind = _temporal_type(self.type)
        if kind is None:
            return value
        raw = pa.array([int(value)], pa.int32() if kind.bit_width == 32 else pa.int64())
        moment = raw.view(kind)[0].as_py()
        return moment.isoformat() if hasattr(moment, "isoformat") else str(moment)

    def histogram(self, bins: int = HISTOGRAM_BINS) -> dict[str, list[float]]:
        """Equal-width bins between min and max, derived from the KLL sketch."""
        if not self.count or self.min is None or self.min == self.max:
            return {"edges": [self.min, self.max], "counts": [self.count]}
        edges = np.linspace(self.min, self.max, bins + 1)
        masses = self.kll.get_pmf(list(edges[1:-1]))
        counts = [round(m * self.count) for m in masses]
        return {"edges": [float(e) for e in edges], "counts": counts}

    def _top_items(self) -> list[tuple[str, int]]:
        return sorted(self.top.items(), key=lambda item: (-item[1], item[0]))[:TOP_K]

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "name": self.name,
            "type": self.type,
            "kind": self.kind,
            "count": self.count,
            "nulls": self.nulls,
            "hll": self.hll.to_b64(),
            "moments": [self.moments_n, self.mean, self.m2],
            "min": _jsonable(self.min),
            "max": _jsonable(self.max),
            "top": self.top,
            "true_count": self.true_count,
            "lengths": [self.min_length, self.max_length],
        }
        if self.kll is not None:
            data["kll"] = base64.b64encode(self.kll.serialize()).decode()
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ColumnProfile:
        profile = cls(data["name"], data["type"], data["kind"], data["count"], data["nulls"])
        profile.hll = HyperLogLog.from_b64(data["hll"])
        profile.moments_n, profile.mean, profile.m2 = data["moments"]
        profile.min, profile.max = data["min"], data["max"]
        profile.top = dict(data["top"])
        profile.true_count = data["true_count"]
        profile.min_length, profile.max_length = data["lengths"]
        if "kll" in data:
            profile.kll = datasketches.kll_doubles_sketch.deserialize(base64.b64decode(data["kll"]))
        return profile


@dataclass
class DatasetProfile:
    """Profiles of every column of a dataset version, plus its row count."""

    columns: dict[str, ColumnProfile] = field(default_factory=dict)
    rows: int = 0

    @classmethod
    def for_schema(cls, schema: pa.Schema) -> DatasetProfile:
        return cls({f.name: ColumnProfile.for_field(f) for f in schema})

    def update(self, batch: pa.RecordBatch) -> None:
        for name, profile in self.columns.items():
            profile.update(batch.column(name))
        self.rows += batch.num_rows

    def merge(self, other: DatasetProfile) -> DatasetProfile:
        merged = {
            name: p.merge(other.columns[name]) if name in other.columns else p
            for name, p in self.columns.items()
        }
        for name, profile in other.columns.items():
            merged.setdefault(name, profile)
        return DatasetProfile(merged, self.rows + other.rows)

    def summary(self) -> dict[str, dict[str, Any]]:
        return {name: p.summary() for name, p in self.columns.items()}

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": 1,
            "rows": self.rows,
            "columns": [p.to_dict() for p in self.columns.values()],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DatasetProfile:
        columns = [ColumnProfile.from_dict(c) for c in data["columns"]]
        return cls({c.name: c for c in columns}, data["rows"])


def _temporal_type(text: str) -> pa.DataType | None:
    """The Arrow type from its printed name (``timestamp[us, tz=UTC]``, ``date32[day]``)."""
    name, _, rest = text.partition("[")
    args = [a.strip() for a in rest.rstrip("]").split(",")] if rest else []
    try:
        if name == "timestamp":
            zone = args[1].removeprefix("tz=") if len(args) > 1 else None
            return pa.timestamp(args[0], tz=zone)
        makers = {"date32": pa.date32, "date64": pa.date64}
        if name in makers:
            return makers[name]()
        units = {"time32": pa.time32, "time64": pa.time64, "duration": pa.duration}
        return units[name](args[0]) if name in units else None
    except (ValueError, KeyError, IndexError, pa.ArrowInvalid):
        return None


def _kll_sample(values: np.ndarray) -> np.ndarray:
    """At most ``KLL_FEED`` evenly spaced values of a batch for the quantile sketch.

    KLL keeps a sample anyway (k=200: about 1.7% rank error); feeding it every value of a
    large batch costs most of the profile's time and buys no accuracy it can keep. The
    stride's offset varies so that periodic data is not sampled at one phase.
    """
    if len(values) <= KLL_FEED:
        return values
    step = len(values) // KLL_FEED
    offset = int(values.view(np.uint64)[0] % step) if values.dtype == np.float64 else 0
    return np.ascontiguousarray(values[offset::step])


def _min(a: Any, b: Any) -> Any:
    return b if a is None else a if b is None else min(a, b)


def _max(a: Any, b: Any) -> Any:
    return b if a is None else a if b is None else max(a, b)


def _jsonable(value: Any) -> Any:
    return value if value is None or isinstance(value, int | float | str | bool) else str(value)
