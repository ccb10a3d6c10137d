"""What a drift statistic sees of a column: a step CDF for numbers, counts for categories.

Both views are built either from raw values (exact) or from a stored
:class:`~passline.data.profile.ColumnProfile` (approximate), so that every statistic has one
implementation that serves both, and a stored profile is compared without re-reading data.

**Numbers** (:class:`NumericDistribution`) are a right-continuous step function: sorted
support points ``x_1 < ... < x_m`` and ``F(x_i) = P(X <= x_i)``.

- From raw values the points are the distinct finite values and ``F`` is the empirical CDF,
  ``F(x) = #{values <= x} / n``: the very numbers ``scipy.stats.ks_2samp`` compares.
- From a profile the points are the KLL sketch's retained items, each with its weight
  (a power of two), and ``F(x) = sum of weights of items <= x / total weight``: the
  sketch's own inclusive CDF (``kll.get_cdf(..., inclusive=True)``). With ``k = 200`` the
  sketch is exact up to 200 values and then keeps a few hundred items; its rank error is
  about 1.3% (``kll.normalized_rank_error(False)``), and the profile feeds it at most
  16,384 evenly spaced values per batch, which adds a sampling error of the same order.
  ``count``, ``mean`` and ``std`` come from the profile's exact moments, not the sketch.

**Categories** (:class:`CategoricalDistribution`) are value -> count, with ``complete``
saying whether every value's count is known (raw data; a profile whose ``top`` still holds
every value it saw). A profile keeps only its 1,000 most frequent values (a batch's top 200
join the running counts), so for a high-cardinality column the rest is unknown.
:func:`align_categories` therefore compares two sides bucket by bucket only where both
counts are known, and puts everything else into one ``"__other__"`` bucket on each side
(``count - sum of the known buckets``), so both sides always cover all their values.

Numbers become categories (for chi-square, Jensen-Shannon, the Z-test) as Evidently does:
up to 20 distinct values (the union of both sides' points) each value is a category;
above, equal-width bins between the smallest and largest point (30 unless told).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from passline.data.profile import ColumnProfile, _numeric_values, column_kind
from passline.errors import InvalidInput

__all__ = [
    "MAX_VALUE_CATEGORIES",
    "OTHER",
    "CategoricalDistribution",
    "NumericDistribution",
    "align_categories",
    "numeric_categories",
    "union_cdfs",
    "union_points",
]

OTHER = "__other__"
MAX_VALUE_CATEGORIES = 20


@dataclass(frozen=True, eq=False)
class NumericDistribution:
    """A numeric column as a step CDF (see the module docstring)."""

    points: np.ndarray  # sorted distinct support points
    cumulative: np.ndarray  # F(points[i]) = P(X <= points[i]); the last is 1
    count: int  # finite values behind it (the real count, not the sketch's sample)
    mean: float
    std: float  # population standard deviation (ddof=0), as np.std
    minimum: float
    maximum: float
    exact: bool

    @classmethod
    def from_values(cls, values: Iterable[float] | np.ndarray | pa.Array) -> NumericDistribution:
        """The exact distribution of the finite values (nulls, NaN and infinities dropped)."""
        data = _finite_floats(values)
        if len(data) == 0:
            return cls.empty()
        points, counts = np.unique(data, return_counts=True)
        return cls(
            points=points,
            cumulative=np.cumsum(counts) / len(data),
            count=len(data),
            mean=float(np.mean(data)),
            std=float(np.std(data)),
            minimum=float(points[0]),
            maximum=float(points[-1]),
            exact=True,
        )

    @classmethod
    def from_profile(cls, profile: ColumnProfile) -> NumericDistribution:
        """The distribution a numeric or temporal profile's KLL sketch describes."""
        if profile.kind not in ("numeric", "temporal"):
            raise InvalidInput(
                f"Column '{profile.name}' is {profile.kind}, not numeric: it has no quantile "
                "sketch to compare."
            )
        if profile.kll is None or profile.kll.is_empty() or profile.moments_n == 0:
            return cls.empty(exact=False)
        retained = np.array(list(profile.kll), dtype=np.float64).reshape(-1, 2)
        points, where = np.unique(retained[:, 0], return_inverse=True)
        weights = np.bincount(where, weights=retained[:, 1])
        n = profile.moments_n
        return cls(
            points=points,
            cumulative=np.cumsum(weights) / weights.sum(),
            count=n,
            mean=float(profile.mean),
            std=math.sqrt(max(profile.m2, 0.0) / n),
            minimum=float(profile.min),
            maximum=float(profile.max),
            exact=not profile.kll.is_estimation_mode() and profile.kll.n == n,
        )

    @classmethod
    def empty(cls, exact: bool = True) -> NumericDistribution:
        nothing = np.empty(0)
        return cls(nothing, nothing, 0, math.nan, math.nan, math.nan, math.nan, exact)

    def cdf(self, x: np.ndarray | float) -> np.ndarray:
        """``F(x) = P(X <= x)``, vectorised."""
        index = np.searchsorted(self.points, x, side="right")
        return np.where(index > 0, self.cumulative[np.maximum(index - 1, 0)], 0.0)

    def quantile(self, q: np.ndarray | float) -> np.ndarray:
        """The inverse CDF: the smallest point ``x`` with ``F(x) >= q`` (NumPy's
        ``method="inverted_cdf"``; the KLL sketch's inclusive ``get_quantiles``)."""
        index = np.searchsorted(self.cumulative, q, side="left")
        return self.points[np.minimum(index, len(self.points) - 1)]

    def masses(self, edges: np.ndarray) -> np.ndarray:
        """Shares in the bins ``[e0, e1], (e1, e2], ..., (e_k-1, e_k]``."""
        bounds = self.cdf(edges)
        bounds[0] = self.cdf(np.nextafter(edges[0], -np.inf))
        return np.diff(bounds)


