"""Drift statistics as pure, vectorised NumPy functions (no SciPy at run time).

Each comes in two forms: on raw arrays (``ks_2samp(a, b)``), matching SciPy where SciPy has
the same statistic, and on the distribution views of :mod:`.distributions`
(``ks_distributions(ref, cur)``), which also accept views built from stored profiles.

Kolmogorov-Smirnov (two-sided, asymptotic; ``scipy.stats.ks_2samp(method="asymp")``)::

    D = max_x |F_ref(x) - F_cur(x)|          over the union of both samples' values
    p = P(D_en >= D),  en = round(n m / (n + m))   (the one-sample Kolmogorov distribution,
                                                    scipy.stats.kstwo, see _kolmogorov)

Wasserstein-1 (``scipy.stats.wasserstein_distance``) and Evidently's normalised form::

    W1 = integral |F_ref(x) - F_cur(x)| dx = sum_i |F_ref(x_i) - F_cur(x_i)| (x_i+1 - x_i)
    W1_norm = W1 / max(std_ref, 0.001)       std with ddof=0 (np.std); the 0.001 floor is
                                             Evidently's fallback for a constant reference

Chi-square goodness of fit (``scipy.stats.chisquare``), as Evidently applies it: current
counts against the counts expected from the reference's proportions::

    E_i = ref_i * n_cur / n_ref;  X2 = sum_i (cur_i - E_i)^2 / E_i;  dof = k - 1
    p = Q(dof / 2, X2 / 2)                   (regularised upper incomplete gamma, _special)

Categories empty on both sides are left out; a category the reference never saw
(``E_i = 0 < cur_i``) makes ``X2`` infinite and ``p = 0``.

Jensen-Shannon distance (``scipy.spatial.distance.jensenshannon``) with natural logarithms,
SciPy's default and what Evidently computes (its 0.1 threshold is calibrated for it), so it
lies in [0, sqrt(ln 2)] = [0, 0.833]::

    M = (P + Q) / 2;  JS = sqrt((KL(P || M) + KL(Q || M)) / 2),  KL in bits

Population stability index, with empty bins given a share of ``PSI_EPSILON = 1e-4``
(Evidently's value) so that the logarithm stays finite::

    PSI = sum_i (cur_i - ref_i) ln(cur_i / ref_i)     (shares, not counts)

For numbers the bins are cut at the reference's deciles (``bins=10``): ``(-inf, q_0.1],
(q_0.1, q_0.2], ..., (q_0.9, inf)``, ``q`` the inverse CDF (repeated cut points merge).

Z-test for two proportions (Evidently's binary test)::

    p_pool = (x_ref + x_cur) / (n_ref + n_cur)
    z = (x_ref/n_ref - x_cur/n_cur) / sqrt(p_pool (1 - p_pool) (1/n_ref + 1/n_cur))
    p = P(|Z| >= |z|) = erfc(|z| / sqrt(2));  p = 1 when p_pool is 0 or 1 (one shared value)
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import NamedTuple

import numpy as np

from passline.data.drift._kolmogorov import kolmogorov_sf
from passline.data.drift._special import chi2_sf, normal_two_sided
from passline.data.drift.distributions import NumericDistribution, union_cdfs
from passline.errors import InvalidInput

__all__ = [
    "PSI_EPSILON",
    "WASSERSTEIN_STD_FLOOR",
    "Statistic",
    "chisquare",
    "chisquare_drift",
    "jensenshannon",
    "ks_2samp",
    "ks_distributions",
    "ks_pvalue",
    "normalized_wasserstein",
    "psi",
    "psi_numeric",
    "wasserstein_distance",
    "wasserstein_distributions",
    "ztest_proportions",
]

PSI_EPSILON = 1e-4
WASSERSTEIN_STD_FLOOR = 0.001

Numbers = Iterable[float] | np.ndarray


class Statistic(NamedTuple):
    """A test statistic and, for a hypothesis test, its p-value."""

    statistic: float
    p_value: float | None = None


# --- Kolmogorov-Smirnov ------------------------------------------------------------------


def ks_2samp(reference: Numbers, current: Numbers) -> Statistic:
    """Two-sided two-sample KS statistic and asymptotic p-value, as SciPy's ``method="asymp"``."""
    return ks_distributions(_exact(reference, "reference"), _exact(current, "current"))


def ks_distributions(reference: NumericDistribution, current: NumericDistribution) -> Statistic:
    """KS on two step CDFs: the supremum is reached at one of their support points."""
    _require_values(reference, current)
    _, ref_cdf, cur_cdf = union_cdfs(reference, current)
    d = float(np.max(np.abs(ref_cdf - cur_cdf)))
    return Statistic(d, ks_pvalue(d, reference.count, current.count))


def ks_pvalue(d: float, n_reference: int, n_current: int) -> float:
    """``P(D >= d)`` by Smirnov's asymptotic rule: ``kstwo.sf(d, round(n m / (n + m)))``."""
    m, n = sorted([float(n_reference), float(n_current)], reverse=True)
    return kolmogorov_sf(round(m * n / (m + n)), d)


# --- Wasserstein ---------------------------------------------------------------------------


def wasserstein_distance(reference: Numbers, current: Numbers) -> float:
    """The first Wasserstein distance between two samples, as SciPy's."""
    return wasserstein_distributions(_exact(reference, "reference"), _exact(current, "current"))


def normalized_wasserstein(reference: Numbers, current: Numbers) -> float:
    """Wasserstein-1 divided by ``max(np.std(reference), 0.001)`` (Evidently's score)."""
    ref = _exact(reference, "reference")
    return wasserstein_distributions(ref, _exact(current, "current")) / _std_floor(ref)


