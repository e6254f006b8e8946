"""Importing files: all or nothing, problems named by file, line and column, nothing lost."""

from __future__ import annotations

import csv
import json
import uuid
from pathlib import Path

import openpyxl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import kuznia
from helpers import count, write_csv
from kuznia.errors import InputError
from kuznia.ingest.tables import IMPORT_ORDER, SPECS

USE_HEADER = SPECS["uses"].columns


def use_row(use_id: str, **over: object) -> list[object]:
    row = {"use_id": use_id, "used_on": "2026-02-10", "operator": "OP-01",
           "product_id": "FPV-A", "version": "v1", "producer_id": "P002", "lot": "L-0001",
           "units_used": 1, "effects": 1, "outcome": "effect", "failure_mode": "",
           "conditions": "", "notes": ""}
    row.update(over)
    return [row[c] for c in USE_HEADER]


def test_examples_import_in_order(filled: kuznia.Workspace):
    for table in IMPORT_ORDER:
        assert count(filled, table) > 0
    assert filled.verify_audit().ok


def test_reimport_changes_nothing(filled: kuznia.Workspace, example_dir: Path):
    with filled.store.read() as conn:
        before = {t: conn.exec_driver_sql(f"SELECT * FROM {t} ORDER BY 1").all()
                  for t in [*IMPORT_ORDER, "use_cube"]}
    for table in IMPORT_ORDER:
        r = filled.import_file(table, example_dir / f"{table}.csv")
        assert (r.added, r.updated, r.rejected) == (0, 0, 0)
        assert r.unchanged > 0
    with filled.store.read() as conn:
        after = {t: conn.exec_driver_sql(f"SELECT * FROM {t} ORDER BY 1").all()
                 for t in [*IMPORT_ORDER, "use_cube"]}
    assert after == before


def test_bad_rows_are_named_and_nothing_is_stored(filled: kuznia.Workspace, tmp_path: Path):
    f = write_csv(tmp_path / "uses.csv", USE_HEADER, [
        use_row("N1"),
        use_row("N2", used_on="2026-13-01"),
        use_row("N3", outcome="failure", effects=0, failure_mode=""),
        use_row("N4", product_id="NOPE", lot=""),
        use_row("N5", effects=2, outcome="no_effect"),
    ])
    before = count(filled, "uses")
    with pytest.raises(InputError) as info:
        filled.import_file("uses", f)
    text = str(info.value)
    assert f"{f}:3: column used_on: is not an ISO date (YYYY-MM-DD) (2026-13-01)" in text
    assert f"{f}:4: column failure_mode: is required when the outcome is failure" in text
    assert f"{f}:5: column product_id: no product with this id" in text
    assert f"{f}:6: column effects: must be 0 unless the outcome is effect (2)" in text
    assert info.value.rows_rejected == 4
    assert count(filled, "uses") == before  # N1 was good, but the file is all or nothing
    assert [e["action"] for e in filled.audit_events()][-1] == "import"  # no event added
    assert len(filled.audit_events()) == 1 + len(IMPORT_ORDER)


def test_problem_list_is_capped_with_a_count(filled: kuznia.Workspace, tmp_path: Path):
    rows = [use_row(f"B{i}", used_on="yesterday") for i in range(50)]
    f = write_csv(tmp_path / "bad.csv", USE_HEADER, rows)
    with pytest.raises(InputError) as info:
        filled.import_file("uses", f, max_problems=5)
    assert len(info.value.problems) == 5
    assert info.value.total == 50
    assert "... and 45 more problems" in str(info.value)


