"""Failure modes and fixes, answered from the kept cubes (no rescan of uses): uses and
failures per mode from ``failure_cube``, per lot from ``use_cube``, per lot and mode from
``lot_failure_cube``.

``failures`` is the Pareto of failure modes, by version and by a condition's value;
``fixes`` judges each corrective action from the uses before and after its version (the
statistics are in ``kuznia.analytics.fixes``). Both read a few thousand cube rows at most.

Versions are ordered by ``introduced_on`` (then by name). Uses that name no version cannot
be put before or after a fix: they count in the Pareto but not in a fix's verdict.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl
from sqlalchemy import Connection, func, select

from kuznia.analytics.failures import clustered_interval, mode_dispersion, pareto_order
from kuznia.analytics.fixes import AWAITING, OPEN, verdict
from kuznia.errors import UsageError
from kuznia.i18n import N_
from kuznia.services.results import Tabular
from kuznia.services.store import Store
from kuznia.services.trace import uses_command
from kuznia.store.schema import (
    corrective_actions,
    failure_cube,
    failure_modes,
    lot_failure_cube,
    use_cube,
    versions,
)
from kuznia.store.tuples import tuples

LEVEL = 0.9
UNCLASSIFIED_SEVERITY = 3  # a mode missing from failure_modes counts as serious until rated
NONE = "(none)"


def cube_frame(conn: Connection, product: str | None = None, producer: str | None = None
               ) -> pl.DataFrame:
    """Rows of ``failure_cube`` for a product and/or producer ('' keys kept as they are)."""
    q = select(failure_cube)
    if product:
        q = q.where(failure_cube.c.product_id == product)
    if producer:
        q = q.where(failure_cube.c.producer_id == producer)
    schema = {"product_id": pl.String, "producer_id": pl.String, "version": pl.String,
              "conditions": pl.String, "failure_mode": pl.String, "uses": pl.Int64,
              "first_on": pl.String}
    return pl.DataFrame(conn.execute(q).all(), schema=schema, orient="row")


def version_order(conn: Connection, product: str | None = None) -> pl.DataFrame:
    """product_id, version, introduced_on, rank (0 = first) in the order versions came."""
    q = select(versions.c.product_id, versions.c.version, versions.c.introduced_on)
    if product:
        q = q.where(versions.c.product_id == product)
    frame = pl.DataFrame(conn.execute(q).all(), orient="row",
                         schema={"product_id": pl.String, "version": pl.String,
                                 "introduced_on": pl.Date})
    return (frame.sort("product_id", "introduced_on", "version")
            .with_columns(pl.int_range(pl.len()).over("product_id").alias("rank")))


def severities(conn: Connection, product: str | None = None) -> dict[tuple[str, str], int]:
    q = select(failure_modes.c.product_id, failure_modes.c.failure_mode, failure_modes.c.severity)
    if product:
        q = q.where(failure_modes.c.product_id == product)
    return {(p, m): int(s) for p, m, s in tuples(conn.execute(q))}


def _condition_value(key: str) -> pl.Expr:
    prefix = f"{key}="
    return (pl.col("conditions").str.split(";")
            .list.eval(pl.element().filter(pl.element().str.starts_with(prefix))).list.first()
            .str.strip_prefix(prefix).fill_null(NONE))


def parse_failure_by(by: str | list[str] | tuple[str, ...] | None) -> tuple[str, ...]:
    """``version`` and/or ``condition:KEY`` (comma separated)."""
    if by is None:
        return ()
    items = [b.strip() for b in (by.split(",") if isinstance(by, str) else by) if b.strip()]
    for b in items:
        if b != "version" and not (b.startswith("condition:") and len(b) > len("condition:")):
            raise UsageError(N_("cannot group failures by %(key)s; {by} takes version "
                                "and/or condition:KEY (e.g. condition:ew)"), params=("by",),
                             key=repr(b))
    return tuple(dict.fromkeys(items))


@dataclass
class FailureTable(Tabular):
    """A Pareto of failure modes per product (and per version / condition value)."""

    by: tuple[str, ...]
    rows: list[dict[str, Any]] = field(default_factory=list)
    level: float = LEVEL

    def to_dict(self) -> dict[str, Any]:
        return {"by": list(self.by), "level": self.level, "rows": self.rows}


def failures(store: Store, product: str | None = None, version: str | None = None,
             producer: str | None = None,
             by: str | list[str] | tuple[str, ...] | None = None) -> FailureTable:
    """Failure modes by count, with rate per 100 uses (and its interval) and shares."""
    keys = parse_failure_by(by)
    with store.read() as conn:
        cube = cube_frame(conn, product, producer)
        sev = severities(conn, product)
        lots = _lot_failures(conn, product, producer)
        by_mode = _lot_mode_failures(conn, product, producer)
    if version:
        cube = cube.filter(pl.col("version") == version)
    cube = cube.with_columns(
        *(_condition_value(b.split(":", 1)[1]).alias(b) for b in keys if b != "version"),
        pl.col("version").replace("", NONE))
    group = ["product_id", *keys]  # each key is also its column's name
    uses = cube.group_by(group).agg(pl.col("uses").sum().alias("group_uses"))
    counts = (cube.filter(pl.col("failure_mode") != "")
              .group_by([*group, "failure_mode"])
              .agg(pl.col("uses").sum().alias("failures"), pl.col("first_on").min())
              .join(uses, on=group))
    table = FailureTable(keys)
    if counts.is_empty():
        return table
    x = counts["failures"].to_numpy().astype(float)
    n = counts["group_uses"].to_numpy().astype(float)
    group_id = counts.select(pl.concat_str(group, separator="\x1f")).to_series().to_numpy()
    order, share, cum = pareto_order(group_id, x, counts["failure_mode"].to_numpy())
    records = counts.to_dicts()
    named = lots.filter(pl.col("lot") != "")
    n_lots = dict(named.group_by("product_id").len().iter_rows())
    phi = np.array([_mode_dispersion(lots, by_mode, r["product_id"], producer,
                                     r["failure_mode"]) for r in records])
    lo, hi = clustered_interval(x, n, phi, [n_lots.get(r["product_id"], 0) for r in records],
                                LEVEL)
    for i, j in enumerate(order):
        r = records[j]
        row = {k: r[k] for k in group if not k.startswith("condition:")}
        if len(row) < len(group):  # condition values under their key: {"ew": "high"}
            row["conditions"] = {k.split(":", 1)[1]: r[k] for k in group
                                 if k.startswith("condition:")}
        severity = sev.get((r["product_id"], r["failure_mode"]))
        row.update(
            failure_mode=r["failure_mode"],
            severity=severity,
            failures=int(x[j]),
            uses=int(n[j]),
            rate_per_100=round(100 * float(x[j] / n[j]), 4),
            rate_per_100_low=round(100 * float(lo[j]), 4),
            rate_per_100_high=round(100 * float(hi[j]), 4),
            lot_dispersion=round(float(phi[j]), 4),
            share=round(float(share[i]), 4),
            cumulative_share=round(float(cum[i]), 4),
            first_seen=r["first_on"],
            trace_filters=(filters := {
                "product": r["product_id"], "failure_mode": r["failure_mode"],
                **({"producer": producer} if producer else {}),
                **({"version": "-" if r["version"] == NONE else r["version"]}
                   if "version" in keys else {}),
                **({"condition": ";".join(
                    f"{k}={'-' if v == NONE else v}" for k, v in row["conditions"].items())}
                   if "conditions" in row else {})}),
            trace=uses_command(filters),
        )
        table.rows.append(row)
    return table


@dataclass
class FixTable(Tabular):
    """Every corrective action with the status the uses give it."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    confidence: float = 0.95
    reduction: float = 0.5

    def to_dict(self) -> dict[str, Any]:
        return {"confidence": self.confidence, "reduction": self.reduction,
                "rate_unit": "failures per use", "rows": self.rows}


