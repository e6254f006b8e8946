"""Outputs never land on the workspace, an input or the user's own files; file names made
from ids stay in their folder; CSV cells are never spreadsheet formulas."""

from __future__ import annotations

import csv
import hashlib
import os
import stat
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

import kuznia
from helpers import count, write_csv
from kuznia.errors import UsageError
from kuznia.outputs import MARKER, id_file_name, neutralise
from test_import import USE_HEADER, use_row


def _sha(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


@pytest.fixture
def sqlite_ws(tmp_path: Path, example_dir: Path):
    from kuznia.ingest.tables import IMPORT_ORDER

    with kuznia.init(str(tmp_path / "ws.db"), "USD", actor="tester") as w:
        for table in IMPORT_ORDER:
            w.import_file(table, example_dir / f"{table}.csv")
        yield w


@pytest.mark.parametrize("target", ["ws.db", "ws.db-wal", "ws.db-shm", "ws.db-journal",
                                    "input"])
def test_quarantine_may_not_be_the_workspace_or_the_input(sqlite_ws, tmp_path: Path,
                                                          target: str):
    f = write_csv(tmp_path / "u.csv", USE_HEADER, [use_row("Q1"), use_row("Q2", effects=-1)])
    out = f if target == "input" else tmp_path / target
    existing = {p: _sha(p) for p in tmp_path.iterdir() if p.is_file()}
    with pytest.raises(UsageError, match="choose another path"):
        sqlite_ws.import_file("uses", f, quarantine=out)
    # nothing was touched: the workspace, its journal and the input are as they were
    for p, digest in existing.items():
        assert _sha(p) == digest, p
    assert count(sqlite_ws, "uses") == 6
    assert sqlite_ws.verify_audit().ok


@pytest.mark.parametrize("command", [["export", "ocds", "--out"], ["report", "--out"],
                                     ["import", "uses", "U", "--quarantine"]])
def test_an_output_name_too_long_for_the_disk_is_refused_in_words(sqlite_ws, tmp_path: Path,
                                                                  command: list[str]):
    """Found by the command-line fuzzer: a 300-character name was an internal error."""
    from typer.testing import CliRunner

    from kuznia.cli import app

    f = write_csv(tmp_path / "u.csv", USE_HEADER, [use_row("Q1")])
    args = [str(f) if a == "U" else a for a in command]
    r = CliRunner().invoke(app, [*args, str(tmp_path / ("x" * 300)),
                                 "--db", sqlite_ws.store.url])
    assert r.exit_code == 2, r.output
    assert "File name too long" in r.stderr and "nothing was written" in r.stderr
    assert count(sqlite_ws, "uses") == 6


def test_quarantine_through_another_name_of_the_same_file(sqlite_ws, tmp_path: Path):
    f = write_csv(tmp_path / "u.csv", USE_HEADER, [use_row("Q1", effects=-1)])
    link = tmp_path / "alias.csv"
    link.symlink_to(f)
    before = _sha(f)
    with pytest.raises(UsageError):
        sqlite_ws.import_file("uses", f, quarantine=link)
    assert _sha(f) == before


def test_a_quarantine_file_is_swapped_in_whole(sqlite_ws, tmp_path: Path):
    q = tmp_path / "q.csv"
    q.write_text("old content\n")
    f = write_csv(tmp_path / "u.csv", USE_HEADER, [use_row("Q1"), use_row("Q2", effects=-1)])
    r = sqlite_ws.import_file("uses", f, quarantine=q)
    assert r.rejected == 1 and r.added == 1
    rows = list(csv.DictReader(q.open()))
    assert [x["use_id"] for x in rows] == ["Q2"]
    assert not list(tmp_path.glob(".q.csv*"))  # no temporary left behind
    # a failed import (here: a bad header) leaves the old file in place
    bad = tmp_path / "bad.csv"
    bad.write_text("nope\n1\n")
    with pytest.raises(kuznia.errors.InputError):
        sqlite_ws.import_file("uses", bad, quarantine=q)
    assert [x["use_id"] for x in csv.DictReader(q.open())] == ["Q2"]


def test_report_never_deletes_the_users_files(sqlite_ws, tmp_path: Path):
    out = tmp_path / "rep"
    (out / "uses").mkdir(parents=True)
    mine = out / "uses" / "my-notes.txt"
    mine.write_text("keep me")
    for with_uses in (True, False):
        with pytest.raises(UsageError, match="did not write"):
            sqlite_ws.report(out, with_uses=with_uses)
        assert mine.read_text() == "keep me"
    # a folder Kuznia made is replaced whole, and its own files go with it
    path = sqlite_ws.report(tmp_path / "rep2")
    assert (path.parent / MARKER).exists()
    (path.parent / "stale.png").write_bytes(b"x")
    path = sqlite_ws.report(tmp_path / "rep2", with_uses=False)
    assert not (path.parent / "stale.png").exists()
    assert not (path.parent / "uses").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".rep2")]


def test_report_may_not_be_written_over_the_workspace(sqlite_ws, tmp_path: Path):
    with pytest.raises(UsageError):
        sqlite_ws.report(tmp_path / "ws.db")
    with pytest.raises(UsageError, match="holds the workspace"):
        sqlite_ws.report(tmp_path)
    assert sqlite_ws.verify_audit().ok


