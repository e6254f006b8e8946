"""What each pending licence is worth: the repair planner (and, with a budget, the
allocation planner) run as things stand on the planning day, and again with one pending
licence (requested or in review) treated as granted.

- Days of repair saved: for every item placed in both runs, its days until back in
  service without the licence less its days with it, summed (an item that went abroad
  without it and is repaired at home with it saves the difference); items the licence lets
  be placed at all are counted apart (``items_gained``).
- Effects gained: the allocation plan's expected effects with the licence less without it,
  at the same budget and limits (over the offers' period).

A licence that no repair point and no offer names unlocks nothing and is not planned
again. Output is sorted by what each unlocks: effects gained, then days saved.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl
from sqlalchemy import select

from kuznia.errors import UsageError
from kuznia.services import params
from kuznia.services import planning as planning_svc
from kuznia.services import repairs as repairs_svc
from kuznia.services.imports import read_checked
from kuznia.services.licences import PENDING_STATUSES, live_ids
from kuznia.services.results import Tabular
from kuznia.services.store import Store
from kuznia.store.schema import licences, offers


@dataclass
class LicenceValue(Tabular):
    on: str
    budget: float | None
    repairs: dict[str, Any]  # the plan as things stand: items, placed, mean days
    allocation: dict[str, Any] | None  # expected effects as things stand (with a budget)
    rows: list[dict[str, Any]] = field(default_factory=list)
    explanation: list[str] = field(default_factory=list)
    rows_key = "licences"

    def to_dict(self) -> dict[str, Any]:
        return {"on": self.on, "budget": self.budget, "repairs": self.repairs,
                "allocation": self.allocation, "licences": self.rows,
                "explanation": self.explanation}


def _days_by_item(plan: repairs_svc.RepairResult) -> dict[str, float]:
    return {a["item_id"]: a["days_to_service"] for a in plan.assignments}


def repair_gain(before: repairs_svc.RepairResult, after: repairs_svc.RepairResult
                ) -> tuple[float, int]:
    """(days saved over the items placed in both plans, items placed only in ``after``)."""
    b, a = _days_by_item(before), _days_by_item(after)
    saved = sum(b[i] - a[i] for i in b.keys() & a.keys())
    return float(saved), len(a.keys() - b.keys())


def _expected(store: Store, budget: float, offers_file: str | Path | None, on: dt.date,
              assume: frozenset[str]) -> tuple[float, str | None]:
    try:
        plan = planning_svc.allocate(store, budget=budget, offers_file=offers_file, on=on,
                                     assume_live=assume)
    except UsageError as exc:  # e.g. every offer needs a licence not live: nothing bought
        return 0.0, str(exc)
    return float(plan.expected_effects or 0.0), None


def licence_value(store: Store, *, backlog: str | Path, repair_points: str | Path,
                  budget: float | None = None, offers_file: str | Path | None = None,
                  on: dt.date | None = None) -> LicenceValue:
    """Run the planners with and without each pending licence (see the module)."""
    on = on or dt.date.today()
    if budget is not None:
        params.finite(budget, "budget", minimum=0, maximum=1e15)
    items, rows = repairs_svc.read_inputs(store, backlog, repair_points)
    with store.read() as conn:
        live = live_ids(conn, on)
        pending = conn.execute(select(licences).where(licences.c.status.in_(PENDING_STATUSES))
                               .order_by(licences.c.licence_id)).all()
        stored_offers = conn.execute(select(offers.c.product_id, offers.c.producer_id,
                                            offers.c.licence_id)
                                     .where(offers.c.licence_id.is_not(None))).all()
    if offers_file is not None:
        frame = read_checked(store, "offers", offers_file)
        offer_rows = frame.filter(pl.col("licence_id").is_not_null()).select(
            "product_id", "producer_id", "licence_id").rows()
    else:
        offer_rows = [tuple(r) for r in stored_offers]
    base = repairs_svc.plan_repairs(items, rows, on, live)
    out = LicenceValue(on.isoformat(), budget, {
        "items": base.items, "placed": base.placed, "mean_days": base.mean_days,
        "excluded_points": len(base.excluded)}, None)
    base_effects = 0.0
    if budget is not None:
        base_effects, why = _expected(store, budget, offers_file, on, frozenset())
        out.allocation = {"expected_effects": base_effects}
        if why:
            out.explanation.append(f"as things stand nothing can be bought: {why}")
    for lic in pending:
        lid = lic.licence_id
        points = sorted({(r["point_id"], r["product_id"]) for r in rows.filter(
            pl.col("licence_id") == lid).iter_rows(named=True)})
        named_offers = sorted({(p, q) for p, q, L in offer_rows if L == lid})
        row: dict[str, Any] = {
            "licence_id": lid, "partner_id": lic.partner_id, "kind": lic.kind,
            "product_id": lic.product_id, "status": lic.status,
            "points": [f"{p}/{q}" for p, q in points],
            "offers": [f"{p}/{q}" for p, q in named_offers],
            "days_saved": 0.0, "items_gained": 0, "mean_days_with": base.mean_days,
            "effects_gained": 0.0 if budget is not None else None,
        }
        if points:
            after = repairs_svc.plan_repairs(items, rows, on, live | {lid})
            row["days_saved"], row["items_gained"] = repair_gain(base, after)
            row["mean_days_with"] = after.mean_days
        if budget is not None and named_offers:
            effects, _ = _expected(store, budget, offers_file, on, frozenset({lid}))
            row["effects_gained"] = effects - base_effects
        out.rows.append(row)
    out.rows.sort(key=lambda r: (-(r["effects_gained"] or 0.0), -r["days_saved"],
                                 -r["items_gained"], r["licence_id"]))
    if not pending:
        out.explanation.append("no licence is pending (requested or in review)")
    out.explanation.append(
        "days saved: over the items placed with and without the licence, days until back "
        "in service without it less with it (against sending them abroad where that is "
        "the other way)" + ("; effects gained: the allocation plan's expected effects at "
                            f"the budget {budget:,.0f}, with the licence less without it"
                            if budget is not None else ""))
    return out
