"""The records behind a figure: list the uses of a group, each with its price and basis."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, func, literal, select, tuple_

from kuznia.errors import UsageError
from kuznia.i18n import N_
from kuznia.outputs import id_file_name, neutralise_frame
from kuznia.services.access import EVERYTHING, ForbiddenError, Scope
from kuznia.services.params import USES_LIMIT
from kuznia.services.periods import check_order, in_months, on_days, whole_months
from kuznia.services.prices import lot_prices, producer_prices, product_prices
from kuznia.services.results import Tabular
from kuznia.services.store import Store
from kuznia.store.schema import audit_events, products, use_cube, uses
from kuznia.store.tuples import tuples

if TYPE_CHECKING:
    import polars as pl

NOT_GIVEN = "-"  # on the command line: the uses that name no producer (or version, ...)


@dataclass
class UseList(Tabular):
    rows: list[dict[str, Any]]
    total: int | None  # None when not asked for (a count over millions of uses costs)
    filters: dict[str, str] = field(default_factory=dict)
    next_cursor: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"filters": self.filters, "total": self.total, "rows": self.rows,
                "next_cursor": self.next_cursor}


# The filters of ``list_uses`` and the options of ``kuznia uses`` that set them.
TRACE_OPTIONS = {"product": "--product", "category": "--category",
                 "producer": "--producer", "version": "--version",
                 "operator": "--operator", "failure_mode": "--failure-mode",
                 "lot": "--lot", "month": "--month", "date_from": "--from", "date_to": "--to",
                 "condition": "--condition"}


def uses_command(filters: dict[str, str]) -> str:
    """The command that lists the uses behind a figure, quoted for a POSIX shell, so that an
    id with a space or a quote still gives a command that runs.

    >>> uses_command({"product": "FPV A", "producer": "-"})
    "kuznia uses --product 'FPV A' --producer -"
    """
    words = ["kuznia", "uses"]
    for name, value in filters.items():
        words += [TRACE_OPTIONS[name], value]
    return shlex.join(words)


def _month_range(month: str) -> tuple[dt.date, dt.date]:
    try:
        start = dt.date.fromisoformat(month + "-01")
    except ValueError as exc:
        raise UsageError(N_("{month} takes YYYY-MM, not %(month)s"), params=("month",),
                         month=repr(month)) from exc
    if (start.year, start.month) == (dt.date.max.year, dt.date.max.month):
        return start, dt.date.max
    end = (start.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    return start, end - dt.timedelta(days=1)


def _day(value: dt.date | str | None, name: str) -> dt.date | None:
    """A day given as a date or as the ISO text a row's ``trace_filters`` carries."""
    if value is None or isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(value)
    except ValueError as exc:
        raise UsageError(N_("%(param)s takes a date (YYYY-MM-DD), not %(value)s"),
                         params=(name,), param="{" + name + "}", value=repr(value)) from exc


def use_conditions(*, product: str | None = None, producer: str | None = None,
                   version: str | None = None, operator: str | None = None,
                   failure_mode: str | None = None, lot: str | None = None,
                   month: str | None = None, category: str | None = None,
                   date_from: dt.date | None = None, date_to: dt.date | None = None,
                   condition: str | None = None,
                   scope: Scope = EVERYTHING) -> tuple[dict[str, str], list[Any]]:
    """The filters of a list of uses as given (``filters``) and as conditions on ``uses``,
    the caller's ``scope`` included: one definition for the list, its summary and its
    exports. ``condition``: ``key=value`` (``key=-``: no value for ``key``), several
    joined by ``;``, all of which a use's conditions must hold (``condition_filter``)."""
    if operator is not None and not scope.operators:
        raise ForbiddenError(N_("this account may not see or filter by operators"))
    src = uses
    filters: dict[str, str] = {}
    conds: list[Any] = []
    for name, value in (("product_id", product), ("producer_id", producer),
                        ("version", version), ("operator", operator),
                        ("failure_mode", failure_mode), ("lot", lot)):
        if value is None:
            continue
        filters[name] = value
        conds.append(src.c[name].is_(None) if value == NOT_GIVEN else src.c[name] == value)
    if category is not None:
        filters["category"] = category
        conds.append(src.c.product_id.in_(
            select(products.c.product_id).where(products.c.category == category)))
    if month:
        filters["month"] = month
        lo, hi = _month_range(month)
        conds += [src.c.used_on >= lo, src.c.used_on <= hi]
    if date_from:
        filters["date_from"] = str(date_from)
        conds.append(src.c.used_on >= date_from)
    if date_to:
        filters["date_to"] = str(date_to)
        conds.append(src.c.used_on <= date_to)
    if condition is not None:
        filters["condition"] = condition
        conds += condition_filter(condition)
    if scope.producer_id is not None:
        conds.append(src.c.producer_id == scope.producer_id)
    return filters, conds


