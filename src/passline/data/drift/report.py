"""``drift_report``: test every column of a current window against a reference.

Either side is a stored :class:`~passline.data.profile.DatasetProfile` (computed from its
sketches, so a 10-million-row reference is never re-read) or an Arrow table (exact). Per
column it picks a test (:func:`~passline.data.drift.methods.default_test` unless told),
adds the PSI as a second figure, summarises both sides and gives the data to draw both
distributions side by side. Columns that cannot be tested are reported, not raised:

- ``not_enough_data``: no (finite, non-null) values on a side;
- ``kind_mismatch``: numeric on one side, categorical on the other, and so on;
- ``unsupported``: lists, structs, binary (kind ``other``);
- a column present on one side only is listed in ``missing_columns``.

The dataset drifts when the share of drifted columns among those checked reaches
``drift_share`` (0.5 by default, as Evidently's ``DataDriftPreset``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pyarrow as pa

from passline.data.drift.columns import ColumnData
from passline.data.drift.config import DriftResult, DriftTestConfig, PSIConfig, default_test
from passline.data.drift.distributions import OTHER, align_categories
from passline.data.drift.methods import drift_test, parse_test_config
from passline.data.profile import DatasetProfile
from passline.errors import InvalidInput, PasslineError

__all__ = ["ColumnDrift", "DriftReport", "drift_report"]

DatasetInput = DatasetProfile | pa.Table | pa.RecordBatch
Status = Literal["checked", "not_enough_data", "kind_mismatch", "unsupported"]

HISTOGRAM_BINS = 20
CATEGORIES_SHOWN = 20
TOP_VALUES = 5
DRIFT_SHARE = 0.5


@dataclass(frozen=True)
class ColumnDrift:
    """One column's verdict, summaries and the data of its side-by-side chart."""

    column: str
    kind: str
    status: Status
    message: str | None = None
    test: DriftTestConfig | None = None
    result: DriftResult | None = None
    psi: DriftResult | None = None
    reference: dict[str, Any] = field(default_factory=dict)
    current: dict[str, Any] = field(default_factory=dict)
    distribution: dict[str, Any] | None = None

    @property
    def drifted(self) -> bool:
        return self.result is not None and self.result.drifted

    def to_dict(self) -> dict[str, Any]:
        result = self.result.to_dict() if self.result else {}
        return _plain(
            {
                "column": self.column,
                "kind": self.kind,
                "status": self.status,
                "message": self.message,
                "test": self.test.model_dump() if self.test else None,
                "statistic": result.get("statistic"),
                "p_value": result.get("p_value"),
                "threshold": result.get("threshold"),
                "drifted": self.drifted,
                "exact": result.get("exact"),
                "psi": _psi_dict(self.psi),
                "reference": self.reference,
                "current": self.current,
                "distribution": self.distribution,
            }
        )


@dataclass(frozen=True)
class DriftReport:
    """Every column's :class:`ColumnDrift` and the dataset-level verdict."""

    columns: dict[str, ColumnDrift]
    missing_columns: dict[str, str]  # column -> the side it is missing from
    reference_rows: int
    current_rows: int
    drift_share_threshold: float = DRIFT_SHARE

    @property
    def columns_checked(self) -> int:
        return sum(1 for c in self.columns.values() if c.status == "checked")

    @property
    def columns_drifted(self) -> int:
        return sum(1 for c in self.columns.values() if c.drifted)

    @property
    def drift_share(self) -> float:
        checked = self.columns_checked
        return self.columns_drifted / checked if checked else 0.0

    @property
    def drifted(self) -> bool:
        return self.columns_checked > 0 and self.drift_share >= self.drift_share_threshold

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON: no NaN or infinity (those become ``None``), no NumPy types."""
        return _plain(
            {
                "drifted": self.drifted,
                "drift_share": self.drift_share,
                "drift_share_threshold": self.drift_share_threshold,
                "columns_checked": self.columns_checked,
                "columns_drifted": self.columns_drifted,
                "reference_rows": self.reference_rows,
                "current_rows": self.current_rows,
                "missing_columns": self.missing_columns,
                "columns": {name: c.to_dict() for name, c in self.columns.items()},
            }
        )


class _Dataset:
    """A profile or a table behind one interface: names, rows, and each column's data."""

    def __init__(self, data: DatasetInput, side: str) -> None:
        if isinstance(data, pa.RecordBatch):
            data = pa.Table.from_batches([data])
        if isinstance(data, DatasetProfile):
            self.names, self.rows = list(data.columns), data.rows
        elif isinstance(data, pa.Table):
            self.names, self.rows = list(data.column_names), data.num_rows
        else:
            raise InvalidInput(
                f"The {side} must be a DatasetProfile or a pyarrow Table; "
                f"got {type(data).__name__}."
            )
        self.data = data

    def column(self, name: str) -> ColumnData:
        if isinstance(self.data, DatasetProfile):
            return ColumnData.of(self.data.columns[name], name)
        return ColumnData.of(self.data.column(name), name)


