"""Cost per effect, pure: known answers, closed forms, and properties."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from kuznia.analytics.cost_per_effect import (
    cost_per_effect,
    fit_gamma_prior,
    rate_interval,
    shrunk_rates,
)


def test_brief_known_answer_three_effects_per_use():
    # unit price 13,839 and 3 effects per use -> 4,613 per effect
    n = 40
    point, _, _ = cost_per_effect([13_839.0 * n], [n], [3 * n])
    assert point[0] == pytest.approx(4_613.0)


def test_brief_known_answer_cheap_drone():
    # a drone at 495 with 0.3 effects per use -> 1,650 per effect
    point, low, high = cost_per_effect([495.0 * 1000], [1000], [300])
    assert point[0] == pytest.approx(1_650.0)
    assert low[0] < 1_650.0 < high[0]


@pytest.mark.parametrize("effects,uses", [(0, 5), (1, 1), (7, 30), (300, 1000)])
def test_interval_matches_chi_square_closed_form(effects, uses):
    # Gamma(E + 1/2, n) quantiles equal chi2(2E + 1) / (2n)
    low, high = rate_interval([effects], [uses], 0.90)
    assert low[0] == pytest.approx(stats.chi2.ppf(0.05, 2 * effects + 1) / (2 * uses))
    assert high[0] == pytest.approx(stats.chi2.ppf(0.95, 2 * effects + 1) / (2 * uses))


def test_no_effect_gives_no_figure_and_no_upper_end_but_a_lower_end():
    point, low, high = cost_per_effect([1000.0], [10], [0])
    assert np.isnan(point[0]) and np.isnan(high[0])
    assert low[0] > 0


def test_unknown_cost_gives_no_figure():
    point, low, high = cost_per_effect([np.nan], [10], [3])
    assert np.isnan(point[0]) and np.isnan(low[0]) and np.isnan(high[0])


@settings(max_examples=200, deadline=None)
@given(
    n=st.integers(1, 10_000),
    rate=st.floats(0.01, 5.0),
    price=st.floats(1.0, 1e6),
)
def test_point_lies_inside_its_interval(n, rate, price):
    e = max(1, round(n * rate))
    point, low, high = cost_per_effect([price * n], [n], [e])
    assert low[0] <= point[0] <= high[0]


@settings(max_examples=100, deadline=None)
@given(n=st.integers(2, 5_000), rate=st.floats(0.05, 3.0))
def test_more_data_narrows_the_interval(n, rate):
    e = max(1, round(n * rate))
    _, low1, high1 = cost_per_effect([100.0 * n], [n], [e])
    _, low4, high4 = cost_per_effect([100.0 * 4 * n], [4 * n], [4 * e])
    assert (high4[0] - low4[0]) < (high1[0] - low1[0])


def test_moment_prior_matches_hand_computation():
    # two groups: 10/100 and 60/200; m = 70/300
    e, n = np.array([10.0, 60.0]), np.array([100.0, 200.0])
    m = 70 / 300
    s2 = (100 * (0.1 - m) ** 2 + 200 * (0.3 - m) ** 2) / 300
    tau2 = s2 - m / 150
    prior = fit_gamma_prior(e, n)
    assert prior is not None
    assert prior.mean == pytest.approx(m)
    assert prior.shape == pytest.approx(m * m / tau2)
    assert prior.rate == pytest.approx(m / tau2)


def test_shrinkage_moves_small_samples_most():
    # a tiny producer with a lucky streak vs two large ones
    e = np.array([3.0, 300.0, 500.0])
    n = np.array([3.0, 1000.0, 1000.0])
    mean, low, high = shrunk_rates(e, n, ["A", "A", "A"])
    raw = e / n
    assert abs(mean[0] - raw[0]) > abs(mean[1] - raw[1])
    pooled = e.sum() / n.sum()
    assert min(raw[0], pooled) <= mean[0] <= max(raw[0], pooled)
    assert np.all(low <= mean) and np.all(mean <= high)


def test_no_between_group_spread_pools_fully():
    e = np.array([30.0, 30.0])
    n = np.array([100.0, 100.0])
    mean, _, _ = shrunk_rates(e, n, ["A", "A"])
    assert mean == pytest.approx([0.3, 0.3])


def test_groups_are_shrunk_separately():
    e = np.array([1.0, 10.0, 50.0, 90.0])
    n = np.array([10.0, 100.0, 100.0, 100.0])
    together, _, _ = shrunk_rates(e, n, ["A", "A", "A", "A"])
    apart, _, _ = shrunk_rates(e, n, ["A", "A", "B", "B"])
    assert apart[0] != pytest.approx(together[0])


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 50), st.integers(1, 200), st.sampled_from("ABC")),
                min_size=1, max_size=30))
def test_vectorised_shrinkage_equals_the_per_group_fit(rows):
    """shrunk_rates (all groups at once) against fit_gamma_prior applied group by group."""
    e = np.array([r[0] for r in rows], dtype=float)
    n = np.array([max(r[0], r[1]) for r in rows], dtype=float)
    g = np.array([r[2] for r in rows])
    mean, _, _ = shrunk_rates(e, n, g)
    for label in set(g):
        rows_in = g == label
        prior = fit_gamma_prior(e[rows_in], n[rows_in])
        assert prior is not None
        if prior.pooled:  # no spread beyond chance: one rate for all, the pooled one
            expected = np.full(rows_in.sum(), max(e[rows_in].sum(), 0.5) / n[rows_in].sum())
        else:
            expected = (e[rows_in] + prior.shape) / (n[rows_in] + prior.rate)
        assert mean[rows_in] == pytest.approx(expected, rel=1e-9)


def _effects(rng: np.random.Generator, kind: str, mean: float, n: int, reps: int
             ) -> np.ndarray:
    """reps x n effects per use: Poisson, or negative binomial with shape k (variance
    mean + mean^2 / k: k = 0.5 is strongly clustered)."""
    if kind == "poisson":
        return rng.poisson(mean, (reps, n))
    k = {"nb k=2": 2.0, "nb k=0.5": 0.5}[kind]
    return rng.negative_binomial(k, k / (k + mean), (reps, n))


def _coverage(kind: str, mean: float, n: int, reps: int, clustered: bool = True,
              seed: int = 0) -> float:
    x = _effects(np.random.default_rng(seed), kind, mean, n, reps).astype(float)
    e, q = x.sum(axis=1), (x * x).sum(axis=1)
    uses = np.full(reps, float(n))
    # a cost of 1 per use: the true cost per effect is 1 / mean
    _, low, high = cost_per_effect(uses, uses, e, 0.90, effects_sq=q if clustered else None)
    low = np.nan_to_num(low, nan=0.0)
    high = np.nan_to_num(high, nan=np.inf)  # no effect yet: no upper end
    return float(np.mean((low <= 1 / mean) & (1 / mean <= high)))


KINDS = ("poisson", "nb k=2", "nb k=0.5")
RATES = (0.05, 0.3, 1.0, 3.0)


@pytest.mark.parametrize("kind", KINDS)
def test_the_90_percent_interval_covers_90_percent_when_effects_cluster(kind: str):
    """Coverage by simulation, 4,000 groups a cell, seeded: 85-95% wherever there are at
    least 50 uses, for Poisson and negative binomial effects, rates 0.05 to 3. Below 50
    uses (20 here) it may fall to 80% on the most clustered data (k = 0.5): the dispersion
    is then estimated from too few uses (the README says so)."""
    for mean in RATES:
        for n in (50, 100, 500):
            cov = _coverage(kind, mean, n, 4000)
            assert 0.85 <= cov <= 0.95, (kind, mean, n, cov)
        cov = _coverage(kind, mean, 20, 4000)
        assert 0.80 <= cov <= 0.96, (kind, mean, 20, cov)


def test_the_poisson_interval_alone_fails_on_clustered_effects():
    # the first version: without the dispersion, k = 0.5 and mean 3 covered under half the
    # time, and more uses did not help
    assert _coverage("nb k=0.5", 3.0, 50, 4000, clustered=False) < 0.55
    assert _coverage("nb k=0.5", 3.0, 500, 4000, clustered=False) < 0.55
    assert _coverage("nb k=0.5", 3.0, 500, 4000) >= 0.85


def test_shrinkage_allows_for_clustered_effects():
    """Three producers with the same true rate (3 effects per use, negative binomial
    k = 0.5) differ by clustered luck alone: taken as Poisson the spread between them looks
    real and is kept (about half of it); with each product's dispersion they are pulled
    together (about a sixth of it left)."""
    rng = np.random.default_rng(3)
    uses = np.array([60.0, 200.0, 400.0])
    kept = {False: [], True: []}
    for _ in range(300):
        x = [rng.negative_binomial(0.5, 0.5 / 3.5, int(n)).astype(float) for n in uses]
        e = np.array([v.sum() for v in x])
        q = np.array([(v * v).sum() for v in x])
        raw = e / uses
        for clustered in (False, True):
            mean, low, high = shrunk_rates(e, uses, ["A"] * 3, q if clustered else None)
            assert np.all((low <= mean) & (mean <= high))
            kept[clustered].append(np.ptp(mean) / np.ptp(raw))
    assert np.median(kept[False]) > 0.4
    assert np.median(kept[True]) < 0.25


def _ranked(rates: np.ndarray, uses: np.ndarray, price: np.ndarray, seed: int,
            clustered: float | None = None) -> list[dict]:
    """Products x producers simulated with known rates, ranked as ``cost_per_effect``
    ranks them (the service's step, all products at once): each use's effects Poisson, or
    negative binomial with shape ``clustered``; ``price`` is the cost of a use."""
    from kuznia.services.costs import _rank_producers

    rng = np.random.default_rng(seed)
    products, k = rates.shape
    e, q = np.zeros(rates.size), np.zeros(rates.size)
    for i, (lam, n) in enumerate(zip(rates.ravel(), uses.ravel(), strict=True)):
        x = (rng.poisson(lam, int(n)) if clustered is None
             else rng.negative_binomial(clustered, clustered / (clustered + lam), int(n)))
        e[i], q[i] = x.sum(), (x.astype(float) ** 2).sum()
    n = uses.ravel().astype(float)
    rows = [{"product_id": f"G{j}", "producer_id": f"P{i}"}
            for j in range(products) for i in range(k)]
    _rank_producers(rows, ("product", "producer"), n, e, price.ravel() * n, q)
    return rows


def _lone_winner(rates: list[float], uses: int, seed: int, sims: int = 300) -> float:
    """Share of simulated products whose best-ranked producer stands alone (untied)."""
    k = len(rates)
    rows = _ranked(np.tile(rates, (sims, 1)), np.full((sims, k), uses),
                   np.full((sims, k), 10.0), seed)
    rank = np.array([r["rank_in_product"] for r in rows]).reshape(sims, k)
    tied = np.array([r["rank_tied"] for r in rows]).reshape(sims, k)
    p_best = np.array([r["p_best"] for r in rows]).reshape(sims, k)
    assert p_best.sum(axis=1) == pytest.approx(np.ones(sims))
    return float(np.mean(np.any((rank == 1) & ~tied, axis=1)))


def test_producers_alike_are_rarely_ranked_apart_and_different_ones_are():
    # three producers with one true rate at one price: a lone winner is luck, and rare
    assert _lone_winner([0.1, 0.1, 0.1], 100, seed=1) <= 0.10
    assert _lone_winner([1.0, 1.0, 1.0, 1.0], 200, seed=2) <= 0.10
    # one producer twice as good: it stands alone at the top most of the time
    assert _lone_winner([0.2, 0.1, 0.1], 300, seed=3) >= 0.80


@pytest.mark.parametrize("apart", [0.0, 0.001])
def test_producers_truly_tied_share_p_best_about_equally(apart: float):
    """The issue's case: three producers with one rate, at one price or 0.1% apart. The
    first version gave one of them p_best 1.00 in about 80% of products (the first in id
    order, or the cheaper by 0.1%): a pooled group shared one draw of its rate. Each
    producer is best in about a third of the draws on average, and a producer stated
    (nearly) surely best is rare."""
    sims, k = 400, 3
    price = np.tile(10.0 * (1 + apart * np.arange(k)), (sims, 1))
    rows = _ranked(np.full((sims, k), 0.3), np.full((sims, k), 200), price, seed=4)
    p_best = np.array([r["p_best"] for r in rows]).reshape(sims, k)
    rank = np.array([r["rank_in_product"] for r in rows]).reshape(sims, k)
    tied = np.array([r["rank_tied"] for r in rows]).reshape(sims, k)
    assert np.abs(p_best.mean(axis=0) - 1 / k).max() < 0.06, p_best.mean(axis=0)
    assert np.mean(p_best.max(axis=1) >= 0.95) < 0.03
    assert np.mean(np.any((rank == 1) & ~tied, axis=1)) < 0.10


@pytest.mark.parametrize("clustered", [None, 1.0])
def test_a_stated_p_best_is_right_as_often_as_it_says(clustered: float | None):
    """Calibration by simulation: rates within +-15% of the product's (uniform), prices 2%
    apart, 50 to 1,000 uses a producer, Poisson or clustered (negative binomial k = 1)
    effects. Binned by the p_best stated, the share of producers that are truly cheapest
    per effect (price / true rate) matches the stated figure within 0.1, and those stated
    at 0.95 or more are right at least 87% of the time. The first version was right 44%
    of the time at a stated 1.00."""
    sims, k = 600, 3
    rng = np.random.default_rng(5)
    mu = np.exp(rng.uniform(np.log(0.1), np.log(1.0), (sims, 1)))
    rates = mu * (1 + rng.uniform(-0.15, 0.15, (sims, k)))
    uses = np.repeat(rng.choice([50, 200, 1000], (sims, 1)), k, axis=1)
    price = np.tile(10.0 * (1 + 0.02 * np.arange(k)), (sims, 1))
    rows = _ranked(rates, uses, price, seed=6, clustered=clustered)
    stated = np.array([r["p_best"] for r in rows])
    truly = (np.arange(k)[None, :] == np.argmin(price / rates, axis=1)[:, None]).ravel()
    for lo, hi in ((0.0, 0.2), (0.2, 0.5), (0.5, 0.8), (0.8, 0.95), (0.95, 1.01)):
        inside = (stated >= lo) & (stated < hi)
        if inside.sum() >= 30:
            assert abs(truly[inside].mean() - stated[inside].mean()) <= 0.10, (
                lo, hi, inside.sum(), stated[inside].mean(), truly[inside].mean())
    top = stated >= 0.95
    assert top.sum() >= 20 and truly[top].mean() >= 0.87, (top.sum(), truly[top].mean())
