"""Did a fix work? A sequential test that stays honest however often it is looked at.

A fix's status is recomputed every time uses arrive, so a test built for one look would be
fooled by repeated looks (an exact conditional test at 5% calls about 13-15% of fixes that
did nothing "verified" when looked at every 10-25 uses, and up to 16% with lot-to-lot
variation at a single look). Here the chance of a false "verified", over
the whole life of the action and however often it is looked at, stays under 1 - confidence.

A failure mode seen x1 times in n1 uses before the fixed version and x2 times in n2 uses of
that version and later; rho is the rate after over the rate before, the rate before itself
unknown. Given the S = x1 + x2 failures in all, x2 is binomial with p(rho) =
rho n2 / (n1 + rho n2) whatever that rate: the likelihood ratio of rho against rho0 is

    LR(rho : rho0) = (rho / rho0)^x2 ((n1 + rho0 n2) / (n1 + rho n2))^S,

which is also the Bayes factor with the rate's scale-invariant prior 1/lambda. The tests
mix it over a prior on rho and call a verdict when the mixture reaches 1/alpha (alpha =
1 - confidence):

- **verified** (H0: rho >= 1): mixture over rho in (0, 1) from a Beta(4, 2.5) prior (most
  weight on the fixes that remove a third to three quarters of the failures, the ones
  worth waiting for), against rho0 = 1;
- **not_effective** (H0: the fix removed at least ``reduction``, rho <= r, r = 1 -
  reduction): mixture over rho = r theta with theta - 1 exponential, against rho0 = r.

Each prior is 40 equally weighted points at its quantiles ((i + 1/2) / 40): a discrete
prior is as valid a mixture as a smooth one, and 40 points keep a page of fixes quick.
- **awaiting_data**: neither yet; **open**: no use of the fixed version or later yet.

Validity. With the rate before known, each mixture is a test martingale and Ville's
inequality bounds the chance that it ever reaches 1/alpha by alpha, at any number of looks.
With the rate before estimated from x1 the mixture is exact at the first look and in the
limit of many uses after (where it tends to an e-value of x1 alone with expectation 1); in
between it is shown by simulation, not proven: looked at every 20 uses for 20,000 uses
after, with rates of 0.001 to 0.3 failures per use and 100 to 5,000 uses before, a fix
that did nothing was called verified in at most 3.7% of 4,000 actions a cell at 95%
(``tests/test_fix_verdicts.py`` keeps a part of that grid in CI). The first sequential
version bounded the rate before at 97.5% and tested the uses after against that bound; it
was valid by proof but verified a fix that halved the rate in only about 40% of cases
within 2,000 uses, against about 75% now.

Lots as clusters: uses of one lot fail together (a bad batch), so counts vary more than
Poisson. With ``phi`` (the failures' dispersion between lots, at least 1) every count and
exposure is divided by phi first, the quasi-Poisson scaling.

``p_fell`` and ``p_not_effective`` are the sequential p-values min(1, 1 / M) of the two
mixtures: below alpha is the verdict.

``uses_needed``: the least number of further uses of the fixed version after which a
verdict is reached with at least 80% predictive probability: the rate after drawn from its
posterior (shrunk towards the fix working as intended, a prior worth one failure at r times
the rate before), paths of future failures simulated (seeded) on a grid of further uses,
each path counted as decided from the first grid point at which either test decides. The
probability is then monotone in the further uses by construction (a median would settle
the question only about 55% of the time, and jump around).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache, lru_cache

import numpy as np

OPEN, AWAITING, VERIFIED, NOT_EFFECTIVE = "open", "awaiting_data", "verified", "not_effective"
GRID = np.unique(np.round(np.geomspace(1, 1e5, 200)))  # about 6% apart
DRAWS = 500
WANTED = 0.80  # the predictive probability of a verdict that ``uses_needed`` asks for
NEEDED_KEPT = 8192  # answers of ``_needed`` kept per process (a few hundred bytes each)
POINTS = 40  # each mixture's prior: this many equally weighted points at its quantiles


@cache
def _priors() -> tuple[np.ndarray, np.ndarray]:
    from scipy.special import betaincinv  # scipy.stats would cost a quick command 0.3 s

    q = (np.arange(POINTS) + 0.5) / POINTS
    return betaincinv(4.0, 2.5, q), 1.0 - np.log1p(-q)  # rho; theta = 1 + Exp(1)


@dataclass(frozen=True)
class FixVerdict:
    status: str
    p_fell: float | None
    p_not_effective: float | None
    uses_needed: int | None


def log_lr(x1: float, n1: float, x2: np.ndarray, n2: np.ndarray, rho: np.ndarray,
           rho0: float) -> np.ndarray:
    """log LR(rho : rho0) of the module doc, for counts (length k) and rhos (length m):
    a (k, m) array.

    One failure after in as many uses as before, S = 2: (1/2)^1 (2 / 1.5)^2 = 8/9.

    >>> round(float(np.exp(log_lr(1, 10, np.array([1.0]), np.array([10.0]),
    ...                          np.array([0.5]), 1.0))[0, 0]), 4)
    0.8889
    """
    x2 = np.asarray(x2, dtype=float)[:, None]
    rho = np.asarray(rho, dtype=float)[None, :]
    # the logarithms depend on the exposure only, and the counts tried for ``uses_needed``
    # share a few exposures: take them once per exposure (the same values, a fifth of
    # the time)
    n2u, at = np.unique(np.asarray(n2, dtype=float), return_inverse=True)
    n2u = n2u[:, None]
    total = x1 + x2
    return np.asarray(x2 * np.log(rho / rho0)
                      + total * (np.log(n1 + rho0 * n2u)[at] - np.log(n1 + rho * n2u)[at]))


def _mix(log_ratio: np.ndarray) -> np.ndarray:
    """log of the mean of the ratios over the prior's points, row by row."""
    top = log_ratio.max(axis=1)
    return np.asarray(top + np.log(np.mean(np.exp(log_ratio - top[:, None]), axis=1)))


