"""The uses list where every figure leads: a sorted page, the summary of the whole filtered
set (uses, effects, cost, cost per effect: the same sums and the same formula as the
figure that linked there), the choices for its filters, and the whole set as rows to
export, read a page at a time (a million uses never sit in memory at once).

The filters and the caller's scope are ``trace.use_conditions``'s, the prices
``trace.price_rows``'s, and what a scope may not see is taken out by ``trace.scoped``:
the page, the summary and the exports cannot disagree on which uses they mean.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sqlalchemy import Select, select, tuple_, union_all

from kuznia.analytics.cost_per_effect import cost_per_effect as cpe_figures
from kuznia.errors import UsageError
from kuznia.i18n import N_, Plural
from kuznia.services import costs, trace
from kuznia.services.access import EVERYTHING, Scope
from kuznia.services.periods import check_order, in_months, whole_months
from kuznia.services.prices import joined_price
from kuznia.services.records import scope_condition
from kuznia.services.store import Store
from kuznia.store.schema import operator_cube, producers, products, use_cube, uses, versions

FILTERS = ("product", "producer", "version", "operator", "failure_mode", "lot", "month",
           "category", "date_from", "date_to", "condition")
SORTS = ("date", "product", "producer", "effects", "cost")
EXPORT_PAGE = 5000  # uses read, priced and written at a time
MAX_PAGE_ROWS = 500


@dataclass
class UsePage:
    rows: list[dict[str, Any]]
    page: int
    limit: int
    sort: str
    more: bool
    filters: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"filters": self.filters, "sort": self.sort, "page": self.page,
                "limit": self.limit, "more": self.more, "rows": self.rows}


def _conditions(filters: dict[str, Any], scope: Scope) -> tuple[dict[str, str], list[Any]]:
    unknown = set(filters) - set(FILTERS)
    if unknown:
        raise UsageError(Plural("no filter named %(names)s", "no filters named %(names)s",
                                len(unknown), names=", ".join(sorted(unknown))))
    given = {k: v for k, v in filters.items() if v not in (None, "")}
    for k in ("date_from", "date_to"):
        if k in given and not isinstance(given[k], dt.date):
            given[k] = trace._day(given[k], k)
    check_order(given.get("date_from"), given.get("date_to"))
    return trace.use_conditions(**given, scope=scope)


def parse_sort(sort: str | None, scope: Scope) -> tuple[str, bool]:
    """``sort`` ("date", "-cost", ...; "-" for largest first) as (column, descending);
    the default is newest first. Cost sorts only for an account that sees prices."""
    text = (sort or "-date").strip()
    desc = text.startswith("-")
    name = text.lstrip("-")
    if name not in SORTS:
        raise UsageError(N_("{sort} takes one of %(sorts)s (with '-' for largest or newest "
                            "first), not %(sort)s"), params=("sort",),
                         sorts=", ".join(SORTS), sort=repr(sort))
    if name == "cost" and not scope.prices:
        raise UsageError(N_("{sort}: this account sees no prices to sort by"),
                         params=("sort",))
    return name, desc


def _cost_key(scope: Scope) -> Any:
    """Each use's cost as ``scope`` may know it: a producer's own contracts only (a price
    averaged over other producers' contracts is not its to see, nor to sort by)."""
    frm, price, _ = joined_price(uses, uses.c.lot, uses.c.producer_id, uses.c.product_id,
                                 own=scope.producer_id)
    return frm, uses.c.units_used * price


def use_page(store: Store, filters: dict[str, Any], *, sort: str | None = None,
             page: int = 1, limit: int = 50, scope: Scope = EVERYTHING) -> UsePage:
    """One page of the filtered uses in ``sort`` order (ties newest first), priced."""
    if not 1 <= limit <= MAX_PAGE_ROWS:
        raise UsageError(N_("{limit} must be from 1 to %(most)s"), params=("limit",),
                         most=str(MAX_PAGE_ROWS))
    if page < 1:
        raise UsageError(N_("{page} must be 1 or more"), params=("page",))
    shown, conds = _conditions(filters, scope)
    name, desc = parse_sort(sort, scope)
    cols = [c for c in uses.c if c.name != "row_hash"]
    q: Select[Any] = select(*cols).where(*conds)
    keys: list[Any] = []
    if name == "cost":
        frm, cost = _cost_key(scope)
        q = q.select_from(frm)
        keys.append((cost.desc() if desc else cost.asc()).nulls_last())
    elif name != "date":
        col = {"product": uses.c.product_id, "producer": uses.c.producer_id,
               "effects": uses.c.effects}[name]
        keys.append((col.desc() if desc else col.asc()).nulls_last())
    if name == "date" and not desc:
        keys += [uses.c.used_on.asc(), uses.c.use_id.asc()]
    else:
        keys += [uses.c.used_on.desc(), uses.c.use_id.desc()]
    q = q.order_by(*keys).offset((page - 1) * limit).limit(limit + 1)
    with store.read() as conn:
        rows = [dict(r._mapping) for r in conn.execute(q)]
        more = len(rows) > limit
        rows = rows[:limit]
        trace.price_rows(conn, rows, own=scope.producer_id)
    trace.scoped(rows, scope)
    return UsePage(rows, page, limit, ("-" if desc else "") + name, more, shown)


def _summary_source(store: Store, filters: dict[str, Any], shown: dict[str, str],
                    conds: list[Any], scope: Scope) -> Any:
    """The filtered uses in ``use_cube``'s columns: the whole months from the cube and the
    days at either end from the uses when the cube knows every filter, else the uses."""
    if filters.get("operator") or filters.get("failure_mode") or filters.get("condition"):
        return costs._from_uses(store, [(None, None)], False, None, None, None).where(*conds)
    lo = trace._day(filters.get("date_from") or None, "date_from")
    hi = trace._day(filters.get("date_to") or None, "date_to")
    if filters.get("month"):
        m_lo, m_hi = trace._month_range(filters["month"])
        lo, hi = max(lo or m_lo, m_lo), min(hi or m_hi, m_hi)
        if lo > hi:  # a month outside the dates: nothing, by a condition that says so
            return costs._from_uses(store, [(lo, hi)], False, None, None, None)
    cube_conds, use_conds = trace._key_conds(shown, filters.get("category") or None, scope)
    months, ends = whole_months(lo, hi)

    def from_uses(days: list[Any]) -> Any:
        return costs._from_uses(store, days, False, None, None, None).where(*use_conds)

    if months is None:
        return from_uses(ends)
    cube = (select(*[use_cube.c[c] for c in (*costs.SOURCE_KEYS, *costs.SUMS)])
            .where(*cube_conds, *in_months(use_cube.c.month, months)))
    return union_all(cube, from_uses(ends)) if ends else cube


def summary(store: Store, filters: dict[str, Any], *, level: float = 0.90,
            scope: Scope = EVERYTHING) -> dict[str, Any]:
    """The whole filtered set in four figures: uses, confirmed effects, cost and cost per
    effect with its interval, from the same sums and formula as ``costs.cost_per_effect``
    (so the figure a person clicked and this summary agree). No cost when a use has no
    known price; none for an account without prices; none for a producer when some use
    is priced by other producers' contracts (``withheld``)."""
    shown, conds = _conditions(filters, scope)
    src = _summary_source(store, filters, shown, conds, scope).subquery("src")
    with store.read() as conn:
        row = dict(conn.execute(costs._aggregate(src, (), own=scope.producer_id)).one()._mapping)
    n = int(row["uses"] or 0)
    e = int(row["effects"] or 0)
    units = int(row["units_used"] or 0)
    unpriced = int(row["uses_unpriced"] or 0)
    own_units = int(row["units_lot_price"] or 0) + int(row["units_producer_price"] or 0)
    withheld = not scope.prices or (scope.producer_id is not None and n > 0
                                    and unpriced == 0 and units > own_units)
    cost = None if (unpriced or n == 0 or row["cost"] is None) else float(row["cost"])
    point, low, high = cpe_figures(np.array([np.nan if cost is None else cost]),
                                   np.array([float(n)]), np.array([float(e)]), level,
                                   effects_sq=np.array([float(row["effects_sq"] or 0.0)]))

    def fig(x: float) -> float | None:
        return None if withheld or not np.isfinite(x) else float(x)

    return {"filters": shown, "uses": n, "units_used": units, "effects": e,
            "cost": None if withheld else cost, "cost_per_effect": fig(point[0]),
            "cost_per_effect_low": fig(low[0]), "cost_per_effect_high": fig(high[0]),
            "uses_unpriced": unpriced, "withheld": withheld, "level": level,
            "currency": store.setting("currency", "USD") or "USD"}


def export_columns(scope: Scope) -> list[str]:
    """The columns of an export for ``scope``: no operator, and no price, where it may
    not see them."""
    cols = [c.name for c in uses.c if c.name not in ("row_hash", "event_id")]
    if not scope.operators:
        cols.remove("operator")
    if scope.prices:
        cols += ["unit_price", "cost", "price_basis"]
    return [*cols, "source_file", "event_id"]


def export_rows(store: Store, filters: dict[str, Any], *, scope: Scope = EVERYTHING,
                page_rows: int = EXPORT_PAGE) -> Iterator[list[Any]]:
    """Every use of the filtered set, newest first, as lists in ``export_columns`` order
    (header first): read by keyset pages of ``page_rows`` (each its own short read, so no
    transaction stays open for a slow download), priced and scoped a page at a time.
    A generator: the set is never held whole."""
    _, conds = _conditions(filters, scope)  # errors now, before the first row is sent
    columns = export_columns(scope)
    return _export(store, conds, columns, scope, page_rows)


def _export(store: Store, conds: list[Any], columns: list[str], scope: Scope,
            page_rows: int) -> Iterator[list[Any]]:
    yield columns
    cols = [c for c in uses.c if c.name != "row_hash"]
    last: tuple[Any, Any] | None = None
    while True:
        q = select(*cols).where(*conds)
        if last is not None:
            q = q.where(tuple_(uses.c.used_on, uses.c.use_id) < tuple_(*last))
        q = q.order_by(uses.c.used_on.desc(), uses.c.use_id.desc()).limit(page_rows)
        with store.read() as conn:
            rows = [dict(r._mapping) for r in conn.execute(q)]
            if not rows:
                return
            trace.price_rows(conn, rows, own=scope.producer_id)
        last = (rows[-1]["used_on"], rows[-1]["use_id"])
        trace.scoped(rows, scope)
        for r in rows:
            yield [r[c] for c in columns]
        if len(rows) < page_rows:
            return


def choices(store: Store, *, product: str | None = None, scope: Scope = EVERYTHING,
            max_operators: int = 2000) -> dict[str, list[Any]]:
    """What the filters offer, within ``scope``: products and producers (id, name), the
    versions (of ``product`` if given), the months with uses (newest first) and, for an
    account that sees them, the operators."""
    out: dict[str, list[Any]] = {}
    with store.read() as conn:
        q = select(products.c.product_id, products.c.name).order_by(products.c.product_id)
        if (cond := scope_condition("products", scope)) is not None:
            q = q.where(cond)
        out["products"] = [tuple(r) for r in conn.execute(q)]
        q = select(producers.c.producer_id, producers.c.name).order_by(producers.c.producer_id)
        if (cond := scope_condition("producers", scope)) is not None:
            q = q.where(cond)
        out["producers"] = [tuple(r) for r in conn.execute(q)]
        q = select(versions.c.version).distinct().order_by(versions.c.version)
        if product:
            q = q.where(versions.c.product_id == product)
        if (cond := scope_condition("versions", scope)) is not None:
            q = q.where(cond)
        out["versions"] = [r[0] for r in conn.execute(q)]
        q = select(use_cube.c.month).distinct().order_by(use_cube.c.month.desc())
        if scope.producer_id is not None:
            q = q.where(use_cube.c.producer_id == scope.producer_id)
        out["months"] = [r[0] for r in conn.execute(q)]
        out["operators"] = [] if not scope.operators else [r[0] for r in conn.execute(
            select(operator_cube.c.operator).distinct().where(operator_cube.c.operator != "")
            .order_by(operator_cube.c.operator).limit(max_operators))]
    return out