def test_quarantine_keeps_good_rows_and_writes_reasons(filled: kuznia.Workspace,
                                                       tmp_path: Path):
    f = write_csv(tmp_path / "uses.csv", USE_HEADER, [
        use_row("Q1"), use_row("Q2", units_used="two"), use_row("Q3"),
    ])
    out = tmp_path / "rejected.csv"
    before = count(filled, "uses")
    r = filled.import_file("uses", f, quarantine=out)
    assert (r.added, r.rejected) == (2, 1)
    assert count(filled, "uses") == before + 2
    rejected = list(csv.DictReader(out.open()))
    assert len(rejected) == 1
    assert rejected[0]["use_id"] == "Q2" and rejected[0]["units_used"] == "two"
    assert rejected[0]["line"] == "3"
    assert "units_used: is not a whole number" in rejected[0]["reason"]
    assert filled.audit_events()[-1]["rows_rejected"] == 1


def test_same_id_other_content_is_refused_then_updated_and_recorded(
        filled: kuznia.Workspace, tmp_path: Path):
    changed = use_row("U0001", effects=2, conditions="ew=high;night=1")
    f = write_csv(tmp_path / "uses.csv", USE_HEADER, [changed])
    with pytest.raises(InputError, match="already stored with other content"):
        filled.import_file("uses", f)
    cube_before = filled.cost_per_effect("product").rows
    r = filled.import_file("uses", f, update=True)
    assert (r.added, r.updated) == (0, 1)
    with filled.store.read() as conn:
        effects = conn.exec_driver_sql(
            "SELECT effects FROM uses WHERE use_id = 'U0001'").scalar_one()
        upd = conn.exec_driver_sql("SELECT row_key, old_values, new_values, event_id "
                                   "FROM row_updates").one()
    assert effects == 2
    assert upd[0] == "U0001"
    assert json.loads(upd[1]) == {"effects": 1} and json.loads(upd[2]) == {"effects": 2}
    assert upd[3] == r.event_id
    # the kept aggregate follows the update: one more effect for FPV-A
    after = {x["product_id"]: x["effects"] for x in filled.cost_per_effect("product").rows}
    before = {x["product_id"]: x["effects"] for x in cube_before}
    assert after["FPV-A"] == before["FPV-A"] + 1


def test_the_history_of_a_row_names_each_change_and_who_made_it(
        filled: kuznia.Workspace, tmp_path: Path):
    from typer.testing import CliRunner

    from kuznia.cli import app

    night = "ew=high;night=1"  # as the example has it
    f1 = write_csv(tmp_path / "u1.csv", USE_HEADER,
                   [use_row("U0001", effects=2, conditions=night)])
    f2 = write_csv(tmp_path / "u2.csv", USE_HEADER,
                   [use_row("U0001", effects=3, conditions=night, notes="recounted")])
    e1 = filled.import_file("uses", f1, update=True).event_id
    e2 = filled.import_file("uses", f2, update=True).event_id
    got = filled.row_history("uses", "U0001").rows
    assert [(c["event_id"], c["actor"], c["file_name"], c["key"]) for c in got] == [
        (e1, "tester", "u1.csv", "U0001"), (e2, "tester", "u2.csv", "U0001")]
    assert got[0]["changes"] == [{"column": "effects", "old": 1, "new": 2}]
    assert got[1]["changes"] == [{"column": "effects", "old": 2, "new": 3},
                                 {"column": "notes", "old": None, "new": "recounted"}]
    assert filled.row_history("uses", "U0002").rows == []
    assert [c["event_id"] for c in filled.row_history(limit=1).rows] == [e2]
    runner = CliRunner()
    db = filled.store.url
    r = runner.invoke(app, ["audit", "history", "--table", "uses", "--key", "U0001",
                            "--json", "--db", db])
    assert r.exit_code == 0 and json.loads(r.stdout)["changes"] == got
    r = runner.invoke(app, ["audit", "history", "--db", db])
    assert r.exit_code == 0 and "recounted" in r.stdout
    r = runner.invoke(app, ["audit", "history", "--table", "nope", "--db", db])
    assert r.exit_code == 2 and "--table takes one of" in r.stderr
    r = runner.invoke(app, ["audit", "history", "--limit", "-1", "--db", db])
    assert r.exit_code == 2 and "--limit must be 0" in r.stderr


