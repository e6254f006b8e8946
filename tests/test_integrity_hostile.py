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
