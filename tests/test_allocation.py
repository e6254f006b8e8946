"""The allocation MILP against brute force, and its explanations, on tiny instances."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kuznia.i18n import language
from kuznia.planning.allocation import Limits, Offers, Status, budget_rate, greedy, solve
from kuznia.planning.explain import binding, infeasible_reasons, violations, why_nothing
from kuznia.sentences import say_sentence

CATEGORY = {"A": "c1", "B": "c2"}


def offers_of(rows: list[tuple]) -> Offers:
    """rows: (product, producer, region, price, capacity, min_order, lot, effects/unit)."""
    cols = list(zip(*rows, strict=True))
    return Offers(
        product_id=np.array(cols[0]), producer_id=np.array(cols[1]), region=np.array(cols[2]),
        category=np.array([CATEGORY[p] for p in cols[0]]),
        unit_price=np.array(cols[3], float), capacity=np.array(cols[4], np.int64),
        min_order=np.array(cols[5], np.int64), lot_size=np.array(cols[6], np.int64),
        effects_per_unit=np.array(cols[7], float))


def brute_force(offers: Offers, limits: Limits) -> float | None:
    """The best expected effects over every integer plan that breaks no limit."""
    choices = []
    for i in range(len(offers)):
        lot = int(offers.lot_size[i])
        units = [0] + [u for u in range(lot, int(offers.capacity[i]) + 1, lot)
                       if u >= offers.min_order[i]]
        choices.append(units)
    best = None
    for plan in itertools.product(*choices):
        q = np.array(plan, np.int64)
        if not violations(offers, limits, q):
            value = float(q @ offers.effects_per_unit)
            best = value if best is None else max(best, value)
    return best


offer_rows = st.lists(
    st.tuples(st.sampled_from("AB"), st.sampled_from(["P1", "P2", "P3"]),
              st.sampled_from(["R1", "R2"]), st.integers(1, 20), st.integers(0, 6),
              st.integers(0, 4), st.integers(1, 3),
              st.integers(0, 30).map(lambda v: v / 10)),
    min_size=1, max_size=4)
limits_st = st.builds(
    Limits,
    budget=st.integers(0, 120).map(float),
    max_producer_share=st.none() | st.sampled_from([0.4, 0.5, 0.7, 1.0]),
    max_region_share=st.none() | st.sampled_from([0.5, 0.8]),
    min_category_share=st.none().map(lambda _: {}) | st.fixed_dictionaries(
        {"c1": st.sampled_from([0.1, 0.3])}),
    require=st.none().map(lambda _: {}) | st.fixed_dictionaries(
        {"A": st.integers(1, 5)}),
    mip_gap=st.just(0.0),
)


@settings(max_examples=300, deadline=None)
@given(rows=offer_rows, limits=limits_st)
def test_solver_matches_brute_force_and_breaks_no_limit(rows, limits):
    offers = offers_of(rows)
    best = brute_force(offers, limits)
    result = solve(offers, limits)
    if best is None:
        assert result.status == Status.INFEASIBLE
        assert infeasible_reasons(offers, limits)
        return
    assert result.status == Status.OPTIMAL
    assert violations(offers, limits, result.quantity) == []
    assert result.expected_effects == pytest.approx(best, abs=1e-6)
    assert result.total_cost == pytest.approx(float(result.quantity @ offers.unit_price))


@settings(max_examples=200, deadline=None)
@given(rows=offer_rows, limits=limits_st)
def test_every_explanation_of_a_plan_is_said_in_ukrainian(rows, limits):
    """What binds, why nothing is bought, why no plan exists, what the greedy rule breaks,
    how the solve ended: sentences a plan keeps in English, each a shape of
    ``kuznia.sentences`` that pages say in the language asked."""
    offers = offers_of(rows)
    result = solve(offers, limits)
    lines = [result.words, why_nothing(offers, limits), *infeasible_reasons(offers, limits),
             *violations(offers, limits, greedy(offers, limits).quantity)]
    if result.status.has_plan:
        lines += binding(offers, limits, result.quantity)
    with language("uk"):
        unsaid = [line for line in lines if say_sentence(line) == line]
    assert unsaid == []


def test_what_binds_is_said_in_ukrainian_with_its_figures():
    offers = offers_of([("A", "P1", "R1", 13_800.0, 10_000, 0, 1, 3.0),
                        ("B", "P2", "R2", 500.0, 10_000, 0, 1, 0.3)])
    limits = Limits(budget=50e6, require={"A": 5_000})
    (reason,) = infeasible_reasons(offers, limits)
    with language("uk"):
        assert say_sentence(reason) == ("потрібні A (одиниць: 5\u00a0000) коштують "
                                        "69,0\u00a0млн, а бюджет становить 50,0\u00a0млн")
    assert say_sentence(reason) == reason


def test_greedy_rule_of_thumb_loses_to_the_optimum_on_lots():
    # the cheapest cost per effect comes in lots of 10 that no longer fit the budget
    offers = offers_of([("A", "P1", "R1", 10.0, 100, 0, 10, 1.0),
                        ("A", "P2", "R1", 10.0, 100, 0, 1, 0.9)])
    limits = Limits(budget=150.0)
    g, opt = greedy(offers, limits), solve(offers, limits)
    assert g.expected_effects == pytest.approx(10 * 1.0 + 5 * 0.9)
    assert opt.expected_effects == pytest.approx(10 * 1.0 + 5 * 0.9)
    limits = Limits(budget=150.0, max_producer_share=0.5)
    opt = solve(offers, limits)
    assert violations(offers, limits, opt.quantity) == []
    assert violations(offers, limits, greedy(offers, limits).quantity)  # greedy breaks it


def test_required_units_over_budget_are_explained_with_figures():
    offers = offers_of([("A", "P1", "R1", 13_800.0, 10_000, 0, 1, 3.0),
                        ("B", "P2", "R2", 500.0, 10_000, 0, 1, 0.3)])
    limits = Limits(budget=50e6, require={"A": 5_000})
    assert solve(offers, limits).status == Status.INFEASIBLE
    assert infeasible_reasons(offers, limits) == [
        "the required 5,000 A cost 69.0M, the budget is 50.0M"]


def test_single_producer_under_a_cap_is_explained():
    offers = offers_of([("A", "P1", "R1", 1.0, 10, 0, 1, 1.0)])
    limits = Limits(budget=100.0, max_producer_share=0.5, require={"A": 1})
    assert solve(offers, limits).status == Status.INFEASIBLE
    assert any("lets no unit of it be bought" in r for r in infeasible_reasons(offers, limits))


def test_unbounded_input_is_a_status_not_an_exception(monkeypatch: pytest.MonkeyPatch):
    # Validation makes an unbounded plan impossible (prices > 0, a capacity on every
    # offer), so hand the solver layer a model with no bound at all: it must answer with
    # a status, not raise.
    from kuznia.planning import allocation

    offers = offers_of([("A", "P1", "R1", 1.0, 10, 0, 1, 1.0)])
    model = allocation.build(offers, Limits(budget=10.0))
    model.col_upper[:] = np.inf
    model.rows = allocation._Rows()
    model.rows.add(np.zeros(1, np.int64), np.zeros(1, np.int64), np.array([-1.0]),
                   np.array([-np.inf]), np.array([10.0]))  # -x <= 10: no bound on x
    monkeypatch.setattr(allocation, "build", lambda o, lim, **_: model)
    result = allocation.solve(offers, Limits(budget=10.0))
    assert result.status == Status.UNBOUNDED
    assert not result.status.has_plan and result.quantity.tolist() == [0]


def test_prices_and_capacities_are_validated_so_plans_stay_bounded(tmp_path):
    from kuznia.ingest.tables import SPECS

    spec = SPECS["offers"]
    assert spec.field("unit_price").minimum == 0.0  # strictly greater than 0
    assert spec.field("capacity").required


def test_binding_names_capacity_and_caps():
    offers = offers_of([("A", "P1", "R1", 1.0, 10, 0, 1, 2.0),
                        ("A", "P2", "R2", 1.0, 100, 0, 1, 1.0)])
    limits = Limits(budget=1000.0, max_producer_share=0.6)
    result = solve(offers, limits)
    words = binding(offers, limits, result.quantity)
    assert "P1 is at capacity for A (10 units)" in words
    assert any("60% producer cap binds on A" in w for w in words)


def test_capacity_not_money_is_said_to_bind_when_everything_is_bought():
    offers = offers_of([("A", "P1", "R1", 10.0, 5, 0, 1, 1.0),
                        ("B", "P2", "R2", 20.0, 3, 0, 1, 2.0)])
    limits = Limits(budget=1_000.0)
    result = solve(offers, limits)
    assert result.quantity.tolist() == [5, 3]
    words = binding(offers, limits, result.quantity)
    assert words[0] == "every offer that adds effects is at capacity: 890 of the budget " \
        "is left unspent"
    assert not any(w.startswith("the budget binds") for w in words)
    tight = Limits(budget=100.0)  # now money runs out first
    words = binding(offers, tight, solve(offers, tight).quantity)
    assert any(w.startswith("the budget binds") for w in words)


def relaxation_value(offers: Offers, limits: Limits) -> float | None:
    """The LP relaxation's best expected effects, written independently of the planner's
    model (units, not lots; shares as plain inequalities) and solved by SciPy's interior
    point method; None when no plan meets the limits."""
    from scipy.optimize import linprog

    n = len(offers)
    p, e = offers.unit_price, offers.effects_per_unit
    upper = offers.lot_size * (offers.capacity // offers.lot_size)
    upper = np.where(offers.min_order > upper, 0, upper)  # a minimum order above capacity
    a, b = [p.copy()], [limits.budget]
    same = offers.product_id[:, None] == offers.product_id[None, :]
    if limits.max_producer_share is not None:  # x_i <= share * sum of its product
        a += list(np.eye(n) - limits.max_producer_share * same)
        b += [0.0] * n
    if limits.max_region_share is not None:
        for r in np.unique(offers.region):
            a.append(p * (offers.region == r) - limits.max_region_share * p)
            b.append(0.0)
    for c, share in limits.min_category_share.items():
        a.append(-p * (offers.category == c))
        b.append(-share * limits.budget)
    for pid, units in limits.require.items():
        a.append(-(offers.product_id == pid).astype(float))
        b.append(-units)
    out = linprog(-e, A_ub=np.array(a), b_ub=np.array(b), bounds=list(zip(
        np.zeros(n), upper, strict=True)), method="highs-ipm")
    return -out.fun if out.status == 0 else None


rate_rows = st.lists(
    st.tuples(st.sampled_from("AB"), st.sampled_from(["P1", "P2", "P3"]),
              st.sampled_from(["R1", "R2"]), st.integers(1, 20), st.integers(1, 12),
              st.integers(0, 2), st.integers(1, 2), st.integers(0, 30).map(lambda v: v / 10)),
    min_size=1, max_size=5)
rate_limits = st.builds(
    Limits, budget=st.integers(1, 150).map(float),
    max_producer_share=st.none() | st.sampled_from([0.5, 0.7]),
    max_region_share=st.none() | st.sampled_from([0.6, 0.8]),
    min_category_share=st.none().map(lambda _: {}) | st.fixed_dictionaries(
        {"c1": st.sampled_from([0.1, 0.3])}))


@settings(max_examples=200, deadline=None)
@given(rows=rate_rows, limits=rate_limits)
def test_budget_rate_holds_exactly_over_its_range_and_no_further(rows, limits):
    from dataclasses import replace

    from hypothesis import event, note

    note(f"{rows!r} {limits!r}")
    offers = offers_of(rows)
    more = budget_rate(offers, limits)
    base = relaxation_value(offers, limits)
    if base is None or limits.budget == 0:
        event("no plan, or no budget")
        return
    event("finite range" if np.isfinite(more.holds_to) else "any budget")
    assert more is not None
    at = lambda budget: relaxation_value(offers, replace(limits, budget=budget))  # noqa: E731
    assert more.holds_to >= limits.budget
    tol = 1e-5 * (1 + abs(base))
    room = min(more.holds_to, limits.budget * 4 + 100) - limits.budget
    for d in (room / 4, room / 2, room):
        if d > 0:
            there = at(limits.budget + d)
            assert there is not None and there - base == pytest.approx(more.rate * d, abs=tol)
    if np.isfinite(more.holds_to):
        end = at(more.holds_to)
        assert more.effects_there == pytest.approx(end, abs=tol)
        there = at(more.holds_to + 1.0)  # concave: past the range, the rate is lower (or
        assert there is None or there - end < more.rate - 1e-7 * (1 + abs(base))  # no plan)
        if more.next_rate is not None:
            assert more.next_rate < more.rate


def test_budget_rate_known_answer():
    # 2 units at 3 effects, 3 at 2, 10 at 1, each costing 1: the relaxation buys the best
    # first, so the rate is 3 up to a budget of 2, then 2 up to 5, then 1 up to 15, then 0
    offers = offers_of([("A", "P1", "R1", 1, 2, 0, 1, 3.0), ("A", "P2", "R1", 1, 3, 0, 1, 2.0),
                        ("A", "P3", "R1", 1, 10, 0, 1, 1.0)])
    got = [budget_rate(offers, Limits(b)) for b in (1.0, 3.0, 6.0, 20.0)]
    assert [(g.rate, g.holds_to) for g in got] == [(3.0, 2.0), (2.0, 5.0), (1.0, 15.0),
                                                  (0.0, np.inf)]
    assert [g.effects_there for g in got[:3]] == [6.0, 12.0, 22.0]
    assert [g.next_rate for g in got] == [2.0, 1.0, 0.0, None]
    # two offers at the same rate: the first basis's range ends at 1, the rate goes on to 3
    tied = offers_of([("A", "P1", "R1", 1, 1, 0, 1, 0.1), ("A", "P2", "R1", 1, 2, 0, 1, 0.1)])
    got = budget_rate(tied, Limits(0.5))
    assert (got.rate, got.holds_to, got.next_rate) == (pytest.approx(0.1), 3.0, 0.0)


def _cvar(totals: np.ndarray, q: float) -> float:
    """The mean of the worst q share of equally likely totals (a fractional last draw)."""
    z = np.sort(totals)
    k = q * z.size
    whole = int(np.floor(k))
    return float((z[:whole].sum() + (k - whole) * (z[whole] if whole < z.size else 0)) / k)


@settings(max_examples=60, deadline=None)
@given(rows=offer_rows, limits=limits_st, seed=st.integers(0, 2**16))
def test_risk_plan_maximises_its_own_tail_mean_by_brute_force(rows, limits, seed):
    """Over 20 draws of the rates at once, the chosen plan's mean of its worst 10% (two
    draws) is the best of every integer plan that breaks no limit."""
    from kuznia.planning.allocation import Risk

    offers = offers_of(rows)
    rng = np.random.default_rng(seed)
    draws = offers.effects_per_unit[None, :] * rng.gamma(2.0, 0.5, (20, len(offers)))
    choices = []
    for i in range(len(offers)):
        lot = int(offers.lot_size[i])
        choices.append([0] + [u for u in range(lot, int(offers.capacity[i]) + 1, lot)
                              if u >= offers.min_order[i]])
    best = None
    for plan in itertools.product(*choices):
        q = np.array(plan, np.int64)
        if not violations(offers, limits, q):
            value = _cvar(draws @ q, 0.10)
            best = value if best is None else max(best, value)
    result = solve(offers, limits, Risk(draws, 0.10))
    if best is None:
        assert result.status == Status.INFEASIBLE
        return
    assert result.status == Status.OPTIMAL
    assert violations(offers, limits, result.quantity) == []
    assert result.risk_value == pytest.approx(best, abs=1e-6)
    assert _cvar(draws @ result.quantity, 0.10) == pytest.approx(best, abs=1e-6)


def test_risk_plan_is_not_each_offers_own_pessimism():
    """A certain at 1.0 per unit; B and C at 1.4, each falling to 0.7 in 2 of 20 draws, but
    never in the same draws. Each offer's own worst tenth (0.7) is below A's 1.0, so the
    first version's rule (every rate at its own 10% quantile together) bought all A (10
    effects in every draw). The plan's own worst tenth is better split over B and C: 5 x
    0.7 + 5 x 1.4 = 10.5 in its worst draws."""
    from kuznia.planning.allocation import Risk

    offers = offers_of([("A", "P1", "R1", 1, 10, 0, 1, 1.0), ("A", "P2", "R1", 1, 10, 0, 1, 1.4),
                        ("A", "P3", "R1", 1, 10, 0, 1, 1.4)])
    draws = np.ones((20, 3))
    draws[:, 1:] = 1.4
    draws[:2, 1] = draws[2:4, 2] = 0.7
    plan = solve(offers, Limits(budget=10.0, mip_gap=0.0), Risk(draws, 0.10))
    assert plan.quantity.tolist() == [0, 5, 5]
    assert plan.risk_value == pytest.approx(10.5)
    quantile_rule = offers_of([("A", "P1", "R1", 1, 10, 0, 1, 1.0),
                               ("A", "P2", "R1", 1, 10, 0, 1, 0.7),
                               ("A", "P3", "R1", 1, 10, 0, 1, 0.7)])
    assert solve(quantile_rule, Limits(budget=10.0, mip_gap=0.0)).quantity.tolist() == [10, 0, 0]
