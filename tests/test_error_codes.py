"""Driver errors are classified by their codes (SQLite's result codes, PostgreSQL's
SQLSTATE), never by their words, in one place (``errors.driver_condition``); each front end
gets the same error class, with its HTTP status, from ``errors.from_environment``."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import psycopg
import psycopg.errors
import pytest
import sqlalchemy as sa

from kuznia.errors import (
    DiskFullError,
    ForbiddenError,
    KuzniaError,
    TooManyAttemptsError,
    UnauthorizedError,
    UnavailableError,
    WorkspaceError,
    driver_condition,
    from_environment,
)
from kuznia.services import access


def _raised(conn: sqlite3.Connection, sql: str) -> sqlite3.Error:
    with pytest.raises(sqlite3.Error) as info:
        conn.execute(sql)
    return info.value


def test_sqlite_errors_are_read_from_their_codes(tmp_path: Path):
    db = tmp_path / "w.db"
    one = sqlite3.connect(db, timeout=0)
    one.execute("CREATE TABLE t (x TEXT)")
    one.commit()

    full = sqlite3.connect(db)
    pages = full.execute("PRAGMA page_count").fetchone()[0]
    full.execute(f"PRAGMA max_page_count = {pages}")
    assert driver_condition(_raised(full, "INSERT INTO t SELECT hex(randomblob(5000))")) \
        == "full"
    full.close()

    one.execute("BEGIN IMMEDIATE")
    two = sqlite3.connect(db, timeout=0)
    assert driver_condition(_raised(two, "BEGIN IMMEDIATE")) == "busy"
    one.rollback()

    ro = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    assert driver_condition(_raised(ro, "INSERT INTO t VALUES ('a')")) == "read_only"

    junk = tmp_path / "junk.db"
    junk.write_bytes(b"not a database at all, but long enough to have a header" * 20)
    assert driver_condition(_raised(sqlite3.connect(junk), "SELECT * FROM t")) \
        == "not_a_database"

    with pytest.raises(sqlite3.Error) as info:
        sqlite3.connect(tmp_path)  # a folder
    assert driver_condition(info.value) == "cannot_open"

    assert driver_condition(_raised(one, "SELECT * FROM nowhere")) is None  # a bug, not the
    # machine: an internal error


def test_words_alone_classify_nothing():
    for words in ("database is locked", "database or disk is full",
                  "attempt to write a readonly database", "file is not a database"):
        assert driver_condition(sqlite3.OperationalError(words)) is None
        assert from_environment(sa.exc.OperationalError("SQL", {}, Exception(words))) is None


def test_postgresql_errors_are_read_from_their_sqlstate():
    assert driver_condition(psycopg.errors.DiskFull("x")) == "full"
    for cls in (psycopg.errors.AdminShutdown, psycopg.errors.CannotConnectNow,
                psycopg.errors.ReadOnlySqlTransaction, psycopg.errors.ConnectionFailure,
                psycopg.errors.InvalidPassword):
        assert driver_condition(cls("x")) == "unreachable", cls
    # libpq's own failures carry no SQLSTATE: no server answered
    assert driver_condition(psycopg.OperationalError("any words at all")) == "unreachable"
    for cls in (psycopg.errors.UniqueViolation, psycopg.errors.QueryCanceled,
                psycopg.errors.SyntaxError):
        assert driver_condition(cls("connection refused, disk is full")) is None, cls
    wrapped = sa.exc.OperationalError("SELECT 1", {}, psycopg.errors.DiskFull("x"))
    assert driver_condition(wrapped) == "full"


def test_a_refused_connection_is_a_503_with_retry_after():
    engine = sa.create_engine("postgresql+psycopg://postgres@127.0.0.1:1/x",
                              connect_args={"connect_timeout": 2})
    with pytest.raises(sa.exc.OperationalError) as info:
        engine.connect()
    known = from_environment(info.value)
    assert isinstance(known, UnavailableError)
    assert (known.http_status, known.retry_after) == (503, 2)


def test_a_full_disk_is_a_503_without_retry_after():
    for exc in (OSError(28, "No space left on device"), psycopg.errors.DiskFull("x")):
        known = from_environment(exc)
        assert isinstance(known, DiskFullError) and isinstance(known, WorkspaceError)
        assert (known.http_status, known.exit_code, known.retry_after) == (503, 1, None)
        assert "disk is full" in str(known)


def test_the_access_errors_live_in_errors_with_their_statuses():
    assert (UnauthorizedError.http_status, ForbiddenError.http_status) == (401, 403)
    assert access.ForbiddenError is ForbiddenError
    assert access.UnauthorizedError is UnauthorizedError
    many = TooManyAttemptsError("wait", retry_after=30)
    assert (many.http_status, many.retry_after) == (429, 30)
    assert not isinstance(many, ForbiddenError) and isinstance(many, KuzniaError)
