"""A producer's scorecard (``kuznia.analytics.scorecard`` does the arithmetic).

Its products are those it has contracts for or uses of. Each measure is counted for every
producer over those products only, so the comparison is like for like; the others appear
only as their median (at least ``MIN_PEERS`` of them):

- on time: lots (deliveries) delivered on or before their contract's due date, of the lots
  of contracts that have one;
- accepted: units accepted of the units delivered (units come in lots, so the interval is
  narrower than the lots' spread would make it: read it as a lower bound on the doubt);
- failures per 100 uses: failed uses of all uses (the kept aggregate);
- cost per effect: per product (a cost per effect over several products mixes them), the
  same figure and interval as the cost-per-effect table by product and producer.

The trend is the producer's own figures by month (the lots' delivery month, the uses'
month).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, case, func, select

from kuznia.analytics.scorecard import LEVEL, MIN_PEERS, monthly_shares, peer_median, share_line
from kuznia.errors import NotFoundError
from kuznia.i18n import N_
from kuznia.services import costs
from kuznia.services.costs import month_expr
from kuznia.services.store import Store
from kuznia.store.schema import contracts, deliveries, producers, use_cube

MEASURES = {"on_time": "Lots delivered on time", "accepted": "Units accepted",
            "failures_per_100": "Failures per 100 uses"}


@dataclass
class Scorecard:
    producer_id: str
    products: list[str]
    level: float = LEVEL
    min_peers: int = MIN_PEERS
    lines: list[dict[str, Any]] = field(default_factory=list)
    cost_per_effect: list[dict[str, Any]] = field(default_factory=list)
    months: list[dict[str, Any]] = field(default_factory=list)
    currency: str = ""

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _counts(rows: Any) -> dict[str, tuple[float, float]]:
    return {str(p): (float(k or 0), float(n or 0)) for p, k, n in rows}


def products_of(conn: Any, producer: str) -> list[str]:
    made = select(contracts.c.product_id).where(contracts.c.producer_id == producer).union(
        select(use_cube.c.product_id).where(use_cube.c.producer_id == producer))
    return sorted(str(p) for (p,) in conn.execute(made))


def scorecard(store: Store, producer: str, level: float = LEVEL,
              min_peers: int = MIN_PEERS, *, with_costs: bool = True) -> Scorecard:
    """The scorecard of ``producer`` (a ``NotFoundError`` if there is none); without
    ``with_costs`` (a role that sees no prices), no cost per effect."""
    d, c, u = deliveries.c, contracts.c, use_cube.c
    with store.read() as conn:
        if conn.execute(select(producers.c.producer_id)
                        .where(producers.c.producer_id == producer)).first() is None:
            raise NotFoundError(N_("no producers record with producer_id %(producer)s"),
                                producer=repr(producer))
        mine = products_of(conn, producer)
        card = Scorecard(producer, mine, level, min_peers,
                         currency=store.setting("currency", "USD") or "USD")
        if not mine:
            return card
        lots = deliveries.join(contracts, c.contract_id == d.contract_id)
        on_time = case((d.delivered_on <= c.due_on, 1), else_=0)
        timed = and_(c.product_id.in_(mine), c.due_on.is_not(None))
        on_time_counts = _counts(conn.execute(
            select(c.producer_id, func.sum(on_time), func.count())
            .select_from(lots).where(timed).group_by(c.producer_id)))
        accepted_counts = _counts(conn.execute(
            select(c.producer_id, func.sum(d.accepted_quantity), func.sum(d.quantity))
            .select_from(lots).where(c.product_id.in_(mine)).group_by(c.producer_id)))
        failure_counts = _counts(conn.execute(
            select(u.producer_id, func.sum(u.n_failure), func.sum(u.uses))
            .where(and_(u.product_id.in_(mine), u.producer_id != ""))
            .group_by(u.producer_id)))
        month = month_expr(conn.dialect.name, d.delivered_on)
        by_month_lots = conn.execute(
            select(month, func.sum(on_time), func.count(), func.sum(d.accepted_quantity),
                   func.sum(d.quantity)).select_from(lots)
            .where(c.producer_id == producer).group_by(month)).all()
        by_month_lots_timed = {str(m): (k, n) for m, k, n in conn.execute(
            select(month, func.sum(on_time), func.count()).select_from(lots)
            .where(and_(c.producer_id == producer, c.due_on.is_not(None)))
            .group_by(month))}
        by_month_uses = conn.execute(
            select(u.month, func.sum(u.n_failure), func.sum(u.uses))
            .where(u.producer_id == producer).group_by(u.month)).all()
    for name, counts, scale in (("on_time", on_time_counts, 1.0),
                                ("accepted", accepted_counts, 1.0),
                                ("failures_per_100", failure_counts, 100.0)):
        line = share_line(name, counts, producer, scale, level, min_peers).to_dict()
        line["label"] = MEASURES[name]
        card.lines.append(line)
    if with_costs:
        card.cost_per_effect = _cost_lines(store, producer, mine, level, min_peers)
    card.months = _months(by_month_lots, by_month_lots_timed, by_month_uses, level)
    return card


def _cost_lines(store: Store, producer: str, mine: list[str], level: float,
                min_peers: int) -> list[dict[str, Any]]:
    out = []
    for product in mine:
        table = costs.cost_per_effect(store, "product,producer", product=product,
                                      level=level)
        figures = {r["producer_id"]: r["cost_per_effect"] for r in table.rows
                   if r["producer_id"]}
        own = next((r for r in table.rows if r["producer_id"] == producer), None)
        median, peers = peer_median(figures, producer, min_peers)
        out.append({"product_id": product,
                    "value": own["cost_per_effect"] if own else None,
                    "low": own["cost_per_effect_low"] if own else None,
                    "high": own["cost_per_effect_high"] if own else None,
                    "uses": own["uses"] if own else 0,
                    "effects": own["effects"] if own else 0,
                    "peer_median": median, "peers": peers})
    return out


def _months(lots: Any, timed: dict[str, tuple[Any, Any]], uses: Any, level: float
            ) -> list[dict[str, Any]]:
    months: dict[str, dict[str, Any]] = {}
    lot_months = [str(m) for m, *_ in lots]
    for name, keys, k, n, scale in (
            ("on_time", list(timed), [timed[m][0] or 0 for m in timed],
             [timed[m][1] or 0 for m in timed], 1.0),
            ("accepted", lot_months, [r[3] or 0 for r in lots], [r[4] or 0 for r in lots],
             1.0),
            ("failures_per_100", [str(r[0]) for r in uses], [r[1] or 0 for r in uses],
             [r[2] or 0 for r in uses], 100.0)):
        if not keys:
            continue
        for row in monthly_shares([str(x) for x in keys], [float(x) for x in k],
                                  [float(x) for x in n], scale, level):
            months.setdefault(str(row["month"]), {"month": row["month"]})[name] = row
    return [months[m] for m in sorted(months)][-24:]
