"""Hostile inputs of the second pass (issue 24): each is a row error, a file error or a usage
error naming what is wrong, never an internal error, on both stores."""

from __future__ import annotations

from pathlib import Path

import pytest

import kuznia
from helpers import count, write_csv
from kuznia.errors import InputError
from test_import import USE_HEADER, use_row


def _problems(exc: InputError) -> list[tuple[int, str, str]]:
    return sorted((p.line, p.column, p.message) for p in exc.problems)


def _csv_bytes(rows: list[list[object]], end: bytes = b"\n") -> bytes:
    lines = [",".join(USE_HEADER).encode()]
    lines += [",".join(str(v) for v in row).encode() for row in rows]
    return end.join(lines) + end


@pytest.mark.parametrize("column", ["use_id", "notes", "operator"])
def test_a_nul_byte_in_a_data_row_is_a_row_error_naming_line_and_column(
        filled: kuznia.Workspace, tmp_path: Path, column: str):
    f = tmp_path / "u.csv"
    bad = use_row("N2")
    bad[USE_HEADER.index(column)] = "a\x00b"
    f.write_bytes(_csv_bytes([use_row("N1"), bad, use_row("N3")]))
    before = count(filled, "uses")
    with pytest.raises(InputError) as e:
        filled.import_file("uses", f)
    (problem,) = e.value.problems
    assert (problem.line, problem.column) == (3, column)
    assert "NUL" in problem.message and "\x00" not in (problem.value or "")
    assert count(filled, "uses") == before


def test_a_nul_row_goes_to_quarantine_and_the_rest_is_stored(filled: kuznia.Workspace,
                                                               tmp_path: Path):
    f = tmp_path / "u.csv"
    f.write_bytes(_csv_bytes([use_row("N1"), use_row("N2", notes="x\x00")]))
    summary = filled.import_file("uses", f, quarantine=tmp_path / "q.csv")
    assert (summary.added, summary.rejected) == (1, 1)


def test_cr_only_line_ends_are_read_as_lines(filled: kuznia.Workspace, tmp_path: Path):
    f = tmp_path / "mac.csv"
    f.write_bytes(_csv_bytes([use_row("M1"), use_row("M2", units_used="x"), use_row("M3")],
                             end=b"\r"))
    with pytest.raises(InputError) as e:
        filled.import_file("uses", f)
    assert [(p.line, p.column) for p in e.value.problems] == [(3, "units_used")]
    f.write_bytes(_csv_bytes([use_row("M1"), use_row("M3")], end=b"\r"))
    assert filled.import_file("uses", f).added == 2


def test_a_cr_inside_the_header_is_a_file_error(filled: kuznia.Workspace, tmp_path: Path):
    f = tmp_path / "u.csv"
    body = _csv_bytes([use_row("C1")])
    f.write_bytes(body.replace(b"used_on", b"used\ron", 1))
    with pytest.raises(InputError) as e:
        filled.import_file("uses", f)
    (problem,) = e.value.problems
    assert problem.line == 1 and "carriage return" in problem.message


@pytest.mark.parametrize("use_id", ["U\u202e1", "U\u200b1", "U\x071", "\ufeffU1", "U\u20281",
                                    ".", ".."])
def test_ids_with_unseen_characters_or_dots_are_row_errors(filled: kuznia.Workspace,
                                                           tmp_path: Path, use_id: str):
    f = write_csv(tmp_path / "u.csv", USE_HEADER, [use_row("OK1"), use_row(use_id)])
    with pytest.raises(InputError) as e:
        filled.import_file("uses", f)
    assert [(p.line, p.column) for p in e.value.problems] == [(3, "use_id")]


def test_an_id_with_an_override_names_the_character(filled: kuznia.Workspace, tmp_path: Path):
    f = write_csv(tmp_path / "p.csv", ["producer_id", "name", "kind", "region"],
                  [["P\u202e9", "x", "state", "north"]])
    with pytest.raises(InputError) as e:
        filled.import_file("producers", f)
    (problem,) = e.value.problems
    assert problem.value == "P\\u202e9"


def _cli(*args: str) -> object:
    from typer.testing import CliRunner

    from kuznia.cli import app

    return CliRunner().invoke(app, list(args))


