"""Field records that never wait for an import: a durable outbox for ``POST /uses``.

An import is one audited write transaction (all or nothing) and holds the write lock for
its whole length: seconds for 150,000 rows, longer for a slow upload. A field record sent
meanwhile must not wait behind it (SQLite would wait up to 30 s, then refuse; PostgreSQL
until the import ended). So:

1. The route asks for the write lock, waiting at most ``LOCK_WAIT_SECONDS`` (another
   field record's write is over by then; an import is not). Got it: the record is written
   through the normal audited import path and answered 201/200/409/422 as it always was.
2. Not got it: the record is checked at once, without the lock, as a row of an import is
   (``precheck``: the same checks and words, against the references as last committed; a
   bad record is the same 422 with its problems). A record identical to a stored use is a
   200 at once (nothing to write); another record under a stored ``use_id`` a 409.
3. Otherwise it is appended durably to the outbox and answered 202 with a status URL
   (``GET /api/v1/uses/outbox/{use_id}``): "received, waiting for an import to finish".
   Nothing acknowledged is lost: the outbox row is committed before the 202 (SQLite:
   ``synchronous=FULL``).
4. A drainer (``drain``) writes the waiting records through the same audited import path,
   one record one import (its own audit event, under the sender's name), idempotently: a
   record already stored writes nothing, the same ``use_id`` sent twice while waiting is
   one outbox row. What only the write can find (an import that just changed a lot, a
   record stored meanwhile with other content) is kept on the row as ``rejected`` with the
   problems in an import's shape, for the field form to show on the record. The server
   drains after each job, when it starts, and on its heartbeat (``server/outbox.py``).

Where the rows live (like the sign-in rows, ``services/sign_in_rows.py``):

- PostgreSQL: the workspace's ``use_outbox`` table, each write a short transaction of its
  own that does not take the audited write lock (an import locks ``audit_events`` and the
  rows it writes, never these).
- SQLite: a write locks the whole file, so a file of its own beside the workspace
  (``ws.db`` -> ``ws.db.outbox``), WAL with ``synchronous=FULL`` (a committed row survives
  a power cut, not only a crash). The workspace's own ``use_outbox`` table holds only rows
  a restore brought back; both are drained.

Backups: the outbox is backed up with the rest (``services/backup.py`` adds a SQLite
workspace's outbox file to the ``use_outbox`` part), and a restored workspace drains the
waiting rows it holds. Outbox rows are not data until written (then the use and its audit
event are): they are kept out of the digests, like jobs and their uploads.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from typing import Any

import polars as pl
from sqlalchemy import Connection, Engine, MetaData, event, select, update
from sqlalchemy.exc import IntegrityError, OperationalError

from kuznia.errors import ConflictError, InputError, KuzniaError, from_environment
from kuznia.i18n import N_
from kuznia.ingest.tables import SPECS
from kuznia.services.store import Store, WriteBusy
from kuznia.services.table_writer import _differs
from kuznia.store import bulk
from kuznia.store import engine as engines
from kuznia.store import schema as s

log = logging.getLogger("kuznia.outbox")
SUFFIX = ".outbox"
LOCK_WAIT_SECONDS = 0.5  # a field record waits this long for the lock, then goes to the outbox
NAME = "POST /api/v1/uses"  # the import's file name, as the audit trail shows it
WAITING, STORED, REJECTED = "waiting", "stored", "rejected"
_lock = threading.Lock()
_own = MetaData()
s.use_outbox.to_metadata(_own)


@dataclass(frozen=True)
class OutboxRow:
    use_id: str
    record: dict[str, Any]
    actor: str
    status: str
    received_at: str
    settled_at: str | None = None
    event_id: int | None = None
    problems: list[dict[str, Any]] | None = None

    def to_dict(self) -> dict[str, Any]:
        """The status body of ``GET /uses/outbox/{use_id}`` (and of the 202)."""
        return {"use_id": self.use_id, "status": self.status,
                "received_at": self.received_at, "settled_at": self.settled_at,
                "event_id": self.event_id, "problems": self.problems or [],
                "detail": DETAIL[self.status],
                "href": f"/api/v1/uses/outbox/{self.use_id}"}


DETAIL = {
    WAITING: "received; it is stored when the import now running has finished",
    STORED: "stored",
    REJECTED: "not stored: see its problems; correct the record and send it again",
}


def canonical(record: dict[str, Any]) -> str:
    return json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def as_csv(record: dict[str, Any]) -> bytes:
    """The record as a one-row uses file: what the import path reads."""
    columns = SPECS["uses"].columns
    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow(columns)
    writer.writerow(["" if record.get(c) is None else str(record[c]) for c in columns])
    return text.getvalue().encode()


# --- where the rows live ------------------------------------------------------------------

def _side_engine(store: Store) -> Engine | None:
    """The outbox file's engine of a SQLite workspace (None: the rows are in the store)."""
    file = store.sqlite_file
    if file is None:
        return None
    with _lock:
        engine = store.side_engines.get(SUFFIX)
        if engine is None:
            engine = engines.make_engine(f"sqlite:///{file.with_name(file.name + SUFFIX)}")

            @event.listens_for(engine, "connect")
            def _durable(dbapi_conn, _record):  # type: ignore[no-untyped-def]
                # an acknowledged record must survive a power cut: every commit synced
                dbapi_conn.execute("PRAGMA synchronous = FULL")
                dbapi_conn.execute("PRAGMA busy_timeout = 5000")  # others' rows: short

            with engine.connect().execution_options(kuznia_write=True) as conn, \
                    conn.begin():
                _own.create_all(conn, checkfirst=True)
            store.side_engines[SUFFIX] = engine
    return engine


