"""The audit trail: one hash-chained event per write.

Each event's hash is SHA-256 over its own fields (canonical JSON) and the previous event's
hash, so editing, removing or reordering any event breaks the chain at that event. The
chain cannot, by itself, show that the newest events were cut off: keep the head hash
(``kuznia audit list`` shows it) somewhere else and compare.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import polars as pl
from sqlalchemy import Connection, func, select

from kuznia.errors import UsageError
from kuznia.i18n import N_
from kuznia.ingest.tables import SPECS, TableSpec
from kuznia.services.params import AUDIT_LIMIT
from kuznia.services.periods import check_order
from kuznia.services.results import Tabular
from kuznia.store import bulk
from kuznia.store import schema as s
from kuznia.store.digest import TableDigest, digest_of, row_hashes, stored_hash
from kuznia.store.schema import audit_events, row_updates

GENESIS = "0" * 64
HASHED = (
    "event_id", "at", "actor", "action", "table_name", "file_name", "file_sha256",
    "rows_added", "rows_updated", "rows_unchanged", "rows_rejected", "detail", "prev_hash",
)


def event_hash(event: dict[str, Any]) -> str:
    body = json.dumps({k: event[k] for k in HASHED}, sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False, default=str)
    return hashlib.sha256(body.encode()).hexdigest()


# Built once: the server asks this on every kept answer, and a statement object reused
# keeps its compiled form (SQLAlchemy memoises its cache key on the object).
_HEAD = (select(audit_events.c.event_id, audit_events.c.hash)
         .order_by(audit_events.c.event_id.desc()).limit(1))


def head(conn: Connection) -> tuple[int, str]:
    """The last event's id and hash, (0, "") for none: every change to the records, the
    accounts or the plans appends an event, so this names the version of the data."""
    row = conn.execute(_HEAD).first()
    return (0, "") if row is None else (int(row.event_id), str(row.hash))


def next_event_id(conn: Connection) -> int:
    """The id the next event will get; call inside the write transaction that appends it."""
    last = conn.execute(select(func.coalesce(func.max(audit_events.c.event_id), 0)))
    return int(last.scalar_one()) + 1


def append(
    conn: Connection,
    event_id: int,
    *,
    actor: str,
    action: str,
    table_name: str | None = None,
    file_name: str | None = None,
    file_sha256: str | None = None,
    rows_added: int = 0,
    rows_updated: int = 0,
    rows_unchanged: int = 0,
    rows_rejected: int = 0,
    detail: dict[str, Any] | None = None,
) -> dict[str, Any]:
    prev = conn.execute(
        select(audit_events.c.hash).order_by(audit_events.c.event_id.desc()).limit(1)
    ).scalar()
    event: dict[str, Any] = {
        "event_id": event_id,
        "at": dt.datetime.now(dt.UTC).isoformat(timespec="microseconds"),
        "actor": actor,
        "action": action,
        "table_name": table_name,
        "file_name": file_name,
        "file_sha256": file_sha256,
        "rows_added": rows_added,
        "rows_updated": rows_updated,
        "rows_unchanged": rows_unchanged,
        "rows_rejected": rows_rejected,
        "detail": json.dumps(detail or {}, sort_keys=True),
        "prev_hash": prev or GENESIS,
    }
    event["hash"] = event_hash(event)
    conn.execute(audit_events.insert(), event)
    return event


@dataclass
class EventList(Tabular):
    rows: list[dict[str, Any]]
    rows_key = "events"


def list_events(conn: Connection, limit: int | None = None) -> list[dict[str, Any]]:
    """The newest ``limit`` events (0 or None: all), oldest first. The front ends pass
    their limit (``AUDIT_LIMIT`` unless asked); the chain's checks read them all."""
    q = select(audit_events).order_by(audit_events.c.event_id.desc())
    if limit:
        q = q.limit(limit)
    return [dict(r._mapping) for r in conn.execute(q)][::-1]


def find_events(conn: Connection, *, actor: str | None = None, table: str | None = None,
                date_from: dt.date | None = None, date_to: dt.date | None = None,
                before: int | None = None, limit: int = AUDIT_LIMIT) -> list[dict[str, Any]]:
    """Events newest first, filtered by who, which table and the day they were written
    (UTC); ``before`` continues below an event id (the last one of a page)."""
    check_order(date_from, date_to)
    c = audit_events.c
    q = select(audit_events)
    if actor:
        q = q.where(c.actor == actor)
    if table:
        q = q.where(c.table_name == table)
    if date_from:
        q = q.where(c.at >= date_from.isoformat())
    if date_to and date_to < dt.date.max:  # the last day there is leaves the end open
        q = q.where(c.at < (date_to + dt.timedelta(days=1)).isoformat())
    if before is not None:
        q = q.where(c.event_id < before)
    return [dict(r._mapping) for r in conn.execute(q.order_by(c.event_id.desc()).limit(limit))]


@dataclass
class RowHistory(Tabular):
    """Changes to stored rows, oldest first: each an import with ``update`` that replaced a
    row's values, with the event, when, who, from which file, and each value before and
    after."""

    rows: list[dict[str, Any]]
    rows_key = "changes"


