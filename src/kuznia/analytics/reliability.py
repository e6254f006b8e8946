"""Reliability growth: the Crow-AMSAA model (power-law NHPP), MIL-HDBK-189C.

The expected number of failures by cumulative time t is lam * t**beta; beta < 1 means the
failure intensity falls (the design is improving). Estimates are maximum likelihood:

- exact times, time-terminated at T (n failures):    beta = n / sum(ln(T / t_i)),
- exact times, failure-terminated at t_n:            beta = n / sum_{i<n}(ln(t_n / t_i)),
- then lam = n / T**beta; the unbiased beta multiplies by (n-1)/n (time-terminated) or
  (n-2)/n (failure-terminated);
- cumulative MTBF = T / n, instantaneous MTBF = 1 / (lam * beta * T**(beta - 1));
- goodness of fit: the Cramer-von Mises statistic with the unbiased beta,
  C2 = 1/(12M) + sum_i ((t_i/T)**beta_u - (2i-1)/(2M))**2, M = n (time-terminated) or
  n - 1 (failure-terminated, the last time being T).

Grouped data (failures counted per interval ending at t_1 < ... < t_k) solve
sum_i n_i [(t_i**b ln t_i - t_{i-1}**b ln t_{i-1}) / (t_i**b - t_{i-1}**b) - ln t_k] = 0
for beta, with 0**b ln 0 taken as 0, and lam = N / t_k**beta.

Still to come (issue 3): the 90% interval on the instantaneous MTBF, and the discrete
growth model for one-shot products.

>>> fit = crow_amsaa([10400, 26900, 43400, 66400, 89400, 130400, 163400, 232000,
...                   242000, 340700])
>>> round(fit.beta, 6), round(fit.cumulative_mtbf)
(0.741657, 34070)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike


@dataclass(frozen=True)
class CrowAMSAA:
    beta: float
    lam: float
    beta_unbiased: float
    n: int  # failures
    end: float  # the cumulative time the estimates refer to
    failure_terminated: bool
    cramer_von_mises: float | None  # None for grouped data

    @property
    def instantaneous_mtbf(self) -> float:
        return 1.0 / (self.lam * self.beta * self.end ** (self.beta - 1.0))

    @property
    def cumulative_mtbf(self) -> float:
        return self.end / self.n

    @property
    def growth_rate(self) -> float:
        return 1.0 - self.beta


def crow_amsaa(times: ArrayLike, end: float | None = None) -> CrowAMSAA:
    """Fit exact cumulative failure times; ``end=None`` means failure-terminated."""
    t = np.sort(np.asarray(times, dtype=float))
    if t.size < 2 or np.any(t <= 0):
        raise ValueError("need at least two failure times, all after 0")
    failure_terminated = end is None
    T = float(t[-1]) if end is None else float(end)
    if T < t[-1]:
        raise ValueError(f"end {T} is before the last failure {t[-1]}")
    n = t.size
    inner = t[:-1] if failure_terminated else t
    beta = n / float(np.log(T / inner).sum())
    lam = n / T**beta
    beta_u = beta * ((n - 2) / n if failure_terminated else (n - 1) / n)
    m = n - 1 if failure_terminated else n
    z = inner / T
    i = np.arange(1, m + 1)
    cvm = 1.0 / (12 * m) + float(np.sum((z**beta_u - (2 * i - 1) / (2 * m)) ** 2))
    return CrowAMSAA(beta, lam, beta_u, n, T, failure_terminated, cvm)


def _grouped_score(beta: float, ends: np.ndarray, counts: np.ndarray) -> float:
    prev = np.concatenate([[0.0], ends[:-1]])
    tb, pb = ends**beta, prev**beta
    with np.errstate(divide="ignore", invalid="ignore"):
        pl = np.where(prev > 0, pb * np.log(np.where(prev > 0, prev, 1.0)), 0.0)
    term = (tb * np.log(ends) - pl) / (tb - pb) - np.log(ends[-1])
    return float(np.sum(counts * term))


def crow_amsaa_grouped(ends: ArrayLike, counts: ArrayLike) -> CrowAMSAA:
    """Fit failures counted per interval (interval ends, failures in each)."""
    from scipy.optimize import brentq

    t = np.asarray(ends, dtype=float)
    c = np.asarray(counts, dtype=float)
    if t.size < 2 or np.any(np.diff(t) <= 0) or t[0] <= 0:
        raise ValueError("need two or more increasing interval ends after 0")
    if c.sum() < 1 or np.all(c[1:] == 0):
        raise ValueError("need failures in more than the first interval to see a trend")
    lo, hi = 1e-3, 1.0
    while _grouped_score(hi, t, c) > 0 and hi < 1e3:  # the score falls as beta grows
        hi *= 2
    beta = float(brentq(_grouped_score, lo, hi, args=(t, c), xtol=1e-12))
    n = int(c.sum())
    lam = n / t[-1] ** beta
    return CrowAMSAA(beta, lam, beta * (n - 1) / n, n, float(t[-1]), False, None)
