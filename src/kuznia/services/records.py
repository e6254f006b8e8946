"""Stored records, table by table: list them (filtered, paged with a cursor) or read one
by its key, within the caller's ``Scope``.

A page is ordered by the table's key and continues after the last key it gave
(``next_cursor``), so a page costs the same wherever it is and a row written meanwhile
is neither skipped nor repeated. A record out of a producer's scope is "not found", the
same answer, word for word, as for a record that does not exist.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    Boolean,
    Date,
    DateTime,
    Float,
    Integer,
    Numeric,
    and_,
    or_,
    select,
    tuple_,
    union,
)

from kuznia.errors import NotFoundError, UsageError
from kuznia.i18n import N_, Text
from kuznia.ingest.tables import SPECS
from kuznia.services.access import EVERYTHING, Scope
from kuznia.services.params import RECORDS_LIMIT
from kuznia.services.periods import check_order
from kuznia.services.store import Store
from kuznia.store.schema import DATA_TABLES, contracts, offers, sites, use_cube
from kuznia.words import LABELS

MAX_LIMIT = 1000
HIDDEN = ("row_hash",)  # the audit's, not the user's


@dataclass
class RecordPage:
    table: str
    rows: list[dict[str, Any]]
    next_cursor: str | None

    def to_dict(self) -> dict[str, Any]:
        return {"table": self.table, "rows": self.rows, "next_cursor": self.next_cursor}


def key_columns(table: str) -> tuple[str, ...]:
    return SPECS[table].key


def filter_columns(table: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The columns a list filters on: ids (equal to) and dates (from, to)."""
    spec = SPECS[table]
    ids = tuple(f.name for f in spec.fields if f.kind == "id")
    dates = tuple(f.name for f in spec.fields if f.kind == "date")
    return ids, dates


def own_products(producer_id: str) -> Any:
    """The products a producer is bound to: by a contract, an offer, a site or a use."""
    return union(
        select(contracts.c.product_id).where(contracts.c.producer_id == producer_id),
        select(offers.c.product_id).where(offers.c.producer_id == producer_id),
        select(sites.c.product_id).where(sites.c.producer_id == producer_id),
        select(use_cube.c.product_id).where(use_cube.c.producer_id == producer_id),
    )


def scope_condition(table: str, scope: Scope) -> Any:
    """The SQL condition for the rows of ``table`` within ``scope`` (None: all of them)."""
    if scope.partner_id is not None:  # a partner reads no table (access refuses it first)
        raise NotFoundError(N_("no table named %(table)s"), table=repr(table))
    p = scope.producer_id
    if p is None:
        return None
    t = DATA_TABLES[table]
    if table in ("producers", "contracts", "uses", "offers", "sites"):
        return t.c.producer_id == p
    if table in ("products", "versions", "failure_modes"):
        return t.c.product_id.in_(own_products(p))
    if table == "deliveries":
        return t.c.contract_id.in_(select(contracts.c.contract_id)
                                   .where(contracts.c.producer_id == p))
    if table == "corrective_actions":
        return or_(t.c.producer_id == p,
                   and_(t.c.producer_id.is_(None), t.c.product_id.in_(own_products(p))))
    # never reached: access checks first
    raise NotFoundError(N_("no table named %(table)s"), table=repr(table))


def _columns(table: str, scope: Scope) -> list[Any]:
    t = DATA_TABLES[table]
    hidden = HIDDEN + (() if scope.operators else ("operator",))
    return [c for c in t.c if c.name not in hidden]


def _plain(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v.isoformat() if isinstance(v, dt.date) else v for k, v in row.items()}


def _decode_cursor(table: str, cursor: str) -> list[Any]:
    keys = key_columns(table)
    try:
        raw = json.loads(base64.urlsafe_b64decode(cursor.encode("ascii") + b"==="))
        if not (isinstance(raw, list) and len(raw) == len(keys)
                and all(isinstance(v, str) for v in raw)):
            raise ValueError
        t = DATA_TABLES[table]
        return [dt.date.fromisoformat(v) if isinstance(t.c[k].type, Date) else v
                for k, v in zip(keys, raw, strict=True)]
    except (ValueError, UnicodeError, binascii.Error) as exc:
        raise UsageError(N_("{cursor} is not one this server gave"),
                         params=("cursor",)) from exc


