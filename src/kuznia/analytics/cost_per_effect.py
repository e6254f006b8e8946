"""Cost per effect with an interval, and empirical-Bayes shrinkage for rankings.

Model. The effects of a group of ``n`` uses are Poisson with mean ``n * rate``. With a
Gamma(a, b) prior on the rate (shape a, rate b) the posterior is Gamma(a + E, b + n)
(the conjugate Gamma-Poisson pair; Gelman et al., *Bayesian Data Analysis*, 3rd ed., 2.6).
Per group we use Jeffreys' prior, a = 1/2, b = 0, so the equal-tailed 90% interval of the
rate is ``gamma.ppf([0.05, 0.95], E + 1/2) / n``, which equals
``chi2.ppf(q, 2E + 1) / (2n)``.

The cost of a use is taken as known, so cost per effect = (cost / n) / rate and its interval
is the cost per use divided by the rate's interval, ends swapped. The point figure is the
plain ratio cost / E. With no confirmed effect there is no point figure and no upper end
(the data cannot rule out that the product never works); the lower end still says "at
least this much per effect".

Over-dispersion. Effects per use are not Poisson: a good day brings many, and a use's
effects cluster (with effects per use negative binomial, k = 0.5 and mean 3, the Poisson
interval above covered the truth less than half of the time, and more uses did not help).
Each group's dispersion is estimated from sums kept at import, the uses n, effects E and
squared effects Q: phi = s^2 / mean, s^2 = (Q - E^2/n) / (n - 1), at least 1, and
inflated by (t_{n-1} / z)^2 at the interval's tail for the estimate's own uncertainty (a
sample variance of skewed counts is low more often than high). The interval is then the
Gamma posterior of the effective counts E / phi over n / phi uses (the quasi-Poisson
scaling: the same point, an interval about sqrt(phi) times as wide). Uses are taken as
independent of each other given the rate; uses that share a lot, an operator or a day
and so move together would need their clusters' sums, which the kept aggregate does not
hold (see docs/methods.md for the coverage this gives, by simulation).

Rankings within a product shrink each producer's rate towards the product's mean with a
Gamma prior fitted by the method of moments (Marshall, 1991, "Mapping disease and mortality
rates using empirical Bayes estimators", Applied Statistics 40:283-294): small samples move
most, large samples keep their own rate. That shrunk figure is shown; the ranks and
``p_best`` come from joint draws of the producers' rates with the spread between them as
uncertain as the data leave it (``partial_pooling``, ``rank_with_ties``).

>>> point, low, high = cost_per_effect([13839.0 * 10], [10], [30])
>>> round(float(point[0]))
4613
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

JEFFREYS_SHAPE = 0.5


def dispersion(effects: ArrayLike, effects_sq: ArrayLike, uses: ArrayLike,
               level: float = 0.90) -> NDArray[np.float64]:
    """How many times more effects per use vary than Poisson counts would (1: as Poisson),
    per group, from its sums (see the module doc); 1 where fewer than 2 uses or no effect.

    Ten uses with 3 effects each vary less than Poisson (1, inflated for 10 uses to 1.24);
    ten with the same 30 effects but squares summing to 300 vary 7.8 times as much:

    >>> [round(float(x), 2) for x in dispersion([30, 30], [90, 300], [10, 10], 0.90)]
    [1.24, 9.66]
    """
    from scipy.special import ndtri, stdtrit  # the t and normal quantiles (not scipy.stats:
    # it costs a quick command half a second to import)

    e = np.asarray(effects, dtype=float)
    q = np.asarray(effects_sq, dtype=float)
    n = np.asarray(uses, dtype=float)
    ok = (n >= 2) & (e > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        var = np.where(ok, (q - e * e / np.where(ok, n, 1.0)) / (n - 1), 0.0)
        phi = np.maximum(1.0, np.where(ok, var / np.where(ok, e / n, 1.0), 1.0))
        tail = 1.0 - (1.0 - level) / 2.0
        widen = (stdtrit(np.where(ok, n - 1, 1.0), tail) / ndtri(tail)) ** 2
    return np.where(ok, phi * widen, 1.0)


def rate_interval(
    effects: ArrayLike, uses: ArrayLike, level: float = 0.90,
    prior_shape: ArrayLike = JEFFREYS_SHAPE, prior_rate: ArrayLike = 0.0,
    phi: ArrayLike = 1.0,
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Equal-tailed posterior interval of effects per use under a Gamma prior, the counts
    scaled down by the dispersion ``phi`` (1: Poisson).

    >>> lo, hi = rate_interval([0], [10])
    >>> bool(lo[0] > 0) and bool(hi[0] < 0.2)
    True
    """
    from scipy.special import gammaincinv  # the Gamma quantile, without scipy.stats

    d = np.asarray(phi, dtype=float)
    e = np.asarray(effects, dtype=float) / d
    n = np.asarray(uses, dtype=float) / d
    shape = e + np.asarray(prior_shape, dtype=float)
    scale_den = n + np.asarray(prior_rate, dtype=float)
    tail = (1.0 - level) / 2.0
    with np.errstate(divide="ignore", invalid="ignore"):
        low = gammaincinv(shape, tail) / scale_den
        high = gammaincinv(shape, 1.0 - tail) / scale_den
    return low, high