def test_foreign_currency_needs_a_rate(filled: kuznia.Workspace, tmp_path: Path):
    header = SPECS["contracts"].columns
    f = write_csv(tmp_path / "contracts.csv", header,
                  [["C9", "P001", "ATG-B", "2026-02-01", 10, 100, "GBP", ""]])
    with pytest.raises(InputError, match=r"contracts.csv:2: column currency: no rate to USD"):
        filled.import_file("contracts", f)
    write_csv(tmp_path / "rates.csv", ["currency", "rate"], [["GBP", 1.25]])
    filled.import_file("rates", tmp_path / "rates.csv")
    filled.import_file("contracts", f)
    with filled.store.read() as conn:
        price = conn.exec_driver_sql(
            "SELECT unit_price_ws FROM contracts WHERE contract_id = 'C9'").scalar_one()
    assert price == pytest.approx(125.0)


def test_header_problems_name_the_column(filled: kuznia.Workspace, tmp_path: Path):
    f = write_csv(tmp_path / "p.csv", ["producer_id", "name", "colour", "region"], [])
    with pytest.raises(InputError) as info:
        filled.import_file("producers", f)
    text = str(info.value)
    assert "p.csv:1: column colour: is not a column of producers" in text
    assert "p.csv:1: column kind: is required but missing from the header" in text


def test_line_numbers_survive_blank_and_malformed_lines(filled: kuznia.Workspace,
                                                        tmp_path: Path):
    f = tmp_path / "producers.csv"
    f.write_text("producer_id,name,kind,region\n"
                 "X1,One,state,R1\n"
                 "\n"
                 "X2,Two,state\n"
                 "X3,Three,private,R2\n"
                 "X4,Four,plant,R2\n", encoding="utf-8")
    with pytest.raises(InputError) as info:
        filled.import_file("producers", f)
    lines = {(p.line, p.column) for p in info.value.problems}
    assert lines == {(4, "-"), (6, "kind")}


def test_spreadsheet_conventions_are_accepted(filled: kuznia.Workspace, tmp_path: Path):
    # semicolons, a byte-order mark, header case and spacing, enum case
    f = tmp_path / "producers.csv"
    f.write_text("\ufeffProducer ID;Name;Kind;Region\nX1;One;Joint Venture;R1\n",
                 encoding="utf-8")
    r = filled.import_file("producers", f)
    assert r.added == 1
    with filled.store.read() as conn:
        kind = conn.exec_driver_sql(
            "SELECT kind FROM producers WHERE producer_id = 'X1'").scalar_one()
    assert kind == "joint_venture"


def test_xlsx_import_reads_dates_and_numbers(filled: kuznia.Workspace, tmp_path: Path):
    import datetime as dt

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(USE_HEADER)
    sheet.append(use_row("X1", used_on=dt.datetime(2026, 3, 1), units_used=2.0, effects=1))
    sheet.append(use_row("X2", used_on=dt.date(2026, 3, 2), effects="many"))
    path = tmp_path / "uses.xlsx"
    book.save(path)
    with pytest.raises(InputError, match=r"uses.xlsx:3: column effects: is not a whole number"):
        filled.import_file("uses", path)
    sheet.delete_rows(3)
    book.save(path)
    r = filled.import_file("uses", path)
    assert r.added == 1
    rows = [x for x in filled.uses(product="FPV-A", month="2026-03").rows
            if x["use_id"].startswith("X")]
    assert [(x["use_id"], x["units_used"], x["used_on"]) for x in rows] == [
        ("X1", 2, "2026-03-01")]


def test_lot_fills_in_producer_and_must_agree(filled: kuznia.Workspace, tmp_path: Path):
    f = write_csv(tmp_path / "uses.csv", USE_HEADER, [
        use_row("L1", producer_id=""), use_row("L2", producer_id="P001"),
    ])
    with pytest.raises(InputError, match=r":3: column producer_id: differs from the producer"):
        filled.import_file("uses", f)
    write_csv(f, USE_HEADER, [use_row("L1", producer_id="")])
    before = filled.uses(producer="P002", product="FPV-A").total
    filled.import_file("uses", f)
    assert filled.uses(producer="P002", product="FPV-A").total == before + 1