def wasserstein_distributions(
    reference: NumericDistribution, current: NumericDistribution, normalized: bool = False
) -> float:
    """``sum_i |F_ref(x_i) - F_cur(x_i)| (x_i+1 - x_i)`` over the union of support points."""
    _require_values(reference, current)
    union, ref_cdf, cur_cdf = union_cdfs(reference, current)
    gaps = np.abs(ref_cdf[:-1] - cur_cdf[:-1])
    distance = float(np.sum(gaps * np.diff(union)))
    return distance / _std_floor(reference) if normalized else distance


def _std_floor(reference: NumericDistribution) -> float:
    return max(reference.std, WASSERSTEIN_STD_FLOOR)


# --- Categories ----------------------------------------------------------------------------


def chisquare(observed: Numbers, expected: Numbers) -> Statistic:
    """Pearson's chi-square of observed against expected counts (``scipy.stats.chisquare``).

    ``k - 1`` degrees of freedom; NaN p-value with a single category, as SciPy.
    """
    obs = np.asarray(observed, dtype=np.float64)
    exp = np.asarray(expected, dtype=np.float64)
    if obs.shape != exp.shape or obs.ndim != 1:
        raise InvalidInput("chisquare needs two one-dimensional count arrays of equal length.")
    if np.any(exp[obs > 0] == 0):
        return Statistic(math.inf, 0.0)
    used = exp > 0
    statistic = float(np.sum((obs[used] - exp[used]) ** 2 / exp[used]))
    return Statistic(statistic, chi2_sf(statistic, len(obs) - 1))


def chisquare_drift(reference_counts: Numbers, current_counts: Numbers) -> Statistic:
    """Chi-square of current counts against the reference's proportions (Evidently's test)."""
    ref = np.asarray(reference_counts, dtype=np.float64)
    cur = np.asarray(current_counts, dtype=np.float64)
    keep = (ref > 0) | (cur > 0)
    ref, cur = ref[keep], cur[keep]
    if ref.sum() <= 0 or cur.sum() <= 0:
        raise InvalidInput("chi-square needs at least one count on each side.")
    if len(ref) == 1:
        return Statistic(0.0, 1.0)  # one value on both sides: nothing can differ
    return chisquare(cur, ref * (cur.sum() / ref.sum()))


def jensenshannon(reference: Numbers, current: Numbers, base: float = math.e) -> float:
    """Jensen-Shannon distance of two frequency vectors (normalised first), natural log by
    default (as SciPy and Evidently)."""
    p = np.asarray(reference, dtype=np.float64)
    q = np.asarray(current, dtype=np.float64)
    p, q = p / p.sum(), q / q.sum()
    m = (p + q) / 2.0
    divergence = _relative_entropy(p, m) + _relative_entropy(q, m)
    return float(math.sqrt(max(divergence / math.log(base), 0.0) / 2.0))


def _relative_entropy(p: np.ndarray, m: np.ndarray) -> float:
    """``sum p log(p / m)`` with ``0 log 0 = 0`` (``scipy.special.rel_entr``, summed)."""
    positive = p > 0
    return float(np.sum(p[positive] * np.log(p[positive] / m[positive])))


def psi(reference_shares: Numbers, current_shares: Numbers, epsilon: float = PSI_EPSILON) -> float:
    """Population stability index of two share vectors; zero shares become ``epsilon``."""
    ref = np.asarray(reference_shares, dtype=np.float64)
    cur = np.asarray(current_shares, dtype=np.float64)
    ref = np.where(ref > 0, ref, epsilon)
    cur = np.where(cur > 0, cur, epsilon)
    return float(np.sum((cur - ref) * np.log(cur / ref)))


def psi_numeric(
    reference: NumericDistribution, current: NumericDistribution, bins: int = 10
) -> float:
    """PSI of numbers in bins cut at the reference's quantiles ``1/bins, ..., (bins-1)/bins``."""
    _require_values(reference, current)
    cuts = np.unique(reference.quantile(np.arange(1, bins) / bins))
    ref = np.diff(np.concatenate(([0.0], reference.cdf(cuts), [1.0])))
    cur = np.diff(np.concatenate(([0.0], current.cdf(cuts), [1.0])))
    return psi(ref, cur)


def ztest_proportions(
    reference_successes: float, reference_n: float, current_successes: float, current_n: float
) -> Statistic:
    """Two-proportion Z-test with a pooled variance; two-sided p-value."""
    if reference_n <= 0 or current_n <= 0:
        raise InvalidInput("The Z-test needs at least one value on each side.")
    p1, p2 = reference_successes / reference_n, current_successes / current_n
    pooled = (reference_successes + current_successes) / (reference_n + current_n)
    variance = pooled * (1 - pooled) * (1 / reference_n + 1 / current_n)
    if variance <= 0:
        return Statistic(0.0, 1.0)
    z = (p1 - p2) / math.sqrt(variance)
    return Statistic(z, normal_two_sided(z))


# --- helpers -------------------------------------------------------------------------------


def _exact(values: Numbers, side: str) -> NumericDistribution:
    distribution = NumericDistribution.from_values(values)
    if distribution.count == 0:
        raise InvalidInput(f"The {side} sample has no finite values.")
    return distribution


def _require_values(reference: NumericDistribution, current: NumericDistribution) -> None:
    for side, distribution in (("reference", reference), ("current", current)):
        if distribution.count == 0 or len(distribution.points) == 0:
            raise InvalidInput(f"The {side} sample has no finite values.")
