"""The overview's headline figures: spend, confirmed effects and cost per effect (with its
interval) over a period, each beside the previous period of the same length.

The period is the one asked; with no dates asked, the latest 90 days of data (so the
change means something: the whole history has no previous period). The sums are the cost
per effect table's (``costs``: whole months from ``use_cube``, the days at either end
from the uses), summed per product, producer and lot and priced per such group.

Kept per process (issue 23: every section within 1 s of a write): per product, its first
and last day of uses and its sums over the two periods, under the audit head they were
read at. At a newer head the events since say which products' uses changed
(``flag_uses.touched_since``, as for the red flags); only those products are read again
(through the trace index, product first), unless the periods moved (a use after the last
day, or before the first) or an event may have changed a price or a category, when
everything is read again. Each product's cost is the exact sum of its groups' (``fsum``)
and the total the exact sum of the products', so the answer does not depend on the order
anything was read in: always what reading everything gives
(``tests/test_headline_after_write.py``).
"""

from __future__ import annotations

import datetime as dt
import math
import threading
from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import Connection, func, select, union_all

from kuznia.analytics.cost_per_effect import cost_per_effect as cpe_figures
from kuznia.services import audit
from kuznia.services.costs import _filtered, _from_cube, _from_uses
from kuznia.services.flag_uses import Head, touched_since
from kuznia.services.periods import check_order, whole_months
from kuznia.services.prices import joined_price
from kuznia.services.store import Store
from kuznia.store.schema import use_cube, uses

DEFAULT_DAYS = 90
KEPT = 16  # questions (period, producer, product, category) kept per process
# writes that may change a price (contracts, their deliveries' lots, exchange rates) or a
# product's category: everything is read again after them
PRICED = ("contracts", "deliveries", "rates", "products", "settings")

Span = tuple[dt.date, dt.date]
Filters = tuple[str | None, str | None, str | None]  # producer, product, category


@dataclass
class Headline:
    """Figures of a period and of the one before it (same length, ending the day before)."""

    currency: str
    period: tuple[dt.date, dt.date] | None
    previous: tuple[dt.date, dt.date] | None
    current: dict[str, Any]
    before: dict[str, Any]
    asked: bool  # the period was asked (not the default latest days of data)

    def to_dict(self) -> dict[str, Any]:
        def span(p: tuple[dt.date, dt.date] | None) -> dict[str, str] | None:
            return None if p is None else {"date_from": p[0].isoformat(),
                                           "date_to": p[1].isoformat()}
        changes = {k: change(self.current.get(k), self.before.get(k))
                   for k in ("cost", "effects", "cost_per_effect")}
        return {"currency": self.currency, "period": span(self.period),
                "previous": span(self.previous), "asked": self.asked,
                "current": self.current, "before": self.before, "changes": changes}


def change(now: float | None, then: float | None) -> float | None:
    """The relative change from ``then`` to ``now`` (0.25 for a quarter more); None when
    either is unknown or ``then`` is 0.

    >>> change(125.0, 100.0), change(5.0, 0.0)
    (0.25, None)
    """
    if now is None or then is None or then == 0:
        return None
    return (now - then) / then


@dataclass(frozen=True)
class Sums:
    """One product's uses over one period: counts, the sum of effects squared, the cost of
    its priced units and how many of its uses have no price."""

    uses: int
    effects: int
    effects_sq: float
    cost: float
    unpriced: int


@dataclass(frozen=True)
class Kept:
    head: Head
    bounds: dict[str, tuple[dt.date, dt.date]]  # per product: its first and last day
    spans: tuple[Span, Span] | None  # the period and the one before
    sums: tuple[dict[str, Sums], dict[str, Sums]]  # per product, over each


_KEPT: OrderedDict[Hashable, Kept] = OrderedDict()
_LOCK = threading.Lock()


def forget() -> None:
    """Drop everything kept (the next headline reads everything)."""
    with _LOCK:
        _KEPT.clear()