def log_m_fell(x1: float, n1: float, x2: np.ndarray, n2: np.ndarray) -> np.ndarray:
    """log of the mixture for a rate after below the rate before (see the module doc)."""
    return _mix(log_lr(x1, n1, x2, n2, _priors()[0], 1.0))


def log_m_above(x1: float, n1: float, x2: np.ndarray, n2: np.ndarray,
                r: float) -> np.ndarray:
    """log of the mixture for a rate after above r times the rate before."""
    return _mix(log_lr(x1, n1, x2, n2, r * _priors()[1], r))


def _tests(x1: float, n1: float, x2: np.ndarray, n2: np.ndarray, alpha: float,
           reduction: float) -> tuple[np.ndarray, np.ndarray]:
    """log M of the two mixtures at the counts after (arrays), given the counts before.
    ``alpha`` is kept for the callers: the bar is log(1 / alpha) for both."""
    del alpha
    x2 = np.atleast_1d(np.asarray(x2, dtype=float))
    n2 = np.atleast_1d(np.asarray(n2, dtype=float))
    return (log_m_fell(x1, n1, x2, n2),
            log_m_above(x1, n1, x2, n2, max(1.0 - reduction, 1e-9)))


def verdict(x1: float, n1: float, x2: float, n2: float, *, confidence: float = 0.95,
            reduction: float = 0.5, phi: float = 1.0) -> FixVerdict:
    """The status of one fix from its counts (see the module doc).

    >>> verdict(30, 1000, 0, 400).status, verdict(30, 1000, 60, 1000).status
    ('verified', 'not_effective')
    """
    alpha = 1.0 - confidence
    phi = max(1.0, float(phi))
    if n2 == 0:
        return FixVerdict(OPEN, None, None,
                          _needed(x1 / phi, n1 / phi, 0.0, 0.0, alpha, reduction, phi))
    if n1 == 0 or x1 == 0:
        # nothing to compare against: no uses before, or the mode was not seen before
        return FixVerdict(AWAITING, None, None, None)
    a, b = (float(v[0]) for v in _tests(x1 / phi, n1 / phi, np.array([x2 / phi]),
                                        np.array([n2 / phi]), alpha, reduction))
    p_fell = float(min(1.0, np.exp(-a)))
    p_not = float(min(1.0, np.exp(-b)))
    if p_fell <= alpha:
        return FixVerdict(VERIFIED, p_fell, p_not, 0)
    if p_not <= alpha:
        return FixVerdict(NOT_EFFECTIVE, p_fell, p_not, 0)
    return FixVerdict(AWAITING, p_fell, p_not,
                      _needed(x1 / phi, n1 / phi, x2 / phi, n2 / phi, alpha, reduction, phi))