def test_repeated_ids_in_one_file(filled: kuznia.Workspace, tmp_path: Path):
    f = write_csv(tmp_path / "uses.csv", USE_HEADER, [
        use_row("R1"), use_row("R1"), use_row("R2"), use_row("R2", effects=5),
    ])
    with pytest.raises(InputError) as info:
        filled.import_file("uses", f)
    assert [(p.line, p.column) for p in info.value.problems] == [(5, "use_id")]
    assert "first on line 4" in str(info.value)


def test_lots_are_unique_across_batches(filled: kuznia.Workspace, tmp_path: Path):
    header = SPECS["deliveries"].columns
    rows = [[f"DX{i}", "C001", "2026-03-01", 1, 1, f"LX{i}"] for i in range(300)]
    rows.append(["DX999", "C001", "2026-03-01", 1, 1, "LX3"])
    f = write_csv(tmp_path / "d.csv", header, rows)
    with pytest.raises(InputError) as info:
        filled.import_file("deliveries", f, batch_rows=8)
    assert [(p.line, p.column) for p in info.value.problems] == [(302, "lot")]
    # and within one batch, only the later row is at fault
    with pytest.raises(InputError) as info:
        filled.import_file("deliveries", f)
    assert [(p.line, p.column) for p in info.value.problems] == [(302, "lot")]


@settings(max_examples=15, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture,
                                 HealthCheck.too_slow])
@given(
    outcomes=st.lists(st.sampled_from(["effect", "no_effect", "failure", "aborted"]),
                      min_size=1, max_size=60),
    batch=st.integers(1, 25),
    data=st.data(),
)
def test_batches_do_not_change_what_is_stored(filled: kuznia.Workspace, tmp_path: Path,
                                              outcomes, batch, data):
    """Whatever the batch size, the kept aggregate equals sums over the stored uses."""
    rows = []
    tag = uuid.uuid4().hex[:8]  # the workspace outlives one example: keep ids fresh
    for i, o in enumerate(outcomes):
        effects = data.draw(st.integers(1, 4)) if o == "effect" else 0
        units = data.draw(st.integers(1, 3))
        rows.append(use_row(f"H{tag}-{i}", outcome=o, effects=effects,
                            units_used=units, failure_mode="fm" if o == "failure" else "",
                            used_on=f"2026-0{1 + i % 9}-15"))
    f = write_csv(tmp_path / f"h{tag}.csv", USE_HEADER, rows)
    filled.import_file("uses", f, batch_rows=batch)
    with filled.store.read() as conn:
        direct = conn.exec_driver_sql(
            "SELECT count(*), sum(units_used), sum(effects) FROM uses").one()
        cube = conn.exec_driver_sql(
            "SELECT sum(uses), sum(units_used), sum(effects) FROM use_cube").one()
    assert tuple(direct) == tuple(cube)


def test_a_second_writer_on_sqlite_gets_a_plain_message(tmp_path: Path, example_dir: Path,
                                                        monkeypatch: pytest.MonkeyPatch):
    from kuznia.errors import WorkspaceError
    from kuznia.store import engine

    monkeypatch.setattr(engine, "SQLITE_BUSY_SECONDS", 0.05)
    db = str(tmp_path / "busy.db")
    kuznia.init(db).close()
    with kuznia.open(db) as first, kuznia.open(db) as second:
        with first.store.write():  # a write in progress holds the lock
            with pytest.raises(WorkspaceError, match="busy with another write"):
                second.import_file("producers", example_dir / "producers.csv")
        assert second.import_file("producers", example_dir / "producers.csv").added == 3


