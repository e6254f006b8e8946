"""The planners leave out what needs a licence not live on their day, and what each
pending licence unlocks (small cases worked by hand)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

import kuznia
from helpers import write_csv
from kuznia.cli import app
from kuznia.errors import InputError
from kuznia.services import planning
from kuznia.services.licence_value import licence_value
from kuznia.services.repairs import repairs_plan

D = dt.date
BACKLOG = ["item_id", "product_id", "region", "damaged_on"]
POINTS = ["point_id", "region", "product_id", "monthly_capacity", "repair_days",
          "from_region", "transit_days", "licence_id"]
OFFERS = ["product_id", "producer_id", "unit_price", "capacity", "min_order", "lot_size",
          "effects_per_unit", "licence_id"]


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    """Two items of FPV-A in the East. At home, H1 (licence L-002, in review) starts 2 a
    month, 10 days' repair, 5 days away: back in 15 days. Abroad, A1 starts 2 a month, 20
    days' repair, 30 days away: an item arrives on day 30, in the second month, and is
    back on day 50. H2 for ATG-B needs L-001 (granted 2026-01-15, until 2027-01-14)."""
    return {
        "backlog": write_csv(tmp_path / "backlog.csv", BACKLOG, [
            ["I1", "FPV-A", "East", "2026-03-01"], ["I2", "FPV-A", "East", "2026-03-02"],
            ["I3", "ATG-B", "East", "2026-03-02"]]),
        "points": write_csv(tmp_path / "points.csv", POINTS, [
            ["H1", "Region 03", "FPV-A", 2, 10, "East", 5, "L-002"],
            ["A1", "abroad", "FPV-A", 2, 20, "East", 30, ""],
            ["H2", "Region 03", "ATG-B", 1, 10, "East", 5, "L-001"]]),
        # P002's offer needs L-002; at 10 a unit, 1 effect a unit, 1,000 buys 100 effects;
        # P003's needs none: at 20 a unit, 1,000 buys 50
        "offers": write_csv(tmp_path / "offers.csv", OFFERS, [
            ["FPV-A", "P002", 10, 100, 0, 1, 1.0, "L-002"],
            ["FPV-A", "P003", 20, 100, 0, 1, 1.0, ""]]),
    }


def test_the_repair_planner_leaves_out_points_whose_licence_is_not_live(
        filled: kuznia.Workspace, files: dict[str, Path]) -> None:
    before = repairs_plan(filled.store, files["backlog"], files["points"], D(2026, 1, 10))
    # H1 (L-002 in review) and H2 (L-001 not yet granted) are out: FPV-A goes abroad
    # (50 days each), ATG-B has nowhere to go
    assert {(x["point_id"], x["licence_id"]) for x in before.excluded} == {
        ("H1", "L-002"), ("H2", "L-001")}
    assert all("not live on 2026-01-10" in x["reason"] for x in before.excluded)
    days = {a["item_id"]: a["days_to_service"] for a in before.assignments}
    assert days == {"I1": 50.0, "I2": 50.0}
    assert [u["item_ids"] for u in before.unreachable] == [["I3"]]
    after = repairs_plan(filled.store, files["backlog"], files["points"], D(2026, 2, 1))
    assert {x["point_id"] for x in after.excluded} == {"H1"}
    assert {a["item_id"]: a["days_to_service"] for a in after.assignments} == {
        "I1": 50.0, "I2": 50.0, "I3": 15.0}


def test_the_allocation_planner_leaves_out_offers_whose_licence_is_not_live(
        filled: kuznia.Workspace, files: dict[str, Path]) -> None:
    plan = planning.allocate(filled.store, budget=1000, offers_file=files["offers"],
                             on=D(2026, 4, 1))
    assert plan.expected_effects == pytest.approx(50.0)
    assert {line["producer_id"] for line in plan.lines} == {"P003"}
    assert any("1 offers left out: the licence they need is not live on 2026-04-01 "
               "(FPV-A/P002 (licence L-002))" in e for e in plan.explanation)
    assumed = planning.allocate(filled.store, budget=1000, offers_file=files["offers"],
                                on=D(2026, 4, 1), assume_live={"L-002"})
    assert assumed.expected_effects == pytest.approx(100.0)


def test_a_stored_offer_needing_an_expired_licence_is_left_out(
        filled: kuznia.Workspace, tmp_path: Path) -> None:
    f = write_csv(tmp_path / "o.csv", OFFERS, [
        ["ATG-B", "P001", 5, 10, 0, 1, 1.0, "L-003"],  # L-003 expires 2026-02-28
        ["FPV-A", "P003", 20, 100, 0, 1, 1.0, ""]])
    filled.import_file("offers", f, update=True)
    live = planning.allocate(filled.store, budget=1000, on=D(2026, 2, 28))
    assert {line["producer_id"] for line in live.lines} >= {"P001"}  # the best buy
    assert live.inputs["not_licensed"] == []
    gone = planning.allocate(filled.store, budget=1000, on=D(2026, 3, 1))
    assert "P001" not in {line["producer_id"] for line in gone.lines}
    assert gone.inputs["not_licensed"] == ["ATG-B/P001 (licence L-003)"]
    assert filled.verify_audit(deep=True).ok


def test_an_offer_or_point_naming_an_unknown_licence_is_refused(
        filled: kuznia.Workspace, tmp_path: Path) -> None:
    f = write_csv(tmp_path / "o.csv", OFFERS, [["FPV-A", "P003", 20, 100, 0, 1, 1.0, "L-404"]])
    with pytest.raises(InputError) as caught:
        filled.import_file("offers", f)
    assert [(p.line, p.column) for p in caught.value.problems] == [(2, "licence_id")]
    b = write_csv(tmp_path / "b.csv", BACKLOG, [["I1", "FPV-A", "East", "2026-03-01"]])
    p = write_csv(tmp_path / "p.csv", POINTS, [["H1", "R", "FPV-A", 1, 1, "East", 1, "L-404"]])
    with pytest.raises(InputError) as caught:
        repairs_plan(filled.store, b, p, D(2026, 3, 1))
    assert [(p.line, p.column) for p in caught.value.problems] == [(2, "licence_id")]


def test_what_each_pending_licence_unlocks(filled: kuznia.Workspace,
                                           files: dict[str, Path]) -> None:
    v = licence_value(filled.store, backlog=files["backlog"], repair_points=files["points"],
                      budget=1000, offers_file=files["offers"], on=D(2026, 4, 1))
    assert [r["licence_id"] for r in v.rows] == ["L-002", "L-004"]  # pending, by value
    top, other = v.rows
    # with L-002: I1 and I2 back in 15 days instead of 50: 2 x 35 = 70 days saved; and the
    # plan buys 100 effects instead of 50
    assert top["days_saved"] == pytest.approx(70.0) and top["items_gained"] == 0
    assert top["effects_gained"] == pytest.approx(50.0)
    assert top["points"] == ["H1/FPV-A"] and top["offers"] == ["FPV-A/P002"]
    assert other["days_saved"] == 0 and other["effects_gained"] == 0  # names nothing
    assert v.repairs["placed"] == 3 and v.allocation == {"expected_effects": 50.0}


def test_licence_value_from_the_command_line(filled: kuznia.Workspace,
                                             files: dict[str, Path], db_url: str) -> None:
    r = CliRunner().invoke(app, ["licences", "value", "--backlog", str(files["backlog"]),
                                 "--repair-points", str(files["points"]), "--as-of",
                                 "2026-04-01", "--db", db_url, "--json"])
    assert r.exit_code == 0, r.output
    got = json.loads(r.output)
    assert got["licences"][0]["licence_id"] == "L-002"
    assert got["licences"][0]["days_saved"] == 70.0
    assert got["licences"][0]["effects_gained"] is None  # no budget: no allocation run
    listed = CliRunner().invoke(app, ["licences", "--status", "in_review", "--as-of",
                                      "2026-04-01", "--db", db_url, "--json"])
    assert listed.exit_code == 0, listed.output
    rows = json.loads(listed.output)["licences"]
    assert [(x["licence_id"], x["stage"], x["days_in_stage"], x["days_waiting"])
            for x in rows] == [("L-002", "partner review", 48, 59)]
    bad = CliRunner().invoke(app, ["licences", "--status", "lost", "--db", db_url])
    assert bad.exit_code == 2 and "status" in bad.output