@dataclass(frozen=True, eq=False)
class CategoricalDistribution:
    """Value -> count of a categorical or boolean column (see the module docstring)."""

    counts: dict[str, float]
    count: int  # non-null values
    complete: bool  # every value's count is known
    exact: bool

    @classmethod
    def from_values(
        cls, values: Iterable[object] | np.ndarray | pa.Array
    ) -> CategoricalDistribution:
        """Exact counts of a column's non-null values (booleans as ``"true"``/``"false"``)."""
        array = _arrow(values)
        if pa.types.is_dictionary(array.type):
            array = array.dictionary_decode()
        if array.null_count:
            array = array.drop_null()
        counted = pc.value_counts(array)
        keys = [_key(v) for v in counted.field("values").to_pylist()]
        counts = dict(zip(keys, counted.field("counts").to_pylist(), strict=True))
        return cls(counts, len(array), complete=True, exact=True)

    @classmethod
    def from_profile(cls, profile: ColumnProfile) -> CategoricalDistribution:
        """The counts a categorical profile's ``top`` or a boolean's ``true_count`` keep."""
        if profile.kind == "boolean":
            counts = {"false": profile.count - profile.true_count, "true": profile.true_count}
            counts = {k: v for k, v in counts.items() if v}
            return cls(counts, profile.count, complete=True, exact=True)
        if profile.kind != "categorical":
            raise InvalidInput(
                f"Column '{profile.name}' is {profile.kind}: its profile keeps no category counts."
            )
        counts = dict(profile.top)
        complete = sum(counts.values()) == profile.count
        return cls(counts, profile.count, complete=complete, exact=complete)

    def top(self, limit: int = 5) -> list[tuple[str, float]]:
        """The most frequent values, most frequent first (ties by value)."""
        return sorted(self.counts.items(), key=lambda item: (-item[1], item[0]))[:limit]