def _day(d: Any) -> dt.date:
    return d if isinstance(d, dt.date) else dt.date.fromisoformat(str(d)[:10])


def _bounds(conn: Connection, filters: Filters, products: list[str] | None
            ) -> dict[str, tuple[dt.date, dt.date]]:
    """Each product's first and last day of uses (of ``products``; None: all)."""
    q = _filtered(select(uses.c.product_id, func.min(uses.c.used_on),
                         func.max(uses.c.used_on)), uses, *filters)
    if products is not None:
        q = q.where(uses.c.product_id.in_(products))
    return {str(p): (_day(lo), _day(hi))
            for p, lo, hi in conn.execute(q.group_by(uses.c.product_id))}


def _sums(store: Store, conn: Connection, span: Span, filters: Filters,
          products: list[str] | None) -> dict[str, Sums]:
    """Each product's sums over ``span`` (of ``products``; None: all): the whole months
    from the cube, the days at either end from the uses, grouped by product, producer and
    lot (one price each) in SQL."""
    months, ends = whole_months(*span)
    parts: list[Any] = []
    if months is not None:
        cube = _from_cube(months, *filters)
        parts.append(cube if products is None
                     else cube.where(use_cube.c.product_id.in_(products)))
    if ends:
        days = _from_uses(store, ends, False, *filters)
        parts.append(days if products is None
                     else days.where(uses.c.product_id.in_(products)))
    both: Any = union_all(*parts) if len(parts) > 1 else parts[0]
    src = both.subquery("src")
    # a producer's own view is priced from its own contracts only, as its cost per effect
    # is (issue 24): never the product's average over its competitors' contracts
    frm, price, _ = joined_price(src, src.c.lot, src.c.producer_id, src.c.product_id,
                                 own=filters[0])
    q = (select(src.c.product_id, func.sum(src.c.uses), func.sum(src.c.units_used),
                func.sum(src.c.effects), func.sum(src.c.effects_sq), func.max(price))
         .select_from(frm).group_by(src.c.product_id, src.c.producer_id, src.c.lot))
    rows: Any = conn.execute(q).all()
    counts: dict[str, list[int]] = {}  # uses, effects, uses unpriced
    squares: dict[str, list[float]] = {}
    priced: dict[str, list[float]] = {}
    for product_id, n, units, e, sq, p in rows:
        key = str(product_id)
        c = counts.setdefault(key, [0, 0, 0])
        c[0] += int(n or 0)
        c[1] += int(e or 0)
        c[2] += int(n or 0) if p is None else 0
        squares.setdefault(key, []).append(float(sq or 0.0))
        if p is not None:
            priced.setdefault(key, []).append(float(units or 0) * float(p))
    return {k: Sums(n, e, math.fsum(squares[k]), math.fsum(priced.get(k, [])), u)
            for k, (n, e, u) in sorted(counts.items())}


def _spans(first: dt.date, last: dt.date, date_from: dt.date | None,
           date_to: dt.date | None) -> tuple[Span, Span]:
    """The period as far as the records reach (an open end, or 9999-12-31, is the last
    record), so the period before it has the same length in days the data can cover."""
    asked = date_from is not None or date_to is not None
    end = min(date_to, last) if date_to else last
    start = date_from or (first if asked else end - dt.timedelta(days=DEFAULT_DAYS - 1))
    if start > end:  # a period after (or, with only its end asked, before) every record:
        if date_from:  # nothing in it, a day long, on the day asked
            end = start
        else:
            start = end
    days = (end - start).days + 1
    lo = dt.date.min  # the period before stops at the calendar's first day
    before_end = start - dt.timedelta(days=1) if start > lo else lo
    before = (before_end - dt.timedelta(days=min(days - 1, (before_end - lo).days)),
              before_end)
    return (start, end), before


def _merge(old: dict[str, Any], new: dict[str, Any], touched: set[str]) -> dict[str, Any]:
    out = {p: v for p, v in old.items() if p not in touched}
    out.update(new)
    return dict(sorted(out.items()))