def column_kinds(table: str) -> dict[str, Any]:
    """The Python type of each column of ``table`` a stored row carries (``row_hash`` left
    out), for the API's declared answers: bool, int, float or int, a date, or text."""
    kinds: dict[str, Any] = {}
    for c in DATA_TABLES[table].c:
        if c.name == "row_hash":
            continue
        t = c.type
        kinds[c.name] = (bool if isinstance(t, Boolean) else int if isinstance(t, Integer)
                         else float | int if isinstance(t, Float | Numeric)
                         else dt.date if isinstance(t, Date) and not isinstance(t, DateTime)
                         else str)
    return kinds


decode_cursor = _decode_cursor  # a key-order cursor of ``table``, for the lists built on it


def encode_cursor(values: list[Any]) -> str:
    text = json.dumps([v.isoformat() if isinstance(v, dt.date) else str(v) for v in values])
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _limit(limit: int) -> int:
    if not 1 <= limit <= MAX_LIMIT:
        raise UsageError(N_("{limit} must be from 1 to %(most)s"), params=("limit",),
                         most=str(MAX_LIMIT))
    return limit


def list_records(store: Store, table: str, *, scope: Scope = EVERYTHING,
                 filters: dict[str, str] | None = None,
                 dates: dict[str, tuple[dt.date | None, dt.date | None]] | None = None,
                 cursor: str | None = None, limit: int = RECORDS_LIMIT) -> RecordPage:
    """One page of ``table``'s rows in key order: ``filters`` are id columns' values,
    ``dates`` each date column's (from, to), both ends included."""
    limit = _limit(limit)
    t = DATA_TABLES[table]
    keys = [t.c[k] for k in key_columns(table)]
    ids, date_cols = filter_columns(table)
    conds = []
    for name, value in (filters or {}).items():
        if name not in ids:
            # the column's name as a parameter token, named by the adapter
            raise UsageError(N_("%(table)s has no id column %(column)s"), params=(name,),
                             table=table, column="{" + name + "}")
        conds.append(t.c[name] == value)
    for name, (lo, hi) in (dates or {}).items():
        if name not in date_cols:
            raise UsageError(N_("%(table)s has no date column %(column)s"), table=table,
                             column=repr(name))
        check_order(lo, hi, (f"{name}_from", f"{name}_to"))
        if lo:
            conds.append(t.c[name] >= lo)
        if hi:
            conds.append(t.c[name] <= hi)
    if (cond := scope_condition(table, scope)) is not None:
        conds.append(cond)
    if cursor:
        conds.append(tuple_(*keys) > tuple_(*_decode_cursor(table, cursor)))
    q = select(*_columns(table, scope)).where(*conds).order_by(*keys).limit(limit + 1)
    with store.read() as conn:
        rows = [dict(r._mapping) for r in conn.execute(q)]
    more = len(rows) > limit
    rows = rows[:limit]
    nxt = encode_cursor([rows[-1][k.name] for k in keys]) if more else None
    return RecordPage(table, [_plain(r) for r in rows], nxt)


def get_record(store: Store, table: str, key: dict[str, str], *,
               scope: Scope = EVERYTHING) -> dict[str, Any]:
    """The record of ``table`` under ``key`` (every key column), if within ``scope``."""
    t = DATA_TABLES[table]
    conds = []
    for k in key_columns(table):
        value: Any = key[k]
        if isinstance(t.c[k].type, Date):
            try:
                value = dt.date.fromisoformat(value)
            except ValueError as exc:
                raise UsageError(N_("%(param)s takes a date (YYYY-MM-DD), not %(value)s"),
                                 params=(k,), param="{" + k + "}",
                                 value=repr(value)) from exc
        conds.append(t.c[k] == value)
    if (cond := scope_condition(table, scope)) is not None:
        conds.append(cond)
    with store.read() as conn:
        row = conn.execute(select(*_columns(table, scope)).where(*conds)).first()
    if row is None:
        shown = ", ".join(f"{k} {key[k]!r}" for k in key_columns(table))
        raise NotFoundError(N_("no %(table)s record with %(key)s"), key=shown,
                            table=Text(LABELS[table]) if table in LABELS else table)
    return _plain(dict(row._mapping))