def _counts(cube: pl.DataFrame) -> tuple[dict[tuple, int], dict[tuple, int]]:
    """Uses per (product, producer, version) and failures per (..., mode)."""
    uses = cube.group_by("product_id", "producer_id", "version").agg(pl.col("uses").sum())
    fails = (cube.filter(pl.col("failure_mode") != "")
             .group_by("product_id", "producer_id", "version", "failure_mode")
             .agg(pl.col("uses").sum()))
    return ({tuple(r[:3]): r[3] for r in uses.iter_rows()},
            {tuple(r[:4]): r[4] for r in fails.iter_rows()})


def _lot_failures(conn: Connection, product: str | None, producer: str | None
                  ) -> pl.DataFrame:
    """Uses and failures (any mode) per product, producer, version and lot, from the use
    cube (summed over months): the lots a fix's verdict takes as clusters."""
    c = use_cube
    q = (select(c.c.product_id, c.c.producer_id, c.c.version, c.c.lot,
                func.sum(c.c.uses), func.sum(c.c.n_failure))
         .group_by(c.c.product_id, c.c.producer_id, c.c.version, c.c.lot))
    if product:
        q = q.where(c.c.product_id == product)
    if producer:
        q = q.where(c.c.producer_id == producer)
    return pl.DataFrame(conn.execute(q).all(), orient="row", schema={
        "product_id": pl.String, "producer_id": pl.String, "version": pl.String,
        "lot": pl.String, "uses": pl.Int64, "failures": pl.Int64})


