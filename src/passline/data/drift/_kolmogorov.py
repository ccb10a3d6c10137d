"""The Kolmogorov distribution of the two-sided one-sample KS statistic, in NumPy.

``kolmogorov_sf(n, d)`` is ``P(D_n >= d)`` for ``D_n = sup_x |F_n(x) - F(x)|``, computed
the way SciPy's ``scipy.stats.kstwo.sf`` computes it (``scipy/stats/_ksstats.py``), so that
``ks_2samp(method="asymp")`` p-values agree with SciPy to about 1e-12. The regimes and their
cut-offs are Simard and L'Ecuyer's (2011, J. Stat. Softw. 39(11)):

- ``n d <= 1`` and ``n d >= n - 1``: Ruben and Gambino's closed forms;
- ``d >= 0.5``, or a large ``n d^2``: ``2 * smirnov(n, d)``, twice the one-sided exact
  distribution (the two tails cannot both be crossed when ``d > 0.5``);
- ``n <= 140``: Durbin's matrix algorithm (Marsaglia, Tsang and Wang 2003) for
  ``n d^2 <= 0.754693``, Pomeranz's recursion (1974) up to ``n d^2 <= 4``;
- ``n > 140``: Durbin's matrix when ``n <= 100000`` and ``n d^1.5 <= 1.4``, otherwise the
  Pelz-Good (1976) asymptotic series.

``smirnov_sf`` is Birnbaum and Tingey's (1951) sum, evaluated in logarithms (SciPy keeps
double-double terms instead; the two agree to about 1e-12 for ``n`` up to 10**6, above
which SciPy, and this module, use the approximation ``exp(-(6 n d + 1)^2 / (18 n))``).
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np

__all__ = ["kolmogorov_sf", "smirnov_sf"]

_SCALE_EXP = 128
_SCALE = 2.0**_SCALE_EXP
_LOG_2PI = math.log(2 * math.pi)
_MIN_LOG = -708
_CEPHES_MINLOG = -7.451332191019412076235e2  # log(2**-1075): exp() of less is 0
_SMIRNOV_MAX_N = 1_000_000
# Stirling series coefficients B_2j / (2j (2j - 1)), j = 8 .. 1 (highest first, for polyval).
_STIRLING = [
    -2.955065359477124183e-2,
    6.4102564102564102564e-3,
    -1.9175269175269175269e-3,
    8.4175084175084175084e-4,
    -5.952380952380952381e-4,
    7.9365079365079365079e-4,
    -2.7777777777777777778e-3,
    8.3333333333333333333e-2,
]
_SMALL_REMAINDERS = np.array(
    [0.0] + [math.lgamma(k + 1) - k * math.log(k) + k for k in range(1, 64)]
)


def _clip(p: float) -> float:
    return float(min(max(p, 0.0), 1.0))


def _log_factorial_over_power(n: int) -> float:
    """``log(n! / n**n)`` by Stirling's series, with ``n log n`` removed analytically."""
    rn = 1.0 / n
    return math.log(n) / 2 - n + _LOG_2PI / 2 + rn * float(np.polyval(_STIRLING, rn / n))


def _stirling_remainder(k: np.ndarray) -> np.ndarray:
    """``log(k!) - k log(k) + k`` for integers ``k >= 0``: ``log(2 pi k)/2`` plus Stirling's
    series, a number of moderate size (``0`` at ``k = 0``, as ``0! = 0**0 = 1``)."""
    k = np.asarray(k, dtype=np.int64)
    out = np.empty(k.shape, dtype=np.float64)
    small = k < len(_SMALL_REMAINDERS)
    out[small] = _SMALL_REMAINDERS[k[small]]
    big = k[~small].astype(np.float64)
    out[~small] = (_LOG_2PI + np.log(big)) / 2 + np.polyval(_STIRLING, 1 / big**2) / big
    return out