def scoped(rows: list[dict[str, Any]], scope: Scope) -> None:
    """Priced rows as ``scope`` may see them, in place: dates as ISO text; no operator
    unless it may see operators; no price that it may not see (none for an account
    without prices, none from other producers' contracts for a producer)."""
    for r in rows:
        r["used_on"] = str(r["used_on"])
        if not scope.operators:
            r["operator"] = None
        if not scope.prices or (scope.producer_id is not None
                                and r["price_basis"] == "product_average"):
            r["unit_price"] = r["cost"] = None
            r["price_basis"] = "withheld"


def list_uses(
    store: Store,
    *,
    product: str | None = None,
    producer: str | None = None,
    version: str | None = None,
    operator: str | None = None,
    failure_mode: str | None = None,
    lot: str | None = None,
    month: str | None = None,
    category: str | None = None,
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
    condition: str | None = None,
    limit: int | None = USES_LIMIT,
    cursor: str | None = None,
    with_total: bool = True,
    scope: Scope = EVERYTHING,
) -> UseList:
    """Uses matching every filter given, oldest first, with what each one cost.

    ``cursor`` continues after the last use of a page (its ``next_cursor``). Within a
    producer's ``scope`` only its own uses, with no operator, priced from its own
    contracts only (none from other producers' contracts: no product average; a use it
    has no price for is ``unknown``); with ``scope.prices`` False, no price at all.
    """
    if limit is not None and limit < 0:
        raise UsageError(N_("{limit} must be 0 (all) or more"), params=("limit",))
    date_from, date_to = _day(date_from, "date_from"), _day(date_to, "date_to")
    check_order(date_from, date_to)
    filters, conds = use_conditions(
        product=product, producer=producer, version=version, operator=operator,
        failure_mode=failure_mode, lot=lot, month=month, category=category,
        date_from=date_from, date_to=date_to, condition=condition, scope=scope)
    src = uses
    page_conds = list(conds)
    if cursor:
        used_on, use_id = _decode_cursor(cursor)
        page_conds.append(tuple_(src.c.used_on, src.c.use_id) > tuple_(used_on, use_id))
    # The page first (an index range scan, ix_uses_trace), then prices for its rows only.
    page_q = (select(*[c for c in src.c if c.name != "row_hash"]).where(*page_conds)
              .order_by(src.c.used_on, src.c.use_id))
    lo, hi = date_from, date_to
    if month:
        m_lo, m_hi = _month_range(month)
        lo, hi = max(lo or m_lo, m_lo), min(hi or m_hi, m_hi)
    # the cube knows these filters
    kept = operator is None and failure_mode is None and condition is None
    with store.read() as conn:
        total = None
        if with_total and kept:
            total = _kept_total(conn, dict(filters), category, lo, hi, scope)
        elif with_total:
            total = conn.execute(select(func.count()).select_from(src).where(*conds)
                                 ).scalar_one()
        if limit and kept:
            after = max((d for d in (lo, _decode_cursor(cursor)[0] if cursor else None)
                         if d is not None), default=None)
            last = _page_window(conn, _key_conds(dict(filters), category, scope)[0], after,
                                hi, limit + 1)
            if last is not None:
                page_q = page_q.where(src.c.used_on <= last)
        rows = [dict(r._mapping) for r in conn.execute(
            page_q.limit(limit + 1) if limit else page_q)]
        price_rows(conn, rows, own=scope.producer_id)
    more = bool(limit) and len(rows) > (limit or 0)
    rows = rows[:limit] if limit else rows
    nxt = _encode_cursor(rows[-1]["used_on"], rows[-1]["use_id"]) if more else None
    scoped(rows, scope)
    return UseList(rows, None if total is None else int(total), filters, nxt)


