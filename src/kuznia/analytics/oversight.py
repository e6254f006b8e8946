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


@dataclass(frozen=True)
class PriceCheck:
    """Per contract: tested (enough peers), its log price's distance above its peers'
    median in units of the product's spread (``z``), the one-sided p-value on Student's
    t, and the product's spread of log prices (``sigma``, on ``df`` degrees of freedom)."""

    tested: np.ndarray
    z: np.ndarray
    p: np.ndarray
    sigma: np.ndarray
    df: np.ndarray


def price_outliers(group: np.ndarray, log_price: np.ndarray, peer_median: np.ndarray,
                   peer_count: np.ndarray, min_peers: int, trim: float = 3.5) -> PriceCheck:
    """Each contract's log price against the median log price of its peers (same
    ``group``, signed nearby), on the scale of the group's price noise estimated robustly.

    The distance d = log p - median(log peers) is divided by sqrt(1 + pi / (2 m)) (a
    median of m normal peers has variance pi sigma^2 / (2 m)), so that every contract's
    d has the noise's variance sigma^2 when its price is ordinary. sigma is estimated per
    group in two steps, so that the outliers being looked for cannot widen it: the median
    absolute distance (times 1.4826), then the root mean square of the distances within
    ``trim`` of those (an efficient estimate that the MAD alone is not: with 40 contracts
    at 15% noise, a price 2.5 times the median was found 90% of the time on the MAD alone,
    98% on this). Assumes log prices normal around the peers' level. The p-values
    still need the caller's correction for how many contracts it tests.

    A group of 20 contracts at 100 give or take 10%, one at 250:

    >>> rng = np.random.default_rng(0)
    >>> lp = np.log(100) + 0.1 * rng.standard_normal(20); lp[5] = np.log(250)
    >>> med = np.array([np.median(np.delete(lp, i)) for i in range(20)])
    >>> c = price_outliers(np.zeros(20), lp, med, np.full(20, 19), 5)
    >>> bool(c.p[5] < 1e-6), bool((np.delete(c.p, 5) > 1e-3).all())
    (True, True)
    """
    from scipy.special import stdtr

    n = log_price.size
    tested = (np.asarray(peer_count) >= min_peers) & np.isfinite(peer_median) \
        & np.isfinite(log_price)
    d = np.where(tested, (log_price - np.where(tested, peer_median, 0.0))
                 / np.sqrt(1.0 + np.pi / (2.0 * np.maximum(peer_count, 1))), np.nan)
    sigma, df = np.full(n, np.nan), np.zeros(n)
    keys, g = np.unique(group, return_inverse=True)
    for j in range(keys.size):
        mine = tested & (g == j)
        if mine.sum() < 3:
            continue
        mad = 1.4826 * float(np.median(np.abs(d[mine])))
        near = mine & (np.abs(np.nan_to_num(d)) <= trim * mad)
        if near.sum() < 3 or mad <= 0:
            continue
        sigma[mine] = float(np.sqrt(np.mean(d[near] ** 2)))
        df[mine] = near.sum() - 1
    ok = tested & (df >= 2) & (sigma > 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        z = np.where(ok, d / sigma, np.nan)
        p = np.where(ok, stdtr(np.maximum(df, 1), -np.nan_to_num(z)), 1.0)
    return PriceCheck(ok, z, p, sigma, df)


def price_trend(group: np.ndarray, years: np.ndarray, log_price: np.ndarray,
                product: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per series (``group``, e.g. a producer's contracts for one product): the slope of
    log price on time in years by least squares, its z against no change, and the series'
    size. The noise is the product's pooled residual spread around each series' own line
    (a series of three can hardly estimate its own), so a z of 3 means three standard
    errors whatever the series' length; and the degrees of freedom of that noise (a z to
    be read on Student's t: a few contracts estimate the noise loosely). Returned per
    element of ``np.unique(group)``."""
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
    # the product's pooled residual variance around each series' own line (a series of
    # n contracts leaves n - 2 degrees of freedom; one or two leave none)
    resid = log_price - (y_mean[g] + slope[g] * dt_)
    _, pg = np.unique(product, return_inverse=True)
    ss = np.bincount(pg, weights=resid * resid)
    series_df = np.maximum(size - 2.0, 0.0)
    df = np.bincount(pg, weights=series_df[g] / size[g])
    var = np.where(df > 0.5, ss / np.maximum(df, 1e-9), np.nan)
    series_product = np.zeros(m, dtype=int)
    series_product[g] = pg
    se = np.sqrt(var[series_product] / np.where(sxx > 0, sxx, np.nan))
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(se > 0, slope / se, np.nan)
    return slope, z, size, df[series_product]


def price_line(level: float, sigma: float, df: float, peers: int, bar: float,
               floor: float) -> float:
    """The unit price above which a contract would be flagged a price outlier by
    ``price_outliers``: where its t on the peers' robust spread ``sigma`` (``df`` degrees
    of freedom; ``peers`` peers at the median ``level``) reaches the p-value ``bar``, and at
    least ``floor``.

    >>> round(price_line(100.0, 0.1, 1e6, 10**6, 0.025, 0.0), 1)  # 1.96 sigma above
    121.7
    """
    from scipy.special import stdtrit

    z_bar = -float(stdtrit(float(df), bar))
    scale = float(sigma) * float(np.sqrt(1.0 + np.pi / (2.0 * max(peers, 1))))
    return float(max(level * np.exp(z_bar * scale), floor))


def trend_p(z: np.ndarray, df: np.ndarray) -> np.ndarray:
    """One-sided p-values of ``price_trend``'s z (a rise) on Student's t with ``df``
    degrees of freedom; 1 where z is not finite (no noise to measure it against).

    >>> trend_p(np.array([0.0, np.nan]), np.array([5.0, 5.0])).tolist()
    [0.5, 1.0]
    """
    from scipy.special import stdtr

    z = np.asarray(z, dtype=float)
    finite = np.isfinite(z)
    return np.where(finite, stdtr(np.maximum(np.asarray(df, dtype=float), 1e-12),
                                  -np.where(finite, z, 0.0)), 1.0)


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
    late = np.asarray(late, dtype=float)
    total = np.asarray(total, dtype=float)
    rest_late, rest_total = late.sum() - late, total.sum() - total
    share = np.where(rest_total > 0, rest_late / np.maximum(rest_total, 1), 0.0)
    # with no late contract among the others, any late one is judged against half a contract
    share = np.maximum(share, 0.5 / np.maximum(rest_total, 1))
    return binomial_upper(late, total, share), share


def per_use_dispersion(uses: np.ndarray, effects: np.ndarray, effects_sq: np.ndarray
                       ) -> float:
    """How much more effects per use vary than Poisson counts would (at least 1): each
    unit's (operator's) variance of effects per use over its mean, from the kept sums,
    and the median over units, so that a few inflated units cannot move it. Effects come
    in clusters (a good day brings many), and this is how many times wider the chance
    variation of a count is.

    Effects per use of 0 or 3 with equal chance: mean 1.5, variance 2.25 (2.27 as the
    unbiased estimate from 100 uses), dispersion 1.5 (1.52):

    >>> round(per_use_dispersion(np.array([100.0]), np.array([150.0]), np.array([450.0])), 2)
    1.52
    """
    n = np.asarray(uses, dtype=float)
    e = np.asarray(effects, dtype=float)
    sq = np.asarray(effects_sq, dtype=float)
    ok = (n > 1) & (e > 0)
    if not ok.any():
        return 1.0
    mean = e[ok] / n[ok]
    var = (sq[ok] / n[ok] - mean ** 2) * n[ok] / (n[ok] - 1.0)
    return max(1.0, float(np.median(var / mean)))


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


def _moments(n: np.ndarray, e: np.ndarray, phi: float, keep: np.ndarray,
             leave: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per operator k, (mu, tau2) by moments over the ``keep`` operators other than k
    where ``leave[k]`` (over all of ``keep`` otherwise), from sums: O(operators)."""
    rate = e / np.maximum(n, 1.0)
    inv = 1.0 / np.maximum(n, 1.0)
    w = keep.astype(float)
    out_k = (leave & keep).astype(float)  # what leaving k out takes from the sums
    sums = [float(np.sum(w * x)) for x in (n, e, rate * rate, rate, inv)]
    big_n, big_e, a, b, c = (t - out_k * x for t, x in zip(sums, (n, e, rate * rate, rate,
                                                                   inv), strict=True))
    k = w.sum() - out_k
    with np.errstate(divide="ignore", invalid="ignore"):
        mu = np.where(big_n > 0, big_e / np.maximum(big_n, 1e-300), 0.0)
        ss = a - 2 * mu * b + k * mu * mu - phi * mu * c  # sum of (r - mu)^2 - chance
        tau2 = np.where((k > 0) & (mu > 0), np.maximum(0.0, ss / np.maximum(k, 1.0))
                        / np.maximum(mu * mu, 1e-300), 0.0)
    return mu, tau2


def _ordinary(n: np.ndarray, e: np.ndarray, phi: float, judged: np.ndarray,
              passes: int = 2, cut: float = 5.0) -> np.ndarray:
    """The operators that are not more than ``cut`` standard deviations above the others,
    each measured against a spread estimated without itself (so that one inflated
    operator cannot widen the spread that would excuse it), twice: the second time the
    others' spread leaves out those the first found."""
    keep = judged.copy()
    rate = e / np.maximum(n, 1.0)
    for _ in range(passes):
        mu, tau2 = _moments(n, e, phi, keep, judged)
        sd = np.sqrt(phi * mu / np.maximum(n, 1.0) + tau2 * mu * mu)
        keep = judged & ~((rate - mu) > cut * sd)
    return keep


def spread_without_each(uses: np.ndarray, effects: np.ndarray, phi: float,
                        judged: np.ndarray
                        ) -> tuple[np.ndarray, np.ndarray, tuple[np.ndarray, np.ndarray]]:
    """Per operator, the others' common rate and spread (mu, tau2), leaving out the
    operator itself and any judged operator more than 5 standard deviations above the
    rest (see ``_ordinary``): leave-one-out, so that an inflated operator is judged
    against the spread of the others, not one its own claims widen (with them, 11
    operators, one claiming 0.93 effects per use where the others claim 0.29, give
    tau2 = 0.25 and excuse it). Also per operator: how many
    others, and the variance of their pooled rate."""
    n = np.asarray(uses, dtype=float)
    e = np.asarray(effects, dtype=float)
    judged = np.asarray(judged, dtype=bool) & (n > 0)
    keep = _ordinary(n, e, phi, judged)
    leave = np.ones(n.size, dtype=bool)
    mu, tau2 = _moments(n, e, phi, keep, leave)
    # how many others, and the variance of their pooled rate (sum n_j^2 v_j / N^2)
    w = keep.astype(float)
    own = (leave & keep).astype(float)
    big_n = float(np.sum(w * n)) - own * n
    count = w.sum() - own
    a = float(np.sum(w * n))
    b = float(np.sum(w * n * n))
    nn, n2 = a - own * n, b - own * n * n
    with np.errstate(divide="ignore", invalid="ignore"):
        v_mu = np.where(big_n > 0, (phi * mu * nn + tau2 * mu * mu * n2)
                        / np.maximum(big_n, 1e-300) ** 2, 0.0)
    return mu, tau2, (count, v_mu)


def predictive_upper(k: np.ndarray, mean: np.ndarray, tau2: float | np.ndarray
                     ) -> np.ndarray:
    """P(X >= k) for a count X whose mean is itself uncertain: Poisson(m) with m Gamma of
    ``mean`` and squared coefficient of variation ``tau2`` (a negative binomial of size
    1/tau2; Poisson when tau2 is 0), extended to real k through incomplete functions;
    ``tau2`` a number or one per element.

    >>> round(float(predictive_upper(np.array([3.0]), np.array([1.0]), 0.0)[0]), 4)
    0.0803
    """
    from scipy.special import betainc, gammainc

    k = np.asarray(k, dtype=float)
    m = np.asarray(mean, dtype=float)
    t = np.broadcast_to(np.asarray(tau2, dtype=float), np.broadcast(k, m).shape)
    r = 1.0 / np.maximum(t, 1e-12)
    with np.errstate(invalid="ignore", divide="ignore"):
        poisson = gammainc(np.maximum(k, 1e-12), m)  # P(Poisson(m) >= k)
        nb = betainc(np.maximum(k, 1e-12), r, m / (m + r))  # NB(r, mean m) >= k
    out = np.where(t <= 1e-12, poisson, nb)
    return np.where(k <= 0, 1.0, out)


@dataclass(frozen=True)
class Claims:
    """Per operator of one product: judged (enough uses), its rate, and the p-value of its
    effects against what the others' rate (``mu``), chance, the clustering of effects
    (``phi``) and the others' own spread (``tau2``) allow, each estimated without it."""

    judged: np.ndarray
    rate: np.ndarray
    p: np.ndarray
    mu: np.ndarray
    phi: float
    tau2: np.ndarray


def claims(uses: np.ndarray, effects: np.ndarray, effects_sq: np.ndarray, *,
           min_uses: int) -> Claims:
    """The effect-claims test of one product's operators: each judged operator's effects
    against the predictive distribution of an ordinary operator's count in as many uses,
    counts divided by the per-use dispersion (effects cluster), the mean uncertain by the
    spread of the other operators (``spread_without_each``). Assumes the operators' true
    rates spread like a Gamma variable and counts are over-dispersed Poisson. The
    p-values still need the caller's correction for how many operators it judges."""
    from scipy.special import stdtr

    n = np.asarray(uses, dtype=float)
    e = np.asarray(effects, dtype=float)
    judged = n >= min_uses
    phi = per_use_dispersion(n[judged], e[judged], np.asarray(effects_sq, float)[judged])
    mu, tau2, others = spread_without_each(n, e, phi, judged)
    # the count's own tail (skewed when few effects are expected) ...
    p_count = predictive_upper(e / phi, n * mu / phi, tau2)
    # ... and the rate against the others' on Student's t with (others - 1) degrees of
    # freedom, as the spread is estimated from them: its own chance part, the others'
    # spread, the others' mean's own error. With a dozen operators the spread is known
    # loosely, and the predictive tail alone, taking it as known, cried wolf in 3-13% of
    # clean products; the larger p-value of the two is kept
    rate = e / np.maximum(n, 1.0)
    n_o, v_mu = others
    var = phi * mu / np.maximum(n, 1.0) + tau2 * mu * mu + v_mu
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(var > 0, (rate - mu) / np.sqrt(var), 0.0)
    p_t = np.where(n_o >= 2, stdtr(np.maximum(n_o - 1, 1), -z), 1.0)
    p = np.maximum(p_count, p_t)
    return Claims(judged, rate, p, mu, phi, tau2)


def p_bar(alpha: float, tests: int) -> float:
    """The p-value a single test must pass below, ``tests`` of them (Bonferroni)."""
    return alpha / max(tests, 1)


def most_in_window(seconds: np.ndarray, window: float) -> tuple[int, int]:
    """The most events within any ``window`` (same unit as ``seconds``, sorted), and the
    index of the first of them: the densest stretch of one account's copies.

    >>> most_in_window(np.array([0, 10, 20, 100, 105, 108, 109.]), 10)
    (4, 3)
    >>> most_in_window(np.array([]), 10)
    (0, 0)
    """
    if seconds.size == 0:
        return 0, 0
    ends = np.searchsorted(seconds, seconds + window, side="right")
    counts = ends - np.arange(seconds.size)
    i = int(np.argmax(counts))
    return int(counts[i]), i


def outside_hours(hour: np.ndarray, weekday: np.ndarray, start: float, end: float
                  ) -> np.ndarray:
    """Whether each moment (hour of day with its fraction, weekday 0 = Monday) falls
    outside working hours ``start``-``end`` on a working day (Saturday and Sunday are
    outside all day).

    >>> outside_hours(np.array([8.5, 22.0, 10.0]), np.array([0, 1, 5]), 7, 19).tolist()
    [False, True, True]
    """
    return (hour < start) | (hour >= end) | (weekday >= 5)
