"""Solves stopped by their time limit keep the best plan found, and say so: one HiGHS
wrapper and one result type for every planner (allocation, duplicate lines, repairs).

The model: an almost strongly correlated knapsack of 1,000 items (each worth its weight
plus a constant, give or take a little; Pisinger's hard instances for branch and bound): at
a zero gap HiGHS had not proven its optimum after 10 s here, while its heuristics find a
good plan within a second. Each test
raises the time limit from 0.05 s until a plan is found, so a slow machine (which may not
reach a first plan within 0.05 s) tests the same thing: the first plan found is kept,
whatever stopped the solve."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.sparse import csr_matrix

from kuznia.planning import highs
from kuznia.planning.allocation import Limits, Offers, solve
from kuznia.planning.duplication import choose

LIMITS = (0.05, 0.5, 2.0, 8.0)


def _knapsack(n: int = 1000, seed: int = 0) -> tuple[np.ndarray, np.ndarray, float]:
    rng = np.random.default_rng(seed)
    weight = rng.integers(1000, 10000, n).astype(float)
    return weight, weight + rng.integers(-100, 100, n), 0.37 * weight.sum()


def _first_plan(run):  # type: ignore[no-untyped-def]
    for limit in LIMITS:
        got = run(limit)
        if got.status != highs.Status.NO_SOLUTION:
            return got
    raise AssertionError("no plan within 8 s")


def test_the_wrapper_keeps_the_incumbent_and_reports_its_gap():
    weight, value, budget = _knapsack()
    n = weight.size

    def run(limit: float) -> highs.SolverResult:
        return highs.solve(-value, np.zeros(n), np.ones(n), csr_matrix(weight[None, :]),
                           np.array([-np.inf]), np.array([budget]), np.arange(n),
                           time_limit=limit, gap=0.0)

    got = _first_plan(run)
    assert got.status == highs.Status.FEASIBLE and got.is_ok and not got.optimal
    assert got.x is not None and got.x.sum() > 10
    chosen = got.x > 0.5
    assert weight[chosen].sum() <= budget  # a real plan, within the budget
    # and its value is the one reported
    assert got.objective == pytest.approx(-value[chosen].sum(), rel=1e-9)
    assert got.gap is not None and 0 < got.gap < np.inf
    assert got.stopped_by == "the time limit"
    assert got.words == f"best found within the time limit, gap {got.gap:.1%}"


def test_a_duplication_choice_stopped_by_the_time_limit_keeps_its_choice():
    """The issue's case: at 0.3 s HiGHS had a duplication plan worth 82,674 and the first
    version said "choose nothing". One scenario and one month, each candidate the only
    line of its product with demand it alone can meet: the choice is the knapsack above."""
    weight, value, budget = _knapsack()
    n = weight.size
    base = np.zeros((1, 1, n))
    extra = np.full((1, 1, n), 10.0)
    demand = np.full(n, 10.0)  # each candidate removes its product's whole shortfall
    weights = value / 10.0  # ... worth about its cost

    def run(limit: float):  # type: ignore[no-untyped-def]
        return choose(base, extra, np.arange(n), weight, budget, demand, np.zeros(n),
                      weights, time_limit=limit, gap=0.0).solver

    got = _first_plan(run)
    assert got.status == highs.Status.FEASIBLE
    assert got.x is not None
    chosen = got.x[:n] > 0.5
    assert chosen.sum() > 10 and weight[chosen].sum() <= budget
    # the objective is the weighted shortfall left: all demand less what the choice meets
    assert got.objective == pytest.approx(value.sum() - value[chosen].sum(), rel=1e-9)
    assert got.gap is not None and got.gap > 0


def test_an_allocation_stopped_by_the_time_limit_keeps_its_plan():
    weight, value, budget = _knapsack()
    n = weight.size
    offers = Offers(
        product_id=np.array([f"X{i % 20}" for i in range(n)]),
        producer_id=np.array([f"P{i}" for i in range(n)]), region=np.array(["R"] * n),
        category=np.array(["c"] * n), unit_price=weight, capacity=np.ones(n, np.int64),
        min_order=np.zeros(n, np.int64), lot_size=np.ones(n, np.int64),
        effects_per_unit=value / 1e4)
    got = _first_plan(lambda t: solve(offers, Limits(budget=budget, time_limit=t,
                                                     mip_gap=0.0)))
    assert got.status == "feasible"
    assert got.quantity.sum() > 10 and got.total_cost <= budget
    assert got.gap is not None and got.gap > 0
    assert got.words.startswith("best found within the time limit, gap ")
