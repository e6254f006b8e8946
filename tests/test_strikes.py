"""The strike simulation against closed forms and exact enumeration; the plans against
brute force over every choice and every strike pattern."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers import brute_force_repairs as _brute_force
from helpers import expected_availability
from helpers import repair_queue as _queue
from kuznia.analytics.strikes import (
    Regions,
    Sites,
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


def test_threads_over_chunks_do_not_change_the_answer():
    """Chunks on several threads (the default) give the very bits of one thread: each
    chunk's matrix products run with BLAS capped at one thread, whatever the threads."""
    rng = np.random.default_rng(1)
    regions = Regions(rng.uniform(0.05, 0.3, 12), rng.uniform(0.3, 1, 12),
                      rng.uniform(0.2, 1, 12), rng.integers(1, 5, 12))
    n = 800  # enough sites for BLAS to block the products
    sites = Sites(rng.integers(0, 12, n), rng.integers(0, 9, n), rng.uniform(1, 50, n),
                  np.zeros(n, dtype=int))
    one = simulate(regions, sites, 9, 12, 2600, seed=3, threads=1).output
    for threads in (None, 2, 3):
        np.testing.assert_array_equal(
            one, simulate(regions, sites, 9, 12, 2600, seed=3, threads=threads).output)
    with pytest.raises(ValueError, match="threads"):
        simulate(regions, sites, 9, 12, 100, threads=0)


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


def test_repair_lp_waits_for_items_to_arrive():
    # the case: three items 50 days from a point that starts 2 repairs a month,
    # 10 days each, are back at 60, 60 and 70 days (the first version said 60, 60, 60)
    r = plan(np.array([3]), np.array([0]), np.array([[50.0]]), np.array([0]),
             np.array([2.0]), np.array([10.0]))
    assert r.status == "optimal"
    finishes = sorted(r.finish_days[g, j, s] for g, j, s, k in r.flows for _ in range(k))
    assert finishes == [60.0, 60.0, 70.0]
    assert r.mean_days == pytest.approx(190 / 3)
    assert r.clear_days == 70.0
    assert _queue([50.0] * 3, 2, 10.0) == [60.0, 60.0, 70.0]


def test_repair_lp_matches_brute_force_on_a_small_backlog():
    counts = np.array([3, 2])
    transit = np.array([[2.0, 20.0], [40.0, 20.0]])
    capacity = np.array([2.0, 10.0])
    days = np.array([10.0, 40.0])
    r = plan(counts, np.array([0, 0]), transit, np.array([0, 0]), capacity, days)
    assert r.status == "optimal"
    assert r.mean_days == pytest.approx(_brute_force(counts, transit, capacity, days) / 5)
    assert sum(k for *_, k in r.flows) == 5


def test_repair_lp_has_the_slots_a_group_reaching_few_points_needs():
    """Found by the property below: one group of three items reaching only one of three
    points (one start a month each) needs three months, not the one that the product's
    capacity over all its points suggests."""
    r = plan(np.array([3]), np.array([0]), np.array([[np.nan, np.nan, 0.0]]),
             np.zeros(3, int), np.ones(3), np.ones(3))
    assert r.status == "optimal"
    assert r.mean_days == pytest.approx((1 + 31 + 61) / 3)


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_repair_lp_equals_the_simulated_queues_best(data: st.DataObject) -> None:
    groups = data.draw(st.integers(1, 2))
    points = data.draw(st.integers(1, 3))
    counts = np.array(data.draw(st.lists(st.integers(0, 3), min_size=groups,
                                         max_size=groups)))
    if counts.sum() > 6 or counts.sum() == 0:
        counts = np.array([min(c, 2) for c in counts]) + (counts.sum() == 0)
    transit = np.array([[data.draw(st.one_of(st.just(np.nan),
                                             st.integers(0, 120).map(float)))
                         for _ in range(points)] for _ in range(groups)])
    capacity = np.array(data.draw(st.lists(st.integers(1, 3), min_size=points,
                                           max_size=points)), dtype=float)
    days = np.array(data.draw(st.lists(st.integers(1, 45), min_size=points,
                                       max_size=points)), dtype=float)
    r = plan(counts, np.zeros(groups, int), transit, np.zeros(points, int), capacity, days)
    reachable = ~np.isnan(transit).all(axis=1)
    assert r.unreachable.tolist() == [bool(c > 0 and not ok)
                                      for c, ok in zip(counts, reachable, strict=True)]
    kept = np.where(reachable, counts, 0)
    if kept.sum() == 0:
        assert r.mean_days is None
        return
    best = _brute_force(kept, transit, capacity, days)
    assert r.status == "optimal"
    assert r.mean_days * kept.sum() == pytest.approx(best)
    # the plan can be carried out: replayed through each point's queue it does as well
    sent: dict[int, list[float]] = {}
    for g, j, s, k in r.flows:
        assert transit[g, j] < 30 * (s + 1)  # started only once there
        sent.setdefault(j, []).extend([transit[g, j]] * k)
    replay = [x for j, arr in sent.items() for x in _queue(arr, int(capacity[j]), days[j])]
    assert sum(replay) == pytest.approx(best)
    assert r.clear_days >= max(replay) - 1e-9


def test_repair_lp_names_what_cannot_be_reached():
    r = plan(np.array([4, 1]), np.array([0, 1]), np.array([[3.0], [np.nan]]), np.array([0]),
             np.array([10.0]), np.array([5.0]))
    assert r.unreachable.tolist() == [False, True]
    assert r.mean_days == pytest.approx(8.0)