def drift_report(
    reference: DatasetInput,
    current: DatasetInput,
    columns: Sequence[str] | None = None,
    tests: Mapping[str, DriftTestConfig | Mapping[str, Any]] | None = None,
    *,
    drift_share: float = DRIFT_SHARE,
) -> DriftReport:
    """Compare ``current`` with ``reference`` column by column.

    Args:
        reference: the data the model learned from: a stored profile or a table.
        current: the window to check: a profile or a table.
        columns: the columns to check (default: every column of either side).
        tests: a test configuration per column, e.g. ``{"age": {"type": "psi"}}``;
            other columns get the default rule's choice.
        drift_share: the share of drifted columns at which the dataset drifts, in (0, 1].

    Raises:
        InvalidInput: the current window (or the reference) has no rows, a named column is
            on neither side, or a test configuration is invalid or does not fit its column.
    """
    if not 0 < drift_share <= 1:
        raise InvalidInput(
            f"The 'drift_share' parameter of drift_report must be a float in (0, 1]. "
            f"Got {drift_share!r} instead."
        )
    ref, cur = _Dataset(reference, "reference"), _Dataset(current, "current")
    if cur.rows == 0:
        raise InvalidInput("The current window has no rows: there is nothing to compare.")
    if ref.rows == 0:
        raise InvalidInput("The reference has no rows: there is nothing to compare against.")
    names = _selected(ref, cur, columns)
    configs = _configs(tests or {}, names)
    missing = {n: ("current" if n in ref.names else "reference") for n in names}
    checked = {}
    for name in names:
        if name in ref.names and name in cur.names:
            missing.pop(name)
            checked[name] = _column(name, ref.column(name), cur.column(name), configs.get(name))
    return DriftReport(checked, missing, ref.rows, cur.rows, drift_share)


def _selected(ref: _Dataset, cur: _Dataset, columns: Sequence[str] | None) -> list[str]:
    every = ref.names + [n for n in cur.names if n not in ref.names]
    if columns is None:
        return every
    if isinstance(columns, str):
        raise InvalidInput("The 'columns' parameter of drift_report is a list of column names.")
    unknown = [c for c in columns if c not in every]
    if unknown:
        raise InvalidInput(f"Columns {unknown} are in neither the reference nor the current data.")
    return list(dict.fromkeys(columns))


def _configs(
    tests: Mapping[str, DriftTestConfig | Mapping[str, Any]], names: list[str]
) -> dict[str, DriftTestConfig]:
    unknown = [c for c in tests if c not in names]
    if unknown:
        raise InvalidInput(f"Tests were given for columns that are not checked: {unknown}.")
    configs = {}
    for name, config in tests.items():
        try:
            configs[name] = parse_test_config(config)
        except InvalidInput as exc:
            raise InvalidInput(f"Column '{name}': {exc.message}") from exc
    return configs


