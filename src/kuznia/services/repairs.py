"""Plan the repair of a backlog of damaged items at home, and compare with abroad.

Both files are read and checked like imports (``backlog``: item_id, product_id, region,
damaged_on; ``repair_points``: point_id, region, product_id, monthly_capacity,
repair_days, from_region, transit_days, [licence_id], one row per region an item can come
from). A repair point whose region is ``abroad`` is abroad. A point that names a licence
is left out (and named in ``excluded``) unless the licence is live on the planning day
(``services.licences``). The LP is in ``kuznia.planning.repairs``; items of a group take
the flows oldest first.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import polars as pl

from kuznia.errors import UsageError
from kuznia.i18n import N_
from kuznia.planning.repairs import plan
from kuznia.services.imports import read_checked
from kuznia.services.licences import live_ids
from kuznia.services.store import Store

ABROAD = "abroad"


@dataclass
class RepairResult:
    as_of: str
    items: int
    status: str
    mean_days: float | None
    clear_days: float | None
    abroad_mean_days: float | None
    abroad_clear_days: float | None
    abroad_note: str
    points: list[dict[str, Any]] = field(default_factory=list)
    assignments: list[dict[str, Any]] = field(default_factory=list)
    unreachable: list[dict[str, Any]] = field(default_factory=list)
    # points left out: the licence they need is not live on the planning day
    excluded: list[dict[str, Any]] = field(default_factory=list)

    @property
    def placed(self) -> int:
        """Items given a point and a month (the figures are theirs)."""
        return len(self.assignments)

    @property
    def unreachable_items(self) -> int:
        """Items that no repair point of their product can be reached from."""
        return sum(u["items"] for u in self.unreachable)

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in (
            "as_of", "items", "placed", "unreachable_items", "status", "mean_days",
            "clear_days", "abroad_mean_days", "abroad_clear_days", "abroad_note", "points",
            "assignments", "unreachable", "excluded")}


def repairs_plan(store: Store, backlog_path: str | Path | BinaryIO,
                 points_path: str | Path | BinaryIO,
                 as_of: dt.date | None = None, *, backlog_name: str | None = None,
                 points_name: str | None = None) -> RepairResult:
    """Assign every item to a repair point and month to minimise mean days to service."""
    as_of = as_of or dt.date.today()
    items, rows = read_inputs(store, backlog_path, points_path, backlog_name=backlog_name,
                              points_name=points_name)
    with store.read() as conn:
        live = live_ids(conn, as_of)
    return plan_repairs(items, rows, as_of, live)


def read_inputs(store: Store, backlog_path: str | Path | BinaryIO,
                points_path: str | Path | BinaryIO, *,
                backlog_name: str | None = None, points_name: str | None = None
                ) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The backlog and the repair points, read and checked like imports."""
    items = read_checked(store, "backlog", backlog_path, name=backlog_name)
    rows = read_checked(store, "repair_points", points_path, name=points_name)
    if items.is_empty():
        raise UsageError(N_("%(file)s: the backlog is empty"),
                         file=str(backlog_name or backlog_path))
    if rows.is_empty():
        raise UsageError(N_("%(file)s: no repair points"), file=str(points_name or points_path))
    return items, rows


def plan_repairs(items: pl.DataFrame, rows: pl.DataFrame, as_of: dt.date,
                 live: set[str]) -> RepairResult:
    """The plan for checked inputs, with only the points whose licence (if they name one)
    is in ``live``."""
    needs = pl.col("licence_id").is_not_null() & ~pl.col("licence_id").is_in(sorted(live))
    left_out = rows.filter(needs).group_by("point_id", "product_id", maintain_order=True).agg(
        pl.col("licence_id").first())
    rows = rows.filter(~needs)
    items = items.sort("damaged_on", "item_id")
    groups = items.group_by("product_id", "region", maintain_order=True).agg(
        pl.col("item_id"), pl.len().alias("n"))
    points = rows.group_by("point_id", "product_id", maintain_order=True).agg(
        pl.col("region").first(), pl.col("monthly_capacity").first(),
        pl.col("repair_days").first())
    transit = np.full((groups.height, points.height), np.nan)
    t_lookup = {(r["point_id"], r["product_id"], r["from_region"]): r["transit_days"]
                for r in rows.iter_rows(named=True)}
    for gi, (prod, region) in enumerate(groups.select("product_id", "region").iter_rows()):
        for pi, (point, pprod) in enumerate(points.select("point_id", "product_id").iter_rows()):
            if pprod == prod:
                transit[gi, pi] = t_lookup.get((point, prod, region), np.nan)
    products = sorted(set(groups["product_id"]) | set(points["product_id"]))
    g_prod = np.array([products.index(p) for p in groups["product_id"]])
    p_prod = np.array([products.index(p) for p in points["product_id"]])
    cap = points["monthly_capacity"].to_numpy().astype(float)
    days = points["repair_days"].to_numpy().astype(float)
    counts = groups["n"].to_numpy()
    best = plan(counts, g_prod, transit, p_prod, cap, days)
    abroad = np.array([str(r).strip().lower() == ABROAD for r in points["region"]])
    if abroad.any():
        away = plan(counts, g_prod, transit, p_prod, cap, days, usable=abroad)
        note = ("" if not away.unreachable.any() else
                "some items cannot reach a repair point abroad; the figures leave them out")
        a_mean, a_clear = away.mean_days, away.clear_days
    else:
        a_mean = a_clear = None
        note = "no repair point has region 'abroad'"
    result = RepairResult(as_of.isoformat(), int(counts.sum()), best.status, best.mean_days,
                          best.clear_days, a_mean, a_clear, note)
    result.excluded = [{**r, "reason": f"licence {r['licence_id']} is not live on "
                                       f"{as_of.isoformat()}"}
                       for r in left_out.iter_rows(named=True)]
    # plain lists: Polars 2 does not take a NumPy integer as a Series index
    ids = groups["item_id"].to_list()
    g_product, g_region = groups["product_id"].to_list(), groups["region"].to_list()
    p_id, p_product = points["point_id"].to_list(), points["product_id"].to_list()
    p_region = points["region"].to_list()
    taken = [0] * groups.height
    load: dict[tuple[str, str], int] = {}
    for g, j, s, k in sorted(best.flows, key=lambda f: (f[0], f[2], best.finish_days[f[0], f[1],
                                                                                    f[2]])):
        point, prod = p_id[j], p_product[j]
        load[(point, prod)] = load.get((point, prod), 0) + k
        for item in ids[g][taken[g]:taken[g] + k]:
            result.assignments.append({
                "item_id": item, "product_id": prod, "from_region": g_region[g],
                "point_id": point, "start_month": s,
                "days_to_service": float(best.finish_days[g, j, s]),
                "back_in_service_on": (as_of + dt.timedelta(
                    days=float(best.finish_days[g, j, s]))).isoformat(),
            })
        taken[g] += k
    for j in range(points.height):
        key = (p_id[j], p_product[j])
        result.points.append({"point_id": key[0], "product_id": key[1],
                              "region": p_region[j], "abroad": bool(abroad[j]),
                              "monthly_capacity": float(cap[j]), "items": load.get(key, 0)})
    for g in np.flatnonzero(best.unreachable).tolist():
        result.unreachable.append({"product_id": g_product[g], "region": g_region[g],
                                   "items": int(counts[g]), "item_ids": ids[g]})
    return result