@contextmanager
def _writing(store: Store, restored: bool = False) -> Iterator[Connection]:
    """A short transaction on outbox rows, never inside the audited write lock
    (``restored``: on the rows a restore put in a SQLite workspace itself)."""
    side = None if restored else _side_engine(store)
    try:
        if side is None:
            with store.bookkeeping() as conn:
                yield conn
            return
        with side.connect().execution_options(kuznia_write=True) as conn, conn.begin():
            yield conn
    except OperationalError as exc:
        known = from_environment(exc)
        if known is not None:
            raise known from exc
        raise


@contextmanager
def _reading(store: Store, restored: bool = False) -> Iterator[Connection]:
    side = None if restored else _side_engine(store)
    if side is None:
        with store.read() as conn:
            yield conn
        return
    with side.connect() as conn:
        yield conn


def _places(store: Store) -> tuple[bool, ...]:
    """The outbox's places that may hold rows: its own (False; a SQLite workspace's file
    once made), and for a SQLite file the store's table of restored rows (True)."""
    file = store.sqlite_file
    if file is None:
        return (False,)
    made = SUFFIX in store.side_engines or file.with_name(file.name + SUFFIX).exists()
    return (False, True) if made else (True,)


def _row(r: Any) -> OutboxRow:
    return OutboxRow(r.use_id, json.loads(r.record), r.actor, r.status, r.received_at,
                     r.settled_at, r.event_id, json.loads(r.problems) if r.problems else None)


def find(store: Store, use_id: str) -> OutboxRow | None:
    for restored in _places(store):
        with _reading(store, restored) as conn:
            r = conn.execute(select(s.use_outbox).where(
                s.use_outbox.c.use_id == use_id)).first()
        if r is not None:
            return _row(r)
    return None


def side_rows(store: Store) -> list[tuple[Any, ...]]:
    """A SQLite workspace's outbox file's rows, in the table's column order (the backup
    adds them to its ``use_outbox`` part); none for other stores."""
    if False not in _places(store) or store.sqlite_file is None:
        return []
    with _reading(store) as conn:
        return [tuple(r) for r in conn.execute(
            select(s.use_outbox).order_by(s.use_outbox.c.use_id))]


def waiting(store: Store) -> int:
    """How many records wait to be written."""
    n = 0
    for restored in _places(store):
        with _reading(store, restored) as conn:
            n += len(conn.execute(select(s.use_outbox.c.use_id).where(
                s.use_outbox.c.status == WAITING)).all())
    return n


# --- receiving ------------------------------------------------------------------------------

def stored_as(conn: Connection, typed: pl.DataFrame) -> str:
    """Whether the checked record is stored already: "absent", "same" or "other"."""
    spec = SPECS["uses"]
    key = list(spec.key)
    stored = [*spec.columns, *spec.derived]
    schema = dict(typed.select(stored).schema)
    old = bulk.fetch_by_key(conn, s.uses, spec.key, typed.select(key), stored, schema)
    if old.is_empty():
        return "absent"
    values = [c for c in spec.columns if c not in key]
    joined = typed.join(old.rename({c: f"{c}__old" for c in values}), on=key)
    return "other" if joined.select(_differs(values)).to_series().any() else "same"


def precheck(store: Store, record: dict[str, Any]) -> str:
    """Every check of ``record`` that needs no lock, as an import's (``InputError`` with
    its words), against the store as last committed; then whether it is stored already:
    "absent", "same" or "other"."""
    from kuznia.services.imports import read_checked

    typed = read_checked(store, "uses", io.BytesIO(as_csv(record)), name=NAME)
    with store.read() as conn:
        return stored_as(conn, typed)