def parse_condition(condition: str) -> list[tuple[str, str]]:
    """``key=value;key=value`` as pairs, each stripped (as the kept failure counts read a
    use's conditions); a usage error names the parameter otherwise.

    >>> parse_condition("ew=high; night=-")
    [('ew', 'high'), ('night', '-')]
    """
    pairs = []
    for part in condition.split(";"):
        key, eq, value = (x.strip() for x in part.strip().partition("="))
        if not part.strip():
            continue
        if not eq or not key:
            raise UsageError(N_("{condition} takes key=value (several joined by ';'; key=- for "
                                "uses without that key), not %(condition)s"),
                             params=("condition",), condition=repr(condition))
        pairs.append((key, value))
    if not pairs:
        raise UsageError(N_("{condition} takes key=value, not an empty text"),
                         params=("condition",))
    return pairs


def condition_filter(condition: str) -> list[Any]:
    """SQL conditions on ``uses.conditions`` (``key=value;key=value`` as written) for
    ``condition``: the pair among the use's pairs, a space on either side of a ``;``
    ignored, as the Pareto's grouping by ``condition:KEY`` reads them (``key=-``: no pair
    with that key, the Pareto's "(none)")."""
    # ';' + the pairs + ';', so that every pair is ';key=value;' whatever its place
    pairs = literal(";").concat(func.replace(func.replace(
        func.trim(func.coalesce(uses.c.conditions, "")), "; ", ";"), " ;", ";")).concat(";")

    def like(text: str) -> str:  # '/' escapes (a backslash reads differently per store)
        return "%;" + text.replace("/", "//").replace("%", "/%").replace("_", "/_") + "%"

    out = []
    for key, value in parse_condition(condition):
        if value == NOT_GIVEN:
            out.append(~pairs.like(like(f"{key}="), escape="/"))
        else:
            out.append(pairs.like(like(f"{key}={value};"), escape="/"))
    return out


RESTRICT = 500  # up to this many lots and products, price tables are read for them only


def price_rows(conn: Connection, rows: list[dict[str, Any]], own: str | None = None) -> None:
    """Add each use's unit price, cost, price basis and source file, in place: by its lot's
    contract, else its producer's average for the product, else the product's average.
    With ``own`` (a producer's own list), from that producer's contracts only: no product
    average, and no lot of another producer's contract.

    The price tables are read for the page's lots and products only (a page of 100 uses
    prices from a handful of contracts), then joined here: in one statement with the page
    as a common table expression, SQLite ran the page's query again for each price table
    that referred to it (0.45 s for ten uses of a million, against 0.08 s)."""
    lots = {r["lot"] for r in rows if r["lot"] is not None}
    products_ = {r["product_id"] for r in rows}
    few = len(lots) <= RESTRICT and len(products_) <= RESTRICT
    lp = lot_prices(lots if few else None, own=own)
    by_lot = {lot: price for lot, price in tuples(conn.execute(select(lp.c.lot, lp.c.price)))}
    pp = producer_prices(products_ if few else None, own=own)
    by_producer = {(producer, product): price for producer, product, price in tuples(conn.execute(
        select(pp.c.producer_id, pp.c.product_id, pp.c.price)))}
    by_product: dict[str, float] = {}
    if own is None:
        prp = product_prices(products_ if few else None)
        by_product = {product: price for product, price in tuples(conn.execute(
            select(prp.c.product_id, prp.c.price)))}
    events = sorted({r["event_id"] for r in rows})
    files: dict[int, str | None] = {}
    for i in range(0, len(events), 500):  # bounded bind parameters per statement
        files.update((event, name) for event, name in tuples(conn.execute(
            select(audit_events.c.event_id, audit_events.c.file_name)
            .where(audit_events.c.event_id.in_(events[i:i + 500])))))
    for r in rows:
        by = (by_lot.get(r["lot"]), by_producer.get((r["producer_id"], r["product_id"])),
              by_product.get(r["product_id"]))
        price = next((p for p in by if p is not None), None)
        r["unit_price"] = price
        r["cost"] = None if price is None else r["units_used"] * price
        r["price_basis"] = ("lot" if by[0] is not None else "producer_average"
                            if by[1] is not None else "product_average" if price is not None
                            else "unknown")
        r["source_file"] = files.get(r["event_id"])


