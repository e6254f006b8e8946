"""A producer's contracts with how their deliveries went: late, short, rejected.

One SQL aggregate over the deliveries per contract, a page at a time in contract order.
A contract is

- ``late``: its due date has passed with less accepted than ordered, or a delivery came
  after the due date;
- ``short``: less delivered than ordered (so far);
- ``rejected``: some delivered units were not accepted.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import case, func, or_, select

from kuznia.errors import UsageError
from kuznia.i18n import N_
from kuznia.services.access import EVERYTHING, Scope
from kuznia.services.records import decode_cursor, encode_cursor
from kuznia.services.store import Store
from kuznia.store.schema import contracts, deliveries

FLAGS = ("late", "short", "rejected")
MAX_LIMIT = 500


@dataclass
class ContractStatus:
    producer_id: str
    as_of: dt.date
    rows: list[dict[str, Any]]
    counts: dict[str, int]  # contracts of the producer, and each flag's count
    next_cursor: str | None

    def to_dict(self) -> dict[str, Any]:
        return {"producer_id": self.producer_id, "as_of": self.as_of.isoformat(),
                "counts": self.counts, "rows": self.rows, "next_cursor": self.next_cursor}


def contract_status(store: Store, producer: str, *, as_of: dt.date | None = None,
                    flag: str | None = None, cursor: str | None = None, limit: int = 50,
                    scope: Scope = EVERYTHING) -> ContractStatus:
    """``producer``'s contracts in id order, each with delivered and accepted units so far
    and its flags; ``flag`` keeps only the contracts with that flag."""
    if flag is not None and flag not in FLAGS:
        raise UsageError(N_("{flag} is one of %(flags)s"), params=("flag",),
                         flags=", ".join(FLAGS))
    if not 1 <= limit <= MAX_LIMIT:
        raise UsageError(N_("{limit} must be from 1 to %(most)s"), params=("limit",),
                         most=str(MAX_LIMIT))
    if scope.producer_id is not None and scope.producer_id != producer:
        producer = "\x00none"  # another producer's contracts: as if it had none
    as_of = as_of or dt.date.today()
    d, c = deliveries.c, contracts.c
    got = (select(d.contract_id, func.sum(d.quantity).label("delivered"),
                  func.sum(d.accepted_quantity).label("accepted"),
                  func.max(d.delivered_on).label("last_delivered_on"),
                  func.count().label("deliveries"))
           .where(d.delivered_on <= as_of).group_by(d.contract_id).subquery("got"))
    delivered = func.coalesce(got.c.delivered, 0)
    accepted = func.coalesce(got.c.accepted, 0)
    late = case((or_((c.due_on < as_of) & (accepted < c.quantity),
                     got.c.last_delivered_on > c.due_on), 1), else_=0)
    short = case((delivered < c.quantity, 1), else_=0)
    rejected = case((accepted < delivered, 1), else_=0)
    base = (select(c.contract_id, c.product_id, c.signed_on, c.due_on, c.quantity,
                   delivered.label("delivered"), accepted.label("accepted"),
                   got.c.last_delivered_on, func.coalesce(got.c.deliveries, 0)
                   .label("deliveries"), late.label("late"), short.label("short"),
                   rejected.label("rejected"))
            .select_from(contracts.outerjoin(got, got.c.contract_id == c.contract_id))
            .where(c.producer_id == producer)).subquery("status")
    s = base.c
    counts_q = select(func.count(), *[func.coalesce(func.sum(s[f]), 0) for f in FLAGS])
    q = select(base)
    if flag:
        q = q.where(s[flag] == 1)
    if cursor:
        q = q.where(s.contract_id > decode_cursor("contracts", cursor)[0])
    q = q.order_by(s.contract_id).limit(limit + 1)
    with store.read() as conn:
        counts: tuple[Any, ...] = tuple(conn.execute(counts_q).one())
        n, *flags = counts
        rows = [dict(r._mapping) for r in conn.execute(q)]
    more = len(rows) > limit
    rows = rows[:limit]
    for r in rows:
        for k in ("signed_on", "due_on", "last_delivered_on"):
            r[k] = r[k].isoformat() if r[k] is not None else None
        for k in ("quantity", "delivered", "accepted", "deliveries", *FLAGS):
            r[k] = int(r[k])
        for f in FLAGS:
            r[f] = bool(r[f])
    return ContractStatus(producer, as_of, rows,
                          {"contracts": int(n), **{f: int(x) for f, x in zip(FLAGS, flags,
                                                                             strict=True)}},
                          encode_cursor([rows[-1]["contract_id"]]) if more else None)