def _lot_mode_failures(conn: Connection, product: str | None, producer: str | None
                       ) -> pl.DataFrame:
    """Failures per product, producer, version, named lot and mode, from the kept
    ``lot_failure_cube`` ('' for no producer or version, as in the other cubes). Keys whose
    failures an ``--update`` moved elsewhere (a count of 0) are left out, as a count of
    the uses would leave them."""
    c = lot_failure_cube.c
    q = (select(c.product_id, c.producer_id, c.version, c.lot, c.failure_mode, c.failures)
         .where(c.lot != "", c.failures != 0))
    if product:
        q = q.where(c.product_id == product)
    if producer:
        q = q.where(c.producer_id == producer)
    return pl.DataFrame(conn.execute(q).all(), orient="row", schema={
        "product_id": pl.String, "producer_id": pl.String, "version": pl.String,
        "lot": pl.String, "failure_mode": pl.String, "mode_failures": pl.Int64})


def _mode_dispersion(lots: pl.DataFrame, by_mode: pl.DataFrame, product: str,
                     producer: str | None, mode: str) -> float:
    """One failure mode's dispersion between lots, from its own failures per lot
    (``kuznia.analytics.failures.mode_dispersion``: a bad batch may hit one mode only),
    over the product's (or the producer's) named lots; with too few lots, the dispersion
    of all failures scaled to the mode's share. Uses with no lot are left out: they are
    no cluster."""
    mine = lots.filter((pl.col("product_id") == product) & (pl.col("lot") != ""))
    if producer:
        mine = mine.filter(pl.col("producer_id") == producer)
    if mine.height < 2:
        return 1.0
    keys = ["product_id", "producer_id", "version", "lot"]
    counts = by_mode.filter(pl.col("failure_mode") == mode).select(*keys, "mode_failures")
    mine = mine.join(counts, on=keys, how="left").with_columns(
        pl.col("mode_failures").fill_null(0))
    if mine["mode_failures"].sum() == 0:
        return 1.0
    return mode_dispersion(mine["mode_failures"].to_numpy(), mine["uses"].to_numpy(),
                           (mine["producer_id"] + "\x1f" + mine["version"]).to_numpy(),
                           mine["failures"].to_numpy())


