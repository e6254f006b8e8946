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

import numpy as np
import polars as pl
from sqlalchemy import Connection, func, select

from kuznia.errors import UsageError
from kuznia.ingest.tables import IMPORT_ORDER, SPECS, TableSpec
from kuznia.services.params import AUDIT_LIMIT
from kuznia.services.periods import check_order
from kuznia.services.results import Tabular
from kuznia.store import bulk
from kuznia.store import schema as s
from kuznia.store.digest import TableDigest, digest_of, row_hashes, stored_hash
from kuznia.store.schema import audit_events, row_updates
from kuznia.store.tuples import tuples

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
                before: int | None = None, limit: int = 100) -> list[dict[str, Any]]:
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
        raise UsageError(f"{{table}} takes one of {', '.join(SPECS)}; not {table!r}",
                         params=("table",))
    if limit is not None and limit < 0:
        raise UsageError("{limit} must be 0 (all) or more", params=("limit",))
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


@dataclass(frozen=True)
class ChainCheck:
    ok: bool
    checked: int
    head: str | None
    first_bad_event: int | None = None
    reason: str | None = None
    deep: bool = False  # the rows were checked against the chain too
    rows_checked: int | None = None
    table: str | None = None  # with deep: the first table that differs
    key: str | None = None  # ... and the first key, where one can be named
    events_after_expected_head: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return self.__dict__.copy()


def verify(conn: Connection, *, deep: bool = False, expect_head: str | None = None
           ) -> ChainCheck:
    """Check the chain (links, hashes, ids), that it starts with the workspace's creation,
    that it holds ``expect_head`` (a head kept elsewhere: newer events may follow it, none
    may be missing), and with ``deep`` that the stored rows are what it recorded."""
    events = list_events(conn)
    check = verify_chain(events)
    if not check.ok:
        return check
    if not events:
        return ChainCheck(False, 0, None, None, "the chain is empty, but the workspace "
                          "exists: its events were deleted")
    if events[0]["action"] != "init":
        return ChainCheck(False, 0, None, events[0]["event_id"],
                          "the chain does not start with the workspace's creation: it was "
                          "cut and restarted")
    after = None
    if expect_head is not None:
        hashes = [e["hash"] for e in events]
        if expect_head not in hashes:
            return ChainCheck(False, check.checked, check.head, None,
                              f"the head kept elsewhere ({expect_head[:16]}...) is not in the "
                              "chain: events were cut off or rewritten")
        after = len(hashes) - 1 - hashes.index(expect_head)
    if not deep:
        return ChainCheck(True, check.checked, check.head, events_after_expected_head=after)
    d = deep_check(conn, events)
    if not d.ok:
        return ChainCheck(False, check.checked, check.head, None,
                          f"{d.table}{f' {d.key}' if d.key else ''}: {d.reason}", True,
                          d.rows, d.table, d.key, after)
    return ChainCheck(True, check.checked, check.head, deep=True, rows_checked=d.rows,
                      events_after_expected_head=after)


def verify_chain(events: list[dict[str, Any]]) -> ChainCheck:
    """Walk events in stored order; name the first one whose hash or link does not hold."""
    prev = GENESIS
    expected_id = 1
    for n, event in enumerate(events):
        eid = event["event_id"]
        if event["prev_hash"] != prev:
            why = ("the event before it was removed, edited or moved"
                   if eid == expected_id else f"expected event {expected_id} here")
            return ChainCheck(False, n, None, eid, f"link to the previous event is broken: {why}")
        if event_hash(event) != event["hash"]:
            return ChainCheck(False, n, None, eid, "its content does not match its hash (edited)")
        if eid != expected_id:
            return ChainCheck(False, n, None, eid,
                              f"event ids jump from {expected_id - 1} to {eid} (renumbered)")
        prev = event["hash"]
        expected_id += 1
    return ChainCheck(True, len(events), prev if events else GENESIS)


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


@dataclass(frozen=True)
class DeepCheck:
    ok: bool
    tables: int
    rows: int
    table: str | None = None
    key: str | None = None
    reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return self.__dict__.copy()