def kolmogorov_sf(n: int, d: float) -> float:
    """``P(D_n >= d)``, the survival function of the two-sided KS statistic of ``n`` values.

    The same value as ``scipy.stats.kstwo.sf(d, n)``; NaN when ``n < 1``.
    """
    if n < 1 or math.isnan(d):
        return math.nan
    if d >= 1.0:
        return 0.0
    t = n * d
    if t <= 0.5:
        return 1.0
    if t <= 1.0:  # Ruben-Gambino: P(D_n < d) = n!/n^n (2t - 1)^n
        if n <= 140:
            cdf = float(np.prod(np.arange(1, n + 1) * (1.0 / n) * (2 * t - 1)))
        else:
            cdf = math.exp(_log_factorial_over_power(n) + n * math.log(2 * t - 1))
        return _clip(1.0 - cdf)
    if t >= n - 1:  # Ruben-Gambino: P(D_n >= d) = 2 (1 - d)^n
        return _clip(2 * (1.0 - d) ** n)
    if d >= 0.5:
        return _clip(2 * smirnov_sf(n, d))
    nd2 = t * d
    if n <= 140:
        if nd2 <= 0.754693:
            return _clip(1.0 - _durbin_cdf(n, d))
        if nd2 <= 4:
            return _clip(1.0 - _pomeranz_cdf(n, d))
        return _clip(2 * smirnov_sf(n, d))
    if nd2 >= 370.0:
        return 0.0
    if nd2 >= 2.2:
        return _clip(2 * smirnov_sf(n, d))
    if n <= 100_000 and n * d**1.5 <= 1.4:
        return _clip(1.0 - _durbin_cdf(n, d))
    return _clip(1.0 - _pelz_good_cdf(n, d))


def _durbin_cdf(n: int, d: float) -> float:
    """``P(D_n <= d)`` by Durbin's matrix: the (k, k) entry of ``H**n``, times ``n!/n**n``.

    With ``d = (k - h) / n`` (k a positive integer, 0 <= h < 1), ``H`` is a ``2k - 1``
    square matrix of ``1/j!`` terms; ``H**n`` is taken by repeated squaring, rescaled by
    ``2**128`` whenever the entry grows past it (Marsaglia, Tsang and Wang 2003).
    """
    nd = n * d
    k = math.ceil(nd)
    h = k - nd
    m = 2 * k - 1
    powers = np.arange(1, m + 1)
    inverse_factorials = np.divide.accumulate(np.concatenate(([1.0], powers.astype(float))))
    w = inverse_factorials[:m]  # w[j] = 1/j!
    v = (1.0 - h**powers) * inverse_factorials[1:]  # v[j-1] = (1 - h^j) / j!
    v[-1] = (1.0 + max(2 * h - 1.0, 0) ** m - 2 * h**m) * inverse_factorials[m]
    rows, cols = np.indices((m, m))
    lag = rows - cols + 1
    matrix = np.where((cols >= 1) & (lag >= 0), w[np.clip(lag, 0, m - 1)], 0.0)
    matrix[:, 0] = v
    matrix[-1, :] = v[::-1]
    power, exponent, matrix_exponent = np.eye(m), 0, 0
    remaining = n
    while remaining > 0:
        if remaining % 2:
            power = power @ matrix
            exponent += matrix_exponent
        matrix = matrix @ matrix
        matrix_exponent *= 2
        if abs(matrix[k - 1, k - 1]) > _SCALE:
            matrix /= _SCALE
            matrix_exponent += _SCALE_EXP
        remaining //= 2
    p = float(power[k - 1, k - 1])
    return _times_factorial_over_power(p, exponent, n)


def _times_factorial_over_power(p: float, exponent: int, n: int) -> float:
    """``p * 2**exponent * n! / n**n``, without overflow or underflow."""
    if p <= 0:
        return 0.0
    if n > 140:
        log_p = math.log(p) + exponent * math.log(2) + _log_factorial_over_power(n)
        return math.exp(log_p) if log_p < 1 else 1.0
    for i in range(1, n + 1):
        p = i * p / n
        if abs(p) < 1 / _SCALE:
            p *= _SCALE
            exponent -= _SCALE_EXP
    return math.ldexp(p, exponent)


def _pomeranz_bounds(i: int, n: int, ll: int, ceilf: int, roundf: int) -> tuple[int, int]:
    """The first and last non-zero entries of row ``i`` of Pomeranz's recursion."""
    if i == 0:
        j1, j2 = -ll - ceilf - 1, ll + ceilf - 1
    else:
        half, odd = divmod(i + 1, 2)
        if odd == 0:
            if half == n + 1:
                j1, j2 = n - ll - ceilf - 1, n + ll + ceilf - 1
            else:
                j1, j2 = half - 1 - ll - roundf - 1, half + ll - 1 + ceilf - 1
        else:
            j1, j2 = half - 1 - ll - 1, half + ll + roundf - 1
    return max(j1 + 2, 0), min(j2, n)