def _made(store: Store, conn: Connection, was: Kept | None, head: Head,
          asked: tuple[dt.date | None, dt.date | None], filters: Filters) -> Kept:
    """What ``was`` kept brought up to ``head``: the products written since read again,
    or everything (see the module doc)."""
    touched = None if was is None else touched_since(conn, was.head, PRICED)
    if was is not None and touched == set():
        return Kept(head, was.bounds, was.spans, was.sums)
    some = None if touched is None else sorted(touched)
    bounds = _bounds(conn, filters, some)
    if was is not None and touched is not None:
        bounds = _merge(was.bounds, bounds, touched)
    if not bounds:
        return Kept(head, {}, None, ({}, {}))
    spans = _spans(min(b[0] for b in bounds.values()), max(b[1] for b in bounds.values()),
                   *asked)
    if was is None or touched is None or was.spans != spans:
        return Kept(head, bounds, spans,
                    (_sums(store, conn, spans[0], filters, None),
                     _sums(store, conn, spans[1], filters, None)))
    assert some is not None
    return Kept(head, bounds, spans,
                (_merge(was.sums[0], _sums(store, conn, spans[0], filters, some), touched),
                 _merge(was.sums[1], _sums(store, conn, spans[1], filters, some), touched)))


def _totals(sums: dict[str, Sums], period: Span, level: float, filters: Filters
            ) -> dict[str, Any]:
    parts = list(sums.values())
    n, e = sum(s.uses for s in parts), sum(s.effects for s in parts)
    unpriced = sum(s.unpriced for s in parts)
    # nothing used, nothing spent
    cost = None if unpriced else math.fsum(s.cost for s in parts)
    out: dict[str, Any] = {"uses": n, "effects": e, "cost": cost,
                           "uses_unpriced": unpriced, "cost_per_effect": None,
                           "cost_per_effect_low": None, "cost_per_effect_high": None}
    if n and cost is not None:
        point, low, high = cpe_figures([cost], [float(n)], [float(e)], level,
                                       effects_sq=[math.fsum(s.effects_sq for s in parts)])
        for key, arr in (("cost_per_effect", point), ("cost_per_effect_low", low),
                         ("cost_per_effect_high", high)):
            out[key] = None if np.isnan(arr[0]) else float(arr[0])
    trace = {"date_from": period[0].isoformat(), "date_to": period[1].isoformat()}
    for name, value in zip(("producer", "product", "category"), filters, strict=True):
        if value is not None:
            trace[name] = value
    out["trace_filters"] = trace
    return out


def headline(store: Store, date_from: dt.date | None = None, date_to: dt.date | None = None,
             producer: str | None = None, product: str | None = None,
             category: str | None = None, level: float = 0.90) -> Headline:
    """Spend, confirmed effects and cost per effect of the period and the one before.

    With ``producer``, from that producer's uses only, priced from its own contracts only
    (its own view: a use no own contract prices is left unpriced and counted so)."""
    check_order(date_from, date_to)
    currency = store.setting("currency", "USD") or "USD"
    asked = date_from is not None or date_to is not None
    filters: Filters = (producer, product, category)
    key = (store.url, date_from, date_to, *filters)
    # one at a time (a second caller at the same head takes the first's), the head and
    # every sum from one snapshot taken once it is this caller's turn
    with _LOCK, store.snapshot() as conn:
        head = audit.head(conn)
        was = _KEPT.get(key)
        made = was if was is not None and was.head == head else \
            _made(store, conn, was, head, (date_from, date_to), filters)
        if was is None or head[0] >= was.head[0]:  # an older snapshot's does not replace
            _KEPT[key] = made
            _KEPT.move_to_end(key)
            while len(_KEPT) > KEPT:
                _KEPT.popitem(last=False)
    if made.spans is None:
        return Headline(currency, None, None, {}, {}, asked)
    (period, before) = made.spans
    return Headline(currency, period, before, _totals(made.sums[0], period, level, filters),
                    _totals(made.sums[1], before, level, filters), asked)
