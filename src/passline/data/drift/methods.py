"""Drift tests: one required method, ``run(reference, current) -> DriftResult``.

A test is configured by a frozen pydantic model with a stable ``type`` id and a
``threshold`` (saved with every report so a result can be reproduced); the work is done by
a :class:`DriftTest` built from that configuration. Each side of ``run`` is a
:class:`~passline.data.profile.ColumnProfile` (a stored profile: computed from its
sketches, ``exact`` is then false unless the sketch holds every value), raw values (a
PyArrow array, a NumPy array or a list: exact), or a :class:`ColumnData` wrapping either.

Built-ins (``BUILTIN_DRIFT_TESTS``), with Evidently's default thresholds::

    type            score            drifted when         columns
    ks              p-value          p < 0.05             numeric, temporal
    wasserstein     W1 / std_ref     score >= 0.1         numeric, temporal
    chi2            p-value          p < 0.05             any (numbers as categories)
    jensenshannon   distance         score >= 0.1         any (numbers as categories)
    psi             index            score >= 0.2         any
    ztest           p-value          p < 0.05             at most two values

Usage::

    test = drift_test({"type": "psi", "threshold": 0.25})
    result = test.run(reference_profile.columns["age"], live_table.column("age"))
    result.drifted, result.statistic
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Any, ClassVar, Literal

import numpy as np
from pydantic import ValidationError

from passline.data.drift.columns import ColumnData, ColumnInput
from passline.data.drift.config import (
    ChiSquareConfig,
    DriftResult,
    DriftTestConfig,
    JensenShannonConfig,
    KSConfig,
    PSIConfig,
    WassersteinConfig,
    ZTestConfig,
    default_test,
)
from passline.data.drift.distributions import align_categories, numeric_categories
from passline.data.drift.stats import (
    chisquare_drift,
    jensenshannon,
    ks_distributions,
    psi,
    psi_numeric,
    wasserstein_distributions,
    ztest_proportions,
)
from passline.errors import InvalidInput

__all__ = [
    "BUILTIN_DRIFT_TESTS",
    "ChiSquareTest",
    "DriftTest",
    "JensenShannonTest",
    "KSTest",
    "PSITest",
    "WassersteinTest",
    "ZTest",
    "choose_test",
    "drift_test",
    "parse_test_config",
    "register_drift_test",
]


# --- the contract --------------------------------------------------------------------------


class DriftTest(ABC):
    """Compares one column's reference and current distributions.

    Subclasses set ``config_model`` (a :class:`DriftTestConfig` with a unique ``type``
    literal) and ``score`` (``"p_value"``: drifted below the threshold; ``"distance"``:
    drifted at or above it), and implement :meth:`run`. Register them with
    :func:`register_drift_test`.

    Example::

        class MeanShift(DriftTest):
            config_model = MeanShiftConfig  # type: Literal["mean_shift"], threshold: float
            score = "distance"

            def run(self, reference, current):
                ref, cur = self.pair(reference, current, numeric=True)
                shift = abs(cur.numbers().mean - ref.numbers().mean)
                return self.result(shift, None, exact=ref.exact and cur.exact)
    """

    config_model: ClassVar[type[DriftTestConfig]]
    score: ClassVar[Literal["p_value", "distance"]]

    def __init__(self, config: DriftTestConfig | None = None) -> None:
        config = self.config_model() if config is None else config
        if not isinstance(config, self.config_model):
            raise InvalidInput(
                f"{type(self).__name__} takes a {self.config_model.__name__}, "
                f"got {type(config).__name__}."
            )
        self.config = config

    @abstractmethod
    def run(self, reference: ColumnInput, current: ColumnInput) -> DriftResult:
        """Compare ``current`` with ``reference``; both must hold at least one value."""

    def pair(
        self, reference: ColumnInput, current: ColumnInput, numeric: bool = False
    ) -> tuple[ColumnData, ColumnData]:
        """Both sides as :class:`ColumnData`, checked for kind and content."""
        ref, cur = ColumnData.of(reference, "reference"), ColumnData.of(current, "current")
        if ref.kind != cur.kind:
            raise InvalidInput(
                f"The '{self.config.type}' drift test compares columns of one kind; the "
                f"reference is {ref.kind} and the current data is {cur.kind}."
            )
        if ref.kind == "other" or (numeric and not ref.numeric):
            wanted = (
                "numeric or temporal" if numeric else "numeric, temporal, categorical or boolean"
            )
            raise InvalidInput(
                f"The '{self.config.type}' drift test needs {wanted} columns; got a "
                f"{ref.kind} column."
            )
        for side, data in (("reference", ref), ("current", cur)):
            if data.values() == 0:
                raise InvalidInput(f"The {side} column has no values to compare (all null).")
        return ref, cur

    def result(self, statistic: float, p_value: float | None, exact: bool) -> DriftResult:
        """The :class:`DriftResult` for a score, judged against the configured threshold."""
        threshold = self.config.threshold
        if self.score == "p_value":
            drifted = p_value is not None and not math.isnan(p_value) and p_value < threshold
        else:
            drifted = not math.isnan(statistic) and statistic >= threshold
        return DriftResult(self.config.type, statistic, p_value, threshold, drifted, exact)

    def counts(
        self, ref: ColumnData, cur: ColumnData, bins: int
    ) -> tuple[list[str], np.ndarray, np.ndarray]:
        """Both sides' counts on shared categories (numbers: values or equal-width bins)."""
        if ref.numeric:
            return numeric_categories(ref.numbers(), cur.numbers(), bins)
        return align_categories(ref.categories(), cur.categories())


