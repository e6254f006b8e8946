"""Did a fix work? A sequential test that stays honest however often it is looked at.

A fix's status is recomputed every time uses arrive, so a test built for one look would be
fooled by repeated looks (the first version, an exact conditional test at 5%, called about
13-15% of fixes that did nothing "verified" when looked at every 10-25 uses, and up to 16%
with lot-to-lot variation at a single look). Here the chance of a false "verified", over
the whole life of the action and however often it is looked at, stays under 1 - confidence.

A failure mode seen x1 times in n1 uses before the fixed version and x2 times in n2 uses of
that version and later. With alpha = 1 - confidence, split in two halves:

- the rate before is at least L1, the one-sided (1 - alpha/2) Gamma lower bound of
  (x1 + 1/2) / n1 (Jeffreys), and at most U1, the upper bound;
- **verified**: the uses after are tested against a rate of L1 by a mixture likelihood
  ratio, a test martingale (Ville's inequality: under a rate of at least L1 it ever
  reaches 2/alpha with probability at most alpha/2, at any number of looks). The mixture
  is over rates theta L1 with theta uniform on (0, 1), which has the closed form

      M = e^mu gamma(x2 + 1, mu) / mu^(x2 + 1),  mu = L1 n2   (lower incomplete gamma);

  so a fix that did nothing is called verified with probability at most alpha/2 + alpha/2;
- **not_effective** (the fix removed less than ``reduction`` of the failures): the same
  against a rate of r U1, r = 1 - reduction, mixing over rates theta r U1 with theta - 1
  exponential: M = e^nu Gamma(x2 + 1, nu) / nu^(x2 + 1), nu = r U1 n2 + 1 (upper
  incomplete gamma);
- **awaiting_data**: neither yet; **open**: no use of the fixed version or later yet.

Lots as clusters: uses of one lot fail together (a bad batch), so counts vary more than
Poisson. With ``phi`` (the failures' dispersion between lots, at least 1) every count and
exposure is divided by phi first, the quasi-Poisson scaling.

``p_fell`` and ``p_not_effective`` are the always-valid p-values min(1, 2 / M) of the two
mixtures (at this confidence's bounds L1, U1): below alpha is the verdict.

``uses_needed``: the least number of further uses of the fixed version after which a
verdict is reached with at least 80% predictive probability: the rate after drawn from its
posterior (shrunk towards the fix working as intended, a prior worth one failure at r times
the rate before), paths of future failures simulated (seeded) on a grid of further uses,
each path counted as decided from the first grid point at which either test decides. The
probability is then monotone in the further uses by construction (the first version gave a
median, which settled the question only about 55% of the time, and jumped around).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

OPEN, AWAITING, VERIFIED, NOT_EFFECTIVE = "open", "awaiting_data", "verified", "not_effective"
GRID = np.unique(np.round(np.geomspace(1, 1e5, 200)))  # about 6% apart
DRAWS = 500
WANTED = 0.80  # the predictive probability of a verdict that ``uses_needed`` asks for


@dataclass(frozen=True)
class FixVerdict:
    status: str
    p_fell: float | None
    p_not_effective: float | None
    uses_needed: int | None


def rate_bounds(x: float, n: float, alpha: float) -> tuple[float, float]:
    """One-sided (1 - alpha) Jeffreys bounds (low, high) of a Poisson rate per use.

    >>> low, high = rate_bounds(30, 1000, 0.025)
    >>> round(low, 4), round(high, 4)
    (0.0207, 0.0422)
    """
    from scipy.special import gammaincinv

    shape = x + 0.5
    return float(gammaincinv(shape, alpha) / n), float(gammaincinv(shape, 1 - alpha) / n)


def log_m_fell(x2: np.ndarray, n2: np.ndarray, ref: float) -> np.ndarray:
    """log of the mixture likelihood ratio for a rate below ``ref`` (see the module doc)."""
    from scipy.special import gammainc, gammaln

    mu = ref * np.asarray(n2, dtype=float)
    x2 = np.asarray(x2, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = mu + gammaln(x2 + 1) + np.log(gammainc(x2 + 1, mu)) - (x2 + 1) * np.log(mu)
    return np.where(mu > 0, out, 0.0)


def log_m_above(x2: np.ndarray, n2: np.ndarray, ref: float) -> np.ndarray:
    """log of the mixture likelihood ratio for a rate above ``ref`` (see the module doc)."""
    from scipy.special import gammaincc, gammaln

    nu = ref * np.asarray(n2, dtype=float) + 1.0
    x2 = np.asarray(x2, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = nu + gammaln(x2 + 1) + np.log(gammaincc(x2 + 1, nu)) - (x2 + 1) * np.log(nu)
    return np.where(np.asarray(n2) > 0, out, 0.0)


def _tests(x1: float, n1: float, x2: np.ndarray, n2: np.ndarray, alpha: float,
           reduction: float) -> tuple[np.ndarray, np.ndarray]:
    """log M of the two mixtures at the counts after (arrays), given the counts before."""
    low, high = rate_bounds(x1, n1, alpha / 2)
    return (log_m_fell(x2, n2, low),
            log_m_above(x2, n2, (1.0 - reduction) * high))


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
    p_fell = float(min(1.0, 2.0 * np.exp(-a)))
    p_not = float(min(1.0, 2.0 * np.exp(-b)))
    if p_fell <= alpha:
        return FixVerdict(VERIFIED, p_fell, p_not, 0)
    if p_not <= alpha:
        return FixVerdict(NOT_EFFECTIVE, p_fell, p_not, 0)
    return FixVerdict(AWAITING, p_fell, p_not,
                      _needed(x1 / phi, n1 / phi, x2 / phi, n2 / phi, alpha, reduction, phi))


def _needed(x1: float, n1: float, x2: float, n2: float, alpha: float, reduction: float,
            phi: float) -> int | None:
    """Further uses (in real uses, not phi-scaled ones) for an 80% predictive chance of a
    verdict; None when no number of them would do (no failure seen before the fix)."""
    if n1 == 0 or x1 == 0:
        return None
    before = x1 / n1
    rng = np.random.default_rng(20261124)  # seeded: the same counts give the same answer
    rate = rng.gamma(x2 + (1.0 - reduction), 1.0, DRAWS) / (n2 + 1.0 / before)
    steps = np.diff(np.concatenate([[0.0], GRID / phi]))
    counts = np.cumsum(rng.poisson(np.outer(rate, steps)), axis=1)  # (draws, grid): new
    # failures by each grid point
    exposure = n2 + GRID / phi
    bar = np.log(2.0 / alpha)
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