@pytest.mark.parametrize("args", [
    ["cost-per-effect", "--to", "9999-12-31"], ["cost-per-effect", "--from", "9999-12-31"],
    ["cost-per-effect", "--from", "9999-12-05", "--to", "9999-12-31"],
    ["cost-per-effect", "--to", "0001-01-05"], ["cost-per-effect", "--by", "month", "--to",
                                                 "9999-12-31"],
    ["uses", "--to", "9999-12-31"], ["uses", "--from", "9999-12-31"],
    ["uses", "--month", "9999-12"], ["uses", "--to", "0001-01-01"]])
def test_the_last_and_first_days_there_are_work_as_ends(filled: kuznia.Workspace,
                                                        args: list[str]):
    r = _cli(*args, "--json", "--db", filled.store.url)
    assert r.exit_code == 0, r.output


def test_the_last_day_there_is_leaves_the_period_open(filled: kuznia.Workspace):
    import datetime as dt

    def figures(date_to: dt.date | None) -> list[dict[str, object]]:
        rows = filled.cost_per_effect(["product"], None, date_to).to_dict()["rows"]
        return [{k: v for k, v in r.items() if not k.startswith("trace")} for r in rows]

    assert figures(dt.date.max) == figures(None) != []


@pytest.mark.parametrize("value", ["2026-1-1", "20260101", "2026-W01-1"])
def test_a_date_option_takes_iso_days_only(filled: kuznia.Workspace, value: str):
    r = _cli("cost-per-effect", "--from", value, "--db", filled.store.url)
    assert r.exit_code == 2 and "--from" in r.output and value in r.output


def test_a_date_cell_takes_iso_days_only(filled: kuznia.Workspace, tmp_path: Path):
    f = write_csv(tmp_path / "u.csv", USE_HEADER, [use_row("D1", used_on="2026-2-1")])
    with pytest.raises(InputError) as e:
        filled.import_file("uses", f)
    assert [(p.line, p.column) for p in e.value.problems] == [(2, "used_on")]


def test_regions_before_the_strikes_history_are_no_history(filled: kuznia.Workspace):
    import datetime as dt

    assert filled.regions(dt.date(1, 1, 1)) == []
    for row in filled.regions(dt.date(2026, 12, 31)):
        assert 0 < row["monthly_strike_probability"] < 1
        assert 0 <= row["months_struck"] <= row["months_observed"]


@pytest.mark.parametrize("url", ["mysql://u@h/db", "oracle://x", "http://example.com/w",
                                 "mssql+pyodbc://a", "postgresql+asyncpg://u@h/d", "://x"])
def test_a_database_url_of_an_unsupported_kind_is_a_usage_error(url: str):
    r = _cli("cost-per-effect", "--db", url)
    assert r.exit_code == 2, r.output
    assert "--db" in r.output and "postgresql+psycopg://" in r.output and "SQLite" in r.output


def _special_files(tmp_path: Path) -> list[Path]:
    """A named pipe, and a copy of /dev/null's device when this user may make one."""
    import os
    import stat

    fifo = tmp_path / "pipe.csv"
    os.mkfifo(fifo)
    out = [fifo]
    try:
        os.mknod(tmp_path / "null.csv", stat.S_IFCHR | 0o666, os.makedev(1, 3))
        out.append(tmp_path / "null.csv")
    except PermissionError:
        pass
    return out


def test_quarantine_and_out_refuse_pipes_and_devices_and_leave_them(
        filled: kuznia.Workspace, tmp_path: Path):
    import stat

    f = write_csv(tmp_path / "u.csv", USE_HEADER, [use_row("Q1"), use_row("Q2", effects="x")])
    for target in _special_files(tmp_path):
        kind = stat.S_IFMT(target.stat().st_mode)
        for args in (["import", "uses", str(f), "--quarantine", str(target)],
                     ["export", "ocds", "--out", str(target)],
                     ["growth", "--product", "FPV-A", "--chart", str(target)]):
            r = _cli(*args, "--db", filled.store.url)
            assert r.exit_code == 2, (args, r.output)
            option = args[-2]
            assert option in r.output and "not a regular file" in r.output
            assert stat.S_IFMT(target.stat().st_mode) == kind  # still a pipe or a device