def _key_conds(keys: dict[str, str], category: str | None, scope: Scope
               ) -> tuple[list[Any], list[Any]]:
    """The filters on product, producer, version, lot and category, as conditions on
    ``use_cube`` and on ``uses``."""
    cube_conds, use_conds = [], []
    for name in ("product_id", "producer_id", "version", "lot"):
        if name in keys:
            value = keys[name]
            cube_conds.append(use_cube.c[name] == ("" if value == NOT_GIVEN else value))
            use_conds.append(uses.c[name].is_(None) if value == NOT_GIVEN
                             else uses.c[name] == value)
    if category is not None:
        of = select(products.c.product_id).where(products.c.category == category)
        cube_conds.append(use_cube.c.product_id.in_(of))
        use_conds.append(uses.c.product_id.in_(of))
    if scope.producer_id is not None:
        cube_conds.append(use_cube.c.producer_id == scope.producer_id)
        use_conds.append(uses.c.producer_id == scope.producer_id)
    return cube_conds, use_conds


def _page_window(conn: Connection, cube_conds: list[Any], after: dt.date | None,
                 hi: dt.date | None, wanted: int) -> dt.date | None:
    """A last day before which the next ``wanted`` uses certainly lie, from the kept
    monthly sums, or None when the rest of the range may be needed.

    The month of ``after`` (the range's first day, or the cursor's) is not counted (the
    uses of it before ``after`` are not in the page); every later month is whole. With
    that bound the page's query sorts a month or so of uses rather than all of them (a
    product's first 100 uses of 500,000: 1.1 s on PostgreSQL without it)."""
    q = (select(use_cube.c.month, func.sum(use_cube.c.uses)).where(*cube_conds)
         .group_by(use_cube.c.month).order_by(use_cube.c.month))
    if after is not None:
        q = q.where(use_cube.c.month > after.strftime("%Y-%m"))
    if hi is not None:
        q = q.where(use_cube.c.month <= hi.strftime("%Y-%m"))
    seen = 0
    for month, n in tuples(conn.execute(q)):
        seen += int(n or 0)
        if seen >= wanted:
            return _month_range(month)[1]
    return None


def _kept_total(conn: Connection, keys: dict[str, str], category: str | None,
                lo: dt.date | None, hi: dt.date | None, scope: Scope) -> int:
    """How many uses match ``keys`` (product, producer, version, lot; ``NOT_GIVEN`` for
    none), ``category`` and the days ``lo``-``hi``: the whole months from the sums kept in
    ``use_cube``, the days at either end counted from the uses (one scan). Counting every
    matching use took a second and more at 10 million uses, for a page of ten."""
    cube_conds, use_conds = _key_conds(keys, category, scope)
    months, ends = whole_months(lo, hi)
    total = 0
    if months is not None:
        total += int(conn.execute(select(func.coalesce(func.sum(use_cube.c.uses), 0))
                                  .where(*cube_conds, *in_months(use_cube.c.month, months))
                                  ).scalar_one())
    if ends:  # the ends of a range are bounded on one side at least
        days = on_days(uses.c.used_on, ends)
        assert days is not None  # no end is open at both ends (whole_months took those)
        total += int(conn.execute(select(func.count()).select_from(uses)
                                  .where(*use_conds, days)
                                  ).scalar_one())
    return total


def _encode_cursor(used_on: dt.date, use_id: str) -> str:
    text = json.dumps([str(used_on), use_id])
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[dt.date, str]:
    try:
        day, use_id = json.loads(base64.urlsafe_b64decode(cursor.encode("ascii") + b"==="))
        if not isinstance(use_id, str):
            raise ValueError
        return dt.date.fromisoformat(day), use_id
    except (ValueError, TypeError, UnicodeError, binascii.Error) as exc:
        raise UsageError(N_("{cursor} is not one this server gave"),
                         params=("cursor",)) from exc