def deep_check(conn: Connection, events: list[dict[str, Any]]) -> DeepCheck:
    """Recompute every table's digest from its rows and compare with what the chain
    recorded; rebuild the kept aggregates from the uses and compare. Names the first
    table and key that differ."""
    recorded = recorded_digests(events)
    last_event = events[-1]["event_id"] if events else 0
    rows_seen = tables = 0
    for table in IMPORT_ORDER:
        spec = SPECS[table]
        names = list(hashed_columns(spec))
        total = TableDigest()
        tables += 1
        for frame in stored_rows(conn, table):
            rows_seen += frame.height
            lo, hi = row_hashes(frame.select(names))
            total = total + digest_of(lo, hi)
            bad = (frame.get_column("row_hash").to_numpy(allow_copy=True) != stored_hash(lo)) \
                | frame.get_column("row_hash").is_null().to_numpy()
            events_ok = frame.get_column("event_id").is_between(1, last_event).to_numpy()
            for mask, why in ((bad, "its content does not match its hash (edited outside "
                                    "Kuznia)"),
                              (~events_ok, "it names no audited write (inserted outside "
                                           "Kuznia)")):
                if mask.any():
                    i = int(np.flatnonzero(mask)[0])
                    key = "/".join(str(frame[k][i]) for k in spec.key)
                    return DeepCheck(False, tables, rows_seen, table, key, why)
        event, expected = recorded.get(table, (None, TableDigest()))
        if total != expected:
            where = f"event {event}" if event else "no event"
            return DeepCheck(False, tables, rows_seen, table, None,
                             f"holds {total.rows:,} rows where {where} recorded "
                             f"{expected.rows:,}, or rows differ from what it recorded "
                             "(rows removed, added or rewritten with their hashes)")
    for name, digest in (("settings", settings_digest(conn)), ("plans", plans_digest(conn))):
        tables += 1
        event, expected = recorded.get(name, (None, TableDigest()))
        if name in recorded and digest != expected:
            return DeepCheck(False, tables, rows_seen, name, None,
                             f"differs from what event {event} recorded")
    from kuznia.services.portal import attachment_problems, portal_digest

    tables += 1
    event, expected = recorded.get("portal", (None, TableDigest()))
    if portal_digest(conn) != expected:
        where = f"event {event}" if event else "no event"
        return DeepCheck(False, tables, rows_seen, "block_messages", None,
                         f"the portal's answers, replies, attachments or offer sendings "
                         f"differ from what {where} recorded (changed outside Kuznia)")
    bad = attachment_problems(conn)
    if bad is not None:
        return DeepCheck(False, tables, rows_seen, "attachments", str(bad),
                         "its content does not match its SHA-256 (edited outside Kuznia)")
    from kuznia.services.accounts import accounts_digest

    tables += 1
    recorded_accounts = [(e["event_id"], json.loads(e["detail"] or "{}").get("accounts"))
                         for e in events]
    recorded_accounts = [(i, a) for i, a in recorded_accounts if a is not None]
    if recorded_accounts:
        event, expected = recorded_accounts[-1]
        if accounts_digest(conn, expected.get("version", 1)) != expected:
            return DeepCheck(False, tables, rows_seen, "users", None,
                             f"the accounts differ from what event {event} recorded (an "
                             "account, role, scope, token, or a password or token hash, "
                             "changed outside Kuznia)")
    from kuznia.services.vault_audit import first_vault_difference

    tables += 1
    vault_found = first_vault_difference(conn, events)
    if vault_found is not None:
        return DeepCheck(False, tables, rows_seen, *vault_found)
    tables += 1
    found = _first_history_difference(conn, events)
    if found is not None:
        return DeepCheck(False, tables, rows_seen, "row_updates", *found)
    from kuznia.services import licence_producers

    tables += 1  # kept from licences.producers at each import: rebuilt and compared
    stored = {(str(a), str(b)) for a, b in tuples(conn.execute(select(s.licence_producers)))}
    wrong = sorted(stored ^ licence_producers.expected(conn))
    if wrong:
        return DeepCheck(False, tables, rows_seen, "licence_producers", "/".join(wrong[0]),
                         "differs from the producers its licence names (changed outside "
                         "Kuznia)")
    for cube in bulk.CUBES:
        tables += 1
        differs = _first_cube_difference(conn, cube)
        if differs is not None:
            return DeepCheck(False, tables, rows_seen, cube.table, differs,
                             "the kept aggregate differs from one rebuilt from the uses")
    return DeepCheck(True, tables, rows_seen)


