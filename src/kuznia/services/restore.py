"""Restore a backup into an empty workspace of either store, all or nothing.

The backup is checked whole first (every part against its digest, the schema one this
Kuznia knows); the target must hold nothing. Then, in one transaction: the schema is made
at the backup's revision, every part goes in through the bulk paths (``COPY`` on
PostgreSQL), an older schema is migrated, and the audit chain must verify deep and hold
the backup's head, or nothing is kept. A SQLite target is built under a temporary name
beside it and swapped in when complete. SQLite -> PostgreSQL is how a workspace moves
when it outgrows one machine.
"""

from __future__ import annotations

import base64
import contextlib
import os
import tempfile
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl
import sqlalchemy as sa
from sqlalchemy import Connection, MetaData, inspect

from kuznia.errors import BackupError, UsageError, from_environment
from kuznia.i18n import N_, Plural
from kuznia.services import backup as backups
from kuznia.settings import database_url
from kuznia.store import bulk
from kuznia.store import engine as engines

INIT_LOCK = 7411  # the advisory lock ``init`` takes: one creation at a time per database


@dataclass
class RestoreResult:
    target: str
    schema_revision: str  # the backup's
    migrated_to: str | None  # the schema it was upgraded to, if it was older
    audit_head: dict[str, Any]
    rows: dict[str, int]
    rows_checked: int | None

    def to_dict(self) -> dict[str, Any]:
        return self.__dict__.copy()


def _dtype(column: sa.Column) -> Any:  # type: ignore[type-arg]
    t = column.type
    if isinstance(t, sa.LargeBinary):  # base64 in the backup
        return pl.Binary
    if isinstance(t, sa.Boolean):
        return pl.Boolean
    if isinstance(t, sa.Date):
        return pl.Date
    if isinstance(t, sa.Integer):
        return pl.Int64
    if isinstance(t, sa.Numeric):  # Float is a Numeric
        return pl.Float64
    return pl.String


def _frame(rows: list[list[Any]], columns: list[str], types: dict[str, Any]) -> pl.DataFrame:
    read = {c: pl.String if types[c] == pl.Date else types[c] for c in columns}
    binary = [i for i, c in enumerate(columns) if types[c] == pl.Binary]
    if binary:
        rows = [[base64.b64decode(v) if i in binary and v is not None else v
                 for i, v in enumerate(r)] for r in rows]
    frame = pl.DataFrame(rows, schema=read, orient="row", strict=False)
    dates = [c for c in columns if types[c] == pl.Date]
    return frame.with_columns(pl.col(d).str.to_date("%Y-%m-%d") for d in dates) \
        if dates else frame


def _empty_target(conn: Connection, shown: str) -> None:
    names = inspect(conn).get_table_names()
    if not names:
        return
    events = None
    if "audit_events" in names:
        events = conn.exec_driver_sql("SELECT count(*) FROM audit_events").scalar()
    if events is not None:
        raise BackupError(Plural("%(target)s already holds a workspace (%(num)s audit event); "
                                 "restore only into an empty database or a new file "
                                 "(nothing was written)",
                                 "%(target)s already holds a workspace (%(num)s audit "
                                 "events); restore only into an empty database or a new "
                                 "file (nothing was written)", events, target=shown))
    raise BackupError(Plural("%(target)s already holds %(num)s table; restore only into an "
                             "empty database or a new file (nothing was written)",
                             "%(target)s already holds %(num)s tables; restore only into "
                             "an empty database or a new file (nothing was written)",
                             len(names), target=shown))


def _load(conn: Connection, zf: zipfile.ZipFile, manifest: dict[str, Any], path: Path,
          progress: Callable[[str, int], None] | None) -> dict[str, int]:
    meta = MetaData()
    meta.reflect(bind=conn)
    parts = {p["table"]: p for p in manifest["parts"]}
    for name in parts:
        if name not in meta.tables:
            raise BackupError(N_("%(file)s holds a table %(table)s that schema %(revision)s "
                                 "does not have; nothing was restored"), file=str(path),
                              table=repr(name), revision=str(manifest["schema_revision"]))
    counts = {}
    for table in meta.sorted_tables:
        part = parts.get(table.name)
        if part is None:
            continue
        columns = list(part["columns"])
        if set(columns) != {c.name for c in table.columns}:
            raise BackupError(N_("%(file)s: the columns of %(table)s are not those of schema "
                                 "%(revision)s; nothing was restored"), file=str(path),
                              table=table.name, revision=str(manifest["schema_revision"]))
        types = {c.name: _dtype(c) for c in table.columns}
        conn.execute(table.delete())  # rows a migration may have put there
        done = 0
        binary = pl.Binary in types.values()
        for batch in backups.read_rows(zf, part, path):
            if binary:  # the vault's sealed bytes: a few rows at a time, as they are
                frame = _frame(batch, columns, types)
                conn.execute(table.insert(), frame.to_dicts())
            else:
                bulk.insert_frame(conn, table, _frame(batch, columns, types))
            done += len(batch)
            if progress is not None:
                progress(table.name, done)
        counts[table.name] = done
    if conn.dialect.name == "postgresql":
        _advance_sequences(conn, meta)
    return counts


