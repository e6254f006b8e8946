"""Bad input is refused with its real line and column, wherever it sits in the file."""

from __future__ import annotations

import json
from pathlib import Path

import openpyxl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import kuznia
from helpers import count, write_csv
from kuznia.errors import InputError
from kuznia.ingest.tables import SPECS
from test_import import USE_HEADER, use_row

CONTRACT_HEADER = SPECS["contracts"].columns[:7]


def _lines_of(exc: InputError) -> list[tuple[int, str]]:
    return sorted((p.line, p.column) for p in exc.problems)


@pytest.mark.parametrize("value", ["NaN", "nan", "inf", "-Infinity", "1e309", "1e16"])
def test_non_finite_or_huge_numbers_are_row_errors(filled: kuznia.Workspace, tmp_path: Path,
                                                   value: str):
    f = write_csv(tmp_path / "c.csv", CONTRACT_HEADER,
                  [["K1", "P002", "FPV-A", "2026-01-01", 5, 10, "USD"],
                   ["K2", "P002", "FPV-A", "2026-01-01", 5, value, "USD"]])
    before = count(filled, "contracts")
    with pytest.raises(InputError) as e:
        filled.import_file("contracts", f)
    assert _lines_of(e.value) == [(3, "unit_price")]
    assert count(filled, "contracts") == before


@pytest.mark.parametrize("value", ["2147483648", "99999999999999999999", "-3000000000"])
def test_integers_beyond_the_column_are_row_errors(filled: kuznia.Workspace, tmp_path: Path,
                                                   value: str):
    f = write_csv(tmp_path / "u.csv", USE_HEADER, [use_row("B1", units_used=value)])
    with pytest.raises(InputError) as e:
        filled.import_file("uses", f)
    assert set(_lines_of(e.value)) == {(2, "units_used")}


def test_no_json_ever_holds_nan_or_infinity(filled: kuznia.Workspace, tmp_path: Path):
    from typer.testing import CliRunner

    from kuznia.cli import app

    runner = CliRunner()
    db = filled.store.url
    for args in (["cost-per-effect", "--by", "product,producer,version,month"],
                 ["failures"], ["fixes"], ["growth", "--product", "FPV-A"], ["board"],
                 ["uses", "--limit", "0"], ["audit", "list"], ["audit", "verify"]):
        r = runner.invoke(app, [*args, "--json", "--db", db])
        assert r.exit_code in (0, 1), (args, r.output)
        json.loads(r.stdout, parse_constant=_refuse)


def _refuse(constant: str) -> None:
    raise AssertionError(f"{constant} in JSON")


@pytest.mark.parametrize("gap", [10, 5000])
def test_a_repeated_key_is_the_same_error_however_far_apart(filled: kuznia.Workspace,
                                                           tmp_path: Path, gap: int):
    rows = [use_row(f"R{i:06d}") for i in range(gap)]
    rows.insert(0, use_row("DUP", effects=1))
    rows.append(use_row("DUP", effects=2))
    f = write_csv(tmp_path / "u.csv", USE_HEADER, rows)
    for update in (False, True):
        with pytest.raises(InputError) as e:
            filled.import_file("uses", f, batch_rows=100, update=update)
        (p,) = e.value.problems
        assert (p.line, p.column) == (gap + 3, "use_id")
        assert "repeats the key of an earlier line" in p.message
    # an exact repeat changes nothing, near or far
    rows[-1] = use_row("DUP", effects=1)
    f = write_csv(tmp_path / "u2.csv", USE_HEADER, rows)
    r = filled.import_file("uses", f, batch_rows=100)
    assert r.added == gap + 1 and r.unchanged == 1


def test_line_numbers_count_quoted_newlines_across_batches(filled: kuznia.Workspace,
                                                          tmp_path: Path):
    rows, expect, bad_ids, line = [], [], [], 2
    for i in range(3000):
        note = "two\nlines" if i % 7 == 0 else ("a\r\nb\nc" if i % 11 == 0 else "")
        bad = i % 500 == 499
        rows.append(use_row(f"L{i}", notes=note, used_on="2026-99-01" if bad else "2026-02-10"))
        if bad:
            expect.append((line, "used_on"))
            bad_ids.append(f"L{i}")
        line += 1 + note.count("\n")
    f = write_csv(tmp_path / "u.csv", USE_HEADER, rows)
    with pytest.raises(InputError) as e:
        filled.import_file("uses", f, batch_rows=100, max_problems=100)
    assert _lines_of(e.value) == expect
    text = f.read_bytes().split(b"\n")
    for (n, _), use_id in zip(expect, bad_ids, strict=True):  # the line is where it starts
        assert text[n - 1].startswith(f"{use_id},".encode())


