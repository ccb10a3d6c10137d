"""Two runs compared: per-scorer mean difference with a bootstrap confidence interval.

The difference is ``candidate - baseline`` (scores are "higher is better"). When the runs
share cases, the per-case differences are resampled (a paired bootstrap: the case-to-case
spread cancels out); otherwise each run's scores are resampled on their own. Resampling is
vectorised (one index matrix per block of resamples) and seeded, so the same inputs give
the same interval. A *regression* is an interval entirely below 0, an *improvement* one
entirely above; anything else is no significant change.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from passline.errors import InvalidInput

__all__ = ["Difference", "bootstrap_difference", "verdict"]

_BLOCK_CELLS = 2_000_000  # indices drawn at once: bounded memory for large suites


@dataclass(frozen=True)
class Difference:
    n: int
    mean_baseline: float
    mean_candidate: float
    diff: float
    ci_low: float
    ci_high: float
    paired: bool

    @property
    def verdict(self) -> str:
        return verdict(self.ci_low, self.ci_high)


def verdict(low: float, high: float) -> str:
    if high < 0:
        return "regression"
    if low > 0:
        return "improvement"
    return "no significant change"


def _check(confidence: float, resamples: int) -> None:
    if not 0.5 <= confidence < 1:
        raise InvalidInput(f"'confidence' must be in [0.5, 1). Got {confidence!r} instead.")
    if not 100 <= resamples <= 100_000:
        raise InvalidInput(f"'resamples' must be in [100, 100000]. Got {resamples!r} instead.")


def _resampled_means(values: np.ndarray, resamples: int, rng: np.random.Generator) -> np.ndarray:
    n = len(values)
    block = max(1, _BLOCK_CELLS // max(n, 1))
    out = np.empty(resamples, dtype=np.float64)
    for start in range(0, resamples, block):
        size = min(block, resamples - start)
        out[start : start + size] = values[rng.integers(0, n, size=(size, n))].mean(axis=1)
    return out


def bootstrap_difference(
    baseline: np.ndarray,
    candidate: np.ndarray,
    paired: bool,
    confidence: float = 0.95,
    resamples: int = 2_000,
    seed: int = 0,
) -> Difference:
    """The mean of ``candidate - baseline`` and its percentile bootstrap interval. Paired
    arrays are aligned case by case; unpaired ones may differ in length."""
    _check(confidence, resamples)
    base = np.asarray(baseline, dtype=np.float64)
    cand = np.asarray(candidate, dtype=np.float64)
    if len(base) == 0 or len(cand) == 0:
        raise InvalidInput("Both runs need at least one scored case to compare.")
    rng = np.random.default_rng(seed)
    alpha = (1 - confidence) / 2
    if paired:
        if len(base) != len(cand):
            raise InvalidInput("Paired scores must have one baseline value per candidate value.")
        means = _resampled_means(cand - base, resamples, rng)
    else:
        means = _resampled_means(cand, resamples, rng) - _resampled_means(base, resamples, rng)
    low, high = np.quantile(means, [alpha, 1 - alpha])
    return Difference(
        n=int(len(cand) if paired else min(len(base), len(cand))),
        mean_baseline=float(base.mean()),
        mean_candidate=float(cand.mean()),
        diff=float(cand.mean() - base.mean()),
        ci_low=float(low),
        ci_high=float(high),
        paired=paired,
    )