def fixes(store: Store, product: str | None = None, producer: str | None = None,
          confidence: float = 0.95, reduction: float = 0.5, *,
          scope: str | None = None, shown_to: str | None = None) -> FixTable:
    """Judge each corrective action (see ``kuznia.analytics.fixes`` for the rules).

    With ``scope`` (a producer's own view), only that producer's actions and the
    product-wide ones of its products, each judged from that producer's uses alone.
    ``shown_to`` keeps the actions a producer's board shows (its own, and the product-wide
    ones of the products it has uses of), judged as without it: each verdict is its own
    action's, so the others need not be judged.
    """
    if not 0.5 <= confidence < 1:
        raise UsageError(N_("{confidence} must be at least 0.5 and below 1"),
                         params=("confidence",))
    if not 0 < reduction < 1:
        raise UsageError(N_("{reduction} must be between 0 and 1"), params=("reduction",))
    with store.read() as conn:
        q = select(corrective_actions).order_by(corrective_actions.c.opened_on,
                                                corrective_actions.c.action_id)
        if product:
            q = q.where(corrective_actions.c.product_id == product)
        if producer:
            q = q.where(corrective_actions.c.producer_id == producer)
        actions = [dict(r._mapping) for r in conn.execute(q)]
        cube = cube_frame(conn, product, scope)
        lots = _lot_failures(conn, product, scope)
        by_mode = _lot_mode_failures(conn, product, scope)
        if scope is not None:
            theirs = set(cube["product_id"].unique())
            actions = [a for a in actions if a["producer_id"] == scope
                       or (a["producer_id"] is None and a["product_id"] in theirs)]
        if shown_to is not None:
            theirs = set(cube.filter(pl.col("producer_id") == shown_to)["product_id"].unique())
            actions = [a for a in actions if (a["producer_id"] or None) == shown_to
                       or (not a["producer_id"] and a["product_id"] in theirs)]
        order = version_order(conn, product)
        sev = severities(conn, product)
    uses, fails = _counts(cube)
    ranks = {(p, v): r for p, v, _d, r in order.iter_rows()}
    by_product: dict[str, list[tuple[str, str, int]]] = {}
    for (p, q_, v), n in uses.items():  # (product, producer, version) -> uses
        by_product.setdefault(p, []).append((q_, v, n))
    table = FixTable(confidence=confidence, reduction=reduction)
    for a in actions:
        p, mode, fixed = a["product_id"], a["failure_mode"], a["fixed_in_version"]
        who = a["producer_id"]
        cut = ranks.get((p, fixed))
        n1 = n2 = x1 = x2 = 0
        for q_, v, n in by_product.get(p, []):
            if (who and q_ != who) or (p, v) not in ranks or cut is None:
                continue
            x = fails.get((p, q_, v, mode), 0)
            if ranks[(p, v)] < cut:
                n1, x1 = n1 + n, x1 + x
            else:
                n2, x2 = n2 + n, x2 + x
        phi = _mode_dispersion(lots, by_mode, p, who, mode) if x1 + x2 else 1.0
        v_ = verdict(x1, n1, x2, n2, confidence=confidence, reduction=reduction, phi=phi)
        note = ""
        if cut is None:
            note = f"version {fixed} is not in versions yet"
        elif v_.status != OPEN and n1 == 0:
            note = "no uses before the fixed version to compare with"
        elif v_.status != OPEN and x1 + x2 == 0:
            note = "the failure mode has not been seen"
        elif v_.status == AWAITING and v_.uses_needed is None:
            note = "too few failures before the fix: more uses after it alone cannot settle it"
        table.rows.append({
            "action_id": a["action_id"],
            "product_id": p,
            "producer_id": who,
            "failure_mode": mode,
            "severity": sev.get((p, mode)),
            "fixed_in_version": fixed,
            "opened_on": a["opened_on"].isoformat(),
            "status": v_.status,
            "failures_before": x1,
            "uses_before": n1,
            "rate_before": x1 / n1 if n1 else None,
            "failures_after": x2,
            "uses_after": n2,
            "rate_after": x2 / n2 if n2 else None,
            "uses_needed": v_.uses_needed,
            "lot_dispersion": phi,
            "p_value": v_.p_fell,
            "p_not_effective": v_.p_not_effective,
            "note": note,
            "trace_filters": (filters := {"product": p, "failure_mode": mode,
                                          **({"producer": who} if who else {})}),
            "trace": uses_command(filters),
        })
    return table


def rates_by_mode(cube: pl.DataFrame) -> pl.DataFrame:
    """Per product, producer and mode: failures, uses of that product and producer, first seen."""
    uses = cube.group_by("product_id", "producer_id").agg(pl.col("uses").sum().alias("n"))
    return (cube.filter(pl.col("failure_mode") != "")
            .group_by("product_id", "producer_id", "failure_mode")
            .agg(pl.col("uses").sum().alias("x"), pl.col("first_on").min())
            .join(uses, on=["product_id", "producer_id"]))


def severity_of(sev: dict[tuple[str, str], int], product: str, mode: str) -> int:
    return sev.get((product, mode), UNCLASSIFIED_SEVERITY)

