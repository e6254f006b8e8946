"""The overview's headline figures: spend, confirmed effects and cost per effect (with its
interval) over a period, each beside the previous period of the same length.

The period is the one asked; with no dates asked, the latest 90 days of data (so the
change means something: the whole history has no previous period). The sums come from the
same query as the cost per effect table (``costs``), grouped by nothing.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import func, select

from kuznia.analytics.cost_per_effect import cost_per_effect as cpe_figures
from kuznia.services.costs import _aggregate, _filtered, _source
from kuznia.services.periods import check_order
from kuznia.services.store import Store
from kuznia.store.schema import uses

DEFAULT_DAYS = 90


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


def _bounds(store: Store, producer: str | None, product: str | None,
            category: str | None) -> tuple[dt.date | None, dt.date | None]:
    q = _filtered(select(func.min(uses.c.used_on), func.max(uses.c.used_on)), uses,
                  producer, product, category)
    with store.read() as conn:
        first, last = conn.execute(q).one()
    as_date = (lambda d: d if d is None or isinstance(d, dt.date)  # noqa: E731
               else dt.date.fromisoformat(str(d)[:10]))
    return as_date(first), as_date(last)


def _totals(store: Store, period: tuple[dt.date, dt.date], level: float,
            producer: str | None, product: str | None, category: str | None
            ) -> dict[str, Any]:
    src, _ = _source(store, (), period[0], period[1], producer, product, category)
    with store.read() as conn:
        row = dict(conn.execute(_aggregate(src, ())).one()._mapping)
    n, e = float(row["uses"] or 0), float(row["effects"] or 0)
    unpriced = int(row["uses_unpriced"] or 0)
    cost = None if unpriced else float(row["cost"] or 0.0)  # nothing used, nothing spent
    out: dict[str, Any] = {"uses": int(n), "effects": int(e), "cost": cost,
                           "uses_unpriced": unpriced, "cost_per_effect": None,
                           "cost_per_effect_low": None, "cost_per_effect_high": None}
    if n and cost is not None:
        point, low, high = cpe_figures([cost], [n], [e], level,
                                       effects_sq=[float(row["effects_sq"] or 0)])
        for key, arr in (("cost_per_effect", point), ("cost_per_effect_low", low),
                         ("cost_per_effect_high", high)):
            out[key] = None if np.isnan(arr[0]) else float(arr[0])
    trace = {"date_from": period[0].isoformat(), "date_to": period[1].isoformat()}
    for name, value in (("producer", producer), ("product", product), ("category", category)):
        if value is not None:
            trace[name] = value
    out["trace_filters"] = trace
    return out


def headline(store: Store, date_from: dt.date | None = None, date_to: dt.date | None = None,
             producer: str | None = None, product: str | None = None,
             category: str | None = None, level: float = 0.90) -> Headline:
    """Spend, confirmed effects and cost per effect of the period and the one before.

    With ``producer``, from that producer's uses only (its own view)."""
    check_order(date_from, date_to)
    currency = store.setting("currency", "USD") or "USD"
    asked = date_from is not None or date_to is not None
    first, last = _bounds(store, producer, product, category)
    if first is None or last is None:
        return Headline(currency, None, None, {}, {}, asked)
    # the period as far as the records reach (an open end, or 9999-12-31, is the last
    # record), so the period before it has the same length in days the data can cover
    end = min(date_to, last) if date_to else last
    start = date_from or (first if asked else end - dt.timedelta(days=DEFAULT_DAYS - 1))
    if date_from and start > end:  # a period after every record: nothing in it
        end = start
    days = (end - start).days + 1
    earliest = dt.date.min + dt.timedelta(days=1)
    before = (max(earliest, start - dt.timedelta(days=min(days, (start - earliest).days))),
              max(earliest, start - dt.timedelta(days=1)))
    args = (level, producer, product, category)
    return Headline(currency, (start, end), before, _totals(store, (start, end), *args),
                    _totals(store, before, *args), asked)
