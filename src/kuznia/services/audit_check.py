"""Checking the audit trail: the chain of events (``verify_chain``) and, deep, the stored
rows against what the chain recorded (``deep_check``): every imported table, the
settings, plans, the portal, the accounts, the vault, the history of updates, the
licences' producers and the kept aggregates.

A module above ``audit`` and the services whose writes it checks (they append to the
trail through ``audit``; this reads their digests).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl
from sqlalchemy import Connection, select

from kuznia.ingest.tables import IMPORT_ORDER, SPECS
from kuznia.services import licence_producers
from kuznia.services.accounts import accounts_digest
from kuznia.services.audit import (
    CHUNK,
    GENESIS,
    event_hash,
    hashed_columns,
    list_events,
    plans_digest,
    recorded_digests,
    settings_digest,
    stored_rows,
)
from kuznia.services.vault_audit import first_vault_difference
from kuznia.store import bulk
from kuznia.store import schema as s
from kuznia.store.digest import TableDigest, digest_of, row_hashes, stored_hash
from kuznia.store.tuples import tuples


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
    # the portal's and the updates' digests load pyarrow (through the import path): only a
    # deep check needs them, and `kuznia audit verify` without --deep stays quick
    from kuznia.services.portal import attachment_problems, portal_digest

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
    tables += 1
    vault_found = first_vault_difference(conn, events)
    if vault_found is not None:
        return DeepCheck(False, tables, rows_seen, *vault_found)
    tables += 1
    found = _first_history_difference(conn, events)
    if found is not None:
        return DeepCheck(False, tables, rows_seen, "row_updates", *found)
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
