"""Periods of days: the whole months inside a range, for sums kept per month, and the
conditions that select a period in SQL."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import and_, or_

from kuznia.errors import UsageError
from kuznia.i18n import N_

Span = tuple[dt.date | None, dt.date | None]  # first and last day; None: open


def check_order(date_from: dt.date | None, date_to: dt.date | None,
                names: tuple[str, str] = ("date_from", "date_to")) -> None:
    """The one rule for a reversed range, wherever dates are asked (CLI, API, Python, pages):
    a usage error naming both dates, never an empty answer that looks like "nothing
    happened". A range of one day (from == to) is not reversed.

    >>> check_order(dt.date(2026, 3, 1), dt.date(2026, 1, 1))
    Traceback (most recent call last):
    ...
    kuznia.errors.UsageError: date_to (2026-01-01) is before date_from (2026-03-01)
    >>> check_order(dt.date(2026, 3, 1), None)
    """
    if date_from is not None and date_to is not None and date_to < date_from:
        lo, hi = names
        raise UsageError(N_("%(hi)s (%(end)s) is before %(lo)s (%(start)s)"), params=(hi, lo),
                         hi="{" + hi + "}", lo="{" + lo + "}", end=date_to.isoformat(),
                         start=date_from.isoformat())


def whole_months(date_from: dt.date | None, date_to: dt.date | None
                 ) -> tuple[Span | None, list[Span]]:
    """Split a date range into the whole months inside it and the days left at its ends.

    Returns ((first day, last day) of the whole months, or None when no whole month fits)
    and the list of (first, last) day ranges outside them; None stands for an open end.

    >>> months, ends = whole_months(dt.date(2026, 1, 10), dt.date(2026, 4, 5))
    >>> [str(d) for d in months], [(str(a), str(b)) for a, b in ends]
    (['2026-02-01', '2026-03-31'], [('2026-01-10', '2026-01-31'), ('2026-04-01', '2026-04-05')])
    >>> whole_months(dt.date(2026, 2, 10), dt.date(2026, 3, 20))
    (None, [(datetime.date(2026, 2, 10), datetime.date(2026, 3, 20))])
    >>> whole_months(None, dt.date.max)  # the last day there is ends a month, openly
    ((None, datetime.date(9999, 12, 31)), [])
    """
    start, end = date_from, date_to  # rounded in to month boundaries
    if start is not None and start.day != 1:
        if (start.year, start.month) == (dt.date.max.year, dt.date.max.month):
            return None, [(date_from, date_to)]  # no month begins after it
        start = (start.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    if end is not None and end != dt.date.max and (end + dt.timedelta(days=1)).day != 1:
        if (end.year, end.month) == (dt.date.min.year, dt.date.min.month):
            return None, [(date_from, date_to)]  # no month ends before it
        end = end.replace(day=1) - dt.timedelta(days=1)
    if start is not None and end is not None and start > end:
        return None, [(date_from, date_to)]
    edges: list[tuple[dt.date | None, dt.date | None]] = []
    if date_from is not None and start is not None and date_from < start:
        edges.append((date_from, start - dt.timedelta(days=1)))
    if date_to is not None and end is not None and end < date_to:
        edges.append((end + dt.timedelta(days=1), date_to))
    return (start, end), edges


def in_months(column: Any, months: Span) -> list[Any]:
    """Conditions keeping the months of ``months`` in a 'YYYY-MM' text ``column``."""
    first, last = months
    return [*([] if first is None else [column >= first.strftime("%Y-%m")]),
            *([] if last is None else [column <= last.strftime("%Y-%m")])]


def on_days(column: Any, spans: list[Span]) -> Any | None:
    """The condition keeping the days of any of ``spans`` in a date ``column``; None when
    one of them is open at both ends (every day)."""
    either = []
    for first, last in spans:
        bounds = [*([] if first is None else [column >= first]),
                  *([] if last is None else [column <= last])]
        if not bounds:
            return None
        either.append(and_(*bounds))
    return or_(*either)