def test_chart_output_may_not_be_the_workspace(tmp_path: Path, example_dir: Path):
    from typer.testing import CliRunner

    from kuznia.cli import app

    runner = CliRunner()
    db = str(tmp_path / "ws.db")
    assert runner.invoke(app, ["init", "--db", db]).exit_code == 0
    before = _sha(tmp_path / "ws.db")
    r = runner.invoke(app, ["growth", "--product", "FPV-A", "--chart", db, "--db", db])
    assert r.exit_code == 2, r.output
    assert _sha(tmp_path / "ws.db") == before


@given(st.lists(st.text(min_size=1, max_size=12), min_size=2, max_size=8, unique=True))
def test_file_names_from_ids_stay_inside_and_are_unique(ids: list[str]):
    names = [id_file_name(i, ".csv") for i in ids]
    assert len({n.lower() for n in names}) == len(ids)  # also on a case-blind file system
    for n in names:
        assert "/" not in n and "\\" not in n and "\x00" not in n
        assert not n.startswith(".") and n not in ("..", ".")
        assert len(n.encode()) < 100


def test_use_lists_with_awkward_ids_stay_in_the_report(tmp_path: Path):
    with kuznia.init(str(tmp_path / "w.db"), "USD", actor="t") as ws:
        write_csv(tmp_path / "p.csv", ["producer_id", "name", "kind", "region"],
                  [["P/1", "a", "state", "r"], ["P_1", "b", "state", "r"],
                   ["../x", "c", "state", "r"], ["p_1", "d", "state", "r"]])
        write_csv(tmp_path / "pr.csv", ["product_id", "name", "category"],
                  [["FD/01", "x", "c"], ["FD_01", "y", "c"]])
        ws.import_file("producers", tmp_path / "p.csv")
        ws.import_file("products", tmp_path / "pr.csv")
        rows = []
        for i, (prod, prod_id) in enumerate([(p, q) for p in ["FD/01", "FD_01"]
                                              for q in ["P/1", "P_1", "../x", "p_1"]]):
            rows.append(use_row(f"U{i}", product_id=prod, producer_id=prod_id, version="",
                                lot="", notes="=cmd|' /C calc'!A0"))
        write_csv(tmp_path / "u.csv", USE_HEADER, rows)
        ws.import_file("uses", tmp_path / "u.csv")
        path = ws.report(tmp_path / "rep", with_uses=True)
    lists = list((path.parent / "uses").rglob("*.csv"))
    assert len(lists) == 8
    root = (path.parent / "uses").resolve()
    for p in lists:
        assert p.resolve().is_relative_to(root)
        (row,) = list(csv.DictReader(p.open()))
        assert row["notes"].startswith("'=")  # neutralised in the file...
    with kuznia.open(str(tmp_path / "w.db")) as ws:  # ...and as it was in the workspace
        assert ws.uses(product="FD/01")[0]["notes"].startswith("=")
    charts = [p.name for p in path.parent.glob("*.png")]
    assert all("/" not in c for c in charts)


@pytest.mark.parametrize("cell,safe", [
    ("=1+1", "'=1+1"), ("+1+1", "'+1+1"), ("-1+A1", "'-1+A1"), ("@SUM(A1)", "'@SUM(A1)"),
    ("\tx", "'\tx"), ("\rx", "'\rx"), ("-5", "-5"), ("+3.5e2", "+3.5e2"), ("abc", "abc"),
    ("", ""), ("a=b", "a=b"),
])
def test_neutralise(cell: str, safe: str):
    assert neutralise(cell) == safe


def test_quarantine_cells_are_never_formulas(sqlite_ws, tmp_path: Path):
    f = write_csv(tmp_path / "u.csv", USE_HEADER, [
        use_row("=HYPERLINK(\"http://x\")", effects=-1),
        use_row("Q2", effects=-1, notes="@SUM(1)", operator="+cmd"),
    ])
    q = tmp_path / "q.csv"
    sqlite_ws.import_file("uses", f, quarantine=q)
    for row in csv.reader(q.open()):
        for cell in row:
            assert not cell.startswith(("=", "+", "@", "\t", "\r")) or cell == "", cell
            if cell.startswith("-"):
                float(cell)


def test_swapped_in_outputs_get_ordinary_permissions(sqlite_ws, tmp_path: Path):
    mask = os.umask(0o022)
    try:
        path = sqlite_ws.report(tmp_path / "rep", with_uses=False)
        f = write_csv(tmp_path / "u.csv", USE_HEADER, [use_row("P1", effects=-1)])
        sqlite_ws.import_file("uses", f, quarantine=tmp_path / "q.csv")
    finally:
        os.umask(mask)
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o755
    assert stat.S_IMODE((tmp_path / "q.csv").stat().st_mode) == 0o644


def test_demo_refuses_a_users_folder_before_doing_anything(tmp_path: Path):
    from typer.testing import CliRunner

    from kuznia.cli import app

    (tmp_path / "rep").mkdir()
    (tmp_path / "rep" / "mine.txt").write_text("keep")
    r = CliRunner().invoke(app, ["demo", "--uses", "100", "--out", str(tmp_path / "rep"),
                                 "--data", str(tmp_path / "data"),
                                 "--db", str(tmp_path / "d.db")])
    assert r.exit_code == 2, r.output
    assert not (tmp_path / "data").exists() and not (tmp_path / "d.db").exists()
    assert (tmp_path / "rep" / "mine.txt").read_text() == "keep"
