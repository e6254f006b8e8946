"""The strike simulation against closed forms and exact enumeration; the plans against
brute force over every choice and every strike pattern."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kuznia.analytics.strikes import (
    Regions,
    Sites,
    expected_availability,
    hhi,
    shortfall,
    simulate,
    time_to_survive,
)
from kuznia.planning.duplication import choose, greedy
from kuznia.planning.repairs import plan


@settings(max_examples=15, deadline=None)
@given(p=st.floats(0.02, 0.6), h=st.floats(0.2, 1.0), d=st.floats(0.1, 1.0),
       k=st.integers(1, 5), down=st.integers(0, 3))
def test_expected_output_matches_the_closed_form(p, h, d, k, down):
    regions = Regions(np.array([p]), np.array([h]), np.array([d]), np.array([k]))
    sites = Sites(np.array([0]), np.array([0]), np.array([100.0]), np.array([down]))
    n = 6000
    out = simulate(regions, sites, 1, 8, n, seed=11).output[:, :, 0] / 100.0
    want = expected_availability(p, h, d, k, 8, down)
    # four standard errors of a mean of n draws bounded in [1 - d, 1]
    se = d * 0.5 / np.sqrt(n)
    assert np.all(np.abs(out.mean(axis=0) - want) <= 4 * se + 1e-9)


def test_spillover_raises_the_strike_rate_as_the_closed_form_says():
    adj = np.array([[False, True], [True, False]])
    regions = Regions(np.array([0.3, 0.1]), np.ones(2), np.ones(2), np.ones(2, dtype=int),
                      adjacency=adj, spillover=0.5)
    # the second region: 1 - (1 - 0.1)(1 - 0.5 * 0.3)
    assert regions.effective_p()[1] == pytest.approx(1 - 0.9 * 0.85)
    sites = Sites(np.array([1]), np.array([0]), np.array([1.0]), np.array([0]))
    out = simulate(regions, sites, 1, 6, 20_000, seed=2).output[:, :, 0]
    assert 1 - out.mean() == pytest.approx(regions.effective_p()[1], abs=0.01)


def test_seeds_reproduce_and_workers_do_not_change_the_answer():
    rng = np.random.default_rng(0)
    regions = Regions(rng.uniform(0.05, 0.3, 4), rng.uniform(0.3, 1, 4), rng.uniform(0.2, 1, 4),
                      rng.integers(1, 4, 4))
    sites = Sites(rng.integers(0, 4, 30), rng.integers(0, 3, 30), rng.uniform(1, 50, 30),
                  np.zeros(30, dtype=int))
    a = simulate(regions, sites, 3, 12, 1200, seed=5).output
    b = simulate(regions, sites, 3, 12, 1200, seed=5, workers=2).output
    c = simulate(regions, sites, 3, 12, 1200, seed=6).output
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    # extra sites draw from their own stream: the existing sites' output is unchanged
    extra = Sites(np.array([0, 2]), np.array([0, 1]), np.array([10.0, 5.0]), np.zeros(2, int))
    d = simulate(regions, sites, 3, 12, 1200, seed=5, extra=extra)
    np.testing.assert_array_equal(a, d.output)


def test_overlapping_damage_does_not_add_past_the_fraction():
    regions = Regions(np.array([1.0]), np.ones(1), np.array([0.4]), np.array([3]))
    sites = Sites(np.array([0]), np.array([0]), np.array([10.0]), np.array([0]))
    out = simulate(regions, sites, 1, 5, 10, seed=0).output
    np.testing.assert_allclose(out, 6.0)  # struck every month: always 40% down, never more


def test_shortfall_carries_stock_and_loses_unmet_demand():
    out = np.array([[[5.0], [0.0], [20.0], [0.0]]])
    short = shortfall(out, np.array([10.0]), np.array([8.0]))
    # month 0: 8 + 5 = 13 >= 10, 3 left; month 1: 3 < 10, 7 short; month 2: 20, 10 left;
    # month 3: 10 covers 10
    np.testing.assert_allclose(short[0, :, 0], [0, 7, 0, 0])


def test_time_to_survive_and_hhi_closed_forms():
    tts = time_to_survive(np.array([60.0, 30.0, 100.0]), np.array([0, 0, 1]),
                          np.array([80.0, 50.0]), np.array([100.0, 0.0]))
    # without site 0 product 0 makes 30 of 80: 100 / 50 = 2 months; without site 1: 60 of 80,
    # 100 / 20 = 5 months; product 1 without its only site: 0 / 50 = 0
    np.testing.assert_allclose(tts, [2.0, 5.0, 0.0])
    assert np.isinf(time_to_survive(np.array([60.0, 60.0]), np.array([0, 0]),
                                    np.array([50.0]), np.array([0.0])))[0]
    assert hhi(np.array([1.0, 1.0])) == pytest.approx(0.5)
    assert hhi(np.array([3.0])) == pytest.approx(1.0)


def _exact_shortfall(p, repair, site_region, site_cap, cand_region, cand_cap, chosen,
                     months, demand, stock):
    """Enumerate every pattern of region strikes (hit and damage 1): exact expectation."""
    regions_n = len(p)
    total = 0.0
    for pattern in itertools.product([0, 1], repeat=regions_n * months):
        s = np.array(pattern).reshape(months, regions_n)
        prob = np.prod(np.where(s == 1, p, 1 - p))
        supply = np.zeros(months)
        for region, cap in [*zip(site_region, site_cap, strict=True),
                            *[(r, c) for r, c, x in zip(cand_region, cand_cap, chosen,
                                                        strict=True) if x]]:
            for m in range(months):
                lo = max(0, m - repair[region] + 1)
                if not s[lo:m + 1, region].any():
                    supply[m] += cap
        inv, short = stock, 0.0
        for m in range(months):
            have = inv + supply[m]
            short += max(0.0, demand - have)
            inv = max(0.0, have - demand)
        total += prob * short
    return total


def test_duplication_plan_is_the_exact_optimum_on_a_tiny_network():
    p = np.array([0.4, 0.15, 0.25])
    repair = np.array([2, 1, 1])
    regions = Regions(p, np.ones(3), np.ones(3), repair)
    sites = Sites(np.array([0]), np.array([0]), np.array([100.0]), np.array([0]))
    cand_region, cand_cap, cost = [1, 2, 0], [60.0, 90.0, 100.0], np.array([5.0, 8.0, 2.0])
    extra = Sites(np.array(cand_region), np.zeros(3, int), np.array(cand_cap), np.zeros(3, int))
    months, demand, stock, budget = 3, 100.0, 30.0, 10.0
    exact = {}
    for combo in itertools.product([False, True], repeat=3):
        if cost[list(combo)].sum() <= budget:
            exact[combo] = _exact_shortfall(p, repair, [0], [100.0], cand_region, cand_cap,
                                            combo, months, demand, stock)
    best = min(exact, key=exact.get)
    sim = simulate(regions, sites, 1, months, 4_000, seed=9, extra=extra)
    args = (sim.output, sim.extra, np.zeros(3, int), cost, budget, np.array([demand]),
            np.array([stock]), np.ones(1))
    choice = choose(*args)
    assert tuple(choice.chosen) == best
    # the plan's own estimate is close to the exact expectation of its choice
    assert choice.objective == pytest.approx(exact[best], rel=0.05)
    # and the greedy rule may do worse, never better
    g = tuple(greedy(*args))
    assert exact[g] >= exact[best] - 1e-9


def test_repair_lp_matches_brute_force_on_a_small_backlog():
    counts = np.array([3, 2])
    group_product = np.array([0, 0])
    transit = np.array([[2.0, 20.0], [40.0, 20.0]])
    point_product = np.array([0, 0])
    capacity = np.array([2.0, 10.0])
    days = np.array([10.0, 40.0])
    r = plan(counts, group_product, transit, point_product, capacity, days)
    # brute force: each item picks (point, month) with at most 2 a month at point 0
    options = [(j, s) for j in range(2) for s in range(4)]
    best = np.inf
    items = [0, 0, 0, 1, 1]
    for pick in itertools.product(options, repeat=5):
        load: dict = {}
        for j, s in pick:
            load[(j, s)] = load.get((j, s), 0) + 1
        if any(v > capacity[j] for (j, s), v in load.items()):
            continue
        total = sum(max(transit[g, j], 30 * s) + days[j] for g, (j, s) in zip(items, pick,
                                                                             strict=True))
        best = min(best, total)
    assert r.status == "optimal"
    assert r.mean_days == pytest.approx(best / 5)
    assert sum(k for *_, k in r.flows) == 5


def test_repair_lp_names_what_cannot_be_reached():
    r = plan(np.array([4, 1]), np.array([0, 1]), np.array([[3.0], [np.nan]]), np.array([0]),
             np.array([10.0]), np.array([5.0]))
    assert r.unreachable.tolist() == [False, True]
    assert r.mean_days == pytest.approx(8.0)
