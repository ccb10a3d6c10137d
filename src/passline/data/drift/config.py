"""Drift-test configurations: frozen data with a stable ``type`` id, and the default choice.

A configuration is saved with every report, so a result can be reproduced; the work is
done by the :class:`~passline.data.drift.methods.DriftTest` built from it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "ChiSquareConfig",
    "DriftResult",
    "DriftTestConfig",
    "JensenShannonConfig",
    "KSConfig",
    "PSIConfig",
    "WassersteinConfig",
    "ZTestConfig",
    "default_test",
]

NUMERIC_KINDS = ("numeric", "temporal")
SMALL_REFERENCE = 1000  # Evidently: tests of significance up to 1,000 reference values
FEW_VALUES = 5  # numbers with at most 5 distinct values are tested as categories


class DriftTestConfig(BaseModel):
    """Base of every drift-test configuration: a stable ``type`` id and a ``threshold``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    type: str
    threshold: float


class KSConfig(DriftTestConfig):
    """Two-sample Kolmogorov-Smirnov; drifted when the p-value is below ``threshold``."""

    type: Literal["ks"] = "ks"
    threshold: float = Field(0.05, gt=0, lt=1)


class WassersteinConfig(DriftTestConfig):
    """Wasserstein-1 (over the reference's std when ``normalized``); drifted at >= threshold."""

    type: Literal["wasserstein"] = "wasserstein"
    threshold: float = Field(0.1, gt=0)
    normalized: bool = True


class ChiSquareConfig(DriftTestConfig):
    """Chi-square of current counts against reference proportions; drifted when p < threshold."""

    type: Literal["chi2"] = "chi2"
    threshold: float = Field(0.05, gt=0, lt=1)
    bins: int = Field(30, ge=2, le=1000)  # for numbers with more than 20 distinct values


class JensenShannonConfig(DriftTestConfig):
    """Jensen-Shannon distance (natural log, as Evidently, in [0, 0.833]); drifted at >=
    threshold."""

    type: Literal["jensenshannon"] = "jensenshannon"
    threshold: float = Field(0.1, gt=0, le=1)
    bins: int = Field(30, ge=2, le=1000)  # for numbers with more than 20 distinct values


class PSIConfig(DriftTestConfig):
    """Population stability index; >= 0.2 is the usual "significant shift"."""

    type: Literal["psi"] = "psi"
    threshold: float = Field(0.2, gt=0)
    bins: int = Field(10, ge=2, le=1000)  # reference quantile bins for numbers


class ZTestConfig(DriftTestConfig):
    """Two-proportion Z-test for columns with two values; drifted when p < threshold."""

    type: Literal["ztest"] = "ztest"
    threshold: float = Field(0.05, gt=0, lt=1)


@dataclass(frozen=True)
class DriftResult:
    """What one drift test found for one column."""

    test: str  # the configuration's type id
    statistic: float
    p_value: float | None
    threshold: float
    drifted: bool
    exact: bool  # False when at least one side came from an approximate sketch

    def to_dict(self) -> dict[str, Any]:
        return {
            "test": self.test,
            "statistic": _json_number(self.statistic),
            "p_value": _json_number(self.p_value),
            "threshold": self.threshold,
            "drifted": self.drifted,
            "exact": self.exact,
        }


def default_test(kind: str, reference_values: int, unique_values: int) -> DriftTestConfig:
    """Evidently's default choice (``DataDriftPreset``), as a configuration.

    ``reference_values`` are the reference's non-null values, ``unique_values`` the
    distinct values of both sides together:

    - numbers (numeric or temporal) with more than 5 distinct values: ``ks`` up to 1,000
      reference values, ``wasserstein`` (normalised) above;
    - everything else (categories, booleans, numbers with at most 5 distinct values): up to
      1,000 reference values ``chi2`` when there are more than 2 distinct values, else
      ``ztest``; above 1,000, ``jensenshannon``.
    """
    numbers = kind in NUMERIC_KINDS and unique_values > FEW_VALUES
    if reference_values <= SMALL_REFERENCE:
        if numbers:
            return KSConfig()
        return ChiSquareConfig() if unique_values > 2 else ZTestConfig()
    return WassersteinConfig() if numbers else JensenShannonConfig()


def _json_number(value: float | None) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None
