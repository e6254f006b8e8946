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
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, func, select

from kuznia.services.results import Tabular
from kuznia.store.schema import audit_events

GENESIS = "0" * 64
HASHED = (
    "event_id", "at", "actor", "action", "table_name", "file_name", "file_sha256",
    "rows_added", "rows_updated", "rows_unchanged", "rows_rejected", "detail", "prev_hash",
)


def event_hash(event: dict[str, Any]) -> str:
    body = json.dumps({k: event[k] for k in HASHED}, sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False, default=str)
    return hashlib.sha256(body.encode()).hexdigest()


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
    q = select(audit_events).order_by(audit_events.c.event_id.desc())
    if limit:
        q = q.limit(limit)
    return [dict(r._mapping) for r in conn.execute(q)][::-1]


@dataclass(frozen=True)
class ChainCheck:
    ok: bool
    checked: int
    head: str | None
    first_bad_event: int | None = None
    reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return self.__dict__.copy()


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