class KSTest(DriftTest):
    config_model = KSConfig
    score = "p_value"

    def run(self, reference: ColumnInput, current: ColumnInput) -> DriftResult:
        ref, cur = self.pair(reference, current, numeric=True)
        stat = ks_distributions(ref.numbers(), cur.numbers())
        return self.result(stat.statistic, stat.p_value, ref.exact and cur.exact)


class WassersteinTest(DriftTest):
    config_model = WassersteinConfig
    score = "distance"

    def run(self, reference: ColumnInput, current: ColumnInput) -> DriftResult:
        ref, cur = self.pair(reference, current, numeric=True)
        normalized = bool(getattr(self.config, "normalized", True))
        value = wasserstein_distributions(ref.numbers(), cur.numbers(), normalized)
        return self.result(value, None, ref.exact and cur.exact)


class ChiSquareTest(DriftTest):
    config_model = ChiSquareConfig
    score = "p_value"

    def run(self, reference: ColumnInput, current: ColumnInput) -> DriftResult:
        ref, cur = self.pair(reference, current)
        _, ref_counts, cur_counts = self.counts(ref, cur, _bins(self.config))
        stat = chisquare_drift(ref_counts, cur_counts)
        return self.result(stat.statistic, stat.p_value, ref.exact and cur.exact)


class JensenShannonTest(DriftTest):
    config_model = JensenShannonConfig
    score = "distance"

    def run(self, reference: ColumnInput, current: ColumnInput) -> DriftResult:
        ref, cur = self.pair(reference, current)
        _, ref_counts, cur_counts = self.counts(ref, cur, _bins(self.config))
        return self.result(jensenshannon(ref_counts, cur_counts), None, ref.exact and cur.exact)


class PSITest(DriftTest):
    config_model = PSIConfig
    score = "distance"

    def run(self, reference: ColumnInput, current: ColumnInput) -> DriftResult:
        ref, cur = self.pair(reference, current)
        if ref.numeric:
            value = psi_numeric(ref.numbers(), cur.numbers(), _bins(self.config))
        else:
            _, ref_counts, cur_counts = self.counts(ref, cur, _bins(self.config))
            value = psi(ref_counts / ref_counts.sum(), cur_counts / cur_counts.sum())
        return self.result(value, None, ref.exact and cur.exact)