def _advance_sequences(conn: Connection, meta: MetaData) -> None:
    """Rows went in with their ids: a serial column's sequence continues after them."""
    for table in meta.sorted_tables:
        for col in table.primary_key.columns:
            if not isinstance(col.type, sa.Integer):
                continue
            seq = conn.execute(sa.text("SELECT pg_get_serial_sequence(:t, :c)"),
                               {"t": table.name, "c": col.name}).scalar()
            if seq:
                conn.execute(sa.text(f"SELECT setval(:s, coalesce((SELECT max({col.name}) "
                                     f"FROM {table.name}), 0) + 1, false)"), {"s": seq})


def _into(conn: Connection, zf: zipfile.ZipFile, manifest: dict[str, Any], path: Path,
          shown: str, progress: Callable[[str, int], None] | None) -> RestoreResult:
    from kuznia.services import audit, audit_check
    from kuznia.services.store import _set_version

    _empty_target(conn, shown)
    revision = manifest["schema_revision"]
    engines.upgrade(conn, revision)
    rows = _load(conn, zf, manifest, path, progress)
    head = manifest["audit_head"]
    if audit.head(conn) != (head["event_id"], head["hash"]):
        raise BackupError(N_("%(file)s: the restored audit chain does not end at the head the "
                             "manifest names; nothing was restored"), file=str(path))
    migrated = None
    if revision != engines.HEAD:
        engines.upgrade(conn)
        _set_version(conn)
        migrated = engines.HEAD
    check = audit_check.verify(conn, deep=True, expect_head=head["hash"] or None)
    if not check.ok:
        raise BackupError(N_("%(file)s: restored, the audit chain does not verify "
                             "(%(reason)s); nothing was restored"), file=str(path),
                          reason=check.reason)
    return RestoreResult(shown, revision, migrated, head, rows, check.rows_checked)


def restore(path: str | Path, db: str | None,
            progress: Callable[[str, int], None] | None = None) -> RestoreResult:
    """Restore the backup ``path`` into the empty workspace ``db``."""
    from kuznia.services.store import sqlite_path

    path = Path(path)
    url = database_url(db)
    target = sqlite_path(url)
    if target is not None:
        _check_sqlite_target(target)
    zf, manifest = backups.check_complete(path)  # every digest, before anything is written
    with zf:
        if target is not None:
            return _restore_sqlite(zf, manifest, path, target, progress)
        engine = engines.make_engine(url)
        shown = sa.engine.make_url(url).render_as_string(hide_password=True)
        try:
            with _known_errors():
                with engine.connect().execution_options(kuznia_write=True) as conn:
                    with conn.begin():
                        if conn.dialect.name == "postgresql":
                            conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"),
                                         {"k": INIT_LOCK})
                        return _into(conn, zf, manifest, path, shown, progress)
        finally:
            engine.dispose()


@contextlib.contextmanager
def _known_errors() -> Iterator[None]:
    try:
        yield
    except (BackupError, UsageError):
        raise
    except Exception as exc:
        known = from_environment(exc)
        if known is not None and known is not exc:
            raise known from exc
        raise


def _check_sqlite_target(target: Path) -> None:
    if target.is_dir():
        raise UsageError(N_("{db} %(target)s is a folder; give a file name for the workspace"),
                         params=("db",), target=str(target))
    if target.exists() and target.stat().st_size:
        engine = engines.make_engine(f"sqlite:///{target}", read_only=True)
        try:
            with _known_errors(), engine.connect() as conn:
                _empty_target(conn, str(target))
        finally:
            engine.dispose()


def _swap_in(tmp: Path, target: Path) -> None:
    if target.exists():  # an empty file
        os.replace(tmp, target)
        return
    try:
        os.link(tmp, target)  # fails rather than replace a workspace made meanwhile
    except FileExistsError:
        raise BackupError(N_("%(target)s appeared while the backup was restored; nothing was "
                             "written over it"), target=str(target)) from None
    except OSError:  # a file system without hard links
        os.replace(tmp, target)


def _restore_sqlite(zf: zipfile.ZipFile, manifest: dict[str, Any], path: Path, target: Path,
                    progress: Callable[[str, int], None] | None) -> RestoreResult:
    """Build the workspace under a temporary name beside ``target``; swap it in when it is
    complete and verified, never over a workspace that appeared meanwhile."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".restoring",
                                dir=target.parent)
    os.close(fd)
    tmp = Path(name)
    engine = engines.make_engine(f"sqlite:///{tmp}")
    try:
        with _known_errors():
            with engine.connect().execution_options(kuznia_write=True) as conn:
                with conn.begin():
                    result = _into(conn, zf, manifest, path, str(target), progress)
            engine.dispose()  # the last connection closes: the WAL is folded in
            _check_sqlite_target(target)  # still empty (another restore, an init?)
            _swap_in(tmp, target)
        return result
    finally:
        engine.dispose()
        for side in ("", "-wal", "-shm", "-journal"):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(f"{tmp}{side}")