def test_a_byte_that_is_not_utf8_is_a_row_error_with_its_line(filled: kuznia.Workspace,
                                                             tmp_path: Path):
    f = tmp_path / "u.csv"
    good = ",".join(map(str, use_row("G1"))) + "\n"
    f.write_bytes((",".join(USE_HEADER) + "\n" + good).encode()
                  + ",".join(map(str, use_row("G2", notes="caf"))).encode() + b"\xe9\n"
                  + good.replace("G1", "G3").encode())
    with pytest.raises(InputError) as e:
        filled.import_file("uses", f)
    assert _lines_of(e.value) == [(3, "notes")]
    q = tmp_path / "q.csv"
    r = filled.import_file("uses", f, quarantine=q)
    assert (r.added, r.rejected) == (2, 1)


def test_malformed_rows_after_multiline_values_keep_their_line(filled: kuznia.Workspace,
                                                              tmp_path: Path):
    header = ",".join(USE_HEADER)
    ok = ",".join(map(str, use_row("M1")))
    text = (f'{header}\n{ok}"x\ny"\n'  # lines 2-3, a note spanning two lines
            "M2,too,short\n"  # line 4
            f'{ok.replace("M1", "M3")}"p\nq\nr"\n'  # lines 5-7
            "M4,short\n")  # line 8
    f = tmp_path / "u.csv"
    f.write_text(text)
    with pytest.raises(InputError) as e:
        filled.import_file("uses", f)
    assert [p.line for p in e.value.problems] == [4, 8]


def _xlsx(path: Path, rows: list[list[object]]) -> Path:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(USE_HEADER)
    for r in rows:
        sheet.append(r)
    book.save(path)
    return path


def test_an_xlsx_formula_without_a_saved_value_is_a_row_error(filled: kuznia.Workspace,
                                                             tmp_path: Path):
    # openpyxl saves formulas without cached values, as a generating script would
    f = _xlsx(tmp_path / "u.xlsx", [use_row("X1"), use_row("X2", units_used="=1+1"),
                                    use_row("X3", effects="#DIV/0!")])
    with pytest.raises(InputError) as e:
        filled.import_file("uses", f)
    assert set(_lines_of(e.value)) == {(3, "units_used"), (4, "effects")}
    assert "formula without a saved value" in str(e.value)


def test_an_xlsx_without_formulas_imports(filled: kuznia.Workspace, tmp_path: Path):
    f = _xlsx(tmp_path / "u.xlsx", [use_row("X1"), use_row("X2")])
    assert filled.import_file("uses", f).added == 2


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture,
                                 HealthCheck.too_slow])
@given(note=st.text(alphabet="ab Z9,;\"'=+-@\n\r\té€", max_size=30))
def test_any_text_in_a_note_survives_the_round_trip(filled: kuznia.Workspace, tmp_path: Path,
                                                    note: str):
    use_id = f"T{abs(hash(note))}"
    f = write_csv(tmp_path / "u.csv", USE_HEADER, [use_row(use_id, notes=note)])
    filled.import_file("uses", f, update=True)
    (stored,) = filled.uses(product="FPV-A", limit=None, operator="OP-01").to_polars().filter(
        use_id=use_id).iter_rows(named=True)
    assert stored["notes"] == (note.strip() or None)


def test_update_rechecks_the_rules_other_rows_take_part_in(filled: kuznia.Workspace,
                                                           example_dir: Path, tmp_path: Path):
    """A contract whose lots are used may not move to another product (its uses would be
    re-priced under a product they are not); a used lot may not be renamed or moved."""
    before = filled.cost_per_effect("product,producer").to_dict()
    text = (example_dir / "contracts.csv").read_text()
    moved = tmp_path / "contracts.csv"
    moved.write_text(text.replace("C001,P002,FPV-A", "C001,P002,ATG-B"))
    with pytest.raises(InputError) as e:
        filled.import_file("contracts", moved, update=True)
    assert _lines_of(e.value) == [(2, "product_id")]
    assert "uses name lots delivered under this contract" in str(e.value)
    # a price correction is an update like any other
    priced = tmp_path / "contracts2.csv"
    priced.write_text(text.replace("1000,495,USD", "1000,500,USD"))
    assert filled.import_file("contracts", priced, update=True).updated == 1
    deliveries = (example_dir / "deliveries.csv").read_text()
    for change in (("L-0001", "L-0009"), ("D001,C001", "D001,C003")):
        f = tmp_path / "deliveries.csv"
        f.write_text(deliveries.replace(*change))
        with pytest.raises(InputError) as e:
            filled.import_file("deliveries", f, update=True)
        assert _lines_of(e.value) == [(2, "lot")]
    # a contract with no used lot may still move
    f = tmp_path / "contracts3.csv"
    f.write_text(text.replace("C003,P001,ATG-B", "C003,P001,FPV-A"))
    with pytest.raises(InputError):  # C003's lot L-0004 is used too
        filled.import_file("contracts", f, update=True)
    after = filled.cost_per_effect("product,producer").to_dict()
    assert [r["uses"] for r in after["rows"]] == [r["uses"] for r in before["rows"]]
