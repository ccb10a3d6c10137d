"""A drift report shaped for a page: a row and a paired chart per column, and the predictions'.

Takes the dict that ``svc.drift.compare`` and ``svc.drift.endpoint_drift`` return (see
``passline.data.drift.report``) and gives what the templates draw: the verdict's figures
stay in the report, each column becomes a :class:`ColumnView` with its reference and
current distributions on shared bins (numbers) or categories. Pure: no service calls.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from passline.server.charts import (
    Formatter,
    PairedChart,
    paired_bars_chart,
    paired_histogram_chart,
    short_number,
)

__all__ = ["ColumnView", "DriftView", "drift_view"]

#: The bucket a report puts the categories it does not show in (``distributions.OTHER``).
OTHER = "__other__"
OTHER_LABEL = "(other values)"
#: Tests whose threshold is on the p-value (drifted below it); the others' is on the statistic.
P_VALUE_TESTS = frozenset({"ks", "chi2", "ztest"})

FormatterFor = Callable[[str, str], Formatter]  # (column, kind) -> how its bin edges read


@dataclass(frozen=True)
class ColumnView:
    """One row of the drift table and its chart (``None`` for a column not tested)."""

    name: str
    kind: str
    status: str  # checked, not_enough_data, kind_mismatch, unsupported (unavailable)
    message: str | None
    test: str
    statistic: float | None
    p_value: float | None
    threshold: float | None
    drifted: bool
    exact: bool | None
    psi: float | None
    psi_significant: bool
    chart: PairedChart | None

    @property
    def checked(self) -> bool:
        return self.status == "checked"

    @property
    def rule(self) -> str:
        """When the test calls the column drifted: ``p < 0.05`` or ``≥ 0.1``."""
        if self.threshold is None:
            return ""
        limit = short_number(self.threshold)
        return f"p < {limit}" if self.test in P_VALUE_TESTS else f"≥ {limit}"


@dataclass(frozen=True)
class DriftView:
    """The report as given (verdict, rows, shares), its columns and the predictions'."""

    report: Mapping[str, Any]
    columns: list[ColumnView]
    missing: list[tuple[str, str]]  # column, the side it is missing from
    prediction: ColumnView | None

    @property
    def empty(self) -> bool:
        """No rows in the current window: the report is a message, not a comparison."""
        return self.report.get("rows") == 0 and not self.columns


def drift_view(report: Mapping[str, Any], formatter: FormatterFor | None = None) -> DriftView:
    """The page's view of ``report``; ``formatter`` says how a column's bin edges read
    (temporal columns come as epoch units), numbers by default."""
    formatter = formatter or (lambda column, kind: short_number)
    columns = [
        _column(found, formatter(name, found["kind"])) for name, found in report["columns"].items()
    ]
    prediction = report.get("prediction")
    return DriftView(
        report,
        sorted(columns, key=_rank),
        sorted(report.get("missing_columns", {}).items()),
        _prediction(prediction) if prediction else None,
    )


def _rank(column: ColumnView) -> int:
    # What drifted first, then what was tested, then what could not be: a reader came for
    # the first; the order within each group is the report's (the signature's).
    return 0 if column.drifted else (1 if column.checked else 2)


def _column(found: Mapping[str, Any], fmt: Formatter) -> ColumnView:
    test, psi = found.get("test") or {}, found.get("psi") or {}
    sides = (found.get("reference", {}).get("values"), found.get("current", {}).get("values"))
    return ColumnView(
        name=found["column"],
        kind=found["kind"],
        status=found["status"],
        message=found.get("message"),
        test=test.get("type", ""),
        statistic=found.get("statistic"),
        p_value=found.get("p_value"),
        threshold=found.get("threshold"),
        drifted=bool(found.get("drifted")),
        exact=found.get("exact"),
        psi=psi.get("value"),
        psi_significant=bool(psi.get("significant")),
        chart=paired_chart(found.get("distribution"), fmt, sides),
    )


def _prediction(found: Mapping[str, Any]) -> ColumnView:
    test = found.get("test") or {}
    distribution = found.get("distribution")
    return ColumnView(
        name="prediction",
        kind="numeric" if distribution and "edges" in distribution else "categorical",
        status=found["status"],
        message=found.get("message"),
        test=test.get("type", ""),
        statistic=found.get("score"),
        p_value=found.get("p_value"),
        threshold=test.get("threshold"),
        drifted=bool(found.get("drifted")),
        exact=True,  # both sides are raw predictions
        psi=None,
        psi_significant=False,
        chart=paired_chart(distribution, short_number),
    )


def paired_chart(
    distribution: Mapping[str, Any] | None,
    fmt: Formatter = short_number,
    values: tuple[int | None, int | None] = (None, None),
) -> PairedChart | None:
    """Both sides of a report's ``distribution``: bars per shared bin, or per category
    (the bucket of the values not shown last, named as such)."""
    if not distribution:
        return None
    if "edges" in distribution:
        edges, reference = distribution["edges"], distribution["reference"]
        current = distribution["current"]
        if len(edges) != len(reference) + 1 or len(reference) != len(current):
            return None
        return paired_histogram_chart(edges, reference, current, fmt)
    categories = {
        (OTHER_LABEL if value == OTHER else value): shares
        for value, shares in distribution.get("categories", {}).items()
    }
    known = values if values[0] is not None and values[1] is not None else None
    return paired_bars_chart(categories, known)  # type: ignore[arg-type]
