"""Red-flag tests over arrays: prices against peers, concentration, late shares, and
effects claimed beyond chance. Pure functions; ``kuznia.services.oversight`` feeds them
from SQL aggregates and words their findings.

Every test that can fire by chance is corrected for the number of things it looks at
(Bonferroni over the tested contracts, producers or operators), so that on clean data the
whole check raises a false alarm with probability about its ``alpha``: the false-alarm
rate is measured on clean generated data in ``tests/test_oversight.py``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

CHI2_1_MEDIAN = 0.454936  # the median of a chi-square with one degree of freedom


@dataclass(frozen=True)
class Peers:
    """Per contract: how many peers (same product, signed within the window, not itself)
    and their price quartiles, fence (Q3 + k IQR), median, low and high (NaN without
    peers)."""

    count: np.ndarray
    q1: np.ndarray
    q3: np.ndarray
    fence: np.ndarray
    median: np.ndarray
    low: np.ndarray
    high: np.ndarray


def peer_prices(group: np.ndarray, day: np.ndarray, price: np.ndarray, window: int,
                k: float = 3.0, among: np.ndarray | None = None) -> Peers:
    """Each contract against the others of its ``group`` signed within ``window`` days;
    ``among`` (booleans) limits who counts as a peer (the makers, for a mark-up).

    Five peers at 10, 11, 12, 13 and 14: Q1 11, Q3 13, fence 13 + 3 x 2 = 19.

    >>> p = peer_prices(np.zeros(6), np.zeros(6), np.array([10, 11, 12, 13, 14, 50.]), 90)
    >>> int(p.count[5]), float(p.fence[5]), float(p.median[5])
    (5, 19.0, 12.0)
    """
    n = price.size
    out = {name: np.full(n, np.nan) for name in ("q1", "q3", "fence", "median", "low", "high")}
    count = np.zeros(n, dtype=int)
    ok = np.ones(n, dtype=bool) if among is None else np.asarray(among, dtype=bool)
    order = np.argsort(group, kind="stable")
    bounds = np.flatnonzero(np.r_[True, group[order][1:] != group[order][:-1], True])
    for a, b in zip(bounds[:-1], bounds[1:], strict=True):
        idx = order[a:b]
        d, p, use = day[idx], price[idx], ok[idx]
        near = (np.abs(d[:, None] - d[None, :]) <= window) & use[None, :]
        np.fill_diagonal(near, False)
        for row, i in enumerate(idx):
            peers = p[near[row]]
            count[i] = peers.size
            if peers.size:
                q1, med, q3 = np.percentile(peers, [25, 50, 75])
                out["q1"][i], out["median"][i], out["q3"][i] = q1, med, q3
                out["fence"][i] = q3 + k * (q3 - q1)
                out["low"][i], out["high"][i] = peers.min(), peers.max()
    return Peers(count, **out)


def price_trend(group: np.ndarray, years: np.ndarray, log_price: np.ndarray,
                product: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per series (``group``, e.g. a producer's contracts for one product): the slope of
    log price on time in years by least squares, its z against no change, and the series'
    size. The noise is the product's pooled residual spread around each producer's own
    mean (a series of three cannot estimate its own), so a z of 3 means three standard
    errors whatever the series' length. Returned per element of ``np.unique(group)``."""
    keys, g = np.unique(group, return_inverse=True)
    m = keys.size
    size = np.bincount(g, minlength=m).astype(float)
    t_mean = np.bincount(g, weights=years, minlength=m) / size
    y_mean = np.bincount(g, weights=log_price, minlength=m) / size
    dt_ = years - t_mean[g]
    sxx = np.bincount(g, weights=dt_ * dt_, minlength=m)
    sxy = np.bincount(g, weights=dt_ * (log_price - y_mean[g]), minlength=m)
    with np.errstate(divide="ignore", invalid="ignore"):
        slope = np.where(sxx > 0, sxy / sxx, 0.0)
    # the product's pooled residual variance around each series' mean
    resid = log_price - y_mean[g]
    _, pg = np.unique(product, return_inverse=True)
    ss = np.bincount(pg, weights=resid * resid)
    df = np.bincount(pg) - np.bincount(pg, weights=1.0 / size[g])  # n less one per series
    var = np.where(df > 0, ss / np.maximum(df, 1e-9), np.nan)
    series_product = np.zeros(m, dtype=int)
    series_product[g] = pg
    se = np.sqrt(var[series_product] / np.where(sxx > 0, sxx, np.nan))
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(se > 0, slope / se, np.nan)
    return slope, z, size


def hhi(shares: np.ndarray) -> float:
    """The Herfindahl-Hirschman index of market shares (fractions), on the usual 0-10,000
    scale: two equal producers give 5,000.

    >>> hhi(np.array([0.5, 0.5])), hhi(np.array([0.25] * 4))
    (5000.0, 2500.0)
    """
    s = np.asarray(shares, dtype=float)
    return float(np.sum((100.0 * s) ** 2))