def _first_history_difference(conn: Connection, events: list[dict[str, Any]]
                              ) -> tuple[str, str] | None:
    """The first event whose history of updated rows (``row_updates``, what ``import
    --update`` replaced) is not what it wrote: as many changes as the rows it updated,
    and, where it recorded one, the same digest of them; and no change under any other
    event. Returns (the event, why) or None."""
    from kuznia.services.table_writer import UPDATE_COLUMNS, update_digest

    count: dict[int, int] = {}
    digest: dict[int, TableDigest] = {}
    result = conn.exec_driver_sql(
        f"SELECT {', '.join(UPDATE_COLUMNS)} FROM row_updates ORDER BY event_id")
    while rows := result.fetchmany(CHUNK):
        frame = pl.DataFrame([tuple(r) for r in rows], orient="row",
                             schema={c: pl.Int64 if c == "event_id" else pl.String
                                     for c in UPDATE_COLUMNS})
        for (event,), part in frame.group_by(["event_id"], maintain_order=True):
            eid = int(event)  # type: ignore[call-overload]
            count[eid] = count.get(eid, 0) + part.height
            digest[eid] = digest.get(eid, TableDigest()) + update_digest(part)
    for e in events:
        eid = e["event_id"]
        wrote = int(e["rows_updated"] or 0) if e["action"] == "import" else 0
        have = count.pop(eid, 0)
        if have != wrote:
            return (f"event {eid}", f"holds {have:,} changes where the event updated "
                    f"{wrote:,} rows (the history of updates was edited outside Kuznia)")
        recorded = json.loads(e["detail"] or "{}").get("updates")
        if recorded is not None and digest.get(eid, TableDigest()) != TableDigest.from_dict(
                recorded):
            return (f"event {eid}", "its changes differ from what the event recorded (the "
                    "history of updates was edited outside Kuznia)")
    if count:
        eid = min(count)
        return (f"event {eid}", "changes are recorded under an event that wrote none "
                "(inserted outside Kuznia)")
    return None


def _first_cube_difference(conn: Connection, cube: bulk.Cube) -> str | None:
    cols = ["product_id", "producer_id", "version", "lot", "used_on", "units_used", "effects",
            "outcome", "conditions", "failure_mode", "operator"]
    result = conn.exec_driver_sql(
        f"SELECT {', '.join(c if c != 'used_on' else 'CAST(used_on AS TEXT)' for c in cols)} "
        "FROM uses")
    parts = []
    while rows := result.fetchmany(CHUNK):
        frame = pl.DataFrame(rows, orient="row", schema={
            c: pl.Int64 if c in ("units_used", "effects") else pl.String for c in cols})
        parts.append(cube.rows(frame.with_columns(pl.col("used_on").str.slice(0, 10)
                                                   .str.to_date()), 1))
    keys = list(cube.keys)
    rebuilt = (pl.concat(parts).group_by(keys).agg(*(pl.col(c).sum() for c in cube.sums),
                                                    *(pl.col(c).min() for c in cube.firsts))
               if parts else None)
    stored_rows_ = conn.exec_driver_sql(
        f"SELECT {', '.join(cube.columns)} FROM {cube.table}").all()
    floats = set(bulk.FLOAT_SUMS)
    stored = pl.DataFrame([tuple(r) for r in stored_rows_], orient="row",
                          schema={c: pl.String if c in cube.keys or c in cube.firsts
                                  else pl.Float64 if c in floats else pl.Int64
                                  for c in cube.columns})
    stored = stored.filter(pl.any_horizontal(pl.col(c) != 0 for c in cube.sums))
    if rebuilt is None:
        rebuilt = stored.clear()
    rebuilt = rebuilt.select(cube.columns).with_columns(
        pl.col(c).cast(pl.Float64 if c in floats else pl.Int64) for c in cube.sums)
    joined = stored.join(rebuilt, on=keys, how="full", coalesce=True, suffix="__r")

    def differ(c: str) -> pl.Expr:  # a float sum is exact below 2**53; relative beyond
        if c not in floats:
            return pl.col(c).ne_missing(pl.col(f"{c}__r"))
        gap = (pl.col(c) - pl.col(f"{c}__r")).abs()
        return (gap > 1e-9 * pl.max_horizontal(pl.col(c).abs(), 1.0)).fill_null(True)

    differs = pl.any_horizontal(differ(c) for c in cube.sums)
    bad = joined.filter(differs).sort(keys)
    if bad.is_empty():
        return None
    return "/".join(str(v) for v in bad.select(keys).row(0))