def _column(
    name: str, ref: ColumnData, cur: ColumnData, config: DriftTestConfig | None
) -> ColumnDrift:
    summaries = {"reference": _summary(ref), "current": _summary(cur)}
    if ref.kind != cur.kind:
        message = f"The reference is {ref.kind} and the current data is {cur.kind}."
        return ColumnDrift(name, ref.kind, "kind_mismatch", message, **summaries)
    if ref.kind == "other":
        message = "Columns of this type (lists, structs, binary) are not tested for drift."
        return ColumnDrift(name, ref.kind, "unsupported", message, **summaries)
    empty = [
        side for side, data in (("reference", ref), ("current data", cur)) if not data.values()
    ]
    if empty:
        verb = "have" if len(empty) == 2 else "has"
        message = f"Not enough data: the {' and the '.join(empty)} {verb} no values (all null)."
        return ColumnDrift(name, ref.kind, "not_enough_data", message, **summaries)
    config = config or default_test(ref.kind, ref.values(), ref.unique_values(cur))
    try:
        result = drift_test(config).run(ref, cur)
    except PasslineError as exc:
        raise InvalidInput(f"Column '{name}': {exc.message}") from exc
    psi = drift_test(PSIConfig()).run(ref, cur)
    chart = _distribution(ref, cur)
    return ColumnDrift(
        name, ref.kind, "checked", None, config, result, psi, **summaries, distribution=chart
    )


def _summary(data: ColumnData) -> dict[str, Any]:
    out: dict[str, Any] = {"rows": data.rows, "nulls": data.nulls}
    if data.kind == "other":
        return out
    values = data.values()
    out["values"] = values
    if values and data.numeric:
        numbers = data.numbers()
        out.update(mean=numbers.mean, std=numbers.std, min=numbers.minimum, max=numbers.maximum)
    elif values:
        categories = data.categories()
        out["top"] = [
            {"value": value, "count": count, "share": count / categories.count}
            for value, count in categories.top(TOP_VALUES)
        ]
    return out


def _distribution(ref: ColumnData, cur: ColumnData) -> dict[str, Any]:
    """Shared histogram bins (numbers) or value -> [reference share, current share]."""
    if ref.numeric:
        return _histogram(ref, cur)
    labels, ref_counts, cur_counts = align_categories(ref.categories(), cur.categories())
    ref_shares, cur_shares = ref_counts / ref_counts.sum(), cur_counts / cur_counts.sum()
    order = np.argsort(-np.maximum(ref_shares, cur_shares), kind="stable")
    shown = [i for i in order if labels[i] != OTHER][:CATEGORIES_SHOWN]
    categories = {labels[i]: [ref_shares[i], cur_shares[i]] for i in shown}
    rest_ref, rest_cur = 1.0 - sum(ref_shares[shown]), 1.0 - sum(cur_shares[shown])
    if len(shown) < len(labels):
        categories[OTHER] = [max(rest_ref, 0.0), max(rest_cur, 0.0)]
    return {"categories": categories}


def _histogram(ref: ColumnData, cur: ColumnData) -> dict[str, Any]:
    r, c = ref.numbers(), cur.numbers()
    low, high = min(r.minimum, c.minimum), max(r.maximum, c.maximum)
    if low == high:
        return {"edges": [low, high], "reference": [r.count], "current": [c.count]}
    edges = np.linspace(low, high, HISTOGRAM_BINS + 1)
    return {
        "edges": edges,
        "reference": np.round(r.masses(edges) * r.count).astype(int),
        "current": np.round(c.masses(edges) * c.count).astype(int),
    }


def _psi_dict(psi: DriftResult | None) -> dict[str, Any] | None:
    if psi is None:
        return None
    return {"value": psi.statistic, "threshold": psi.threshold, "significant": psi.drifted}


def _plain(value: Any) -> Any:
    """JSON-ready: NumPy scalars and arrays to Python, NaN and infinities to None."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | np.ndarray):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