def row_history(conn: Connection, table: str | None = None, key: str | None = None,
                limit: int | None = AUDIT_LIMIT) -> list[dict[str, Any]]:
    """What ``import --update`` changed, oldest first: in ``table`` (a data table), of the
    row whose key is ``key`` (a composite key joined by '/', as the import's messages give
    it); ``limit`` the newest N (None: all)."""
    if table is not None and table not in SPECS:
        raise UsageError(N_("{table} takes one of %(tables)s; not %(table)s"),
                         params=("table",), tables=", ".join(SPECS), table=repr(table))
    if limit is not None and limit < 0:
        raise UsageError(N_("{limit} must be 0 (all) or more"), params=("limit",))
    u, e = row_updates.c, audit_events.c
    q = (select(u.update_id, u.event_id, e.at, e.actor, e.file_name, u.table_name,
                u.row_key, u.old_values, u.new_values)
         .join(audit_events, e.event_id == u.event_id)
         .order_by(u.update_id.desc()))
    if table is not None:
        q = q.where(u.table_name == table)
    if key is not None:
        q = q.where(u.row_key == key)
    if limit:
        q = q.limit(limit)
    out = []
    for r in conn.execute(q):
        old, new = json.loads(r.old_values), json.loads(r.new_values)
        out.append({"update_id": r.update_id, "event_id": r.event_id, "at": r.at,
                    "actor": r.actor, "file_name": r.file_name, "table": r.table_name,
                    "key": r.row_key,
                    "changes": [{"column": c, "old": old.get(c), "new": new.get(c)}
                                for c in sorted(set(old) | set(new))]})
    return out[::-1]


# --- the data behind the events -------------------------------------------------------

_DTYPES = {"id": pl.String, "text": pl.String, "choice": pl.String, "currency": pl.String,
           "int": pl.Int64, "number": pl.Float64, "date": pl.Date}
CHUNK = 200_000
UNHASHED_SETTINGS = ("kuznia_version",)  # written by upgrades, not by users


def hashed_columns(spec: TableSpec) -> dict[str, Any]:
    """The columns a row's hash covers, in order, with their types."""
    cols = {f.name: _DTYPES[f.kind] for f in spec.fields}
    cols.update({c: pl.Float64 for c in spec.derived})
    cols["event_id"] = pl.Int64
    return cols


def stored_rows(conn: Connection, table: str, chunk: int = CHUNK,
                spec: TableSpec | None = None) -> Iterator[pl.DataFrame]:
    """The rows of a data table in key order, typed as hashed, with ``row_hash``
    (``spec``: the table's columns as an older schema had them, for its migrations)."""
    spec = spec or SPECS[table]
    cols = hashed_columns(spec)
    names = list(cols)
    exprs = [f"CAST({c} AS TEXT)" if t == pl.Date else c for c, t in cols.items()]
    result = conn.exec_driver_sql(
        f"SELECT {', '.join(exprs)}, row_hash FROM {table} ORDER BY {', '.join(spec.key)}")
    while rows := result.fetchmany(chunk):
        schema = {c: (pl.String if t == pl.Date else t) for c, t in cols.items()}
        frame = pl.DataFrame(rows, orient="row", schema={**schema, "row_hash": pl.Int64})
        yield frame.with_columns(pl.col(c).str.slice(0, 10).str.to_date()
                                 for c, t in cols.items() if t == pl.Date).select(
            *names, "row_hash")


def backfill_row_hashes(conn: Connection, table: str, spec: TableSpec | None = None
                        ) -> TableDigest:
    """Give every row of ``table`` its hash (an upgrade of an older workspace; ``spec``:
    the columns the table has at that step of the upgrade)."""
    spec = spec or SPECS[table]
    total = TableDigest()
    names = list(hashed_columns(spec))
    for frame in list(stored_rows(conn, table, spec=spec)):
        lo, hi = row_hashes(frame.select(names))
        total = total + digest_of(lo, hi)
        keyed = frame.select(*spec.key).with_columns(pl.Series("row_hash", stored_hash(lo)))
        bulk.update_rows(conn, s.DATA_TABLES[table], tuple(spec.key), keyed)
    return total


def _small_table_digest(conn: Connection, query: str) -> TableDigest:
    rows = conn.exec_driver_sql(query).all()
    frame = pl.DataFrame([tuple(r) for r in rows], orient="row",
                         schema={f"c{i}": pl.String for i in range(len(rows[0]))}
                         if rows else {"c0": pl.String})
    return digest_of(*row_hashes(frame)) if rows else TableDigest()


def settings_digest(conn: Connection) -> TableDigest:
    skip = ", ".join(f"'{k}'" for k in UNHASHED_SETTINGS)
    return _small_table_digest(conn, f"SELECT key, value FROM settings WHERE key NOT IN "
                                     f"({skip}) ORDER BY key")


def plans_digest(conn: Connection) -> TableDigest:
    return _small_table_digest(conn, "SELECT name, kind, created_at, actor, inputs, result, "
                                     "CAST(event_id AS TEXT) FROM plans ORDER BY name")


def recorded_digests(events: list[dict[str, Any]]) -> dict[str, tuple[int, TableDigest]]:
    """Each table's digest as the newest event that wrote it recorded, with that event."""
    out: dict[str, tuple[int, TableDigest]] = {}
    for e in events:
        for table, d in json.loads(e["detail"] or "{}").get("digests", {}).items():
            out[table] = (e["event_id"], TableDigest.from_dict(d))
    return out


def table_digest(conn: Connection, table: str) -> TableDigest:
    """The digest the newest event recorded for ``table`` (empty if none did)."""
    found = recorded_digests(list_events(conn)).get(table)
    return found[1] if found else TableDigest()
