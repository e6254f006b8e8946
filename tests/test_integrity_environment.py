"""The machine misbehaves: a read-only workspace, one made by a newer Kuznia, two `init` at
once, a full disk, a folder where a file should be. Each is a sentence and exit 1 or 2,
never an internal error, and nothing is half-stored."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest
import sqlalchemy
from sqlalchemy import event
from typer.testing import CliRunner

import kuznia
from helpers import count, write_csv
from kuznia.cli import app
from kuznia.errors import WorkspaceError
from kuznia.store import engine as engines
from test_import import USE_HEADER, use_row

runner = CliRunner()


@pytest.fixture
def sqlite_db(tmp_path: Path, example_dir: Path) -> str:
    """The example files of the tables every schema since 0004 has (a test downgrades it,
    and a downgrade past 0012 drops the licences' tables with their rows)."""
    from conftest import LATER_TABLES
    from kuznia.ingest.tables import IMPORT_ORDER

    db = str(tmp_path / "ws.db")
    with kuznia.init(db, "USD", actor="t") as ws:
        for table in IMPORT_ORDER:
            if table not in LATER_TABLES:
                ws.import_file(table, example_dir / f"{table}.csv")
    return db


def test_a_read_only_workspace_reads_and_refuses_writes(sqlite_db: str, tmp_path: Path,
                                                        monkeypatch):
    # as root, file modes do not stop a write; the test forces the read-only path, and
    # SQLite itself then refuses writes (mode=ro), whoever the user is
    monkeypatch.setattr(engines, "sqlite_read_only", lambda _p: True)
    for args in (["cost-per-effect", "--by", "product,producer"], ["board"], ["fixes"],
                 ["uses"], ["audit", "verify"], ["report", "--out", str(tmp_path / "r")]):
        r = runner.invoke(app, [*args, "--db", sqlite_db])
        assert r.exit_code == 0, (args, r.output)
    f = write_csv(tmp_path / "u.csv", USE_HEADER, [use_row("RO1")])
    r = runner.invoke(app, ["import", "uses", str(f), "--db", sqlite_db])
    assert r.exit_code == 1 and "read-only" in r.output
    with kuznia.open(sqlite_db) as ws:
        assert ws.store.read_only
        with ws.store.engine.connect() as conn, pytest.raises(Exception, match="readonly"):
            conn.exec_driver_sql("DELETE FROM uses")
    monkeypatch.undo()
    with kuznia.open(sqlite_db) as ws:
        assert count(ws, "uses") == 6


def test_read_only_detection(tmp_path: Path, monkeypatch):
    p = tmp_path / "x.db"
    assert not engines.sqlite_read_only(p)  # not there yet: init may create it
    p.write_bytes(b"")
    monkeypatch.setattr(engines.os, "access", lambda path, mode: Path(path) != p)
    assert engines.sqlite_read_only(p)  # the file may not be written
    monkeypatch.setattr(engines.os, "access", lambda path, mode: Path(path) != tmp_path)
    assert engines.sqlite_read_only(p)  # its journal may not be made beside it
    monkeypatch.setattr(engines.os, "access", lambda path, mode: True)
    assert not engines.sqlite_read_only(p)


def test_a_workspace_from_a_newer_kuznia_says_so(sqlite_db: str):
    con = sqlite3.connect(sqlite_db)
    con.execute("UPDATE alembic_version SET version_num = '0099'")
    con.commit()
    con.close()
    r = runner.invoke(app, ["board", "--db", sqlite_db])
    assert r.exit_code == 1
    assert "newer Kuznia" in r.output and "0099" in r.output
    con = sqlite3.connect(sqlite_db)
    assert con.execute("SELECT version_num FROM alembic_version").fetchone() == ("0099",)


def test_two_inits_at_once_make_one_workspace(db_url: str):
    outcomes: list[object] = []

    def init() -> None:
        try:
            kuznia.init(db_url, "USD", actor="t").close()
            outcomes.append("made")
        except WorkspaceError as exc:
            outcomes.append(exc)
        except Exception as exc:  # noqa: BLE001 - anything else fails the test below
            outcomes.append(exc)

    threads = [threading.Thread(target=init) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert outcomes.count("made") == 1, outcomes
    assert all(isinstance(o, WorkspaceError) and "already holds" in str(o)
               for o in outcomes if o != "made"), outcomes
    with kuznia.open(db_url) as ws:
        assert ws.verify_audit().ok and ws.verify_audit().checked == 1


def test_a_full_disk_is_said_and_stores_nothing(sqlite_db: str, tmp_path: Path):
    rows = [use_row(f"D{i:06d}", notes="x" * 200) for i in range(20_000)]
    f = write_csv(tmp_path / "u.csv", USE_HEADER, rows)
    with kuznia.open(sqlite_db) as ws:
        pages = ws.store.engine.connect().exec_driver_sql("PRAGMA page_count").scalar()

        @event.listens_for(ws.store.engine, "connect")
        def _small_disk(dbapi_conn, _record):  # type: ignore[no-untyped-def]
            dbapi_conn.execute(f"PRAGMA max_page_count = {pages + 50}")

        ws.store.engine.dispose()
        with pytest.raises(WorkspaceError, match="disk is full"):
            ws.import_file("uses", f, batch_rows=1000)
        assert count(ws, "uses") == 6
        with ws.store.write():  # the lock is free
            pass
        assert ws.verify_audit().ok


def test_folders_where_files_belong(tmp_path: Path, sqlite_db: str):
    for args in (["init", "--db", str(tmp_path)], ["board", "--db", str(tmp_path)],
                 ["import", "uses", str(tmp_path), "--db", sqlite_db],
                 ["import", "uses", str(tmp_path / "u.csv"), "--db", sqlite_db,
                  "--quarantine", str(tmp_path)],
                 ["plan", "allocate", "--budget", "10", "--offers", str(tmp_path),
                  "--db", sqlite_db],
                 ["report", "--out", sqlite_db, "--db", sqlite_db]):
        write_csv(tmp_path / "u.csv", USE_HEADER, [use_row("F1", effects=-1)])
        r = runner.invoke(app, args)
        assert r.exit_code in (1, 2), (args, r.output)
        assert "internal error" not in r.output


def test_brackets_in_ids_print_as_they_are(tmp_path: Path):
    db = str(tmp_path / "w.db")
    assert runner.invoke(app, ["init", "--db", db]).exit_code == 0
    write_csv(tmp_path / "p.csv", ["product_id", "name", "category"], [["[/x]", "[bold]", "c"]])
    r = runner.invoke(app, ["import", "products", str(tmp_path / "p.csv"), "--db", db])
    assert r.exit_code == 0, r.output
    write_csv(tmp_path / "u.csv", ["use_id", "used_on", "product_id", "effects", "outcome"],
              [["U1", "2026-01-01", "[/x]", 1, "effect"]])
    assert runner.invoke(app, ["import", "uses", str(tmp_path / "u.csv"), "--db", db]
                         ).exit_code == 0
    r = runner.invoke(app, ["cost-per-effect", "--db", db])
    assert r.exit_code == 0 and "[/x]" in r.output
    r = runner.invoke(app, ["uses", "--product", "[/nope]", "--month", "[x]", "--db", db])
    assert r.exit_code == 2 and "[x]" in r.output


def test_an_older_workspace_is_upgraded_only_by_migrate(sqlite_db: str):
    from kuznia.store.engine import HEAD, downgrade, make_engine

    engine = make_engine(f"sqlite:///{sqlite_db}")
    downgrade(engine, "0004")
    engine.dispose()
    r = runner.invoke(app, ["board", "--db", sqlite_db])
    assert r.exit_code == 1 and "kuznia migrate" in r.output
    con = sqlite3.connect(sqlite_db)
    assert con.execute("SELECT version_num FROM alembic_version").fetchone() == ("0004",)
    con.close()
    r = runner.invoke(app, ["migrate", "--db", sqlite_db])
    assert r.exit_code == 0 and f"from schema 0004 to {HEAD}" in r.output
    r = runner.invoke(app, ["migrate", "--db", sqlite_db])
    assert r.exit_code == 0 and "nothing to do" in r.output
    r = runner.invoke(app, ["audit", "verify", "--deep", "--db", sqlite_db])
    assert r.exit_code == 0, r.output


def test_a_pooled_connection_closed_while_idle_is_replaced(ws: kuznia.Workspace,
                                                           monkeypatch):
    # PostgreSQL restarted, or a firewall dropped an idle connection: the pool pings a
    # connection that sat idle (IDLE_PING_SECONDS) and replaces it, instead of failing
    # the request that drew it
    if ws.store.dialect != "postgresql":
        pytest.skip("SQLite has no connections to lose")
    with ws.store.read() as conn:
        pid = conn.exec_driver_sql("SELECT pg_backend_pid()").scalar_one()
    other = sqlalchemy.create_engine(ws.store.engine.url)
    with other.begin() as conn:
        assert conn.exec_driver_sql(f"SELECT pg_terminate_backend({int(pid)})").scalar_one()
    other.dispose()
    monkeypatch.setattr(engines, "IDLE_PING_SECONDS", 0.0)
    with ws.store.read() as conn:
        assert conn.exec_driver_sql("SELECT pg_backend_pid()").scalar_one() != pid
    assert ws.cost_per_effect("product").rows == []