def align_categories(
    reference: CategoricalDistribution, current: CategoricalDistribution
) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Labels and the two sides' counts on shared buckets, ``"__other__"`` last if needed.

    A value gets its own bucket when its count is known on both sides: it is in both, or it
    is missing from a side whose counts are complete (so its count there is truly 0).
    """
    keys = {k for k in reference.counts if k in current.counts or current.complete}
    keys |= {k for k in current.counts if reference.complete}
    labels = sorted(keys)
    ref = np.array([reference.counts.get(k, 0) for k in labels], dtype=np.float64)
    cur = np.array([current.counts.get(k, 0) for k in labels], dtype=np.float64)
    other_ref = max(reference.count - ref.sum(), 0.0)
    other_cur = max(current.count - cur.sum(), 0.0)
    if other_ref > 0 or other_cur > 0:
        labels.append(OTHER)
        ref = np.append(ref, other_ref)
        cur = np.append(cur, other_cur)
    return labels, ref, cur


def union_cdfs(
    reference: NumericDistribution, current: NumericDistribution
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The union of both sides' support points, and each side's CDF at those points.

    The same arrays as ``union = np.union1d(ref.points, cur.points)``, ``ref.cdf(union)``
    and ``cur.cdf(union)``, bit for bit, in linear time rather than three ``n log n`` passes
    (on 1M raw values a side: about 0.06 s instead of 0.5 s): both point arrays are sorted,
    so a stable sort of the two concatenated only merges two runs (timsort), and each CDF
    is read at the last of its own points at or before each union point.
    """
    merged = np.concatenate((reference.points, current.points))
    order = np.argsort(merged, kind="stable")
    values = merged[order]
    last = _last_of_runs(values)  # one union point per run of equal values
    from_reference = np.cumsum(order < len(reference.points))[last]  # ref points <= x
    from_current = np.flatnonzero(last) + 1 - from_reference
    return (
        values[last],
        _cdf_at(reference.cumulative, from_reference),
        _cdf_at(current.cumulative, from_current),
    )


def union_points(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``np.union1d`` of two sorted arrays of distinct values, by merging (linear time)."""
    values = np.sort(np.concatenate((a, b)), kind="stable")
    return values[_last_of_runs(values)]


def _last_of_runs(values: np.ndarray) -> np.ndarray:
    last = np.ones(len(values), dtype=bool)
    np.not_equal(values[1:], values[:-1], out=last[:-1])
    return last


def _cdf_at(cumulative: np.ndarray, points_at_or_below: np.ndarray) -> np.ndarray:
    """``F`` at a point from how many support points lie at or below it (0: ``F = 0``)."""
    return np.concatenate(([0.0], cumulative))[points_at_or_below]


def numeric_categories(
    reference: NumericDistribution, current: NumericDistribution, bins: int = 30
) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Numbers as categories: each value when there are few, else equal-width bins."""
    union, ref_cdf, cur_cdf = union_cdfs(reference, current)
    if len(union) <= MAX_VALUE_CATEGORIES:
        ref = np.diff(ref_cdf, prepend=0.0) * reference.count
        cur = np.diff(cur_cdf, prepend=0.0) * current.count
        return [_number_label(v) for v in union], ref, cur
    edges = np.linspace(union[0], union[-1], bins + 1)
    labels = [
        f"[{_number_label(a)}, {_number_label(b)}]"
        for a, b in zip(edges[:-1], edges[1:], strict=True)
    ]
    return labels, reference.masses(edges) * reference.count, current.masses(edges) * current.count


def _number_label(value: float) -> str:
    value = float(value)
    return str(int(value)) if value.is_integer() and abs(value) < 2**53 else repr(value)


def _key(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _arrow(values: Iterable[object] | np.ndarray | pa.Array | pa.ChunkedArray) -> pa.Array:
    if isinstance(values, pa.ChunkedArray):
        return values.combine_chunks()
    if isinstance(values, pa.Array):
        return values
    try:
        return pa.array(values if isinstance(values, np.ndarray) else list(values))
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise InvalidInput(f"Cannot read the column's values as one type: {exc}") from exc


def _finite_floats(values: Iterable[float] | np.ndarray | pa.Array) -> np.ndarray:
    if isinstance(values, np.ndarray) and values.dtype.kind in "fiub":
        data = values.astype(np.float64, copy=False).ravel()
        return data[np.isfinite(data)]
    array = _arrow(values)
    kind = column_kind(array.type)
    if kind not in ("numeric", "temporal", "boolean"):
        raise InvalidInput(f"Expected numbers, got values of type {array.type}.")
    data = _numeric_values(array.cast(pa.int8()) if kind == "boolean" else array, kind)
    return data[np.isfinite(data)]