def use_list_path(product_id: str, producer_id: str | None) -> str:
    """Where ``export_use_lists`` puts the uses of one product and producer (relative):
    every id gets a file name of its own that stays inside the folder."""
    return f"uses/{id_file_name(product_id)}/{id_file_name(producer_id, '.csv')}"


def _price_frames(conn: Connection) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """The three price tables (by lot, producer and product), small enough to hold."""
    import polars as pl

    def frame(sub: Any, keys: list[str]) -> pl.DataFrame:
        rows = conn.execute(select(sub)).all()
        return pl.DataFrame([tuple(r) for r in rows], schema={**{k: pl.String for k in keys},
                                                              "price": pl.Float64},
                            orient="row")

    return (frame(lot_prices(), ["lot"]),
            frame(producer_prices(), ["producer_id", "product_id"]),
            frame(product_prices(), ["product_id"]))


def export_use_lists(store: Store, folder: Path, chunk_rows: int = 100_000) -> int:
    """Write every use, with its price and basis, into one CSV per product and producer.

    Streams the uses once in chunks (bounded memory); prices are joined in memory from
    the three small price tables, the rules of ``list_uses`` in a producer's scope: each
    producer's file is priced from its own contracts only (a use it has no price for is
    ``unknown``), and only the uses naming no producer take the product's average.
    Returns the count.
    ``folder`` is one Kuznia is building (a file already there is never overwritten), and
    text cells a spreadsheet would run as formulas are neutralised.
    """
    import polars as pl

    cols = [c.name for c in uses.c if c.name != "row_hash"]  # the audit's, not the user's
    written = 0
    started: set[str] = set()
    with store.read() as conn:
        by_lot, by_producer, by_product = _price_frames(conn)
        cur = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        try:
            cur.execute("SELECT " + ", ".join(  # dates as ISO text on every backend
                f"CAST({c} AS TEXT)" if c == "used_on" else c for c in cols) + " FROM uses")
            while rows := cur.fetchmany(chunk_rows):
                frame = pl.DataFrame(rows, orient="row", schema={
                    c: pl.Int64 if c in ("units_used", "effects", "event_id") else pl.String
                    for c in cols})
                frame = _priced(frame, by_lot, by_producer, by_product)
                for (product_id, producer_id), part in frame.partition_by(
                        ["product_id", "producer_id"], as_dict=True,
                        maintain_order=False).items():
                    rel = use_list_path(str(product_id), producer_id)  # type: ignore[arg-type]
                    path = folder / rel
                    path.parent.mkdir(parents=True, exist_ok=True)
                    with path.open("a" if rel in started else "x", encoding="utf-8") as f:
                        neutralise_frame(part).write_csv(f, include_header=rel not in started)
                    started.add(rel)
                    written += part.height
        finally:
            cur.close()
    return written


def _priced(frame: pl.DataFrame, by_lot: pl.DataFrame, by_producer: pl.DataFrame,
            by_product: pl.DataFrame) -> pl.DataFrame:
    import polars as pl

    lot_p, prod_p, all_p = pl.col("price_lot"), pl.col("price_producer"), pl.col("price_product")
    return (
        frame.join(by_lot.rename({"price": "price_lot"}), on="lot", how="left")
        .join(by_producer.rename({"price": "price_producer"}), on=["producer_id", "product_id"],
              how="left")
        .join(by_product.rename({"price": "price_product"}), on="product_id", how="left")
        # a producer's file is its own use list: the product's average (every producer's
        # contracts) prices only the uses that name no producer
        .with_columns(pl.when(pl.col("producer_id").is_null()).then(all_p)
                      .otherwise(None).alias("price_product"))
        .with_columns(pl.coalesce(lot_p, prod_p, all_p).alias("unit_price"))
        .with_columns(
            (pl.col("units_used") * pl.col("unit_price")).alias("cost"),
            pl.when(lot_p.is_not_null()).then(pl.lit("lot"))
            .when(prod_p.is_not_null()).then(pl.lit("producer_average"))
            .when(all_p.is_not_null()).then(pl.lit("product_average"))
            .otherwise(pl.lit("unknown")).alias("price_basis"),
        )
        .drop("price_lot", "price_producer", "price_product")
    )
