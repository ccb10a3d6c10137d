"""Data drift: is the current window distributed like the reference?

- :mod:`.stats`: the statistics as pure NumPy functions (KS, Wasserstein, chi-square,
  Jensen-Shannon, PSI, Z-test), matching SciPy where SciPy has them; SciPy is not needed.
- :mod:`.distributions`: the two views a statistic works on (a step CDF for numbers,
  counts for categories), built from raw values or from a stored column profile's sketches.
- :mod:`.config`: the frozen test configurations with stable ``type`` ids, the result
  type and Evidently's default choice of test.
- :mod:`.columns`: :class:`ColumnData`, one side of a comparison (profile or raw values).
- :mod:`.methods`: the :class:`DriftTest` contract, the built-ins and their registry.
- :mod:`.report`: :func:`drift_report`, every column of two datasets at once.

See docs/monitoring.md ("Drift") for formulas, thresholds and the measured sketch error.
"""

from passline.data.drift.columns import ColumnData
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
from passline.data.drift.distributions import CategoricalDistribution, NumericDistribution
from passline.data.drift.methods import (
    BUILTIN_DRIFT_TESTS,
    DriftTest,
    choose_test,
    drift_test,
    parse_test_config,
    register_drift_test,
)
from passline.data.drift.report import ColumnDrift, DriftReport, drift_report
from passline.data.drift.stats import (
    Statistic,
    chisquare,
    jensenshannon,
    ks_2samp,
    normalized_wasserstein,
    psi,
    wasserstein_distance,
    ztest_proportions,
)

__all__ = [
    "BUILTIN_DRIFT_TESTS",
    "CategoricalDistribution",
    "ChiSquareConfig",
    "ColumnData",
    "ColumnDrift",
    "DriftReport",
    "DriftResult",
    "DriftTest",
    "DriftTestConfig",
    "JensenShannonConfig",
    "KSConfig",
    "NumericDistribution",
    "PSIConfig",
    "Statistic",
    "WassersteinConfig",
    "ZTestConfig",
    "chisquare",
    "choose_test",
    "default_test",
    "drift_report",
    "drift_test",
    "jensenshannon",
    "ks_2samp",
    "normalized_wasserstein",
    "parse_test_config",
    "psi",
    "register_drift_test",
    "wasserstein_distance",
    "ztest_proportions",
]
