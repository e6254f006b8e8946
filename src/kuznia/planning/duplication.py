"""Which duplicate lines to build: a sample-average-approximation MILP, and a greedy rule.

Given simulated scenarios (common random numbers: the same strikes for the existing sites
and every candidate), choose candidates x_c in {0, 1} within the budget to minimise the
weighted expected shortfall:

    min  (1/N) sum_{n,p,m} w_p u_{npm}
    s.t. I_{npm} = I_{np,m-1} + out_{npm} + sum_{c of p} a_{ncm} x_c - D_p + u_{npm}
         I_{np,-1} = stock_p,  I >= 0,  u >= 0,  sum_c cost_c x_c <= budget

``out`` is what the existing sites make, ``a`` what candidate c would make in that
scenario and month. Unmet demand is lost; with equal weights over months, serving demand as
early as possible is optimal, so the LP's u is exactly the shortfall ``strikes.shortfall``
computes. Only products with candidates enter the model; the others' shortfall is a
constant. Solved by HiGHS; the choice is then judged on fresh scenarios by the caller.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.sparse import coo_matrix

from kuznia.analytics.strikes import shortfall
from kuznia.planning import highs


@dataclass
class Choice:
    chosen: np.ndarray  # bool (C,); nothing when the solver found no solution
    objective: float | None  # weighted expected shortfall on the scenarios chosen on
    solver: highs.SolverResult  # optimal, or the best found within the time limit

    @property
    def status(self) -> highs.Status:
        return self.solver.status


def weighted_shortfall(base: np.ndarray, extra: np.ndarray, cand_product: np.ndarray,
                       chosen: np.ndarray, demand: np.ndarray, stock: np.ndarray,
                       weights: np.ndarray) -> np.ndarray:
    """Per scenario: sum over products and months of w_p x shortfall, with ``chosen`` built."""
    out = base.astype(np.float64, copy=True)
    for c in np.flatnonzero(chosen):
        out[:, :, cand_product[c]] += extra[:, :, c]
    return np.asarray((shortfall(out, demand, stock) * weights).sum(axis=(1, 2)))


def choose(base: np.ndarray, extra: np.ndarray, cand_product: np.ndarray, cost: np.ndarray,
           budget: float, demand: np.ndarray, stock: np.ndarray, weights: np.ndarray, *,
           time_limit: float = 60.0, gap: float = 1e-4) -> Choice:
    """Solve the SAA MILP. ``base`` (N, H, P), ``extra`` (N, H, C). A solve stopped by
    the time limit keeps the best choice found."""
    n, months, n_prod = base.shape
    n_cand = cost.size
    pairs = n * n_prod * months
    col_u = n_cand + 2 * np.arange(pairs)
    col_i = col_u + 1
    row = np.arange(pairs)
    m_of_row = row % months
    p_of_row = (row // months) % n_prod
    later = m_of_row > 0  # rows with a previous month: I_{m-1} sits two columns back
    rows_i = [row, row, row[later]]
    cols_i = [col_i, col_u, col_i[later] - 2]
    vals = [np.ones(pairs), -np.ones(pairs), -np.ones(int(later.sum()))]
    # candidate columns: -a[n, m, c] in the row of (n, product of c, m)
    nn, mm, cc = np.meshgrid(np.arange(n), np.arange(months), np.arange(n_cand), indexing="ij")
    r_c = (nn * n_prod + cand_product[cc]) * months + mm
    rows_i.append(r_c.ravel())
    cols_i.append(cc.ravel())
    vals.append(-extra.reshape(-1).astype(np.float64))
    # the budget row
    rows_i.append(np.full(n_cand, pairs))
    cols_i.append(np.arange(n_cand))
    vals.append(cost.astype(np.float64))
    a = coo_matrix((np.concatenate(vals), (np.concatenate(rows_i), np.concatenate(cols_i))),
                   shape=(pairs + 1, n_cand + 2 * pairs)).tocsr()
    rhs = (base.astype(np.float64) - demand[None, None, :]).transpose(0, 2, 1).reshape(-1)
    rhs = rhs + np.where(m_of_row == 0, stock[p_of_row], 0.0)
    lower = np.concatenate([rhs, [-np.inf]])
    upper = np.concatenate([rhs, [float(budget)]])
    cost_vec = np.zeros(n_cand + 2 * pairs)
    cost_vec[col_u] = weights[p_of_row] / n
    col_lower = np.zeros(cost_vec.size)
    col_upper = np.full(cost_vec.size, np.inf)
    col_upper[:n_cand] = 1.0
    sol = highs.solve(cost_vec, col_lower, col_upper, a, lower, upper,
                      np.arange(n_cand), time_limit=time_limit, gap=gap)
    chosen = (sol.x[:n_cand] > 0.5 if sol.is_ok and sol.x is not None
              else np.zeros(n_cand, dtype=bool))
    return Choice(chosen, sol.objective, sol)


def greedy(base: np.ndarray, extra: np.ndarray, cand_product: np.ndarray, cost: np.ndarray,
           budget: float, demand: np.ndarray, stock: np.ndarray, weights: np.ndarray
           ) -> np.ndarray:
    """The rule of thumb: add the candidate that cuts shortfall most per unit of money,
    while one fits in the budget and still helps."""
    chosen = np.zeros(cost.size, dtype=bool)
    spent = 0.0
    current = weighted_shortfall(base, extra, cand_product, chosen, demand, stock,
                                 weights).mean()
    while True:
        best, best_gain, best_value = -1, 0.0, current
        for c in np.flatnonzero(~chosen & (cost <= budget - spent + 1e-9)):
            trial = chosen.copy()
            trial[c] = True
            value = weighted_shortfall(base, extra, cand_product, trial, demand, stock,
                                       weights).mean()
            gain = (current - value) / max(cost[c], 1e-9)
            if gain > best_gain:
                best, best_gain, best_value = int(c), gain, value
        if best < 0:
            return chosen
        chosen[best] = True
        spent += cost[best]
        current = best_value
