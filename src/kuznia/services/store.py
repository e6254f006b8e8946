"""Open, create and write to a workspace store."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Connection, Engine, inspect, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from kuznia.errors import (
    KuzniaError,
    UsageError,
    WorkspaceError,
    driver_condition,
    from_environment,
)
from kuznia.i18n import N_
from kuznia.settings import database_url
from kuznia.store import engine as engines
from kuznia.store.schema import settings
from kuznia.version import __version__


class Store:
    """A workspace's database: an engine, and transactions that know how to write."""

    def __init__(self, url: str, engine: Engine, read_only: bool = False):
        self.url = url
        self.engine = engine
        self.read_only = read_only
        self.migrated_from: str | None = None  # the schema an open with migrate upgraded
        self._local = threading.local()  # the snapshot this thread reads in, if any
        # engines of the store's side files (a SQLite workspace's sign-in rows), closed
        # with it
        self.side_engines: dict[str, Engine] = {}

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
            if self.dialect == "postgresql":
                # Each statement reads the latest committed data either way (READ
                # COMMITTED); autocommit saves the BEGIN and ROLLBACK round trips.
                conn = conn.execution_options(isolation_level="AUTOCOMMIT")
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
    def write(self, lock_wait: float | None = None) -> Iterator[Connection]:
        """One transaction for one write; the audit chain is locked for its length.

        ``lock_wait``: wait at most this many seconds for the write lock (another write,
        an import, holding it), then raise ``WriteBusy`` with nothing done; None waits as
        long as a writer always does (SQLite: ``SQLITE_BUSY_SECONDS``; PostgreSQL: until
        the lock is free)."""
        if self.read_only:
            raise WorkspaceError(N_("%(workspace)s is read-only here (this user may not write "
                                    "the file or its folder); reading works, writing does "
                                    "not: nothing was stored"), workspace=self.display_url)
        try:
            with self.engine.connect().execution_options(kuznia_write=True) as conn:
                raw = conn.connection.dbapi_connection if lock_wait is not None \
                    and self.dialect == "sqlite" else None
                if raw is not None:  # before BEGIN IMMEDIATE, which takes the lock
                    raw.execute(f"PRAGMA busy_timeout = {int(lock_wait * 1000)}")  # type: ignore[operator]
                try:
                    with conn.begin():
                        if self.dialect == "postgresql":
                            if lock_wait is not None:
                                conn.exec_driver_sql(
                                    f"SET LOCAL lock_timeout = {max(1, int(lock_wait * 1000))}")
                            conn.exec_driver_sql(
                                "LOCK TABLE audit_events IN SHARE ROW EXCLUSIVE MODE")
                            if lock_wait is not None:  # the rest of the write waits as ever
                                conn.exec_driver_sql("SET LOCAL lock_timeout TO DEFAULT")
                        yield conn
                finally:
                    if raw is not None:
                        raw.execute(
                            f"PRAGMA busy_timeout = {int(engines.SQLITE_BUSY_SECONDS * 1000)}")
        except OperationalError as exc:
            if lock_wait is not None and _lock_not_free(exc):
                raise WriteBusy(N_("%(workspace)s is busy with another write (an import still "
                                   "running?); nothing was stored yet"),
                                workspace=self.display_url) from exc
            if driver_condition(exc) == "busy":
                raise WorkspaceError(
                    N_("%(workspace)s is busy with another write (an import still "
                       "running?); nothing was stored: try again when it has finished"),
                    workspace=self.display_url) from exc
            known = from_environment(exc)
            if known is not None:
                raise known from exc
            raise
        except KuzniaError:
            raise
        except Exception as exc:  # a driver's own error (bulk paths use the raw cursor)
            known = from_environment(exc)
            if known is not None:
                raise known from exc
            raise

    @contextmanager
    def bookkeeping(self) -> Iterator[Connection]:
        """A short transaction on the server's own rows (jobs, sessions), outside the
        audited write lock: bookkeeping is not data, and must not wait for the import it
        describes."""
        if self.read_only:
            raise WorkspaceError(N_("%(workspace)s is read-only here: it takes no writes"),
                                 workspace=self.display_url)
        try:
            with self.engine.begin() as conn:
                yield conn
        except OperationalError as exc:
            known = from_environment(exc)
            if known is not None:
                raise known from exc
            raise

    def setting(self, key: str, default: str | None = None) -> str | None:
        """A workspace setting (read in the thread's snapshot when there is one)."""
        with self.read() as conn:
            value = conn.execute(select(settings.c.value).where(settings.c.key == key)).scalar()
        return default if value is None else value

    def close(self) -> None:
        for side in self.side_engines.values():
            side.dispose()
        self.engine.dispose()


class WriteBusy(WorkspaceError):
    """The write lock was not free within the wait asked for (``Store.write(lock_wait)``)."""


def _lock_not_free(exc: OperationalError) -> bool:
    """SQLite's busy lock, or PostgreSQL's lock_timeout (SQLSTATE 55P03), by their codes."""
    return driver_condition(exc) == "busy" or getattr(exc.orig, "sqlstate", None) == "55P03"


def sqlite_path(url: str) -> Path | None:
    """The file behind a SQLite URL (None for other stores and in-memory SQLite)."""
    u = make_url(url)
    if u.get_backend_name() == "sqlite" and u.database and u.database != ":memory:":
        return Path(u.database)
    return None


