"""Split a budget over offers for the most expected confirmed effects (a MILP, HiGHS).

Variables, per offer i: k_i, the number of lots bought (units x_i = L_i k_i), an integer,
or where a minimum order applies a semi-integer (0, or between ceil(min_order / L_i) and the
lots capacity allows: HiGHS handles this natively, with no binary and no extra rows). Per
product p, T_p, its total units; S, the total spend. Maximise sum e_i x_i subject to

    sum p_i x_i <= budget
    m_i y_i <= x_i <= cap_i y_i                  (0, or between min_order and capacity)
    x_i <= share * T_p                           (--max-producer-share)
    sum_{i in region r} p_i x_i <= share * S     (--max-region-share)
    sum_{i in category c} p_i x_i >= share * budget   (--min-category-share)
    T_p >= required_p                            (--require)

Product totals and the spend are variables of their own so that each share row has two
non-zeros, not one per offer of the product: 20,000 offers build in milliseconds.

Plans under risk (``Risk``): rather than maximising effects at each offer's own pessimistic
rate (which is not the plan's pessimistic figure), maximise the
plan's own lower-tail mean (CVaR at level q) over S draws of all the rates at once, a
sample-average approximation (Rockafellar & Uryasev 2000):

    max  eta - 1/(q S) sum_s u_s
    s.t. u_s >= eta - sum_i r_si L_i k_i,  u_s >= 0     (one row per draw s)

with the same limits as above; eta at the optimum is the plan's q-quantile over the draws.
Each draw's row holds every offer, so the model grows with S x offers.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.sparse import csr_matrix

from kuznia.planning import highs
from kuznia.planning.highs import SolverResult, Status


@dataclass(frozen=True)
class Offers:
    """One entry per offer; effects_per_unit is the point the plan maximises."""

    product_id: NDArray[np.str_]
    producer_id: NDArray[np.str_]
    region: NDArray[np.str_]
    category: NDArray[np.str_]
    unit_price: NDArray[np.float64]
    capacity: NDArray[np.int64]
    min_order: NDArray[np.int64]
    lot_size: NDArray[np.int64]
    effects_per_unit: NDArray[np.float64]
    # the rates' uncertainty: joint posterior draws of effects per unit (draws x rates,
    # ``planning.rates``), and each offer's column in them (-1: the rate was given and is
    # taken as known). Offers of one product and producer share a column.
    rate_draws: NDArray[np.float64] | None = None
    rate_column: NDArray[np.int64] | None = None

    def __len__(self) -> int:
        return len(self.unit_price)

    def draws_of(self, which: NDArray[np.int64], draws: int | None = None
                 ) -> NDArray[np.float64]:
        """Draws x offers ``which``: each offer's rate in every joint draw (the first
        ``draws`` of them); a given rate, or every rate without draws, stays fixed."""
        which = np.asarray(which, dtype=np.int64)
        if self.rate_draws is None or self.rate_column is None:
            return np.broadcast_to(self.effects_per_unit[which], (draws or 1, which.size)
                                   ).copy()
        table = self.rate_draws[:draws]
        out = np.broadcast_to(self.effects_per_unit[which], (table.shape[0], which.size)
                              ).copy()
        col = self.rate_column[which]
        drawn = col >= 0
        out[:, drawn] = table[:, col[drawn]]
        return out

    @property
    def max_lots(self) -> NDArray[np.int64]:
        return self.capacity // self.lot_size


@dataclass(frozen=True)
class Risk:
    """Draws of every offer's effects per unit (S x offers) and the tail level q: the plan
    maximises the mean of its worst q share of draws (CVaR)."""

    draws: NDArray[np.float64]
    level: float = 0.10


@dataclass(frozen=True)
class Limits:
    budget: float
    max_producer_share: float | None = None
    max_region_share: float | None = None
    min_category_share: dict[str, float] = field(default_factory=dict)
    require: dict[str, int] = field(default_factory=dict)
    time_limit: float = 60.0
    mip_gap: float = 1e-3


@dataclass
class Allocation:
    status: Status
    quantity: NDArray[np.int64]
    expected_effects: float = 0.0
    total_cost: float = 0.0
    gap: float | None = None
    risk_value: float | None = None  # the plan's CVaR over the draws, when chosen for it
    build_seconds: float = 0.0
    solve_seconds: float = 0.0
    explanation: list[str] = field(default_factory=list)
    solver: SolverResult | None = None  # what HiGHS gave (None: no solve was needed)

    @property
    def words(self) -> str:
        """The outcome in words ("best found within the time limit, gap 0.2%")."""
        return self.solver.words if self.solver is not None else str(self.status)


class _Rows:
    """Constraint rows gathered block by block, then handed to HiGHS as one CSR matrix."""

    def __init__(self) -> None:
        self.lower: list[NDArray[np.float64]] = []
        self.upper: list[NDArray[np.float64]] = []
        self.lengths: list[NDArray[np.int64]] = []
        self.index: list[NDArray[np.int64]] = []
        self.value: list[NDArray[np.float64]] = []

    def add(self, row_of: NDArray[np.int64], col: NDArray[np.int64], val: NDArray[np.float64],
            lower: NDArray[np.float64], upper: NDArray[np.float64]) -> int:
        """Rows numbered 0..len(lower)-1 in this block; entries (row_of, col, val)."""
        order = np.argsort(row_of, kind="stable")
        self.lengths.append(np.bincount(row_of, minlength=len(lower)))
        self.index.append(np.asarray(col)[order])
        self.value.append(np.asarray(val, dtype=float)[order])
        self.lower.append(np.asarray(lower, dtype=float))
        self.upper.append(np.asarray(upper, dtype=float))
        return len(lower)

    def csr(self, n_cols: int) -> tuple[csr_matrix, NDArray[np.float64], NDArray[np.float64]]:
        """The rows as one matrix, and their lower and upper bounds."""
        lengths = np.concatenate(self.lengths)
        indptr = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        matrix = csr_matrix((np.concatenate(self.value), np.concatenate(self.index),
                             indptr), shape=(lengths.size, n_cols))
        return matrix, np.concatenate(self.lower), np.concatenate(self.upper)


@dataclass
class _Model:
    n_cols: int
    col_lower: NDArray[np.float64]
    col_upper: NDArray[np.float64]
    cost: NDArray[np.float64]
    integer: NDArray[np.int64]  # columns that are integer
    semi: NDArray[np.int64]  # of those, the semi-integer ones (0, or lower..upper)
    rows: _Rows
    budget_col: int | None = None  # the budget as a fixed column (for ranging), if asked


def _codes(labels: NDArray[Any]) -> tuple[NDArray[Any], NDArray[np.int64]]:
    uniq, inv = np.unique(labels, return_inverse=True)
    return uniq, inv.ravel()


def build(offers: Offers, limits: Limits, budget_column: bool = False,
          risk: Risk | None = None) -> _Model:
    """The model; with ``budget_column`` the budget is a column fixed at its value, and
    every row it bounds (the budget, the category shares) refers to that column, so that
    the column's reduced cost is what one more unit of budget buys and its bound ranging
    is the budget range over which that holds (the LP relaxation's sensitivity)."""
    n = len(offers)
    L = offers.lot_size.astype(float)
    # money rows in units of budget/1000: the same answer, and well scaled for the solver
    unit = limits.budget / 1000 if limits.budget > 0 else 1.0
    price_lot = offers.unit_price * L / unit
    k = np.arange(n)
    # columns: k_i (0..n-1), then y_i for min orders, then T_p, then spend S
    # a minimum order makes k_i semi-integer: 0, or between ceil(min/L) and max lots
    semi = np.flatnonzero(offers.min_order > 0)
    products, prod_of = _codes(offers.product_id)
    use_totals = bool(limits.max_producer_share is not None or limits.require)
    t0 = n
    n_t = len(products) if use_totals else 0
    s_col = t0 + n_t
    use_spend = limits.max_region_share is not None
    b_col = s_col + (1 if use_spend else 0)
    r_col = b_col + (1 if budget_column else 0)  # eta, then u_1..u_S
    n_draws = 0 if risk is None else risk.draws.shape[0]
    n_cols = r_col + (1 + n_draws if risk is not None else 0)

    lower = np.zeros(n_cols)
    upper = np.full(n_cols, np.inf)
    upper[:n] = offers.max_lots
    lower[semi] = -(-offers.min_order[semi] // offers.lot_size[semi])  # ceil
    if use_totals:
        for pid, units in limits.require.items():
            hit = np.flatnonzero(products == pid)
            if hit.size:
                lower[t0 + hit[0]] = units
    if budget_column:
        lower[b_col] = upper[b_col] = limits.budget / unit
    cost = np.zeros(n_cols)
    if risk is None:
        cost[:n] = offers.effects_per_unit * L
    else:
        lower[r_col] = -np.inf
        cost[r_col] = 1.0
        cost[r_col + 1:] = -1.0 / (risk.level * n_draws)
    rows = _Rows()
    one = np.ones(n)

    def with_budget(members: NDArray[np.int64], factor: float, lo: float, up: float) -> None:
        """sum_{i in members} p_i L_i k_i within factor B + [lo, up] (B: the budget's
        value, or its column)."""
        if budget_column:
            rows.add(np.zeros(len(members) + 1, np.int64), np.append(members, b_col),
                     np.append(price_lot[members], -factor), np.array([lo]), np.array([up]))
        else:
            b = factor * limits.budget / unit
            rows.add(np.zeros(len(members), np.int64), members, price_lot[members],
                     np.array([lo + b]), np.array([up + b]))

    with_budget(k, 1.0, -np.inf, 0.0)  # budget: sum p_i L_i k_i <= B
    if use_totals:  # sum_{i in p} L_i k_i - T_p = 0
        rows.add(np.concatenate([prod_of, np.arange(n_t)]),
                 np.concatenate([k, t0 + np.arange(n_t)]),
                 np.concatenate([L, -np.ones(n_t)]), np.zeros(n_t), np.zeros(n_t))
    if limits.max_producer_share is not None:  # L_i k_i - share T_p <= 0
        rows.add(np.concatenate([k, k]), np.concatenate([k, t0 + prod_of]),
                 np.concatenate([L, -limits.max_producer_share * one]),
                 np.full(n, -np.inf), np.zeros(n))
    if limits.max_region_share is not None:  # (use_spend) sum p_i L_i k_i - S = 0 ;
        # sum_{r} p L k - share S <= 0
        rows.add(np.zeros(n + 1, np.int64), np.concatenate([k, [s_col]]),
                 np.concatenate([price_lot, [-1.0]]), np.zeros(1), np.zeros(1))
        regions, reg_of = _codes(offers.region)
        nr = len(regions)
        rows.add(np.concatenate([reg_of, np.arange(nr)]),
                 np.concatenate([k, np.full(nr, s_col)]),
                 np.concatenate([price_lot, np.full(nr, -limits.max_region_share)]),
                 np.full(nr, -np.inf), np.zeros(nr))
    for cat, share in limits.min_category_share.items():  # sum_{i in c} p L k >= share B
        with_budget(np.flatnonzero(offers.category == cat), share, 0.0, np.inf)
    if risk is not None:  # sum_i r_si L_i k_i - eta + u_s >= 0, one row per draw
        s_of = np.repeat(np.arange(n_draws), n)
        rows.add(np.concatenate([s_of, np.arange(n_draws), np.arange(n_draws)]),
                 np.concatenate([np.tile(k, n_draws), np.full(n_draws, r_col),
                                 r_col + 1 + np.arange(n_draws)]),
                 np.concatenate([(risk.draws * L[None, :]).ravel(), -np.ones(n_draws),
                                 np.ones(n_draws)]),
                 np.zeros(n_draws), np.full(n_draws, np.inf))
    # a minimum order above capacity leaves only 0
    impossible = semi[lower[semi] > upper[semi]]
    lower[impossible] = upper[impossible] = 0
    semi = np.setdiff1d(semi, impossible)
    return _Model(n_cols, lower, upper, cost, k, semi, rows,
                  budget_col=b_col if budget_column else None)


def _solve(model: _Model, limits: Limits, relax: bool = False) -> SolverResult:
    """The model through the one HiGHS wrapper; ``relax``: its LP relaxation, with the
    duals and ranging that say what more budget buys."""
    matrix, row_lower, row_upper = model.rows.csr(model.n_cols)
    lower = model.col_lower.copy()
    if relax:  # a semi-integer's hull: 0..upper
        lower[model.semi] = 0.0
    # HiGHS's presolve turns each semi-integer (a minimum order) into a binary and an
    # integer, and the root of that model takes longer than the whole search without it:
    # on the 20,000-offer benchmark 3.2-3.8 s against 1.5-2.6 s (five instances, the same
    # plans within the gap), and on a 1,000-offer plan under risk it had no good plan
    # after 300 s where without it the optimum came in 1 s (docs/benchmarks.md). The LP
    # relaxation keeps presolve.
    return highs.solve(model.cost, lower, model.col_upper, matrix, row_lower, row_upper,
                       None if relax else model.integer, semi=model.semi, maximise=True,
                       time_limit=limits.time_limit, gap=limits.mip_gap, presolve=relax,
                       sensitivity=relax)


def solve(offers: Offers, limits: Limits, risk: Risk | None = None) -> Allocation:
    """The best plan HiGHS finds within the time limit and gap; never raises on bad luck.
    A solve stopped by the time limit keeps the best plan found (status ``feasible``,
    with its gap). With ``risk``, the plan with the best lower-tail mean over the draws
    (see the module doc); ``expected_effects`` stays at ``effects_per_unit``."""
    n = len(offers)
    offered = set(offers.product_id.tolist())
    if any(units > 0 and pid not in offered for pid, units in limits.require.items()):
        return Allocation(Status.INFEASIBLE, np.zeros(n, np.int64))  # nothing can meet it
    t = time.perf_counter()
    model = build(offers, limits, risk=risk)
    built = time.perf_counter() - t
    got = _solve(model, limits)
    result = Allocation(got.status, np.zeros(n, np.int64), build_seconds=built,
                        solve_seconds=got.seconds, solver=got)
    if got.is_ok and got.x is not None:
        lots = np.rint(got.x[:n]).astype(np.int64)
        result.quantity = lots * offers.lot_size
        result.expected_effects = float(result.quantity @ offers.effects_per_unit)
        result.total_cost = float(result.quantity @ offers.unit_price)
        result.gap = got.gap
        if risk is not None:
            result.risk_value = got.objective
    return result


@dataclass(frozen=True)
class BudgetRate:
    """What more budget buys, from the LP relaxation: ``rate`` expected effects per unit of
    money, holding while the budget stays at most ``holds_to`` (inf: any budget), where
    the relaxation reaches ``effects_there``; past it the rate is ``next_rate`` (lower:
    the relaxation's value is concave in the budget; None where no plan meets the limits
    past it, or none was found). The rate is negative where a minimum category share,
    which grows with the budget, forces money onto offers that buy fewer effects."""

    rate: float
    holds_to: float
    effects_there: float | None
    next_rate: float | None = None


def _rate_at(offers: Offers, limits: Limits) -> tuple[float, float, float | None] | None:
    """(rate, the budget up to which the optimal basis stays, the value there) at
    ``limits.budget``: the budget column's reduced cost and HiGHS's ranging of its bound."""
    model = build(offers, limits, budget_column=True)
    got = _solve(model, limits, relax=True)
    if not got.optimal or got.col_dual is None:
        return None
    col = model.budget_col
    assert col is not None
    unit = limits.budget / 1000 if limits.budget > 0 else 1.0
    # negative where a minimum category share, which grows with the budget, forces money
    # onto offers that buy fewer effects
    rate = float(got.col_dual[col]) / unit
    rate = 0.0 if abs(rate) < 1e-12 else rate
    if got.bound_up_value is None or got.bound_up_objective is None:
        return rate, float(limits.budget), None
    up = float(got.bound_up_value[col])
    if not np.isfinite(up):
        return rate, float("inf"), None
    return rate, float(max(limits.budget, up * unit)), float(got.bound_up_objective[col])


def budget_rate(offers: Offers, limits: Limits, steps: int = 6) -> BudgetRate | None:
    """The budget's rate, and the range over which it holds, by ranging the budget column.

    A basis's range can end where another basis with the same rate takes over (ties in
    effects per unit of money, common when several offers share a rate), so the range is
    extended by solving again just past its end, at most ``steps`` times, until the rate
    falls: that rate is ``next_rate``. Usually two LP solves. An LP figure: the integer
    plan gains in whole lots, so read it as a rate."""
    first = _rate_at(offers, limits)
    if first is None:
        return None
    rate, holds_to, there = first
    for _ in range(steps):
        if not np.isfinite(holds_to):
            return BudgetRate(rate, holds_to, None)
        past = holds_to + 1e-6 * max(holds_to, 1.0)
        got = _rate_at(offers, replace(limits, budget=past))
        if got is None:  # past the range no plan meets the limits (e.g. category shares)
            return BudgetRate(rate, holds_to, there)
        if got[0] < rate - 1e-7 * abs(rate) - 1e-12:
            return BudgetRate(rate, holds_to, there, got[0])
        holds_to, there = got[1], got[2]  # the same rate: the range goes on
    return BudgetRate(rate, holds_to, there)


def greedy(offers: Offers, limits: Limits) -> Allocation:
    """The rule of thumb: cheapest cost per effect first, each to capacity, until the money
    runs out. Only capacity, lots, minimum orders and the budget are respected."""
    q = np.zeros(len(offers), np.int64)
    left = float(limits.budget)
    with np.errstate(divide="ignore"):
        cpe = np.where(offers.effects_per_unit > 0,
                       offers.unit_price / offers.effects_per_unit, np.inf)
    # plain Python numbers in the loop: it visits every offer once
    price, lot = offers.unit_price.tolist(), offers.lot_size.tolist()
    max_lots, min_order = offers.max_lots.tolist(), offers.min_order.tolist()
    for i in np.argsort(cpe, kind="stable").tolist():
        if not np.isfinite(cpe[i]):
            break
        lot_cost = price[i] * lot[i]
        lots = int(min(max_lots[i], left // lot_cost)) if lot_cost > 0 else 0
        units = lots * lot[i]
        if units < min_order[i]:
            continue
        q[i] = units
        left -= units * price[i]
    return Allocation(Status.FEASIBLE, q, float(q @ offers.effects_per_unit),
                      float(q @ offers.unit_price))


def effects_interval(offers: Offers, quantity: NDArray[np.int64], level: float = 0.90
                     ) -> tuple[float, float]:
    """Interval of a plan's expected effects over the joint draws of the rates
    (``Offers.rate_draws``): rates given by the user count as certain; the others move
    together as the model has them, whatever point (mean or a tail) the plan was chosen
    for."""
    bought = np.flatnonzero(quantity > 0)  # only what the plan buys can vary its effects
    totals = offers.draws_of(bought) @ quantity[bought]
    tail = (1 - level) / 2
    return float(np.quantile(totals, tail)), float(np.quantile(totals, 1 - tail))
