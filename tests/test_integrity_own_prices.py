"""A producer's figures are priced from its own contracts only: its competitors' prices
never reach them (issue 24: a use without a lot was priced at the product's average over
every producer's contracts, so a producer's cost per effect revealed that average)."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import kuznia
from helpers import write_csv
from kuznia.ingest.tables import SPECS
from kuznia.server.app import create_app
from kuznia.services import accounts


def _use(uid: str, producer: str, lot: str, units: int = 1, effects: int = 1) -> list[object]:
    return [uid, "2026-02-01", "OP-1", "A", "", producer, lot, units, effects,
            "effect" if effects else "no_effect", "", "", ""]


def _base(ws: kuznia.Workspace, tmp: Path, competitor: float = 7_000.0) -> None:
    """P1 with a contract for A at 100 (lot L1); P2 a competitor (a contract at
    ``competitor``, lot L2); P3 with no contract for A at all. Uses: P1's with its lot
    and without a lot; P3's without a lot."""
    write_csv(tmp / "producers.csv", SPECS["producers"].columns,
              [[p, p, "state", "R1"] for p in ("P1", "P2", "P3")])
    write_csv(tmp / "products.csv", SPECS["products"].columns, [["A", "A", "cat"]])
    write_csv(tmp / "contracts.csv", SPECS["contracts"].columns,
              [["C1", "P1", "A", "2026-01-01", 100, 100.0, "USD", ""],
               ["C2", "P2", "A", "2026-01-02", 50, competitor, "USD", ""]])
    write_csv(tmp / "deliveries.csv", SPECS["deliveries"].columns,
              [["D1", "C1", "2026-01-05", 100, 100, "L1"],
               ["D2", "C2", "2026-01-06", 50, 50, "L2"]])
    for t in ("producers", "products", "contracts", "deliveries"):
        ws.import_file(t, tmp / f"{t}.csv")
    write_csv(tmp / "uses.csv", SPECS["uses"].columns,
              [_use("U1", "P1", "L1"), _use("U2", "P1", "", units=2),
               _use("U4", "P3", "", units=10, effects=2)])
    ws.import_file("uses", tmp / "uses.csv")


def _competitor(ws: kuznia.Workspace, tmp: Path, name: str, price: float, qty: int) -> None:
    """One more contract of P2's for A, at ``price``."""
    write_csv(tmp / f"{name}.csv", SPECS["contracts"].columns,
              [[name, "P2", "A", "2026-01-02", qty, price, "USD", ""]])
    ws.import_file("contracts", tmp / f"{name}.csv")


def _own_figures(ws: kuznia.Workspace, producer: str) -> tuple[list[dict], list[dict]]:
    from kuznia.services import trace
    from kuznia.services.access import Scope

    table = ws.cost_per_effect("product,producer", producer=producer)
    listed = trace.list_uses(ws.store, scope=Scope.of("producer", producer)).rows
    keep = ("cost", "cost_per_effect", "cost_per_effect_low", "cost_per_effect_high",
            "uses_unpriced", "units_lot_price", "units_producer_price")
    return ([{k: r[k] for k in keep} for r in table.rows],
            [{k: r[k] for k in ("use_id", "unit_price", "cost", "price_basis")}
             for r in listed])


def test_own_figures_do_not_move_with_competitors_prices(ws: kuznia.Workspace,
                                                         tmp_path: Path):
    _base(ws, tmp_path)
    before = {p: _own_figures(ws, p) for p in ("P1", "P3")}
    # P1's uses: its lot (100), no lot (its own average, 100)
    (row,) = ws.cost_per_effect("product,producer", producer="P1").rows
    assert row["cost"] == pytest.approx(300.0)
    assert row["units_lot_price"] == 1 and row["units_producer_price"] == 2
    listed = {r["use_id"]: r for r in before["P1"][1]}
    assert listed["U2"]["unit_price"] == pytest.approx(100.0)
    assert listed["U2"]["price_basis"] == "producer_average"
    # P3 has no contract for A: unpriced, and said so, never the others' average
    table = ws.cost_per_effect("product", producer="P3")
    (row,) = table.rows
    assert row["cost"] is None and row["cost_per_effect"] is None
    assert row["uses_unpriced"] == 1
    assert any("no price from P3's own contracts" in n for n in table.notes)
    assert [r["price_basis"] for r in before["P3"][1]] == ["unknown"]
    assert before["P3"][1][0]["cost"] is None
    # the competitor's prices change: a dearer second contract; own figures stay put
    _competitor(ws, tmp_path, "C3", 90_000.0, 500)
    assert {p: _own_figures(ws, p) for p in ("P1", "P3")} == before
    # the workspace's own view still prices P3 at the product's average
    everyone = ws.cost_per_effect("product,producer")
    (p3,) = [r for r in everyone.rows if r["producer_id"] == "P3"]
    assert p3["cost"] is not None and p3["cost"] > 10 * 100.0


