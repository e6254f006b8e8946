"""Did a fix work? Failure counts before and after the fixed version, judged by exact tests.

A failure mode seen x1 times in n1 uses before the fixed version and x2 times in n2 uses of
that version and later: if the rate per use were the same on both sides, then given the
total k = x1 + x2 the count after is Binomial(k, n2 / (n1 + n2)) (the exact conditional test
of two Poisson rates, Przyborowski & Wilenski 1940; the test behind R's ``poisson.test``
for two samples). So

- ``p_fell``   = P(X2 <= x2 | k, p0) with p0 = n2 / (n1 + n2): small when the rate fell;
- ``p_not_effective`` = P(X2 >= x2 | k, p1) with p1 = r n2 / (n1 + r n2), r = 1 - reduction:
  small when the rate after is above r times the rate before, i.e. the fix removed less
  than ``reduction`` (default half) of the failures.

Status, at confidence c (default 95%):

- ``open``: no use of the fixed version or later yet;
- ``verified``: p_fell < 1 - c;
- ``not_effective``: p_not_effective < 1 - c (enough data, and the rate did not fall by the
  fix's least worthwhile amount);
- ``awaiting_data``: neither yet.

``uses_needed`` estimates how many more uses of the new version would settle it: the rate
after is taken as x2 and n2 shrunk towards the fix working as intended (r times the rate
before), the prior worth as many uses as one failure at the rate before; the counts are then
extended on a grid of extra uses until one of the two tests decides.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

OPEN, AWAITING, VERIFIED, NOT_EFFECTIVE = "open", "awaiting_data", "verified", "not_effective"
GRID = np.unique(np.round(np.geomspace(1, 1e7, 400)))


@dataclass(frozen=True)
class FixVerdict:
    status: str
    p_fell: float | None
    p_not_effective: float | None
    uses_needed: int | None


def _p_values(x1: np.ndarray, n1: np.ndarray, x2: np.ndarray, n2: np.ndarray,
              reduction: float) -> tuple[np.ndarray, np.ndarray]:
    from scipy.special import bdtr, bdtrc  # binomial cdf and survival; scipy.stats is slow to load

    x2 = np.asarray(x2).astype(np.int64)
    k = np.asarray(x1).astype(np.int64) + x2
    r = 1.0 - reduction
    p0 = n2 / (n1 + n2)
    p1 = r * n2 / (n1 + r * n2)
    at_most = np.where(x2 >= k, 1.0, bdtr(np.minimum(x2, k), k, p0))
    at_least = np.where(x2 <= 0, 1.0, bdtrc(np.maximum(x2 - 1, 0), k, p1))
    return at_most, at_least


def rate_tests(x1: float, n1: float, x2: float, n2: float, reduction: float = 0.5
               ) -> tuple[float, float]:
    """(p_fell, p_not_effective) for x1 failures in n1 uses before and x2 in n2 after.

    >>> p_fell, p_not = rate_tests(30, 1000, 5, 1000)
    >>> p_fell < 0.001, p_not > 0.5
    (True, True)
    """
    a, b = _p_values(*(np.array([v], dtype=float) for v in (x1, n1, x2, n2)), reduction)
    return float(a[0]), float(b[0])


def verdict(x1: int, n1: int, x2: int, n2: int, *, confidence: float = 0.95,
            reduction: float = 0.5) -> FixVerdict:
    """The status of one fix from its counts (see the module doc)."""
    alpha = 1.0 - confidence
    if n2 == 0:
        return FixVerdict(OPEN, None, None, _needed(x1, n1, 0, 0, alpha, reduction))
    if n1 == 0 or x1 + x2 == 0:
        # nothing to compare against: no uses before, or the mode was never seen
        return FixVerdict(AWAITING, None, None, None)
    p_fell, p_not = rate_tests(x1, n1, x2, n2, reduction)
    if p_fell < alpha:
        return FixVerdict(VERIFIED, p_fell, p_not, 0)
    if p_not < alpha:
        return FixVerdict(NOT_EFFECTIVE, p_fell, p_not, 0)
    return FixVerdict(AWAITING, p_fell, p_not, _needed(x1, n1, x2, n2, alpha, reduction))


def _needed(x1: int, n1: int, x2: int, n2: int, alpha: float, reduction: float) -> int | None:
    if n1 == 0 or x1 == 0:
        return None
    before = x1 / n1
    rate = (x2 + (1.0 - reduction)) / (n2 + 1.0 / before)  # shrunk towards the fix working
    m = GRID
    x2m = np.floor(x2 + rate * m + 0.5)
    n2m = n2 + m
    p_fell, p_not = _p_values(np.full_like(m, x1), np.full_like(m, n1), x2m, n2m, reduction)
    decided = np.flatnonzero((p_fell < alpha) | (p_not < alpha))
    return int(m[decided[0]]) if decided.size else None