def cost_per_effect(
    cost: ArrayLike, uses: ArrayLike, effects: ArrayLike, level: float = 0.90,
    effects_sq: ArrayLike | None = None,
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """Point figure and interval of cost per confirmed effect, per group; with
    ``effects_sq`` (the sums of squared effects) the interval allows for over-dispersion.

    NaN marks "no figure": no confirmed effect (point and upper end), unknown cost, or no
    uses.
    """
    c = np.asarray(cost, dtype=float)
    n = np.asarray(uses, dtype=float)
    e = np.asarray(effects, dtype=float)
    phi = 1.0 if effects_sq is None else dispersion(e, effects_sq, n, level)
    rate_low, rate_high = rate_interval(e, n, level, phi=phi)
    with np.errstate(divide="ignore", invalid="ignore"):
        per_use = np.where(n > 0, c / n, np.nan)
        point = np.where(e > 0, c / e, np.nan)
        low = np.where(n > 0, per_use / rate_high, np.nan)
        high = np.where(e > 0, per_use / rate_low, np.nan)
    return point, low, high


@dataclass(frozen=True)
class GammaPrior:
    """A Gamma(shape, rate) prior on effects per use; mean = shape / rate."""

    shape: float
    rate: float
    pooled: bool = False  # no spread beyond chance: the members share the pooled rate

    @property
    def mean(self) -> float:
        return self.shape / self.rate


def fit_gamma_prior(effects: ArrayLike, uses: ArrayLike) -> GammaPrior | None:
    """Marshall's (1991) moment estimate of the Gamma prior from several groups' counts.

    m = sum(E)/sum(n); s2 = sum(n (E/n - m)^2) / sum(n); tau2 = s2 - m / mean(n).
    When tau2 <= 0 (or there is one group) the groups do not differ more than chance: full
    pooling (``pooled``): every group's posterior is then the pooled one, Gamma(sum E,
    sum n), which this prior (mean m, worth the pooled uses) describes. None when there is
    no use at all.
    """
    e = np.asarray(effects, dtype=float)
    n = np.asarray(uses, dtype=float)
    keep = n > 0
    e, n = e[keep], n[keep]
    if n.size == 0 or n.sum() == 0:
        return None
    m = e.sum() / n.sum()
    if m == 0:
        return GammaPrior(JEFFREYS_SHAPE, n.sum(), pooled=True)  # nothing worked anywhere yet
    s2 = float(np.sum(n * (e / n - m) ** 2) / n.sum())
    tau2 = s2 - m / n.mean()
    if tau2 <= 0 or n.size < 2:
        worth = float(n.sum())
        return GammaPrior(m * worth, worth, pooled=True)
    return GammaPrior(m * m / tau2, m / tau2)


def group_dispersion(effects: ArrayLike, effects_sq: ArrayLike, uses: ArrayLike,
                     groups: ArrayLike) -> NDArray[np.float64]:
    """Each row's group's dispersion of effects per use (at least 1), pooled within the
    group's rows (the within-row variance over the group's mean), with the same
    small-sample inflation as ``dispersion``: a stabler estimate than each row's own."""
    e = np.asarray(effects, dtype=float)
    q = np.asarray(effects_sq, dtype=float)
    n = np.asarray(uses, dtype=float)
    _, g = np.unique(np.asarray(groups), return_inverse=True)
    g = g.ravel()
    has = n > 0
    within = np.bincount(g, weights=np.where(has, q - e * e / np.where(has, n, 1.0), 0.0))
    df = np.bincount(g, weights=np.where(has, n - 1, 0.0))
    e_sum, n_sum = np.bincount(g, weights=e), np.bincount(g, weights=n)
    # as one group of df + 1 uses with the pooled variance: dispersion() does the rest
    with np.errstate(divide="ignore", invalid="ignore"):
        m = e_sum / n_sum
        k = df + 1
        pooled = dispersion(m * k, within + (m * k) ** 2 / k, k)
    return pooled[g]


def shrunk_posteriors(
    effects: ArrayLike, exposure: ArrayLike, groups: ArrayLike,
    phi: ArrayLike | None = None,
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Each row's Gamma(shape, rate) posterior (see ``shrunk_fit``)."""
    shape, rate, _ = shrunk_fit(effects, exposure, groups, phi)
    return shape, rate


def shrunk_fit(
    effects: ArrayLike, exposure: ArrayLike, groups: ArrayLike,
    phi: ArrayLike | None = None,
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.bool_]]:
    """Each row's Gamma(shape, rate) posterior for its effect rate, with a prior fitted to
    its group by ``fit_gamma_prior``'s moments (all groups at once). ``exposure`` is uses
    (effects per use) or units (effects per unit). NaN for groups with no exposure.

    With ``phi`` (each row's group's dispersion, ``group_dispersion``) the counts are
    scaled to effective Poisson counts first, E / phi over n / phi: the chance spread
    between producers is then phi times the Poisson one, and a producer whose rate stands
    out only by over-dispersed luck is shrunk as far as it should be.

    The third array says which rows' groups show no spread beyond chance: their members
    share one posterior, the group's pooled one."""
    d = 1.0 if phi is None else np.asarray(phi, dtype=float)
    e = np.asarray(effects, dtype=float) / d
    n = np.asarray(exposure, dtype=float) / d
    _, g = np.unique(np.asarray(groups), return_inverse=True)
    g = g.ravel()
    used = n > 0
    w = np.where(used, n, 0.0)
    k = np.bincount(g, weights=used.astype(float))  # groups' members with exposure
    n_sum = np.bincount(g, weights=w)
    e_sum = np.bincount(g, weights=np.where(used, e, 0.0))
    with np.errstate(divide="ignore", invalid="ignore"):
        m = e_sum / n_sum
        r = np.where(used, e / np.where(used, n, 1.0), 0.0)
        s2 = np.bincount(g, weights=w * (r - m[g]) ** 2) / n_sum
        tau2 = s2 - m / (n_sum / k)
    # no spread beyond chance (or one member): one rate for the whole group, Marshall's
    # estimate with tau2 = 0 (a prior worth the group's exposure would still set three
    # producers at 10, 11 and 9 effects in 100 uses each apart, the 11 first on luck)
    pooled = ~(tau2 > 0) | (k < 2)
    safe = np.where(pooled, 1.0, tau2)
    empty = (~(n_sum > 0))[g]
    one = np.where(e_sum > 0, e_sum, JEFFREYS_SHAPE)  # the pooled posterior's shape
    post_shape = np.where(pooled[g], one[g], e + (m * m / safe)[g])
    post_rate = np.where(pooled[g], n_sum[g], n + (m / safe)[g])
    post_shape = np.where(empty, np.nan, post_shape)
    post_rate = np.where(empty, np.nan, post_rate)
    return post_shape, post_rate, pooled[g] & ~empty


def shrunk_rates(
    effects: ArrayLike, uses: ArrayLike, groups: ArrayLike,
    effects_sq: ArrayLike | None = None,
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """Posterior mean of each row's rate, and its 90% interval, shrunk within its group.

    ``groups`` labels rows that share a prior (for producers: their product); with
    ``effects_sq`` the counts are taken as over-dispersed by their group's dispersion.

    >>> mean, low, high = shrunk_rates([3, 300, 500], [3, 1000, 1000], ["A", "A", "A"])
    >>> [round(float(x), 3) for x in mean]
    [0.442, 0.304, 0.496]
    """
    phi = (None if effects_sq is None
           else group_dispersion(effects, effects_sq, uses, groups))
    shape, rate = shrunk_posteriors(effects, uses, groups, phi)
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = shape / rate
    low, high = rate_interval(np.zeros_like(shape), np.zeros_like(shape), 0.90, shape, rate)
    return mean, low, high


@dataclass(frozen=True)
class Ranking:
    """Ranks within groups (1 = lowest cost per effect; tied rows share the better rank),
    whether a row shares its rank, and each row's probability of being its group's best."""

    rank: NDArray[np.float64]  # NaN where the row has no figure to rank
    tied: NDArray[np.bool_]
    p_best: NDArray[np.float64]


def rank_with_ties(per_use_cost: ArrayLike, rate_draws: ArrayLike, order_rate: ArrayLike,
                   groups: ArrayLike, sure: float = 0.90) -> Ranking:
    """Rank rows within their groups by cost per effect, not apart on luck.

    Each row's cost per effect is ``per_use_cost`` over its effect rate, drawn jointly
    with its group's other rates (``rate_draws``, rows x draws: ``pooled_rate_draws``, the
    partially pooled posterior). In order of ``per_use_cost / order_rate`` (the shrunk
    figure shown), a row takes a rank of its own if it is worse than some row of the tie
    above it with probability at least ``sure``; otherwise it joins that tie (a producer
    shares a rank only with producers it cannot be told from). ``p_best`` is the share of
    draws in which the row is its group's cheapest per effect: about 1/k among k producers
    that cannot be told apart (one shared draw for a group with no spread detected would
    make the rates equal for certain and the lowest price, or the first row, best in every
    draw: ``p_best`` 1.0 for a coin toss).

    Three producers at 10, 11 and 9 effects in 100 uses at one price are one rank, shared,
    and none is surely best:

    >>> from kuznia.analytics.partial_pooling import pooled_rate_draws
    >>> draws = pooled_rate_draws([10, 11, 9], [100, 100, 100], ["A"] * 3)
    >>> r = rank_with_ties([5.0] * 3, draws, [0.1] * 3, ["A"] * 3)
    >>> r.rank.tolist(), r.tied.tolist(), bool(r.p_best.max() < 0.8)
    ([1.0, 1.0, 1.0], [True, True, True], True)
    """
    c = np.asarray(per_use_cost, dtype=float)
    lam = np.asarray(rate_draws, dtype=float)
    m = np.asarray(order_rate, dtype=float)
    labels, g = np.unique(np.asarray(groups), return_inverse=True)
    g = g.ravel()
    rank = np.full(c.size, np.nan)
    tied = np.zeros(c.size, dtype=bool)
    p_best = np.full(c.size, np.nan)
    ok = np.isfinite(c) & np.isfinite(m) & (m > 0) & np.all(np.isfinite(lam), axis=1)
    for k in range(labels.size):
        idx = np.flatnonzero((g == k) & ok)
        if idx.size == 0:
            continue
        with np.errstate(divide="ignore"):
            cpe = c[idx][:, None] / lam[idx]
        best = np.argmin(cpe, axis=0)
        p_best[idx] = np.bincount(best, minlength=idx.size) / lam.shape[1]
        order = np.argsort(c[idx] / m[idx], kind="stable")
        current, tie = 1, [order[0]]
        for pos, i in enumerate(order):
            # against every row of the current tie, not only the row just above: ties do
            # not chain from the best to the worst through small steps
            if pos and max(np.mean(cpe[j] < cpe[i]) for j in tie) >= sure:
                current, tie = pos + 1, []
            tie.append(i)
            rank[idx[i]] = current
        counts = np.bincount(rank[idx].astype(int))
        tied[idx] = counts[rank[idx].astype(int)] > 1
    return Ranking(rank, tied, p_best)


@dataclass(frozen=True)
class ProducerRanking:
    """Each row's shrunk effects per use, the cost per effect at that rate, and its rank
    within its product (``rank_with_ties``)."""

    rate: NDArray[np.float64]
    cost_per_effect: NDArray[np.float64]
    ranking: Ranking


def rank_producers(effects: ArrayLike, effects_sq: ArrayLike, uses: ArrayLike,
                   cost: ArrayLike, products: ArrayLike, named: ArrayLike) -> ProducerRanking:
    """Shrink each producer's effect rate towards its product's (``shrunk_fit``, allowing
    for the product's dispersion) and rank the ``named`` rows within their product by cost
    per effect, with ties where producers do not differ beyond chance: the ranks come from
    joint draws of the product's rates (``pooled_rate_draws``). Rows not ``named`` (uses
    with no producer) count in their product's rate but take no rank.

    >>> r = rank_producers([10, 30], [10, 30], [100, 100], [500.0, 500.0], ["A", "A"],
    ...                    [True, True])
    >>> r.ranking.rank.tolist()
    [2.0, 1.0]
    """
    from kuznia.analytics.partial_pooling import pooled_rate_draws

    e = np.asarray(effects, dtype=float)
    n = np.asarray(uses, dtype=float)
    c = np.asarray(cost, dtype=float)
    phi = group_dispersion(e, effects_sq, n, products)
    shape, rate, _ = shrunk_fit(e, n, products, phi)
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = shape / rate
        per_use = c / n
        shrunk = per_use / mean
    draws = pooled_rate_draws(e, n, products, phi)  # each producer's own, partially pooled
    ranking = rank_with_ties(np.where(np.asarray(named, dtype=bool), per_use, np.nan), draws,
                             mean, products)
    return ProducerRanking(mean, shrunk, ranking)