def _pomeranz_cdf(n: int, d: float) -> float:
    """``P(D_n <= d)`` by Pomeranz's recursion (1974): ``2n + 1`` Poisson convolutions.

    Each row convolves the previous one with one of three Poisson-like weight vectors
    (``(g/n)^m/m!``, ``(2g/n)^m/m!``, ``((1-2g)/n)^m/m!`` with ``g`` the distance of ``n d``
    to the nearest integer); the answer is ``n!`` times the last entry of the last row.
    """
    t = n * d
    ll = math.floor(t)
    f = t - ll
    g = min(f, 1.0 - f)
    ceilf, roundf = int(f > 0), int(f > 0.5)
    size = 2 * (ll + 1)
    steps = np.concatenate(([1.0], 1.0 / np.arange(1, size)))
    gpower = np.multiply.accumulate(steps * np.r_[1.0, np.full(size - 1, g / n)])
    twogpower = np.multiply.accumulate(steps * np.r_[1.0, np.full(size - 1, 2 * g / n)])
    onem2gpower = np.multiply.accumulate(steps * np.r_[1.0, np.full(size - 1, (1 - 2 * g) / n)])
    row_prev, row = np.zeros(size), np.zeros(size)
    row[0] = 1.0
    start_prev = start = 0
    exponent = 0
    j1, _ = _pomeranz_bounds(0, n, ll, ceilf, roundf)
    for i in range(1, 2 * n + 2):
        k1 = j1
        row_prev, row = row, row_prev
        start_prev, start = start, start_prev
        row.fill(0.0)
        j1, j2 = _pomeranz_bounds(i, n, ll, ceilf, roundf)
        if i in (1, 2 * n + 1):
            weights = gpower
        else:
            weights = twogpower if i % 2 else onem2gpower
        length = j2 - k1 + 1
        if length > 0:
            conv = np.convolve(
                row_prev[k1 - start_prev : k1 - start_prev + length], weights[:length]
            )
            row[: j2 - j1 + 1] = conv[j1 - k1 : j2 - k1 + 1]
            if 0 < np.max(row) < 1 / _SCALE:
                row *= _SCALE
                exponent -= _SCALE_EXP
            start = start_prev + j1 - k1
    answer = float(row[n - start])
    for m in range(1, n + 1):
        if abs(answer) > _SCALE:
            answer /= _SCALE
            exponent += _SCALE_EXP
        answer *= m
    return math.ldexp(answer, exponent) if exponent else answer


def _pelz_good_cdf(n: int, d: float) -> float:
    """``P(D_n <= d)`` by the Pelz-Good (1976) series in ``z = d sqrt(n)``.

    Li-Chien and Korolyuk's expansion ``K0(z) + K1(z)/sqrt(n) + K2(z)/n + K3(z)/n^1.5``, each
    ``K_i`` rewritten through Jacobi's theta-function identity so that it converges for
    small ``z``: sums of ``q^((2k-1)^2)`` with ``q = exp(-pi^2 / (8 z^2))``.
    """
    z = math.sqrt(n) * d
    z2, z3, z4, z6 = z**2, z**3, z**4, z**6
    qlog = -(math.pi**2) / 8 / z2
    if qlog < _MIN_LOG:
        return 0.0
    q = math.exp(qlog)
    pi2, pi4, pi6 = math.pi**2, math.pi**4, math.pi**6
    k1a, k1b = -z2, pi2 / 4
    k2a, k2b, k2c = 6 * z6 + 2 * z4, (2 * z4 - 5 * z2) * pi2 / 4, pi4 * (1 - 2 * z2) / 16
    k3d = pi6 * (5 - 30 * z2) / 64
    k3c = pi4 * (-60 * z2 + 212 * z4) / 16
    k3b = pi2 * (135 * z4 - 96 * z6) / 4
    k3a = -30 * z6 - 90 * z**8
    terms = np.zeros(4)
    maxk = math.ceil(16 * z / math.pi)
    for k in range(maxk, 0, -1):  # Horner's scheme in q^(8k): sum c_m q^(m^2), m odd
        m2 = (2 * k - 1) ** 2
        coeffs = np.array(
            [
                1.0,
                k1a + k1b * m2,
                k2a + k2b * m2 + k2c * m2**2,
                k3a + k3b * m2 + k3c * m2**2 + k3d * m2**3,
            ]
        )
        terms = terms * q ** (8 * k) + coeffs
    terms *= q * math.sqrt(2 * math.pi)
    terms /= np.array([z, 6 * z4, 72 * z**7, 6480 * z**10])
    q = math.exp(-pi2 / 2 / z2)
    ks = np.arange(maxk, 0, -1)
    k2 = ks**2
    qk = q**k2
    terms[2] += np.sum(k2 * qk) * pi2 * math.sqrt(2 * math.pi) / (-36 * z3)
    s3z, kpi = math.sqrt(3) * z, math.pi * ks
    terms[3] += (
        np.sum((s3z + kpi) * (s3z - kpi) * k2 * qk) * pi2 * math.sqrt(2 * math.pi) / (216 * z6)
    )
    terms /= np.power(float(n), np.arange(4) / 2.0)
    return float(np.sum(terms))


