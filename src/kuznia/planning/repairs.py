"""Where to repair damaged items: a time-expanded transport LP.

Items wait in groups g (product, region they are in), n_g items each. A repair point j
starts up to c_j repairs of its product a month, each taking r_j days, and items reach
it from region g's region in t_gj days (no row for a region: unreachable). Month slots
s = 0, 1, ... stand for the month [30 s, 30 (s + 1)) days in which the repair starts. An
item can only start in a month it has arrived by, t_gj < 30 (s + 1) (else a point's
capacity of earlier months would be spent again in the month items arrive: three items 50
days away from a point that starts 2 a month are back at 60, 60 and 70 days, not 60, 60
and 60). An item sent to j in
slot s is back in service after max(t_gj, 30 s) + r_j days. Then

    min  sum_{g,j,s} y_gjs (max(t_gj, 30 s) + r_j)
    s.t. sum_{j,s} y_gjs = n_g            (every item is placed)
         sum_g y_gjs <= c_j               (a point's monthly capacity, per slot)
         y_gjs = 0 where t_gj >= 30 (s + 1)  (not there yet: no variable at all)
         y >= 0

is a transportation problem: with whole capacities c_j its vertices are integral, so the
LP (HiGHS) gives whole items (capacities are whole repairs started a month; the import
check refuses fractions, and ``plan`` too). Minimising the sum minimises the mean days
until back in service; the time to clear the backlog is the latest finish. Slots run until
every item fits (at most ``MAX_SLOTS`` months); groups that no point of their product can
reach are left out and named.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.sparse import coo_matrix

from kuznia.planning import highs

DAYS_PER_SLOT = 30.0
MAX_SLOTS = 240


@dataclass
class RepairPlan:
    status: str
    flows: list[tuple[int, int, int, int]]  # (group, point, slot, items)
    finish_days: np.ndarray  # (G, J, S) days until back in service per item of that flow
    mean_days: float | None
    clear_days: float | None
    unreachable: np.ndarray  # bool (G,)


def plan(counts: np.ndarray, group_product: np.ndarray, transit: np.ndarray,
         point_product: np.ndarray, capacity: np.ndarray, repair_days: np.ndarray,
         usable: np.ndarray | None = None) -> RepairPlan:
    """``transit`` (G, J) days with NaN where a group cannot reach a point; ``usable``
    (J,) limits the points (e.g. abroad only)."""
    g_n, j_n = transit.shape
    if np.any(capacity != np.floor(capacity)) or np.any(capacity < 0):
        raise ValueError("capacities are whole repairs started a month (0, 1, 2, ...)")
    usable = np.ones(j_n, dtype=bool) if usable is None else usable
    ok = (group_product[:, None] == point_product[None, :]) & ~np.isnan(transit) \
        & (capacity[None, :] > 0) & usable[None, :]
    unreachable = ~ok.any(axis=1) & (counts > 0)
    active = counts > 0
    ok &= active[:, None]
    if not ok.any():
        return RepairPlan("nothing to plan", [], np.zeros((g_n, j_n, 0)), None, None,
                          unreachable)
    # enough slots for every product's items even if they all had to queue at the
    # capacity of the group that reaches the least of it, plus the transit (summing the
    # product's points over-counted it when a group reaches only some of them: three
    # items that reach one of three points starting 1 a month were given 2 slots)
    need = 1
    reach = (capacity[None, :] * ok).sum(axis=1)  # (G,) monthly starts a group can reach
    for p in np.unique(group_product[active & ~unreachable]):
        mine = (group_product == p) & active & ~unreachable
        need = max(need, int(np.ceil(counts[mine].sum() / max(reach[mine].min(), 1e-9))))
    slots = int(min(MAX_SLOTS, need + np.ceil(np.nanmax(np.where(ok, transit, 0))
                                              / DAYS_PER_SLOT) + 1))
    s_idx = np.arange(slots)
    finish = (np.maximum(np.nan_to_num(transit)[:, :, None], DAYS_PER_SLOT * s_idx[None, None, :])
              + repair_days[None, :, None])
    arrived = np.nan_to_num(transit, nan=np.inf)[:, :, None] \
        < DAYS_PER_SLOT * (s_idx[None, None, :] + 1)
    gg, jj, ss = np.nonzero(ok[:, :, None] & arrived)
    n_var = gg.size
    cols = np.arange(n_var)
    rows = np.concatenate([gg, g_n + jj * slots + ss])
    a = coo_matrix((np.ones(2 * n_var), (rows, np.concatenate([cols, cols]))),
                   shape=(g_n + j_n * slots, n_var)).tocsr()
    lo = np.concatenate([np.where(unreachable, 0.0, counts.astype(float)),
                         np.full(j_n * slots, -np.inf)])
    up = np.concatenate([np.where(unreachable, 0.0, counts.astype(float)),
                         np.repeat(capacity.astype(float), slots)])
    sol = highs.solve(finish[gg, jj, ss], np.zeros(n_var), np.full(n_var, np.inf), a, lo, up)
    if not sol.is_ok or sol.x is None:
        return RepairPlan(f"no plan within {MAX_SLOTS} months ({sol.words})", [], finish,
                          None, None, unreachable)
    y = np.rint(sol.x).astype(int)
    used = y > 0
    flows = [(int(g), int(j), int(s), int(k))
             for g, j, s, k in zip(gg[used], jj[used], ss[used], y[used], strict=True)]
    placed = y[used].sum()
    mean = float((y * finish[gg, jj, ss]).sum() / placed) if placed else None
    clear = float(finish[gg, jj, ss][used].max()) if placed else None
    return RepairPlan(sol.words, flows, finish, mean, clear, unreachable)
