"""Crafted files cannot hold the server (issue 24): an XLSX claiming far more rows than
a sheet holds, or text of megabytes in a 50 KB file, is refused at once, naming why; a
cell longer than the bound is a row error naming its size; no problem echoes a whole
value (the first characters and the length instead)."""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path

import openpyxl
import pytest
from fastapi.testclient import TestClient

import kuznia
from helpers import write_csv
from kuznia.errors import SHOWN_CHARS, InputError, RowProblem, shown_value
from kuznia.ingest import readers
from test_import import USE_HEADER, use_row


def _xlsx(path: Path, rows: list[list[object]]) -> Path:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(USE_HEADER)
    for r in rows:
        sheet.append(r)
    book.save(path)
    return path


def _rewrite(path: Path, member: str, change) -> Path:  # type: ignore[no-untyped-def]
    """``path`` with one member of its zip replaced by ``change(old bytes)``."""
    with zipfile.ZipFile(path) as z:
        parts = {i.filename: z.read(i) for i in z.infolist()}
    parts[member] = change(parts[member])
    out = path.with_name("crafted-" + path.name)
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in parts.items():
            z.writestr(name, data)
    return out


@pytest.fixture
def never_opened(monkeypatch: pytest.MonkeyPatch) -> None:
    """Refused at once: the workbook is never opened (so no row is ever iterated)."""
    def opened(*a: object, **k: object) -> None:
        raise AssertionError("the workbook was opened")

    monkeypatch.setattr(openpyxl, "load_workbook", opened)


SHEET = "xl/worksheets/sheet1.xml"


@pytest.mark.parametrize("how", ["row number", "dimension", "rows without numbers"])
def test_an_xlsx_claiming_too_many_rows_is_refused_at_once(
        ws: kuznia.Workspace, tmp_path: Path, how: str, never_opened: None):
    f = _xlsx(tmp_path / "u.xlsx", [use_row("X1"), use_row("X2")])
    if how == "row number":
        crafted = _rewrite(f, SHEET, lambda b: b.replace(b'<row r="3"', b'<row r="20000000"'))
    elif how == "dimension":
        crafted = _rewrite(f, SHEET, lambda b: re.sub(rb'<dimension ref="[^"]*"',
                                                      b'<dimension ref="A1:M20000000"', b))
    else:  # a million and more empty rows: a few hundred KB zipped
        crafted = _rewrite(f, SHEET, lambda b: b.replace(
            b"</sheetData>", b"<row/>" * (readers.MAX_XLSX_ROWS + 1) + b"</sheetData>"))
    assert crafted.stat().st_size < 1 << 20
    with pytest.raises(InputError) as e:
        ws.import_file("uses", crafted)
    text = str(e.value)
    assert "at most 1,048,576 rows" in text and "claims row" in text
    if how != "rows without numbers":
        assert "20,000,000" in text


def test_megabytes_of_text_in_a_small_xlsx_are_refused_at_once(
        ws: kuznia.Workspace, tmp_path: Path, never_opened: None):
    f = _xlsx(tmp_path / "u.xlsx", [use_row("X1", notes="short note")])
    huge = b"x" * (3 * readers.XLSX_TEXT_BYTES)
    crafted = _rewrite(f, SHEET, lambda b: b.replace(b"short note", huge))
    assert crafted.stat().st_size < 100_000
    with pytest.raises(InputError) as e:
        ws.import_file("uses", crafted)
    text = str(e.value)
    assert "more than 1,048,576 bytes" in text and "10,000 characters" in text
    assert len(text) < 1000  # never the value itself


def test_a_long_cell_is_a_row_error_naming_its_size(filled: kuznia.Workspace,
                                                    tmp_path: Path):
    long = "é" * (readers.MAX_CELL_CHARS + 5)
    for f in (write_csv(tmp_path / "u.csv", USE_HEADER, [use_row("L1"),
                                                         use_row("L2", notes=long)]),
              _xlsx(tmp_path / "u.xlsx", [use_row("L1"), use_row("L2", notes=long)])):
        with pytest.raises(InputError) as e:
            filled.import_file("uses", f)
        (p,) = e.value.problems
        assert (p.line, p.column) == (3, "notes")
        assert p.message == "is 10005 characters long; a cell holds at most 10,000"
        assert len(p.value) <= SHOWN_CHARS and p.value.startswith("ééé")
        assert len(str(e.value)) < 1000
    # at the bound it is a note like any other
    ok = write_csv(tmp_path / "ok.csv", USE_HEADER,
                   [use_row("L3", notes="é" * readers.MAX_CELL_CHARS)])
    assert filled.import_file("uses", ok).added == 1


def test_a_csv_value_longer_than_a_block_is_refused_in_words(ws: kuznia.Workspace,
                                                             tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(readers, "CSV_BLOCK_BYTES", 1 << 20)
    f = write_csv(tmp_path / "u.csv", USE_HEADER, [use_row("B1", notes="n" * (3 << 20))])
    with pytest.raises(InputError) as e:
        ws.import_file("uses", f)
    text = str(e.value)
    assert "longer than 1 MiB" in text and "10,000 characters" in text
    assert len(text) < 1000


def test_every_echoed_value_is_cut():
    assert shown_value("abc") == "abc"
    long = "v" * 50_000
    p = RowProblem("f.csv", 2, "notes", "is bad", long)
    assert p.value == "v" * SHOWN_CHARS + "… (50,000 characters)"
    assert len(str(p)) < 200


def test_the_server_echoes_no_long_value(filled: kuznia.Workspace, tmp_path: Path):
    """An upload with a value that is bad and long: the answer (and the job kept for it)
    holds its start and length, not the value."""
    from server_helpers import serve

    served = serve(filled, tmp_path / "data")
    bad = "9" * 30_000  # not a whole number, and long
    body = io.StringIO()
    body.write(",".join(USE_HEADER) + "\n")
    row = use_row("S1", units_used=bad[:9_000])
    body.write(",".join(str(v) for v in row) + "\n")
    with TestClient(served.app) as client:
        got = client.post("/api/v1/imports/uses", headers=served.headers("engineer"),
                          files={"file": ("u.csv", body.getvalue().encode(), "text/csv")})
        assert got.status_code == 422, got.text
        assert len(got.text) < 3000
        assert "(9,000 characters)" in got.text
        job = client.get(f"/api/v1/jobs/{got.json()['job_id']}",
                         headers=served.headers("engineer"))
        assert job.status_code == 200 and len(job.text) < 3000