@lru_cache(maxsize=NEEDED_KEPT)
def _needed(x1: float, n1: float, x2: float, n2: float, alpha: float, reduction: float,
            phi: float) -> int | None:
    """Further uses (in real uses, not phi-scaled ones) for an 80% predictive chance of a
    verdict; None when no number of them would do (no failure seen before the fix).

    Kept per process for the last ``NEEDED_KEPT`` counts asked (its draws are seeded, so
    the same counts always give the same answer): after a write of a few uses most fixes'
    counts are as they were, and the board's first view after it need not draw them again
    (this search is most of a board's time)."""
    if n1 == 0 or x1 == 0:
        return None
    before = x1 / n1
    rng = np.random.default_rng(20261124)  # seeded: the same counts give the same answer
    rate = rng.gamma(x2 + (1.0 - reduction), 1.0, DRAWS) / (n2 + 1.0 / before)
    steps = np.diff(np.concatenate([[0.0], GRID / phi]))
    counts = np.cumsum(rng.poisson(np.outer(rate, steps)), axis=1)  # (draws, grid): new
    # failures by each grid point
    exposure = n2 + GRID / phi
    bar = np.log(1.0 / alpha)
    decided = np.zeros(DRAWS, dtype=bool)
    for start in range(0, GRID.size, 24):  # a block of the grid at a time: most settle early
        block = slice(start, start + 24)
        # many paths share a count at a grid point: test each (count, point) once
        new = counts[:, block]
        key = new * 64 + np.arange(new.shape[1])  # (new failures, grid point) in one int
        uniq, back = np.unique(key, return_inverse=True)
        f_u, a_u = _tests(x1, n1, x2 + uniq // 64, exposure[block][uniq % 64], alpha,
                          reduction)
        fell = f_u[back].reshape(new.shape)
        above = a_u[back].reshape(new.shape)
        chance = (decided[:, None] | np.logical_or.accumulate(
            (fell >= bar) | (above >= bar), axis=1)).mean(axis=0)
        hit = np.flatnonzero(chance >= WANTED)
        if hit.size:
            return int(GRID[start + hit[0]])
        decided |= ((fell >= bar) | (above >= bar)).any(axis=1)
    return None


def lot_dispersion(failures: np.ndarray, uses: np.ndarray, versions: np.ndarray) -> float:
    """How much more failure counts vary between lots than Poisson counts would (at least
    1): Pearson's chi-square of each lot's failures against its version's rate, over its
    degrees of freedom (lots less versions). 1 with too few lots to tell.

    Four lots of 50 uses at a rate of 0.1 expect 5 failures each; 0, 10, 1 and 9 give a
    chi-square of (25 + 25 + 16 + 16) / 5 = 16.4 on 3 degrees of freedom:

    >>> x, n = np.array([0, 10, 1, 9]), np.array([50] * 4)
    >>> round(lot_dispersion(x, n, np.array(["a"] * 4)), 2)
    5.47
    """
    x = np.asarray(failures, dtype=float)
    n = np.asarray(uses, dtype=float)
    _, v = np.unique(np.asarray(versions), return_inverse=True)
    v = v.ravel()
    keep = n > 0
    x, n, v = x[keep], n[keep], v[keep]
    rate = np.bincount(v, weights=x) / np.maximum(np.bincount(v, weights=n), 1e-300)
    expected = rate[v] * n
    df = x.size - np.unique(v).size
    if df < 1 or not (expected > 0).any():
        return 1.0
    pos = expected > 0
    chi2 = float(np.sum((x[pos] - expected[pos]) ** 2 / expected[pos]))
    return max(1.0, chi2 / df)