@settings(max_examples=8, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(first=st.floats(1.0, 1e6), more=st.lists(st.floats(1.0, 1e6), max_size=2),
       qty=st.integers(1, 1000))
def test_own_figures_ignore_any_competitor_price(tmp_path_factory: pytest.TempPathFactory,
                                                 first: float, more: list[float], qty: int):
    """Two workspaces that differ in the competitor's prices only: every producer's own
    figures are the same in both."""
    figures = []
    for competitor, extra in ((1.0, []), (first, more)):
        tmp = tmp_path_factory.mktemp("own")
        with kuznia.init(str(tmp / "ws.sqlite"), "USD", actor="tester") as ws:
            _base(ws, tmp, competitor)
            for i, price in enumerate(extra):
                _competitor(ws, tmp, f"C{i + 3}", price, qty)
            figures.append({p: _own_figures(ws, p) for p in ("P1", "P3")})
    assert figures[0] == figures[1]


def test_producer_account_sees_no_competitor_price(ws: kuznia.Workspace, tmp_path: Path):
    _base(ws, tmp_path)
    accounts.add_user(ws.store, "p3", "producer", actor="tester", producer="P3")
    token = accounts.issue_token(ws.store, "p3", actor="tester")
    h = {"Authorization": f"Bearer {token}"}
    with TestClient(create_app(ws.store, data_dir=tmp_path / "data")) as client:
        got = client.get("/api/v1/cost-per-effect?by=product,producer", headers=h).json()
        (row,) = got["rows"]
        assert row["cost"] is None and row["cost_per_effect"] is None
        assert any("left unpriced" in n for n in got["notes"])
        (use,) = client.get("/api/v1/uses", headers=h).json()["rows"]
        assert use["unit_price"] is None and use["price_basis"] == "unknown"
        # the overview's headline strip, asked through the API, holds no price either
        strip = client.get("/api/v1/headline", headers=h).json()["current"]
        assert strip["uses"] == 1 and strip["uses_unpriced"] == 1
        assert strip["cost"] is None and strip["cost_per_effect"] is None


def test_a_producers_headline_is_priced_from_its_own_contracts(ws: kuznia.Workspace,
                                                               tmp_path: Path):
    """The headline strip for a producer (its own view) prices a use without a lot at the
    producer's own average, never the product's over every producer; a competitor's new
    contract leaves it as it was (issue 24's leak, found again in the strip)."""
    from kuznia.services import headline

    _base(ws, tmp_path)
    own = headline.headline(ws.store, producer="P1").current
    assert own["cost"] == pytest.approx(300.0) and own["uses_unpriced"] == 0
    p3 = headline.headline(ws.store, producer="P3").current
    assert p3["cost"] is None and p3["uses_unpriced"] == 1
    _competitor(ws, tmp_path, "C3", 90_000.0, 500)
    assert headline.headline(ws.store, producer="P1").current == own
    assert headline.headline(ws.store, producer="P3").current == p3
    # the ministry's whole view still prices P3's use at the product's average
    assert headline.headline(ws.store).current["cost"] > 300.0 + 10 * 100.0


def test_a_producers_use_list_file_holds_no_competitor_price(ws: kuznia.Workspace,
                                                              tmp_path: Path):
    import csv

    from kuznia.services.trace import export_use_lists, use_list_path

    _base(ws, tmp_path)
    out = tmp_path / "lists"
    assert export_use_lists(ws.store, out) == 3
    with (out / use_list_path("A", "P3")).open() as f:
        (row,) = list(csv.DictReader(f))
    assert (row["unit_price"], row["cost"], row["price_basis"]) == ("", "", "unknown")
    with (out / use_list_path("A", "P1")).open() as f:
        assert {r["unit_price"] for r in csv.DictReader(f)} == {"100.0"}