def open_store(db: str | None = None, *, migrate: bool = False,
               allow_older: bool = False) -> Store:
    """Open an existing workspace.

    Its schema must be this Kuznia's: an older one is upgraded only with ``migrate`` (a
    step of its own, ``kuznia migrate``, never under other users), and is otherwise refused
    with what to do. A SQLite file this user may not write is opened read-only. A
    workspace made by a newer Kuznia is refused with the version it needs, never half-read.
    ``allow_older`` opens an older schema as it is (a backup reads it before a migration).
    """
    url = database_url(db)
    path = sqlite_path(url)
    read_only = False
    if path is not None:
        if path.is_dir():
            raise UsageError(N_("{db} %(target)s is a folder; give the workspace's file"),
                             params=("db",), target=str(path))
        if not path.exists():
            raise WorkspaceError(N_("no Kuznia workspace at %(workspace)s; create one with "
                                    "'kuznia init'"), workspace=str(path))
        read_only = engines.sqlite_read_only(path)
    store = Store(url, engines.make_engine(url, read_only=read_only), read_only=read_only)
    try:
        if not engines.has_tables(store.engine):
            raise WorkspaceError(N_("no Kuznia workspace at %(workspace)s; create one with "
                                    "'kuznia init'"), workspace=store.display_url)
        revision = engines.current_revision(store.engine)
        if revision is not None and revision not in engines.KNOWN:
            made_by = _setting_or_none(store, "kuznia_version")
            if made_by:
                raise WorkspaceError(
                    N_("%(workspace)s was made by a newer Kuznia (%(version)s): its schema "
                       "is %(revision)s, this Kuznia (%(ours)s) knows schemas up to "
                       "%(head)s; upgrade Kuznia to open it (nothing was changed)"),
                    workspace=store.display_url, version=made_by, revision=str(revision),
                    ours=__version__, head=engines.HEAD)
            raise WorkspaceError(
                N_("%(workspace)s was made by a newer Kuznia: its schema is %(revision)s, "
                   "this Kuznia (%(ours)s) knows schemas up to %(head)s; upgrade Kuznia to "
                   "open it (nothing was changed)"),
                workspace=store.display_url, revision=str(revision), ours=__version__,
                head=engines.HEAD)
        if revision != engines.HEAD and not allow_older:
            if read_only:
                raise WorkspaceError(N_("%(workspace)s needs upgrading to schema %(head)s, and "
                                        "it is read-only here"),
                                     workspace=store.display_url, head=engines.HEAD)
            if not migrate:
                raise WorkspaceError(
                    N_("%(workspace)s has schema %(revision)s, older than this Kuznia's "
                       "%(head)s: back it up, then upgrade it with 'kuznia migrate' "
                       "(nothing was changed)"), workspace=store.display_url,
                    revision=str(revision), head=engines.HEAD)
            with store.write() as conn:
                engines.upgrade(conn)
                _set_version(conn)
            store.migrated_from = revision
    except WorkspaceError:
        store.close()
        raise
    except Exception as exc:
        store.close()
        known = from_environment(exc)
        if known is not None:
            raise known from exc
        raise  # not the user's doing: an internal error, not reworded as bad data
    return store


def _setting_or_none(store: Store, key: str) -> str | None:
    try:
        return store.setting(key)
    except Exception:  # noqa: BLE001 - a newer schema may have moved settings
        return None


def _set_version(conn: Connection) -> None:
    """Record which Kuznia last wrote the schema, for the message of an older one."""
    conn.execute(settings.delete().where(settings.c.key == "kuznia_version"))
    conn.execute(settings.insert(), {"key": "kuznia_version", "value": __version__})


def create_store(db: str | None, currency: str, actor: str) -> Store:
    """Create a workspace: schema, settings, and the first audit event, in one transaction
    that holds the write lock, so two ``init`` at once make one workspace and one clear
    refusal."""
    from kuznia.services import audit

    url = database_url(db)
    path = sqlite_path(url)
    if path is not None:
        if path.is_dir():
            raise UsageError(N_("{db} %(target)s is a folder; give a file name for the "
                                "workspace"), params=("db",), target=str(path))
        if path.exists() and path.stat().st_size and engines.sqlite_read_only(path):
            raise WorkspaceError(N_("%(workspace)s is read-only here"), workspace=str(path))
        path.parent.mkdir(parents=True, exist_ok=True)
    store = Store(url, engines.make_engine(url))
    try:
        with store.engine.connect().execution_options(kuznia_write=True) as conn:
            with conn.begin():
                if store.dialect == "postgresql":  # one init at a time on this database
                    conn.exec_driver_sql("SELECT pg_advisory_xact_lock(7411)")
                if inspect(conn).get_table_names():
                    raise WorkspaceError(N_("%(workspace)s already holds a workspace"),
                                         workspace=store.display_url)
                engines.upgrade(conn)
                _set_version(conn)
                event_id = audit.next_event_id(conn)
                conn.execute(settings.insert(), [
                    {"key": "currency", "value": currency},
                    {"key": "created_at", "value": dt.datetime.now(dt.UTC).isoformat()},
                ])
                audit.append(conn, event_id, actor=actor, action="init",
                             detail={"currency": currency, "digests": {
                                 "settings": audit.settings_digest(conn).to_dict()}})
    except Exception as exc:
        store.close()
        known = from_environment(exc)
        if known is not None and known is not exc:
            raise known from exc
        raise
    return store
