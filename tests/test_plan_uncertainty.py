"""A plan's uncertainty against simulated truth: rates known to the simulation, uses drawn
from them, the planner's draws of the rates built from the uses' sums as the service
builds them (``planning.rates.rate_draws``), and the truth checked against what the plan
says."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from kuznia.planning.allocation import Offers, effects_interval
from kuznia.planning.rates import rate_draws


def _sums(rng: np.random.Generator, rates: np.ndarray, uses: np.ndarray,
          clustered: float | None) -> tuple[np.ndarray, np.ndarray]:
    """Each producer's effects and squared effects over its uses (one unit a use): Poisson
    effects per use, or negative binomial with shape ``clustered``."""
    e, q = np.zeros(rates.size), np.zeros(rates.size)
    for i, (lam, n) in enumerate(zip(rates, uses, strict=True)):
        x = (rng.poisson(lam, int(n)) if clustered is None
             else rng.negative_binomial(clustered, clustered / (clustered + lam), int(n)))
        e[i], q[i] = x.sum(), (x.astype(float) ** 2).sum()
    return e, q


def _offers(product: list[str], draws: np.ndarray, capacity: int, lot: int) -> Offers:
    k = len(product)
    return Offers(
        product_id=np.array(product), producer_id=np.array([f"P{i}" for i in range(k)]),
        region=np.array(["R"] * k), category=np.array(["c"] * k), unit_price=np.ones(k),
        capacity=np.full(k, capacity, np.int64), min_order=np.zeros(k, np.int64),
        lot_size=np.full(k, lot, np.int64), effects_per_unit=draws.mean(axis=0),
        rate_draws=draws, rate_column=np.arange(k))


CASES = {  # producers of one product, effects per use, spread of their true rates
    "3 pooled producers": (3, None, 0.0),
    "6 pooled producers": (6, None, 0.0),
    "3 pooled, clustered effects": (3, 0.5, 0.0),
    "1 producer, clustered effects": (1, 0.5, 0.0),
    "3 producers 30% apart": (3, None, 0.3),
}


@pytest.mark.parametrize("case", list(CASES))
def test_the_plans_90_percent_interval_covers_its_effects_90_percent_of_the_time(case):
    """300 simulated workspaces a case: 200 uses a producer at 0.3 effects per use (Poisson
    or negative binomial k = 0.5), the plan buys 1,000 units of each producer; its 90%
    interval of expected effects covers the truth (1,000 x the sum of the true rates)
    85-95% of the time. The first version covered 61% with 3 pooled producers, 50% with 6,
    51% with clustered effects and 80% for one producer with clustered effects: each
    offer's rate drawn on its own, and the counts taken as Poisson."""
    k, clustered, spread = CASES[case]
    rng = np.random.default_rng(7)
    hits = 0
    reps = 300
    for rep in range(reps):
        rates = 0.3 * (1 + rng.uniform(-spread, spread, k))
        uses = np.full(k, 200.0)
        e, q = _sums(rng, rates, uses, clustered)
        draws = rate_draws(e, q, uses, uses, ["A"] * k, seed=rep)
        quantity = np.full(k, 1000, np.int64)
        low, high = effects_interval(_offers(["A"] * k, draws, 1000, 1), quantity)
        hits += low <= 1000 * rates.sum() <= high
    assert 0.85 <= hits / reps <= 0.95, hits / reps


def _tail_plan(draws: np.ndarray, level: float, lots: int, lot: int, budget_lots: int
               ) -> np.ndarray:
    """The plan with the best mean of its worst ``level`` share of draws, by brute force
    over every whole number of lots within the budget (the MILP's answer, independently:
    ``test_allocation`` checks the solver against the same enumeration)."""
    k = draws.shape[1]
    plans = np.array([p for p in itertools.product(range(lots + 1), repeat=k)
                      if sum(p) <= budget_lots], dtype=np.int64) * lot
    totals = np.sort(draws @ plans.T, axis=0)
    worst = max(1, int(round(level * draws.shape[0])))
    return plans[np.argmax(totals[:worst].mean(axis=0))]


def test_a_q10_plans_stated_tail_holds_when_producers_are_pooled():
    """The issue's case: three producers of one product with one true rate (0.3, 200 uses
    each) beside a well-known product at 0.27. The plan chosen for its worst tenth over
    200 joint draws states its 10% quantile; the true effects of that plan fall below it
    in at most 22% of 300 simulated workspaces (18% measured: the 10% it states, plus the
    luck of choosing the producers that look best, which no posterior removes). The first
    version, drawing the three rates on their own, fell below in 26% here (36% in the
    review): it bought diversification between producers that share one rate and stated
    a tail that diversification does not have."""
    rng = np.random.default_rng(8)
    rates = np.array([0.3, 0.3, 0.3, 0.27])
    uses = np.array([200.0, 200.0, 200.0, 2000.0])
    product = ["A", "A", "A", "B"]
    below = 0
    reps = 300
    for rep in range(reps):
        e, q = _sums(rng, rates, uses, None)
        draws = rate_draws(e, q, uses, uses, product, seed=rep)[:200]
        plan = _tail_plan(draws, 0.10, lots=4, lot=100, budget_lots=6)
        stated = np.quantile(draws @ plan, 0.10)
        below += plan @ rates < stated
    assert below / reps <= 0.22, below / reps
