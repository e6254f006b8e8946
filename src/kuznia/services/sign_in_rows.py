"""Where sign-in's own rows live (browser sessions, failed sign-ins): off the data's write
path, so that signing in, and the bookkeeping of every page a session opens, never waits
for an import.

- PostgreSQL: in the workspace's own ``sessions`` and ``login_attempts`` tables, each
  bookkeeping write a short transaction of its own. An import locks ``audit_events`` and
  the rows it writes, never these rows, so the two do not wait for each other.
- SQLite: a write locks the whole database file until it commits, and an import is one
  transaction (all or nothing) that may run for minutes. A session written to the
  workspace file would wait for it however short its own transaction. So a SQLite
  workspace keeps these rows in a small file of their own beside it
  (``ws.db`` -> ``ws.db.sign-in``), in WAL mode like the workspace, shared by every
  worker process of the machine. They are not data: no audit event, no digest, and a
  lost file only signs everyone out (the accounts and their password hashes stay in the
  workspace, under the audit). An in-memory workspace keeps them in itself.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import (
    Boolean,
    Column,
    Connection,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    event,
)
from sqlalchemy.exc import OperationalError

from kuznia.errors import WorkspaceError, from_environment
from kuznia.i18n import N_
from kuznia.services.store import Store
from kuznia.store import engine as engines

SUFFIX = ".sign-in"
BUSY_SECONDS = 5.0  # these transactions are a few rows long: a wait is that of another's
_lock = threading.Lock()

# The same columns as store/schema.py's tables of the same names, without the foreign key
# to users (which live in the workspace file).
_own = MetaData()
Table("sessions", _own,
      Column("session_hash", String(64), primary_key=True),
      Column("user_name", String(64), nullable=False, index=True),
      Column("csrf_token", String(64), nullable=False),
      Column("created_at", String(32), nullable=False),
      Column("last_seen_at", String(32), nullable=False))
Table("login_attempts", _own,
      Column("key", String(128), primary_key=True),
      Column("failures", Integer, nullable=False),
      Column("last_failed_at", String(32), nullable=False),
      Column("locked", Boolean, nullable=False))


def path_for(store: Store) -> Path | None:
    """The file of a SQLite workspace's sign-in rows (None: they are in the store)."""
    file = store.sqlite_file
    return None if file is None else file.with_name(file.name + SUFFIX)


def _engine(store: Store) -> Engine:
    """The engine that holds ``store``'s sign-in rows (made once per store)."""
    path = path_for(store)
    if path is None:
        return store.engine
    with _lock:
        engine = store.side_engines.get(SUFFIX)
        if engine is None:
            engine = engines.make_engine(f"sqlite:///{path}")

            @event.listens_for(engine, "connect")
            def _short_wait(dbapi_conn, _record):  # type: ignore[no-untyped-def]
                dbapi_conn.execute(f"PRAGMA busy_timeout = {int(BUSY_SECONDS * 1000)}")

            with engine.connect().execution_options(kuznia_write=True) as conn, \
                    conn.begin():
                _own.create_all(conn, checkfirst=True)
            store.side_engines[SUFFIX] = engine
    return engine


@contextmanager
def bookkeeping(store: Store) -> Iterator[Connection]:
    """A short transaction on the sign-in rows, never inside the audited write lock."""
    if store.read_only:
        raise WorkspaceError(N_("%(workspace)s is read-only here: it takes no sign-in"),
                             workspace=store.display_url)
    try:
        # kuznia_write: SQLite takes the (sign-in file's) write lock at BEGIN, so a
        # read-then-write (a failure count) never meets a stale snapshot
        with _engine(store).connect().execution_options(kuznia_write=True) as conn, \
                conn.begin():
            yield conn
    except OperationalError as exc:
        known = from_environment(exc)
        if known is not None:
            raise known from exc
        raise


@contextmanager
def read(store: Store) -> Iterator[Connection]:
    """A connection to read the sign-in rows with."""
    if store.sqlite_file is None:
        with store.read() as conn:
            yield conn
        return
    with _engine(store).connect() as conn:
        yield conn
