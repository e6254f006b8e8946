"""The board: every unresolved problem as a block, stacked per producer and product.

Blocks (weights and aging in ``kuznia.analytics.board``):

- ``corrective_action``: an action whose fix is ``open``, ``awaiting_data`` or
  ``not_effective``; it leaves when the uses verify the fix (and its mode leaves with it);
- ``failure_mode``: a mode no corrective action names, failing at least ``threshold`` times
  per 100 uses of a producer's product (and at least ``MIN_FAILURES`` times);
- ``late_delivery``: a contract past its due date with less accepted than ordered;
- ``rejected_lot``: a delivery with rejected units, while its contract is still short.

Everything is read from the kept failure cube, the corrective actions and the contracts and
deliveries (SQL aggregates), never from a rescan of uses.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from typing import Any

import polars as pl
from sqlalchemy import and_, func, select

from kuznia.analytics.board import MONEY_WEIGHT, aged_weights, stacks
from kuznia.services import params
from kuznia.services.failures import (
    cube_frame,
    fixes,
    rates_by_mode,
    severities,
    severity_of,
)
from kuznia.services.store import Store
from kuznia.store.schema import contracts, corrective_actions, deliveries
from kuznia.words import day_en as day  # the data speak English; pages translate
from kuznia.words import say_en as say

THRESHOLD = params.BOARD_THRESHOLD  # failures per 100 uses
MIN_FAILURES = 3
MIN_USES_AFTER = 30  # below this, an action's weight uses the rate before the fix
FIX_CONFIDENCE, FIX_REDUCTION = 0.95, 0.5  # services.failures.fixes's defaults
KINDS = ("corrective_action", "failure_mode", "late_delivery", "rejected_lot")


@dataclass
class Board:
    as_of: dt.date
    threshold: float
    blocks: list[dict[str, Any]] = field(default_factory=list)

    @property
    def stacks(self) -> list[dict[str, Any]]:
        return stacks(self.blocks)

    def to_dict(self) -> dict[str, Any]:
        return {"as_of": self.as_of.isoformat(), "threshold_per_100": self.threshold,
                "blocks": self.blocks,
                "stacks": [{k: v for k, v in s.items() if k != "blocks"}
                           | {"blocks": len(s["blocks"])} for s in self.stacks]}

    def __len__(self) -> int:
        return len(self.blocks)


def board(store: Store, producer: str | None = None, product: str | None = None,
          as_of: dt.date | None = None, threshold: float = THRESHOLD, *,
          scope: str | None = None) -> Board:
    """Build the board as of a date (default today).

    With ``scope`` (a producer's own board), every block is computed from that producer's
    records alone: a product-wide failure mode is judged on its uses, not the others'.
    """
    if scope is not None:
        if producer is not None and producer != scope:
            return Board(as_of or dt.date.today(), threshold, [])
        producer = scope
    params.finite(threshold, "threshold", minimum=0)  # NaN and infinity too
    as_of = as_of or dt.date.today()
    raw: list[dict[str, Any]] = []
    with store.read() as conn:
        cube = cube_frame(conn, product, scope)
        sev = severities(conn, product)
        named = {(p, m) for p, m in conn.execute(
            select(corrective_actions.c.product_id, corrective_actions.c.failure_mode))}
        raw += _deliveries(conn, as_of, producer, product)
    raw += _actions(store, cube, sev, product, scope, producer or None)
    raw += _modes(cube, sev, named, threshold)
    if producer:
        theirs = set(cube.filter(pl.col("producer_id") == producer)["product_id"].unique())
        raw = [b for b in raw if b["producer_id"] == producer
               or (b["producer_id"] is None and b["product_id"] in theirs)]
    raw = [b for b in raw if dt.date.fromisoformat(b["opened_on"]) <= as_of]
    ages = [(as_of - dt.date.fromisoformat(b["opened_on"])).days for b in raw]
    weights = aged_weights([b["base_weight"] for b in raw], ages)
    for b, age, w in zip(raw, ages, weights, strict=True):
        b["age_days"] = age
        b["weight"] = round(float(w), 4)
    raw.sort(key=lambda b: (-b["weight"], b["kind"], b["ref"]))
    return Board(as_of, threshold, raw)


def _block(kind: str, ref: str, producer: str | None, product: str, opened_on: str,
           base: float, detail: str, clears: str) -> dict[str, Any]:
    return {"kind": kind, "ref": ref, "producer_id": producer or None, "product_id": product,
            "opened_on": opened_on, "age_days": 0, "weight": 0.0,
            "base_weight": round(base, 4), "detail": detail, "clears": clears}


def _actions(store: Store, cube: pl.DataFrame, sev: dict, product: str | None,
             scope: str | None = None, producer: str | None = None
             ) -> list[dict[str, Any]]:
    overall = {(p, m): x / n for p, m, x, n in
               rates_by_mode(cube.with_columns(pl.lit("").alias("producer_id")))
               .select("product_id", "failure_mode", "x", "n").iter_rows()}
    out = []
    for r in fixes(store, product, scope=scope, shown_to=producer):  # the rest is not shown
        if r["status"] == "verified":
            continue
        if r["uses_after"] >= MIN_USES_AFTER:
            rate, basis = r["rate_after"], "after the fix"
        elif r["rate_before"] is not None:
            rate, basis = r["rate_before"], "before the fix"
        else:
            rate, basis = overall.get((r["product_id"], r["failure_mode"]), 0.01), "all uses"
        s = severity_of(sev, r["product_id"], r["failure_mode"])
        out.append(_block(
            "corrective_action", r["action_id"], r["producer_id"], r["product_id"],
            r["opened_on"], s * 100 * rate,
            f"{say(r['failure_mode'])} fix in {r['fixed_in_version']}: {say(r['status'])}; "
            f"severity {s}, {100 * rate:.2f} failures per 100 uses {basis}",
            _action_clears(r)))
    return out


def _action_clears(r: dict[str, Any]) -> str:
    """What clears a corrective action's block, as the fix's own test says it."""
    fixed, mode = r["fixed_in_version"], say(r["failure_mode"])
    text = (f"Cleared when version {fixed} and later show fewer {mode} failures per use "
            f"than the versions before, with {100 * FIX_CONFIDENCE:.0f}% confidence")
    if r["status"] == "not_effective":
        return text + (f": the uses so far show {fixed} did not remove even "
                       f"{100 * FIX_REDUCTION:.0f}% of them, so a new fix is needed")
    if r.get("uses_needed"):
        return text + f": about {int(r['uses_needed']):,} more uses of {fixed} needed"
    return text + f": the uses of {fixed} so far do not show it yet"


def _mode_clears(mode: str, failures: int, uses: int, threshold: float) -> str:
    """What clears a failure mode's block: a corrective action, or a rate below the
    threshold (how many more uses without this failure that takes at today's count).

    >>> _mode_clears("fuze_dud", 5, 100, 1.0).split(": ")[-1]
    'about 401 more uses without one'
    """
    more = max(0, math.floor(100 * failures / threshold) + 1 - uses) if threshold > 0 else 0
    text = (f"Cleared when a corrective action is opened for {say(mode)} (its fix is then "
            f"judged on the uses)")
    if threshold > 0:
        text += (f", or when these failures fall below {threshold:g} per 100 uses: about "
                 f"{more:,} more uses without one")
    return text


def _modes(cube: pl.DataFrame, sev: dict, named: set, threshold: float
           ) -> list[dict[str, Any]]:
    out = []
    for p, q, m, x, first, n in rates_by_mode(cube).select(
            "product_id", "producer_id", "failure_mode", "x", "first_on", "n").iter_rows():
        if (p, m) in named or x < MIN_FAILURES or 100 * x / n < threshold:
            continue
        s = severity_of(sev, p, m)
        out.append(_block("failure_mode", f"{p}/{m}", q, p, first, s * 100 * x / n,
                          f"{say(m)}: {x} failures in {n} uses ({100 * x / n:.2f} per 100), "
                          f"severity {s}, no corrective action",
                          _mode_clears(m, x, n, threshold)))
    return out


def _deliveries(conn: Any, as_of: dt.date, producer: str | None, product: str | None
                ) -> list[dict[str, Any]]:
    d = deliveries.c
    c = contracts.c
    got = (select(d.contract_id, func.sum(d.accepted_quantity).label("accepted"))
           .where(d.delivered_on <= as_of).group_by(d.contract_id).subquery("got"))
    accepted = func.coalesce(got.c.accepted, 0)
    q = (select(c.contract_id, c.producer_id, c.product_id, c.quantity, c.due_on,
                accepted.label("accepted"))
         .select_from(contracts.outerjoin(got, got.c.contract_id == c.contract_id))
         .where(accepted < c.quantity))
    if producer:
        q = q.where(c.producer_id == producer)
    if product:
        q = q.where(c.product_id == product)
    out = []
    short: set[str] = set()
    qty_c: dict[str, int] = {}
    for cid, q_, p, qty, due, acc in conn.execute(q):
        qty, acc = int(qty), int(acc)  # PostgreSQL sums come back as Decimal
        short.add(cid)
        qty_c[cid] = qty
        if due is not None and due < as_of:
            missing = (qty - acc) / qty
            out.append(_block("late_delivery", cid, q_, p, due.isoformat(),
                              MONEY_WEIGHT * missing,
                              f"{acc:,} of {qty:,} accepted, due {day(due)}",
                              f"Cleared when {qty - acc:,} more units of contract {cid} "
                              "are accepted"))
    if not short:
        return out
    lots = (select(d.delivery_id, d.lot, d.delivered_on, d.quantity, d.accepted_quantity,
                   c.contract_id, c.producer_id, c.product_id)
            .select_from(deliveries.join(contracts, c.contract_id == d.contract_id))
            .where(and_(d.accepted_quantity < d.quantity, d.delivered_on <= as_of)))
    if producer:
        lots = lots.where(c.producer_id == producer)
    if product:
        lots = lots.where(c.product_id == product)
    for did, lot, on, qty, acc, cid, q_, p in conn.execute(lots):
        qty, acc = int(qty), int(acc)
        if cid not in short:
            continue  # the contract has been made good since
        out.append(_block("rejected_lot", lot or did, q_, p, on.isoformat(),
                          MONEY_WEIGHT * (qty - acc) / qty,
                          f"{qty - acc:,} of {qty:,} rejected (contract {cid})",
                          f"Cleared when contract {cid} has all {qty_c.get(cid, 0):,} units "
                          "accepted (a lot delivered to make good the rejected units)"))
    return out
