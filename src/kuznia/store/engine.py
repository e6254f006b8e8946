"""Engines and migrations: open a workspace store, create it, or bring it up to date."""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, create_engine, event, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError

if TYPE_CHECKING:
    from alembic.config import Config

log = logging.getLogger("kuznia.store")
MIGRATIONS = Path(__file__).with_name("migrations")
# The newest migration. Opening a workspace compares its stored revision with this, so that
# Alembic (about 0.15 s to import) loads only when there is something to migrate; a test
# checks it against Alembic's own idea of the head.
HEAD = "0016"
# every revision this Kuznia can open
KNOWN = ("0001", "0002", "0003", "0004", "0005", "0006", "0007", "0008", "0009", "0010", "0011",
         "0012", "0013", "0014", "0015", "0016")
SQLITE_BUSY_SECONDS = 30.0  # how long a writer waits for another to finish
IDLE_PING_SECONDS = 5.0  # a pooled PostgreSQL connection idle this long is pinged first


def _wal(cur: Any) -> None:
    """Switch to WAL. SQLite answers "database is locked" at once, without its busy
    handler, when another connection holds a lock on a database still in rollback-journal
    mode (a fresh file that another ``init`` is creating), so wait here as the busy
    timeout would (two inits at once failed one time in about fifteen)."""
    import sqlite3

    deadline = time.monotonic() + SQLITE_BUSY_SECONDS
    while True:
        try:
            cur.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            busy = (exc.sqlite_errorcode & 0xFF) in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)
            if not busy or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


def sqlite_read_only(path: Path) -> bool:
    """Whether this user may not write the workspace file, or create its journal beside it
    (then it is opened read-only: every read works, every write says why it cannot)."""
    return path.exists() and not (os.access(path, os.W_OK)
                                  and os.access(path.parent, os.W_OK | os.X_OK))


def _read_only_creator(path: Path):  # type: ignore[no-untyped-def]
    """Connections that open the file read-only. Without the WAL's shared-memory file and
    leave to make one, SQLite can read only a file it may treat as immutable."""
    import sqlite3
    from urllib.parse import quote

    shm = Path(f"{path}-shm")
    immutable = "&immutable=1" if not shm.exists() and not os.access(path.parent, os.W_OK) \
        else ""
    uri = f"file:{quote(str(path.resolve()))}?mode=ro{immutable}"

    def connect():  # type: ignore[no-untyped-def]
        return sqlite3.connect(uri, uri=True, timeout=SQLITE_BUSY_SECONDS,
                               check_same_thread=False)

    return connect


def make_engine(url: str, read_only: bool = False) -> Engine:
    """An engine for ``url``; SQLite gets WAL and foreign keys, as a file store wants, and
    opens read-only with ``read_only``."""
    if url.startswith("sqlite"):
        database = make_url(url).database
        if read_only and database:
            engine = create_engine("sqlite://", creator=_read_only_creator(Path(database)))
        else:
            engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_SECONDS})

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn, _record):  # type: ignore[no-untyped-def]
            # SQLAlchemy's recipe: let us emit BEGIN ourselves (see _begin below)
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            if not read_only:
                _wal(cur)
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA cache_size=-65536")  # 64 MiB page cache
            cur.execute("PRAGMA temp_store=MEMORY")
            cur.close()

        @event.listens_for(engine, "begin")
        def _begin(conn):  # type: ignore[no-untyped-def]
            # A write takes the write lock at once, so two writers never both read the same
            # audit-chain head; readers stay concurrent (WAL).
            write = conn.get_execution_options().get("kuznia_write", False)
            conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

        return engine
    # A server process runs up to 8 requests at once (kuznia.server.app.REQUEST_THREADS)
    # plus an import job and a heartbeat: the pool keeps that many connections open, so
    # none is opened and closed per request (PostgreSQL forks a process for each).
    engine = create_engine(url, pool_size=12, max_overflow=8)
    _log_failovers(engine)

    @event.listens_for(engine, "checkin")
    def _idle_from(_dbapi_conn, record):  # type: ignore[no-untyped-def]
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _ping_if_idle(dbapi_conn, record, _proxy):  # type: ignore[no-untyped-def]
        # SQLAlchemy's pool_pre_ping pings on every checkout: two round trips per request
        # on a busy server. A connection used a moment ago is alive; one idle for a while
        # may have been closed (a database restart, a firewall): ping that one, and on
        # failure let the pool replace it (DisconnectionError: it retries with a new one).
        since = record.info.get("idle_since")
        if since is None or time.monotonic() - since < IDLE_PING_SECONDS:
            return
        try:
            with dbapi_conn.cursor() as cur:
                cur.execute("SELECT 1")
            dbapi_conn.rollback()
        except Exception as exc:  # noqa: BLE001 - any failure means: not usable
            raise DisconnectionError(f"a pooled connection was closed: {exc}") from exc

    return engine


def _log_failovers(engine: Engine) -> None:
    """Log when a new connection lands on another host than the last one did: with a
    multi-host URL (``?host=H1:P1&host=H2:P2&target_session_attrs=read-write``) libpq
    follows the primary, so this is a failover (or a switchover) seen by this process."""
    last: dict[str, str] = {}

    @event.listens_for(engine, "connect")
    def _where(dbapi_conn, _record):  # type: ignore[no-untyped-def]
        info = getattr(dbapi_conn, "info", None)
        host, port = getattr(info, "host", None), getattr(info, "port", None)
        if host is None:
            return
        now = f"{host}:{port}"
        before = last.get("at")
        if before is not None and before != now:
            log.warning("the workspace's database answers from %s now (it was %s): a "
                        "failover or switchover; connections follow it", now, before)
        last["at"] = now


def _alembic_config() -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


def current_revision(engine: Engine) -> str | None:
    """The stored revision (None for an empty store), read without loading Alembic."""
    if "alembic_version" not in inspect(engine).get_table_names():
        return None
    with engine.connect() as conn:
        return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()


def has_tables(engine: Engine) -> bool:
    return bool(inspect(engine).get_table_names())


def upgrade(bind: Engine | Connection, revision: str = "head") -> None:
    """Run every pending migration up to ``revision`` (a no-op on an up-to-date store);
    given a connection, inside its transaction."""
    from alembic import command

    cfg = _alembic_config()
    if isinstance(bind, Connection):
        cfg.attributes["connection"] = bind
        command.upgrade(cfg, revision)
        return
    with bind.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)


def downgrade(engine: Engine, revision: str) -> None:
    """Go back to ``revision`` (for tests of a migration, and for rolling back a release)."""
    from alembic import command

    cfg = _alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, revision)