def late_share_p(late: np.ndarray, total: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per producer: the one-sided binomial p-value of ``late`` or more late contracts of
    ``total`` at the other producers' pooled late share, and that share.

    >>> p, share = late_share_p(np.array([9, 1, 1]), np.array([10, 10, 10]))
    >>> bool(p[0] < 1e-6), float(share[0])
    (True, 0.1)
    """
    from scipy.special import bdtrc  # P(X > k); scipy.stats would cost 0.7 s to import

    late = np.asarray(late, dtype=float)
    total = np.asarray(total, dtype=float)
    rest_late, rest_total = late.sum() - late, total.sum() - total
    share = np.where(rest_total > 0, rest_late / np.maximum(rest_total, 1), 0.0)
    # with no late contract among the others, any late one is judged against half a contract
    share = np.maximum(share, 0.5 / np.maximum(rest_total, 1))
    with np.errstate(invalid="ignore"):
        p = np.where(late > 0, bdtrc(np.maximum(late - 1, 0), total, share), 1.0)
    return p, share


def robust_dispersion(count: np.ndarray, exposure: np.ndarray) -> float:
    """How much more counts vary between units (operators) than Poisson counts would, at
    least 1: the median squared Pearson residual over the chi-square's median, so that a
    few inflated units cannot hide themselves by inflating it (Pearson's mean would). The
    rate is taken again without the units more than 5 robust standard deviations off,
    which would otherwise pull it and make every other unit look off.

    Twenty units at 10 in 100 uses and one at 60: the one does not make the rest vary.

    >>> robust_dispersion(np.array([10] * 20 + [60]), np.array([100] * 21))
    1.0
    """
    count = np.asarray(count, dtype=float)
    exposure = np.asarray(exposure, dtype=float)
    keep = exposure > 0
    phi = 1.0
    for _ in range(2):
        rate = count[keep].sum() / max(exposure[keep].sum(), 1e-300)
        expected = rate * exposure
        pos = keep & (expected > 0)
        if pos.sum() < 3:
            return 1.0
        r2 = np.zeros_like(count)
        r2[pos] = (count[pos] - expected[pos]) ** 2 / expected[pos]
        phi = max(1.0, float(np.median(r2[pos])) / CHI2_1_MEDIAN)
        keep = pos & (r2 <= 25.0 * phi)
    return phi


def binomial_upper(k: np.ndarray, n: np.ndarray, p: np.ndarray) -> np.ndarray:
    """P(X >= k) for X binomial(n, p), extended to real k and n (counts divided by a
    dispersion) through the regularized incomplete beta: I_p(k, n - k + 1). Exact in the
    tail, where the normal approximation would call 15 effects against 4.6 expected a
    one-in-three-million event (it is about one in 8,000).

    >>> float(np.round(binomial_upper(np.array([2.0]), np.array([2.0]), np.array([0.5])), 4)[0])
    0.25
    """
    from scipy.special import betainc

    k, n, p = (np.asarray(v, dtype=float) for v in (k, n, p))
    with np.errstate(invalid="ignore", divide="ignore"):
        out = betainc(np.maximum(k, 1e-12), np.maximum(n - k + 1.0, 1e-12),
                      np.clip(p, 0.0, 1.0))
    return np.where(k <= 0, 1.0, np.where(k > n, 0.0, out))


def excess_p(count: np.ndarray, exposure: np.ndarray, phi: float) -> np.ndarray:
    """Per unit: the one-sided p-value of its count against the rate of all the others,
    given the total (the conditional binomial; counts divided by the dispersion ``phi``).

    >>> p = excess_p(np.array([30, 10, 10, 10]), np.array([100, 100, 100, 100]), 1.0)
    >>> bool(p[0] < 1e-4 and p[1] > 0.5)
    True
    """
    count = np.asarray(count, dtype=float)
    exposure = np.asarray(exposure, dtype=float)
    share = exposure / max(exposure.sum(), 1e-300)
    return binomial_upper(count / phi, np.full(count.shape, count.sum() / phi), share)


def burst_p(count: np.ndarray, exposure: np.ndarray, before_count: np.ndarray,
            before_exposure: np.ndarray, trend: np.ndarray, phi: float) -> np.ndarray:
    """Per (unit, month): the one-sided p-value of the month's count against the unit's
    own earlier rate times ``trend`` (the others' rate this month over their earlier
    rate), given the two periods' total (conditional binomial, counts over ``phi``)."""
    count = np.asarray(count, dtype=float)
    total = count + before_count
    w_now = exposure * trend
    share = np.where(w_now + before_exposure > 0,
                     w_now / np.maximum(w_now + before_exposure, 1e-300), 0.0)
    return binomial_upper(count / phi, total / phi, share)


def z_bar(alpha: float, tests: int) -> float:
    """The one-sided z a single test must pass so that ``tests`` of them raise a false
    alarm with probability about ``alpha`` in all (Bonferroni)."""
    from scipy.special import ndtri

    return float(-ndtri(alpha / max(tests, 1)))


def p_bar(alpha: float, tests: int) -> float:
    """The p-value a single test must pass below, ``tests`` of them (Bonferroni)."""
    return alpha / max(tests, 1)