def test_quarantine_keeps_malformed_lines_too(filled: kuznia.Workspace, tmp_path: Path):
    f = tmp_path / "producers.csv"
    f.write_text("producer_id,name,kind,region\nM1,One,state,R1\nM2,Two\n", encoding="utf-8")
    out = tmp_path / "rej.csv"
    r = filled.import_file("producers", f, quarantine=out)
    assert (r.added, r.rejected) == (1, 1)
    rejected = list(csv.DictReader(out.open()))
    assert [(x["line"], x["reason"]) for x in rejected] == [
        ("3", "expected 4 values, found 2: M2,Two")]


def test_a_stream_imports_like_its_file(filled: kuznia.Workspace, tmp_path: Path):
    """An upload is a stream, not a file on the server's disk: same rows, same problems,
    named as the upload."""
    import io

    rows = [use_row("S1"), use_row("S2", used_on="2026-13-01"), use_row("S3")]
    f = write_csv(tmp_path / "uses.csv", USE_HEADER, rows)
    with pytest.raises(InputError) as from_file:
        filled.import_file("uses", f)
    with pytest.raises(InputError) as from_stream:
        filled.import_file("uses", io.BytesIO(f.read_bytes()), name="field-upload.csv")
    assert [(p.line, p.column, p.message) for p in from_stream.value.problems] == \
        [(p.line, p.column, p.message) for p in from_file.value.problems]
    assert from_stream.value.problems[0].file == "field-upload.csv"
    good = write_csv(tmp_path / "good.csv", USE_HEADER, [use_row("S1"), use_row("S3")])
    r = filled.import_file("uses", io.BytesIO(good.read_bytes()), name="good.csv")
    assert (r.added, r.file) == (2, "good.csv")
    assert filled.import_file("uses", good).unchanged == 2  # the same content, stored once
    # the repeat changed nothing and wrote no event: the stream's is the last
    last = filled.audit_events().rows[-1]
    assert (last["file_name"], last["rows_added"], last["event_id"]) == ("good.csv", 2,
                                                                         r.event_id)


def _trace_index_sql(ws: kuznia.Workspace) -> str | None:
    with ws.store.read() as conn:
        return conn.exec_driver_sql("SELECT sql FROM sqlite_master WHERE type = 'index' "
                                    "AND name = 'ix_uses_trace'").scalar()


@pytest.mark.parametrize("bad_last", [False, True])
def test_a_bulk_import_rebuilds_the_trace_index_or_leaves_it(tmp_path: Path,
                                                             example_dir: Path,
                                                             bad_last: bool):
    # SQLite: a uses file bigger than the stored uses is written without the trace index,
    # which is built again before the commit; a failed import leaves it as it was
    db = str(tmp_path / "ws.db")
    with kuznia.init(db, "USD", actor="t") as ws:
        for table in IMPORT_ORDER[:IMPORT_ORDER.index("uses")]:
            ws.import_file(table, example_dir / f"{table}.csv")
        before = _trace_index_sql(ws)
        rows = [use_row(f"B{i:05d}", used_on=f"2026-0{1 + i % 6}-1{i % 10}")
                for i in range(400)]
        if bad_last:
            rows[-1] = use_row("B99999", outcome="win")
        write_csv(tmp_path / "bulk.csv", USE_HEADER, rows)
        if bad_last:
            with pytest.raises(InputError):
                ws.import_file("uses", tmp_path / "bulk.csv")
            assert count(ws, "uses") == 0
        else:
            assert ws.import_file("uses", tmp_path / "bulk.csv").added == 400
        assert before is not None and _trace_index_sql(ws) == before
        with ws.store.read() as conn:
            plan = " ".join(str(r[-1]) for r in conn.exec_driver_sql(
                "EXPLAIN QUERY PLAN SELECT use_id FROM uses WHERE product_id = 'FPV-A' "
                "AND producer_id = 'P002' ORDER BY used_on, use_id LIMIT 10"))
        assert "ix_uses_trace" in plan
        got = ws.uses(product="FPV-A", producer="P002", limit=None).rows
        keys = [(r["used_on"], r["use_id"]) for r in got]
        assert keys == sorted(keys) and len(keys) == (0 if bad_last else 400)
        assert ws.verify_audit(deep=True).ok
