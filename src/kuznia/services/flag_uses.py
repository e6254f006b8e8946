"""The red flags' inputs that come from the uses, kept per process and made again after a
write only for the products it touched (issue 23: every section within 1 s of a write).

A field record writes one use of one product; the flags read the uses through the kept
cubes (``use_cube`` per lot and month, ``operator_cube`` per operator and month), whole
scans of which were most of the flags' time (0.85 of 1.0 s at a million uses on SQLite).
Here every such input is kept **per product**: the lots' months of its uses, its uses
dated after today, its effect claims and bursts (their p-values, before the correction
over all products, which is made when the flags are drawn), and the counts of uses before
a lot's delivery in its delivery month, per lot. They are kept under the audit head they
were read at; at a newer head, the audit events since say which products' uses changed
(every write of uses is an import, a field record too, and its event names the products
whose uses it added, changed or took back: ``services/imports.py``), and only those
products are read again, by the cubes' primary keys (product first). Anything else, or
an event that does not say (a migration, an import made before events named products, a
chain that does not run on from the kept head, as after a restore), makes everything
again: the answer is always what reading everything would give
(``tests/test_flags_exact.py`` writes each kind of record and compares).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import threading
from collections import OrderedDict
from collections.abc import Collection, Hashable, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sqlalchemy import Connection, and_, func, literal, select, union_all
from sqlalchemy.types import Date, String

from kuznia.analytics import oversight as tests
from kuznia.services import audit
from kuznia.store.schema import audit_events, operator_cube, use_cube, uses

MAX_EVENTS = 2000  # more events since the kept head: read everything again
KEPT = 8  # (period, settings, day) kept per process

Head = tuple[int, str]
Check = tuple[str, str, str, dt.date, dt.date]  # lot, its product, producer, from, to


@dataclass
class Period:
    lo: dt.date | None
    hi: dt.date | None

    def has(self, day: dt.date | None) -> bool:
        if day is None:
            return False
        return (self.lo is None or day >= self.lo) and (self.hi is None or day <= self.hi)


@dataclass
class Effects:
    """One product's effect claims (p and figures of each judged operator) and bursts (the
    best month of each operator tested), and how many operator-months were tested."""

    claims: list[tuple[Any, ...]]
    bursts: list[tuple[Any, ...]]
    tested: int


@dataclass
class Kept:
    """What the uses say, per product, at audit head ``head``; ``early`` the uses before a
    lot's delivery in its delivery month, per check (made when first asked);
    ``flags`` the flags drawn at this head (but the vault's), once drawn."""

    head: Head
    lots: dict[str, list[tuple[str, str, int, int, str]]]  # lot, month, units, uses, first
    future: dict[str, list[dict[str, Any]]]
    effects: dict[str, Effects]
    early: dict[Check, tuple[int, dt.date] | None] = field(default_factory=dict)
    flags: list[dict[str, Any]] | None = None
    drawing: threading.Lock = field(default_factory=threading.Lock)

    def lot_months(self) -> list[tuple[str, str, int, int, str]]:
        """Per lot and month over every product: units used, uses, the earliest use (as
        the cube's ``GROUP BY lot, month`` gives them), in the order of lot and month."""
        merged: dict[tuple[str, str], tuple[int, int, str]] = {}
        for rows in self.lots.values():
            for lot, month, units, n, first in rows:
                was = merged.get((lot, month))
                merged[(lot, month)] = (units, n, first) if was is None else \
                    (was[0] + units, was[1] + n, min(was[2], first))
        return [(lot, month, *v) for (lot, month), v in sorted(merged.items())]


_KEPT: OrderedDict[Hashable, Kept] = OrderedDict()
_LOCK = threading.Lock()


def forget() -> None:
    """Drop everything kept (the next flags read everything)."""
    with _LOCK:
        _KEPT.clear()


def kept(conn: Connection, key: Hashable, today: dt.date, judged: Period,
         ec: dict[str, Any]) -> Kept:
    """The uses' part of the flags at ``conn``'s audit head, for ``key`` (the period, the
    settings and the day): kept, brought up to date for the products written since, or
    made (see the module doc). ``conn`` is one snapshot."""
    head = audit.head(conn)
    with _LOCK:
        was = _KEPT.get(key)
        if was is not None and was.head == head:
            _KEPT.move_to_end(key)
            return was
        touched = None if was is None else touched_since(conn, was.head)
        if was is not None and touched is not None:
            if touched:
                now = _read(conn, today, judged, ec, sorted(touched))
                gone = set(touched)
                made = Kept(head, _merge(was.lots, now.lots, gone),
                            _merge(was.future, now.future, gone),
                            _merge(was.effects, now.effects, gone),
                            {c: v for c, v in was.early.items() if c[1] not in gone})
            else:  # nothing the uses say changed: the same parts, under the new head
                made = dataclasses.replace(was, head=head, flags=None,
                                           drawing=threading.Lock())
        else:
            made = _read(conn, today, judged, ec, None)
            made.head = head
        if was is None or head[0] >= was.head[0]:  # an older snapshot's does not replace
            _KEPT[key] = made
            _KEPT.move_to_end(key)
            while len(_KEPT) > KEPT:
                _KEPT.popitem(last=False)
        return made


def _merge(old: dict[str, Any], new: dict[str, Any], touched: set[str]) -> dict[str, Any]:
    out = {p: v for p, v in old.items() if p not in touched}
    out.update(new)
    return dict(sorted(out.items()))


def touched_since(conn: Connection, head: Head, also: Collection[str] = ()
                  ) -> set[str] | None:
    """The products whose uses the events after ``head`` wrote; None when they may have
    changed anything else the kept parts read, or do not say (see the module doc), or
    wrote any of the tables ``also`` (what else the caller's kept parts read: the
    headline's prices)."""
    e = audit_events.c
    rows = conn.execute(select(e.event_id, e.hash, e.action, e.table_name, e.detail)
                        .where(e.event_id >= head[0]).order_by(e.event_id)
                        .limit(MAX_EVENTS + 2)).all()
    if not rows or (int(rows[0].event_id), str(rows[0].hash)) != head \
            or len(rows) > MAX_EVENTS + 1:
        return None
    out: set[str] = set()
    for r in rows[1:]:
        if r.action in ("init", "migrate") or r.table_name in also:
            return None
        if r.table_name != "uses":
            continue
        products = json.loads(r.detail).get("products") if r.action == "import" else None
        if not isinstance(products, list):
            return None
        out.update(str(p) for p in products)
    return out


def _read(conn: Connection, today: dt.date, judged: Period, ec: dict[str, Any],
          products: list[str] | None) -> Kept:
    """The parts of ``products`` (None: all), read from the cubes."""
    return Kept((0, ""), _lot_rows(conn, products), _future_uses(conn, today, products),
                _effects(conn, judged, ec, products))


def _lot_rows(conn: Any, products: list[str] | None
              ) -> dict[str, list[tuple[str, str, int, int, str]]]:
    cube = use_cube.c
    q = (select(cube.product_id, cube.lot, cube.month, func.sum(cube.units_used),
                func.sum(cube.uses), func.min(cube.first_on)).where(cube.lot != ""))
    if products is not None:
        q = q.where(cube.product_id.in_(products))
    out: dict[str, list[tuple[str, str, int, int, str]]] = {}
    for product_id, lot, month, units, n, first in conn.execute(
            q.group_by(cube.product_id, cube.lot, cube.month)):
        out.setdefault(product_id, []).append((lot, month, int(units), int(n), first))
    return out


def _future_uses(conn: Any, today: dt.date, products: list[str] | None
                 ) -> dict[str, list[dict[str, Any]]]:
    """Uses dated after ``today``, per product and producer: the cube's months from this
    one on say where to look, the trace index counts them exactly."""
    cube = use_cube.c
    q = select(cube.product_id, cube.producer_id).distinct().where(
        cube.month >= today.strftime("%Y-%m"))
    if products is not None:
        q = q.where(cube.product_id.in_(products))
    out: dict[str, list[dict[str, Any]]] = {}
    for product_id, producer_id in sorted(conn.execute(q).all()):
        u = uses.c
        who = u.producer_id.is_(None) if producer_id == "" else u.producer_id == producer_id
        n, first = conn.execute(select(func.count(), func.min(u.used_on)).where(
            u.product_id == product_id, who, u.used_on > today)).one()
        if n:
            out.setdefault(product_id, []).append(
                {"product_id": product_id, "producer_id": producer_id or None,
                 "uses": int(n), "first": first})
    return out


def early_in_month(conn: Connection, part: Kept, checks: list[Check]
                   ) -> list[tuple[str, int, dt.date]]:
    """Uses of each lot in its delivery month before the delivery day (lot, uses, the
    first), for the ``checks`` that have any: kept in ``part`` per check (its product's
    uses at ``part``'s head), the others counted (``count_early``)."""
    with _LOCK:
        todo = [c for c in checks if c not in part.early]
        for c, got in zip(todo, count_early(conn, todo), strict=True):
            part.early[c] = got
        return [(c[0], *got) for c in checks if (got := part.early[c]) is not None]


def count_early(conn: Any, checks: list[Check], chunk: int = 400
                ) -> list[tuple[int, dt.date] | None]:
    """Per check, its lot's uses of its product and producer in ``[from, to)`` (how many,
    the first), or None for none: a query per ``chunk`` lots, each lot an index range over
    its product and producer's uses of that month (the lots as a UNION ALL of literals:
    portable, and allowed in a read-only snapshot where a temporary table is not)."""
    found: dict[int, tuple[int, dt.date]] = {}
    u = uses.c
    for start in range(0, len(checks), chunk):
        part = checks[start:start + chunk]
        lots = union_all(*[select(literal(start + i).label("i"),
                                  literal(lot, String).label("lot"),
                                  literal(prod, String).label("product_id"),
                                  literal(prd, String).label("producer_id"),
                                  literal(lo, Date).label("lo"), literal(hi, Date).label("hi"))
                           for i, (lot, prod, prd, lo, hi) in enumerate(part)]).cte("lots")
        q = (select(lots.c.i, func.count(), func.min(u.used_on))
             .select_from(lots.join(uses, and_(u.product_id == lots.c.product_id,
                                               u.producer_id == lots.c.producer_id,
                                               u.used_on >= lots.c.lo, u.used_on < lots.c.hi,
                                               u.lot == lots.c.lot)))
             .group_by(lots.c.i))
        for i, n, first in conn.execute(q):
            found[int(i)] = (int(n), first if isinstance(first, dt.date)
                             else dt.date.fromisoformat(first))
    return [found.get(i) for i in range(len(checks))]


# --- effect claims and bursts -----------------------------------------------------------

def _effects(conn: Any, judged: Period, ec: dict[str, Any],
             products: list[str] | None) -> dict[str, Effects]:
    """Per product, its claims and bursts from sums the database makes over the operator
    cube (per operator over the judged months; per month; and, per operator's month, its
    uses and effects before it, only where a burst can be tested)."""
    oc = operator_cube.c
    live = [oc.operator != "", oc.uses > 0]
    if products is not None:
        live.append(oc.product_id.in_(products))
    within = list(live)
    if judged.lo:
        within.append(oc.month >= judged.lo.strftime("%Y-%m"))
    if judged.hi:
        within.append(oc.month <= judged.hi.strftime("%Y-%m"))
    per_op: dict[str, list[tuple[str, float, float, float]]] = {}
    for product_id, op, n, e, sq in conn.execute(
            select(oc.product_id, oc.operator, func.sum(oc.uses), func.sum(oc.effects),
                   func.sum(oc.effects_sq)).where(*within)
            .group_by(oc.product_id, oc.operator)):
        per_op.setdefault(product_id, []).append((op, float(n), float(e), float(sq)))
    if not per_op:
        return {}
    per_month: dict[str, list[tuple[str, float, float]]] = {}
    for product_id, month, n, e in conn.execute(
            select(oc.product_id, oc.month, func.sum(oc.uses), func.sum(oc.effects))
            .where(*live).group_by(oc.product_id, oc.month)):
        per_month.setdefault(product_id, []).append((month, float(n), float(e)))
    ahead: dict[str, Any] = {"partition_by": (oc.product_id, oc.operator),
                             "order_by": oc.month, "rows": (None, 0)}
    inner = select(oc.product_id, oc.operator, oc.month, oc.uses, oc.effects,
                   (func.sum(oc.uses).over(**ahead) - oc.uses).label("n_b"),
                   (func.sum(oc.effects).over(**ahead) - oc.effects).label("e_b")
                   ).where(*live).subquery()
    least = ec["burst_min_uses"]
    cells: dict[str, list[tuple[str, str, float, float, float, float]]] = {}
    for product_id, op, month, n, e, n_b, e_b in conn.execute(
            select(inner).where(inner.c.uses >= least, inner.c.n_b >= least)):
        cells.setdefault(product_id, []).append((op, month, float(n), float(e), float(n_b),
                                                 float(e_b)))
    return {product_id: product_effects(str(product_id), sorted(per_op[product_id]),
                                        sorted(per_month.get(product_id, [])),
                                        sorted(cells.get(product_id, [])), ec, judged)
            for product_id in sorted(per_op)}


def product_effects(product_id: str, ops_rows: list[tuple[str, float, float, float]],
                    per_month: list[tuple[str, float, float]],
                    cells: list[tuple[str, str, float, float, float, float]],
                    ec: dict[str, Any], judged: Period) -> Effects:
    operators = np.array([r[0] for r in ops_rows], dtype=object)
    n, e, sq = (np.array([r[k] for r in ops_rows], dtype=float) for k in (1, 2, 3))
    c = tests.claims(n, e, sq, min_uses=ec["min_uses"])
    claims = [(float(c.p[k]), product_id, str(operators[k]), n[k], e[k], e.sum() - e[k],
               n.sum() - n[k], c.phi, float(c.tau2[k])) for k in np.flatnonzero(c.judged)]
    bursts, tested = _bursts(per_month, cells, product_id, ec, c.phi, judged)
    return Effects(claims, bursts, tested)


def _bursts(per_month: list[tuple[str, float, float]],
            cells: list[tuple[str, str, float, float, float, float]], product_id: str,
            ec: dict[str, Any], phi: float, judged: Period) -> tuple[list[tuple], int]:
    """Each operator's month whose rate jumps most beyond its own earlier months, allowing
    for the others' change between the same periods (p, product, operator, month, rate,
    rate before); and how many (operator, month) were tested, for the correction.
    ``per_month`` are the product's months (every month counts as "before") with its
    uses and effects, sorted; ``cells`` the (operator, month, uses, effects, uses before,
    effects before) with enough uses in the month and before it, sorted; only months in
    the ``judged`` period are reported."""
    if len(per_month) < 2 or not cells:
        return [], 0
    months = [m for m, _, _ in per_month]
    tot_n = np.array([r[1] for r in per_month])
    tot_e = np.array([r[2] for r in per_month])
    tb_n, tb_e = np.cumsum(tot_n) - tot_n, np.cumsum(tot_e) - tot_e
    col = np.searchsorted(np.array(months, dtype=object), [c[1] for c in cells])
    n, e, n_b, e_b = (np.array([c[k] for c in cells]) for k in (2, 3, 4, 5))
    with np.errstate(divide="ignore", invalid="ignore"):
        # the others' rate this month over their rate before, each operator left out
        now = (tot_e[col] - e) / (tot_n[col] - n)
        earlier = (tb_e[col] - e_b) / (tb_n[col] - n_b)
        trend = np.where((earlier > 0) & np.isfinite(now), now / earlier, 1.0)
    pv = tests.burst_p(e, n, e_b, n_b, trend, phi)
    out = []
    start = 0
    for end in range(1, len(cells) + 1):  # the cells of one operator, month by month
        if end < len(cells) and cells[end][0] == cells[start][0]:
            continue
        best = start + int(np.argmin(pv[start:end]))
        start_op, start = cells[start][0], end
        if not month_in(months[col[best]], judged):
            continue
        out.append((float(pv[best]), product_id, str(start_op), str(months[col[best]]),
                    e[best] / n[best], e_b[best] / n_b[best]))
    return out, len(cells)


def month_in(month: str, judged: Period) -> bool:
    """Whether ``month`` ('YYYY-MM') is among the judged months (as the cube's months are
    compared with the period's)."""
    return ((judged.lo is None or month >= judged.lo.strftime("%Y-%m"))
            and (judged.hi is None or month <= judged.hi.strftime("%Y-%m")))


def all_effects(parts: Iterable[Effects]) -> tuple[list[tuple], list[tuple], int]:
    """Every product's claims and bursts, in the order of the products, and the count of
    operator-months tested."""
    claims: list[tuple] = []
    bursts: list[tuple] = []
    tested = 0
    for p in parts:
        claims += p.claims
        bursts += p.bursts
        tested += p.tested
    return claims, bursts, tested
