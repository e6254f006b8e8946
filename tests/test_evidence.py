"""The evidence behind the figures, on both stores: the uses list's summary equals the
cost-per-effect figure that links to it, the exports hold exactly the summed set (read
a page at a time, cells neutralised, within the caller's scope), the sorts sort, a
contract's page holds its deliveries, lots and amendments, and a red flag keeps its
identity and its triage (status, comments, audited) across recomputation."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import math
import types
from pathlib import Path

import pytest
from sqlalchemy import select

import kuznia
from helpers import write_csv
from kuznia.errors import NotFoundError, UsageError
from kuznia.outputs import neutralise
from kuznia.services import (
    contract_file,
    costs,
    flag_evidence,
    oversight,
    oversight_config,
    spreadsheets,
    trace,
    triage,
    use_table,
)
from kuznia.services.access import Scope
from kuznia.store.schema import audit_events

USE_HEADER = ["use_id", "used_on", "operator", "product_id", "version", "producer_id", "lot",
              "units_used", "effects", "outcome", "failure_mode", "conditions", "notes"]
PRODUCER = Scope.of("producer", "P002")


def _more_uses(ws: kuznia.Workspace, tmp_path: Path, n: int = 40) -> None:
    """``n`` more uses over three months, some with text a spreadsheet would run."""
    rows = []
    risky = ["=HYPERLINK(\"http://x\")", "+SUM(A1)", "-cmd", "@x", "\tlead", "\rcr", "-5",
             "plain"]
    for i in range(n):
        day = dt.date(2026, 2, 1) + dt.timedelta(days=(i * 7) % 80)
        producer, lot = (("P002", "L-0002") if i % 3 else ("P003", "L-0003"))
        rows.append([f"X{i:04d}", day.isoformat(), f"OP-0{i % 3 + 1}", "FPV-A", "v1",
                     producer, lot, 1 + i % 2, i % 4, "effect" if i % 4 else "no_effect",
                     "", "", risky[i % len(risky)]])
    ws.import_file("uses", write_csv(tmp_path / "more_uses.csv", USE_HEADER, rows))


@pytest.fixture
def rich(filled: kuznia.Workspace, tmp_path: Path) -> kuznia.Workspace:
    _more_uses(filled, tmp_path)
    return filled


def _close(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return math.isclose(a, b, rel_tol=1e-9)


# --- the summary is the figure ------------------------------------------------------------

@pytest.mark.parametrize("by, asked", [
    ("product", {}),
    ("product,producer", {}),
    ("product,month", {}),
    ("product", {"date_from": dt.date(2026, 2, 10), "date_to": dt.date(2026, 4, 3)}),
    ("operator", {"product": "FPV-A"}),
])
def test_the_summary_of_a_figures_uses_is_that_figure(rich: kuznia.Workspace, by: str,
                                                      asked: dict) -> None:
    table = costs.cost_per_effect(rich.store, by, **asked)
    assert table.rows
    for row in table.rows:
        filters = {k: v for k, v in row["trace_filters"].items()}
        got = use_table.summary(rich.store, filters)
        assert got["uses"] == row["uses"] and got["effects"] == row["effects"]
        assert _close(got["cost"], row["cost"])
        for k in ("cost_per_effect", "cost_per_effect_low", "cost_per_effect_high"):
            assert _close(got[k], row[k]), (filters, k, got[k], row[k])


def test_a_producers_summary_is_its_own_figure_or_withheld(rich: kuznia.Workspace) -> None:
    table = costs.cost_per_effect(rich.store, "product", producer="P002")
    for row in table.rows:
        got = use_table.summary(rich.store, row["trace_filters"], scope=PRODUCER)
        assert got["uses"] == row["uses"] and got["effects"] == row["effects"]
        if not got["withheld"]:
            assert _close(got["cost_per_effect"], row["cost_per_effect"])
    # an engineer sees no price at all
    none = use_table.summary(rich.store, {}, scope=Scope.of("engineer", None))
    assert none["withheld"] and none["cost"] is None and none["cost_per_effect"] is None


# --- the exports -------------------------------------------------------------------------

def _csv(rows) -> list[dict[str, str]]:
    text = "".join(spreadsheets.csv_chunks(rows, batch=7))
    return list(csv.DictReader(io.StringIO(text, newline="")))


@pytest.mark.parametrize("filters", [{}, {"product": "FPV-A", "month": "2026-03"},
                                     {"operator": "OP-02"}, {"lot": "L-0002"}])
def test_the_csv_export_holds_the_summed_set(rich: kuznia.Workspace, filters: dict) -> None:
    total = use_table.summary(rich.store, filters)
    rows = _csv(use_table.export_rows(rich.store, filters, page_rows=4))
    assert len(rows) == total["uses"] > 0
    assert len({r["use_id"] for r in rows}) == len(rows)
    assert sum(int(r["effects"]) for r in rows) == total["effects"]
    if total["cost"] is not None:
        assert math.isclose(sum(float(r["cost"]) for r in rows), total["cost"], rel_tol=1e-9)
    days = [r["used_on"] for r in rows]
    assert days == sorted(days, reverse=True)  # newest first


def test_the_export_is_a_generator_that_reads_a_page_at_a_time(
        rich: kuznia.Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[int] = []
    real = trace.price_rows
    monkeypatch.setattr(trace, "price_rows", lambda conn, rows, own=None: (seen.append(len(rows)),
                                                                  real(conn, rows)))
    rows = use_table.export_rows(rich.store, {}, page_rows=5)
    assert isinstance(rows, types.GeneratorType)
    assert seen == []  # nothing read before the first row is asked for
    header = next(rows)
    assert header == use_table.export_columns(Scope())
    first = next(rows)
    assert seen == [5] and len(first) == len(header)  # one page read, not the set
    rest = list(rows)
    n = 1 + len(rest)
    assert max(seen) <= 5 and sum(seen) == n and len(seen) == math.ceil(n / 5) + (n % 5 == 0)
    # the text comes out in chunks of bounded size, as the rows come
    chunks = spreadsheets.csv_chunks(use_table.export_rows(rich.store, {}), batch=3)
    assert isinstance(chunks, types.GeneratorType)
    assert next(chunks).count("\r\n") == 3


def test_csv_cells_a_spreadsheet_would_run_are_neutralised_as_the_clis(
        rich: kuznia.Workspace) -> None:
    rows = _csv(use_table.export_rows(rich.store, {"product": "FPV-A"}))
    with rich.store.read() as conn:
        stored = dict(conn.exec_driver_sql("SELECT use_id, notes FROM uses").all())
    risky = 0
    for r in rows:
        value = stored[r["use_id"]]
        assert r["notes"] == ("" if value is None else neutralise(value))
        if value and value[0] in "=+-@\t\r" and value != "-5":
            assert r["notes"].startswith("'"), value
            risky += 1
    assert risky >= 6
    assert any(r["notes"] == "-5" for r in rows)  # a number stays a number


def test_xlsx_text_is_never_a_formula(rich: kuznia.Workspace, tmp_path: Path) -> None:
    from openpyxl import load_workbook

    path = tmp_path / "uses.xlsx"
    n = spreadsheets.write_xlsx(use_table.export_rows(rich.store, {}), path)
    sheet = load_workbook(path)["uses"]
    values = [[c.value for c in row] for row in sheet.iter_rows()]
    assert n == len(values) - 1 == use_table.summary(rich.store, {})["uses"]
    types_ = {c.data_type for row in sheet.iter_rows() for c in row}
    assert "f" not in types_
    notes = values[0].index("notes")
    assert any(v[notes] == "=HYPERLINK(\"http://x\")" for v in values[1:])


def test_a_producers_export_is_its_own_without_others_prices(rich: kuznia.Workspace) -> None:
    rows = _csv(use_table.export_rows(rich.store, {}, scope=PRODUCER))
    assert rows and {r["producer_id"] for r in rows} == {"P002"}
    assert "operator" not in rows[0]
    assert "product_average" not in {r["price_basis"] for r in rows}
    assert len(rows) == use_table.summary(rich.store, {}, scope=PRODUCER)["uses"]
    # asking for another producer's uses gives none, as if there were none
    assert _csv(use_table.export_rows(rich.store, {"producer": "P003"}, scope=PRODUCER)) == []
    engineer = _csv(use_table.export_rows(rich.store, {}, scope=Scope.of("engineer", None)))
    assert "cost" not in engineer[0] and "unit_price" not in engineer[0]


def test_bad_filters_fail_before_any_row(rich: kuznia.Workspace) -> None:
    with pytest.raises(UsageError, match="month"):
        use_table.export_rows(rich.store, {"month": "March"})
    with pytest.raises(UsageError, match="date_to"):
        use_table.summary(rich.store, {"date_from": dt.date(2026, 3, 1),
                                       "date_to": dt.date(2026, 2, 1)})
    with pytest.raises(UsageError, match="sort"):
        use_table.use_page(rich.store, {}, sort="-price")
    with pytest.raises(UsageError, match="sort"):
        use_table.use_page(rich.store, {}, sort="cost", scope=Scope.of("engineer", None))


# --- the sorted page -----------------------------------------------------------------------

@pytest.mark.parametrize("sort", ["-date", "date", "product", "-producer", "-effects",
                                  "cost", "-cost"])
def test_every_sort_orders_the_whole_set(rich: kuznia.Workspace, sort: str) -> None:
    everything = use_table.use_page(rich.store, {}, sort=sort, limit=500).rows
    pages = [r for p in (1, 2, 3, 4, 5, 6) for r in
             use_table.use_page(rich.store, {}, sort=sort, page=p, limit=10).rows]
    assert [r["use_id"] for r in pages] == [r["use_id"] for r in everything]
    name, desc = sort.lstrip("-"), sort.startswith("-")
    col = {"date": "used_on", "product": "product_id", "producer": "producer_id",
           "effects": "effects", "cost": "cost"}[name]
    keyed = [r[col] for r in everything if r[col] is not None]
    assert keyed == sorted(keyed, reverse=desc)
    if name != "date":  # ties newest first
        for a, b in zip(everything, everything[1:], strict=False):
            if a[col] == b[col]:
                assert (a["used_on"], a["use_id"]) >= (b["used_on"], b["use_id"])


def test_the_pick_lists_keep_to_the_scope(rich: kuznia.Workspace) -> None:
    everyone = use_table.choices(rich.store)
    assert {p for p, _ in everyone["producers"]} == {"P001", "P002", "P003"}
    assert everyone["months"] == sorted(everyone["months"], reverse=True)
    assert {"OP-01", "OP-02", "OP-03"} <= set(everyone["operators"])
    own = use_table.choices(rich.store, scope=PRODUCER)
    assert [p for p, _ in own["producers"]] == ["P002"] and own["operators"] == []


# --- a contract ----------------------------------------------------------------------------

def test_a_contracts_page_holds_its_deliveries_lots_and_amendments(
        rich: kuznia.Workspace, example_dir: Path) -> None:
    got = contract_file.contract_file(rich.store, "C001")
    assert got["value"] == 1000 * 495 and got["currency"] == "USD"
    assert got["producer_name"] and got["product_name"]
    assert [d["delivery_id"] for d in got["deliveries"]] == ["D001", "D002"]
    for d in got["deliveries"]:
        listed = trace.list_uses(rich.store, lot=d["lot"], limit=0)
        assert d["uses"] == listed.total == len(listed.rows)
        assert d["effects"] == sum(r["effects"] for r in listed.rows)
    assert got["history"] == []
    # an import with update raises the price: the page shows before and after
    text = (example_dir / "contracts.csv").read_text().replace(
        "C001,P002,FPV-A,2026-01-10,1000,495,", "C001,P002,FPV-A,2026-01-10,1200,520,")
    (example_dir / "contracts.csv").write_text(text)
    rich.import_file("contracts", example_dir / "contracts.csv", update=True)
    got = contract_file.contract_file(rich.store, "C001")
    assert got["value"] == 1200 * 520
    (change,) = got["history"]
    assert {c["column"]: (c["old"], c["new"]) for c in change["changes"]} == {
        "quantity": (1000, 1200), "unit_price": (495.0, 520.0)}
    assert change["event_id"] in got["events"]
    with rich.store.read() as conn:
        action = conn.execute(select(audit_events.c.rows_updated).where(
            audit_events.c.event_id == change["event_id"])).scalar_one()
    assert action == 1


def test_a_producer_finds_only_its_own_contracts(rich: kuznia.Workspace) -> None:
    assert contract_file.contract_file(rich.store, "C001", scope=PRODUCER)["contract"][
        "producer_id"] == "P002"
    with pytest.raises(NotFoundError) as theirs:
        contract_file.contract_file(rich.store, "C002", scope=PRODUCER)
    with pytest.raises(NotFoundError) as missing:
        contract_file.contract_file(rich.store, "C999", scope=PRODUCER)
    assert str(theirs.value).replace("C002", "X") == str(missing.value).replace("C999", "X")


# --- red flags: identity, peers, triage ------------------------------------------------

def _outlier(ws: kuznia.Workspace, tmp_path: Path) -> dict:
    """Six contracts for ATG-B near 14,000 and one at 60,000: a price outlier."""
    header = ["contract_id", "producer_id", "product_id", "signed_on", "quantity",
              "unit_price", "currency", "due_on"]
    rows = [[f"CP{i}", ("P001", "P002", "P003")[i % 3], "ATG-B",
             (dt.date(2026, 1, 5) + dt.timedelta(days=9 * i)).isoformat(), 20,
             13500 + 150 * i, "USD", ""] for i in range(6)]
    rows.append(["CX", "P003", "ATG-B", "2026-01-25", 20, 60000, "USD", ""])
    ws.import_file("contracts", write_csv(tmp_path / "peers.csv", header, rows))
    (flag,) = [f for f in oversight.flags(ws.store).flags if f["code"] == "price_outlier"]
    assert flag["contract_id"] == "CX"
    return flag


def test_a_flags_key_stands_across_recomputation(rich: kuznia.Workspace,
                                                 tmp_path: Path) -> None:
    flag = _outlier(rich, tmp_path)
    before = {f["key"]: f["code"] for f in oversight.flags(rich.store).flags}
    assert len(before) == len(oversight.flags(rich.store).flags)  # one key, one flag
    _more_uses_later(rich, tmp_path)
    after = {f["key"]: f["code"] for f in oversight.flags(rich.store).flags}
    assert flag["key"] in after and after[flag["key"]] == "price_outlier"
    assert flag["key"] == oversight.flag_key(flag)


def _more_uses_later(ws: kuznia.Workspace, tmp_path: Path) -> None:
    ws.import_file("uses", write_csv(tmp_path / "later.csv", USE_HEADER, [
        ["Y0001", "2026-05-02", "OP-01", "FPV-A", "v1", "P002", "L-0002", 1, 1, "effect",
         "", "", ""]]))


def test_a_price_flag_lists_its_peers_and_the_line_it_crossed(
        rich: kuznia.Workspace, tmp_path: Path) -> None:
    flag = _outlier(rich, tmp_path)
    cfg = oversight_config.load(None)
    got = flag_evidence.price_evidence(rich.store, flag, cfg)
    assert got is not None and got["contract"]["contract_id"] == "CX"
    peers = {p["contract_id"] for p in got["peers"]}
    # every other ATG-B contract within the window, as the rule counted them
    window = cfg["price"]["window_days"]
    assert len(peers) == flag["reference"]["peers"]
    assert peers <= {f"CP{i}" for i in range(6)} | {"C003"}
    for p in got["peers"]:
        assert abs((dt.date.fromisoformat(p["signed_on"]) - dt.date(2026, 1, 25)).days) <= window
    assert got["threshold"] == flag["reference"]["line"]
    assert flag["reference"]["median"] < got["threshold"] < 60000  # the flagged price is above it
    assert all(p["unit_price_ws"] < got["threshold"] for p in got["peers"])
    assert flag_evidence.price_evidence(rich.store, {**flag, "code": "late_delivery"},
                                        cfg) is None


def test_triage_is_kept_by_key_and_every_change_is_audited(rich: kuznia.Workspace,
                                                          tmp_path: Path) -> None:
    flag = _outlier(rich, tmp_path)
    assert triage.case_of(rich.store, flag["key"])["status"] == "new"
    case = triage.triage(rich.store, flag, "ana", status="in_review",
                         comment="checking the invoice")
    assert case["status"] == "in_review" and case["updated_by"] == "ana"
    triage.triage(rich.store, flag, "aud", status="confirmed", comment="<b>paid twice</b>")
    triage.triage(rich.store, flag, "aud", comment="reported")
    triage.triage(rich.store, flag, "aud", status="confirmed")  # no change: no event
    case = triage.case_of(rich.store, flag["key"])
    assert case["status"] == "confirmed"
    assert [c["body"] for c in case["comments"]] == ["checking the invoice",
                                                     "<b>paid twice</b>", "reported"]
    with rich.store.read() as conn:
        events = [dict(r._mapping) for r in conn.execute(
            select(audit_events).where(audit_events.c.table_name == "flag_triage")
            .order_by(audit_events.c.event_id))]
    assert [(e["action"], e["actor"]) for e in events] == [
        ("flag_status", "ana"), ("flag_status", "aud"), ("flag_comment", "aud")]
    details = [json.loads(e["detail"]) for e in events]
    assert details[1]["status_before"] == "in_review"
    assert details[1]["status_after"] == "confirmed"
    assert details[1]["comment"] == "<b>paid twice</b>" and details[1]["flag"] == flag["key"]
    assert {e["event_id"] for e in events} == {c["event_id"] for c in case["comments"]}
    # the flags recomputed after new data: the case is found again by the key
    _more_uses_later(rich, tmp_path)
    again = triage.with_status(oversight.flags(rich.store).flags, rich.store)
    assert {f["key"]: f["status"] for f in again}[flag["key"]] == "confirmed"
    rows = list(triage.flag_rows(again))
    assert rows[0][:4] == ["key", "severity", "code", "status"]
    assert [flag["key"], "high", "price outlier", "confirmed"] in [r[:4] for r in rows]


def test_triage_refuses_what_it_cannot_record(rich: kuznia.Workspace, tmp_path: Path) -> None:
    flag = _outlier(rich, tmp_path)
    with pytest.raises(UsageError, match="status"):
        triage.triage(rich.store, flag, "ana", status="closed")
    with pytest.raises(UsageError, match="comment"):
        triage.triage(rich.store, flag, "ana", comment="x" * (triage.MAX_COMMENT + 1))
    with pytest.raises(UsageError):
        triage.triage(rich.store, flag, "ana", comment="   ")
    assert triage.case_of(rich.store, flag["key"])["comments"] == []


def test_the_chain_holds_after_triage(rich: kuznia.Workspace, tmp_path: Path) -> None:
    from kuznia.services import audit_check

    flag = _outlier(rich, tmp_path)
    triage.triage(rich.store, flag, "ana", status="false_alarm", comment="a framework deal")
    with rich.store.read() as conn:
        assert audit_check.verify(conn, deep=True).ok


def test_streaming_an_export_holds_a_page_not_the_set(tmp_path: Path) -> None:
    """30,000 uses exported through the generators: the most memory held at once is the
    same for a third of them as for all of them (a page's worth), and under half of the
    text sent (a list of every row would hold more than all of it)."""
    import tracemalloc

    with kuznia.init(str(tmp_path / "big.db"), "USD", actor="tester") as ws:
        for table in ("producers", "products", "versions", "rates", "contracts",
                      "deliveries"):
            ws.import_file(table, Path(__file__).parent.parent / "examples" / f"{table}.csv")
        start = dt.date(2026, 1, 1)
        rows = [[f"B{i:06d}", (start + dt.timedelta(days=i % 300)).isoformat(),
                 f"OP-{i % 97:03d}", "FPV-A", "v1", "P002", "L-0002", 1, i % 3,
                 "effect" if i % 3 else "no_effect", "", "", f"note number {i}"]
                for i in range(30_000)]
        ws.import_file("uses", write_csv(tmp_path / "big.csv", USE_HEADER, rows))
        del rows

        def stream(filters: dict) -> tuple[int, int]:
            sent = 0
            tracemalloc.start()
            try:
                for chunk in spreadsheets.csv_chunks(use_table.export_rows(
                        ws.store, filters, page_rows=500), batch=200):
                    sent += len(chunk)
                return tracemalloc.get_traced_memory()[1], sent
            finally:
                tracemalloc.stop()

        stream({"month": "2026-01"})  # warm: statements compiled, modules loaded
        third, third_sent = stream({"date_to": dt.date(2026, 4, 10)})
        peak, sent = stream({"product": "FPV-A"})
        assert sent > 2.8 * third_sent > 2_000_000
        assert peak < 1.5 * third, (peak, third)
        assert peak < sent / 2, (peak, sent)