class ZTest(DriftTest):
    config_model = ZTestConfig
    score = "p_value"

    def run(self, reference: ColumnInput, current: ColumnInput) -> DriftResult:
        ref, cur = self.pair(reference, current)
        unique = ref.unique_values(cur)
        if unique > 2:
            raise InvalidInput(
                f"The 'ztest' drift test compares a column with at most two values; this one "
                f"has {unique}. Use 'chi2' or 'jensenshannon'."
            )
        _, ref_counts, cur_counts = self.counts(ref, cur, 2)
        used = (ref_counts > 0) | (cur_counts > 0)
        ref_counts, cur_counts = ref_counts[used], cur_counts[used]
        # "success" is the second value in sorted order ("true" for booleans), as Evidently.
        hits = (ref_counts[-1], cur_counts[-1]) if len(ref_counts) == 2 else (0.0, 0.0)
        stat = ztest_proportions(hits[0], ref_counts.sum(), hits[1], cur_counts.sum())
        return self.result(stat.statistic, stat.p_value, ref.exact and cur.exact)


def _bins(config: DriftTestConfig) -> int:
    return int(getattr(config, "bins", 30))


# --- registry ---------------------------------------------------------


def _type_id(cls: type[DriftTest]) -> str:
    return str(cls.config_model.model_fields["type"].default)


BUILTIN_DRIFT_TESTS: dict[str, type[DriftTest]] = {
    _type_id(cls): cls
    for cls in (KSTest, WassersteinTest, ChiSquareTest, JensenShannonTest, PSITest, ZTest)
}
_REGISTRY: dict[str, type[DriftTest]] = dict(BUILTIN_DRIFT_TESTS)


def register_drift_test(cls: type[DriftTest]) -> None:
    """Make a drift test available by its configuration's ``type`` id."""
    type_id = _type_id(cls)
    if _REGISTRY.get(type_id, cls) is not cls:
        raise InvalidInput(
            f"The drift test type '{type_id}' is already registered by "
            f"{_REGISTRY[type_id].__name__}."
        )
    _REGISTRY[type_id] = cls


def parse_test_config(config: DriftTestConfig | Mapping[str, Any]) -> DriftTestConfig:
    """A configuration from a model or a plain mapping such as ``{"type": "ks"}``."""
    if isinstance(config, DriftTestConfig):
        return config
    if not isinstance(config, Mapping):
        raise InvalidInput(
            f"A drift test configuration is a mapping with a 'type'; got {type(config).__name__}."
        )
    type_id = config.get("type")
    if type_id not in _REGISTRY:
        raise InvalidInput(
            f"The 'type' of a drift test must be one of {sorted(_REGISTRY)}. "
            f"Got {type_id!r} instead."
        )
    model = _REGISTRY[type_id].config_model
    try:
        return model.model_validate(dict(config))
    except ValidationError as exc:
        error = exc.errors()[0]
        name = ".".join(str(part) for part in error["loc"])
        raise InvalidInput(
            f"The '{name}' parameter of the '{type_id}' drift test is invalid: "
            f"{error['msg']}. Got {error.get('input')!r} instead."
        ) from exc


def drift_test(config: DriftTestConfig | Mapping[str, Any]) -> DriftTest:
    """The registered drift test for a configuration."""
    parsed = parse_test_config(config)
    if parsed.type not in _REGISTRY:
        raise InvalidInput(
            f"The 'type' of a drift test must be one of {sorted(_REGISTRY)}. "
            f"Got {parsed.type!r} instead."
        )
    return _REGISTRY[parsed.type](parsed)


def choose_test(reference: ColumnInput, current: ColumnInput) -> DriftTestConfig:
    """:func:`default_test` for two columns."""
    ref, cur = ColumnData.of(reference, "reference"), ColumnData.of(current, "current")
    return default_test(ref.kind, ref.values(), ref.unique_values(cur))
