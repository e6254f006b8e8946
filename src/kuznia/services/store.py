"""Open, create and write to a workspace store."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Connection, Engine, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from kuznia.errors import WorkspaceError
from kuznia.settings import database_url
from kuznia.store import engine as engines
from kuznia.store.schema import settings


class Store:
    """A workspace's database: an engine, and transactions that know how to write."""

    def __init__(self, url: str, engine: Engine):
        self.url = url
        self.engine = engine
        self._local = threading.local()  # the snapshot this thread reads in, if any

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @property
    def sqlite_file(self) -> Path | None:
        """The workspace's file (SQLite), which no output may overwrite."""
        return sqlite_path(self.url)

    @property
    def display_url(self) -> str:
        return make_url(self.url).render_as_string(hide_password=True)

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A connection to read with: the thread's open snapshot, if any, else a new one."""
        pinned = getattr(self._local, "conn", None)
        if pinned is not None:
            yield pinned
            return
        with self.engine.connect() as conn:
            yield conn

    @contextmanager
    def snapshot(self) -> Iterator[Connection]:
        """Read everything inside the block from one consistent snapshot of the store.

        Every ``read()`` of this thread inside the block gets the same connection, in one
        read transaction (SQLite WAL: a read transaction sees the database as of its first
        read; PostgreSQL: REPEATABLE READ). A multi-query answer (a report, a table with
        its notes) so never mixes states before and after a concurrent import. Nested
        snapshots share the outer one.
        """
        if getattr(self._local, "conn", None) is not None:
            yield self._local.conn
            return
        with self.engine.connect() as conn:
            if self.dialect == "postgresql":
                conn = conn.execution_options(isolation_level="REPEATABLE READ")
            with conn.begin():
                self._local.conn = conn
                try:
                    yield conn
                finally:
                    self._local.conn = None

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """One transaction for one write; the audit chain is locked for its length."""
        try:
            with self.engine.connect().execution_options(kuznia_write=True) as conn:
                with conn.begin():
                    if self.dialect == "postgresql":
                        conn.exec_driver_sql(
                            "LOCK TABLE audit_events IN SHARE ROW EXCLUSIVE MODE")
                    yield conn
        except OperationalError as exc:
            if "locked" in str(exc.orig):
                raise WorkspaceError(
                    f"{self.display_url} is busy with another write (an import still "
                    "running?); nothing was stored: try again when it has finished") from exc
            raise

    def setting(self, key: str, default: str | None = None) -> str | None:
        """A workspace setting (read in the thread's snapshot when there is one)."""
        with self.read() as conn:
            value = conn.execute(select(settings.c.value).where(settings.c.key == key)).scalar()
        return default if value is None else value

    def close(self) -> None:
        self.engine.dispose()


def sqlite_path(url: str) -> Path | None:
    """The file behind a SQLite URL (None for other stores and in-memory SQLite)."""
    u = make_url(url)
    if u.get_backend_name() == "sqlite" and u.database and u.database != ":memory:":
        return Path(u.database)
    return None


def open_store(db: str | None = None) -> Store:
    """Open an existing workspace and bring its schema up to date."""
    url = database_url(db)
    path = sqlite_path(url)
    if path is not None and not path.exists():
        raise WorkspaceError(f"no Kuznia workspace at {path}; create one with 'kuznia init'")
    store = Store(url, engines.make_engine(url))
    try:
        if not engines.has_tables(store.engine):
            raise WorkspaceError(
                f"no Kuznia workspace at {store.display_url}; create one with 'kuznia init'")
        if engines.current_revision(store.engine) != engines.HEAD:
            engines.upgrade(store.engine)
    except WorkspaceError:
        store.close()
        raise
    except Exception as exc:
        store.close()
        raise WorkspaceError(f"cannot open the workspace at {store.display_url}: {exc}") from exc
    return store


def create_store(db: str | None, currency: str, actor: str) -> Store:
    """Create a workspace: schema, settings, and the first audit event."""
    from kuznia.services import audit

    url = database_url(db)
    path = sqlite_path(url)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
    store = Store(url, engines.make_engine(url))
    try:
        if engines.has_tables(store.engine):
            raise WorkspaceError(f"{store.display_url} already holds a workspace")
        engines.upgrade(store.engine)
        with store.write() as conn:
            event_id = audit.next_event_id(conn)
            conn.execute(settings.insert(), [
                {"key": "currency", "value": currency},
                {"key": "created_at", "value": dt.datetime.now(dt.UTC).isoformat()},
            ])
            audit.append(conn, event_id, actor=actor, action="init",
                         detail={"currency": currency})
    except Exception:
        store.close()
        raise
    return store