def status(store: Store, use_id: str, *, actor: str) -> dict[str, Any] | None:
    """Where a field record stands, for its sender: its outbox row (``actor``'s own only),
    else "stored" if a use of this id is stored, else None."""
    kept = find(store, use_id)
    if kept is not None and kept.actor == actor:
        return kept.to_dict()
    with store.read() as conn:
        if conn.execute(select(s.uses.c.use_id).where(s.uses.c.use_id == use_id)).first():
            return {"use_id": use_id, "status": STORED, "problems": [],
                    "detail": DETAIL[STORED], "href": f"/api/v1/uses/outbox/{use_id}"}
    return None


def receive(store: Store, record: dict[str, Any], *, actor: str,
            now: dt.datetime | None = None) -> OutboxRow:
    """Append a checked record to the outbox, durably, and return its row. The same record
    again is the same row; another record under a ``use_id`` still waiting is a
    ``ConflictError``; a record once rejected (or stored) may be sent again."""
    use_id = str(record["use_id"])
    body = canonical(record)
    at = (now or dt.datetime.now(dt.UTC)).isoformat()
    for restored in (True,) if store.sqlite_file is not None else ():
        # a restored row waiting under this id
        with _reading(store, restored) as conn:
            r = conn.execute(select(s.use_outbox).where(
                s.use_outbox.c.use_id == use_id)).first()
        if r is not None and r.status == WAITING:
            return _same_or_conflict(_row(r), body)
    values = {"record": body, "actor": actor, "status": WAITING, "received_at": at,
              "settled_at": None, "event_id": None, "problems": None}
    for attempt in (1, 2):  # two at once under a new id (PostgreSQL): the second finds it
        try:
            with _writing(store) as conn:
                r = conn.execute(select(s.use_outbox).where(
                    s.use_outbox.c.use_id == use_id)).first()
                if r is not None and r.status == WAITING:
                    return _same_or_conflict(_row(r), body)
                if r is None:
                    conn.execute(s.use_outbox.insert(), {"use_id": use_id, **values})
                else:
                    conn.execute(update(s.use_outbox).where(
                        s.use_outbox.c.use_id == use_id), values)
            break
        except IntegrityError:
            if attempt == 2:
                raise
    return OutboxRow(use_id, record, actor, WAITING, at)


def _same_or_conflict(row: OutboxRow, body: str) -> OutboxRow:
    if canonical(row.record) != body:
        raise ConflictError(N_("use_id %(use_id)s is waiting to be stored with other "
                               "content; nothing was changed"), use_id=repr(row.use_id))
    return row


def settle(store: Store, record: dict[str, Any], status: str, *, event_id: int | None = None,
           problems: list[dict[str, Any]] | None = None,
           now: dt.datetime | None = None) -> None:
    """Mark the outbox row holding exactly ``record`` (if any still waits) as settled."""
    use_id = str(record["use_id"])
    values = {"status": status, "event_id": event_id,
              "settled_at": (now or dt.datetime.now(dt.UTC)).isoformat(),
              "problems": json.dumps(problems, ensure_ascii=False) if problems else None}
    for restored in _places(store):
        with _writing(store, restored) as conn:
            conn.execute(update(s.use_outbox).where(
                s.use_outbox.c.use_id == use_id, s.use_outbox.c.status == WAITING,
                s.use_outbox.c.record == canonical(record)), values)


# --- draining -------------------------------------------------------------------------------

@dataclass
class Drained:
    stored: int = 0
    rejected: int = 0
    left: int = 0  # still waiting (the lock was not free, or the store failed)


def drain(store: Store, *, lock_wait: float | None = None) -> Drained:
    """Write every waiting record through the audited import path, oldest first. Stops,
    leaving the rest waiting, when the lock is not free within ``lock_wait`` seconds (None:
    wait as any write does) or the store fails; never loses a record."""
    from kuznia.services.imports import import_file

    out = Drained()
    if store.read_only:
        return out
    rows: list[OutboxRow] = []
    for restored in _places(store):
        with _reading(store, restored) as conn:
            rows += [_row(r) for r in conn.execute(select(s.use_outbox).where(
                s.use_outbox.c.status == WAITING))]
    rows.sort(key=lambda r: r.received_at)
    for i, row in enumerate(rows):
        try:
            result = import_file(store, "uses", io.BytesIO(as_csv(row.record)),
                                 actor=row.actor, name=NAME, lock_wait=lock_wait)
        except InputError as exc:
            settle(store, row.record, REJECTED, problems=[asdict(p) for p in exc.problems])
            out.rejected += 1
            continue
        except WriteBusy:
            out.left = len(rows) - i
            return out
        except KuzniaError:
            log.warning("outbox: use %s left waiting", row.use_id, exc_info=True)
            out.left = len(rows) - i
            return out
        settle(store, row.record, STORED, event_id=result.event_id)
        out.stored += 1
    return out