def smirnov_sf(n: int, d: float) -> float:
    """``P(D_n^+ >= d)``, the one-sided exact Smirnov distribution (``scipy.special.smirnov``).

    Birnbaum-Tingey: ``d * sum_{v=0}^{floor(n(1-d))} C(n, v) (d + v/n)^(v-1) (1 - d - v/n)^(n-v)``,
    every term positive, summed from logarithms. ``n d`` is split exactly into its integer
    part and remainder so that ``1 - d - v/n`` keeps full precision near zero.
    """
    if n < 1 or not 0.0 <= d <= 1.0:
        return math.nan
    if n == 1:
        return 1.0 - d
    if d == 0.0:
        return 1.0
    if d == 1.0:
        return 0.0
    exact = Fraction(d) * n
    nd_floor = math.floor(exact)
    alpha = float(exact - nd_floor)
    if alpha == 1.0:
        nd_floor, alpha = nd_floor + 1, 0.0
    if nd_floor == 0 or (nd_floor == 1 and alpha == 0):  # d <= 1/n
        return 1.0 - d * math.exp((n - 1) * math.log1p(d))
    if -2 * n * d * d < _CEPHES_MINLOG:
        return 0.0
    if nd_floor >= n - 1:  # d >= 1 - 1/n
        return math.exp(n * math.log1p(-d))
    if n > _SMIRNOV_MAX_N:
        log_p = -((6.0 * n * d + 1) ** 2) / 18.0 / n
        return math.exp(log_p) if log_p < -math.log(2) else 1.0 + math.expm1(log_p)
    return _clip(d * float(np.sum(np.exp(_log_birnbaum_tingey_terms(n, nd_floor, alpha)))))


def _log_birnbaum_tingey_terms(n: int, nd_floor: int, alpha: float) -> np.ndarray:
    """``log(C(n, v) (d + v/n)^(v-1) (1 - d - v/n)^(n-v))`` for ``v = 0 .. n - ceil(n d)``.

    Written with ``log k! = k log k - k + R(k)`` (R: :func:`_stirling_remainder`), the large
    ``k log k`` parts cancel analytically, leaving
    ``v log(1 + nd/v) + (n-v) log(1 - nd/(n-v)) - log((nd + v)/n) + R(n) - R(v) - R(n-v)``,
    whose parts are small enough to keep the terms' relative error near 1e-12.
    """
    v = np.arange(0, n - nd_floor)
    rest = (n - v).astype(np.float64)
    nd = nd_floor + alpha
    ratio = nd / rest
    high = ((n - v - nd_floor) - alpha) / rest  # (1 - d - v/n) / (1 - v/n), exact-ish
    with np.errstate(divide="ignore", invalid="ignore"):  # np.where computes both branches
        up = np.where(v > 0, v * np.log1p(nd / np.maximum(v, 1)), 0.0)
        down = rest * np.where(ratio < 0.5, np.log1p(-ratio), np.log(high))
    remainders = (
        _stirling_remainder(np.array(n)) - _stirling_remainder(v) - _stirling_remainder(n - v)
    )
    return up + down - np.log((nd + v) / n) + remainders
