"""Resilience through the service layer and the CLI, on both backends, with the example
files (examples/regions.csv, sites.csv, demand.csv, strikes.csv)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

import kuznia
from helpers import write_csv
from kuznia.analytics.strikes import expected_availability
from kuznia.cli import app
from kuznia.errors import InputError, UsageError
from kuznia.services import repairs, resilience

START = dt.date(2026, 11, 1)


def test_simulated_output_matches_the_closed_form(filled: kuznia.Workspace):
    res = resilience.run(filled.store, months=6, scenarios=4000, seed=1, start=START)
    fpv = next(p for p in res.products if p["product_id"] == "FPV-A")
    # S-01 North (p .25, hit .5, damage .8, 3 months); S-02 Centre (p .05, hit .3, damage .6,
    # 2 months), damaged until 2026-12-31: nothing in November and December
    want = (1200 * expected_availability(0.25, 0.5, 0.8, 3, 6)
            + 400 * expected_availability(0.05, 0.3, 0.6, 2, 6, down=2))
    got = np.array([m["mean"] for m in fpv["by_month"]])
    assert np.all(np.abs(got - want) <= 4 * 1200 * 0.8 * 0.5 / np.sqrt(4000))
    assert fpv["expected_output"] == pytest.approx(sum(got), rel=1e-9)
    for m in fpv["by_month"]:
        assert m["p10"] <= m["p50"] <= m["p90"]
        assert 0 <= m["p_meet_demand"] <= 1
    assert fpv["expected_shortfall_low"] <= fpv["expected_shortfall"] \
        <= fpv["expected_shortfall_high"]
    assert fpv["hhi"] == pytest.approx(0.75**2 + 0.25**2)
    sites = {s["site_id"]: s for s in res.sites}
    # without S-01, FPV-A has no working line (S-02 is damaged): 2,000 in stock over a
    # demand of 1,300 lasts 1.54 months, less than North's 3 repair months
    assert sites["S-01"]["tts_months"] == pytest.approx(2000 / 1300, abs=1e-3)
    assert sites["S-01"]["ttr_months"] == 3 and sites["S-01"]["exposed"]
    assert sites["S-02"]["ttr_months"] == 2  # until its repair date, from November
    assert sites["S-03"]["tts_months"] == 0.0  # no stock, no other line


def test_a_closed_site_never_recovers_and_is_exposed(ws: kuznia.Workspace,
                                                     example_dir: Path, tmp_path: Path):
    for table in ("producers", "products", "regions", "demand"):
        ws.import_file(table, example_dir / f"{table}.csv")
    # FPV-A's closed line in West: the open line (1,200) covers the demand (1,300) but
    # for 100 a month, and 2,000 in stock last 20 months; it never recovers, so it is
    # exposed (the first version said it recovers at the horizon, 6 months, and not exposed)
    sites = write_csv(tmp_path / "sites.csv", ["site_id", "producer_id", "product_id",
                                               "region", "monthly_capacity", "status"],
                      [["S-01", "P002", "FPV-A", "North", 1200, "operating"],
                       ["S-09", "P002", "FPV-A", "West", 400, "closed"]])
    ws.import_file("sites", sites)
    res = resilience.run(ws.store, months=6, scenarios=200, seed=1, start=START)
    closed = next(s for s in res.sites if s["site_id"] == "S-09")
    assert closed["ttr_months"] is None and closed["recovers"] is False
    assert closed["tts_months"] == pytest.approx(20.0)
    assert closed["exposed"]
    assert next(s for s in res.sites if s["site_id"] == "S-01")["recovers"]
    out = CliRunner().invoke(app, ["resilience", "simulate", "--db", ws.store.url, "--months", "6",
                                   "--scenarios", "200", "--start", "2026-11-01"])
    assert out.exit_code == 0, out.output
    row = next(line for line in out.output.splitlines() if "S-09" in line)
    assert "never" in row


def test_same_seed_same_answer(filled: kuznia.Workspace):
    a = resilience.run(filled.store, months=4, scenarios=600, seed=3, start=START).to_dict()
    b = resilience.run(filled.store, months=4, scenarios=600, seed=3, start=START).to_dict()
    assert a == b


def test_region_figures_from_the_strikes_history(filled: kuznia.Workspace):
    rows = {r["region"]: r for r in resilience.estimate_regions(filled.store,
                                                                 dt.date(2026, 11, 23))}
    north = rows["North"]
    # March to November 2026: 9 months observed, North struck in one of them
    assert (north["months_struck"], north["months_observed"]) == (1, 9)
    assert north["monthly_strike_probability"] == pytest.approx(1.5 / 10)  # Jeffreys mean
    assert north["monthly_strike_probability_low"] < 1 / 9 < north[
        "monthly_strike_probability_high"]
    assert rows["West"]["monthly_strike_probability"] > 0  # never struck is not safe
    assert north["repair_months"] == 3  # 14 March to 30 May: 77 days
    assert north["damage_fraction"] == pytest.approx(0.8)
    assert rows["West"]["months_struck"] == 0
    res = resilience.run(filled.store, months=3, scenarios=200, start=START, from_history=True)
    assert res.figures_from == "strikes history"


def _candidates(tmp_path: Path, rows: list[list[object]]) -> Path:
    return write_csv(tmp_path / "cand.csv", ["candidate_id", "product_id", "producer_id",
                                             "region", "monthly_capacity", "cost"], rows)


def test_duplicate_chooses_the_safer_region_and_cuts_shortfall(filled: kuznia.Workspace,
                                                               tmp_path: Path):
    path = _candidates(tmp_path, [["K-WEST", "FPV-A", "P002", "West", 800, 5],
                                  ["K-NORTH", "FPV-A", "P002", "North", 800, 4]])
    d = resilience.duplicate(filled.store, path, budget=6, months=6, scenarios=1500,
                             saa_scenarios=300, seed=2, start=START).to_dict()
    assert d["chosen"] == ["K-WEST"]
    assert d["expected_shortfall_after"] < d["expected_shortfall_before"]
    assert d["reduction"]["low"] > 0
    assert d["interval_after"]["low"] <= d["expected_shortfall_after"]
    none = resilience.duplicate(filled.store, path, budget=1, months=6, scenarios=300,
                                saa_scenarios=100, seed=2, start=START)
    assert none.chosen == [] and none.after == none.before


def test_duplicate_explains_bad_candidates(filled: kuznia.Workspace, tmp_path: Path):
    with pytest.raises(InputError) as exc:
        resilience.duplicate(filled.store, _candidates(tmp_path, [
            ["K1", "FPV-A", "P002", "West", 800, -5]]), budget=10, start=START)
    assert "cand.csv:2: column cost" in str(exc.value)
    with pytest.raises(UsageError, match="Atlantis"):
        resilience.duplicate(filled.store, _candidates(tmp_path, [
            ["K1", "FPV-A", "P002", "Atlantis", 800, 5]]), budget=10, start=START)


def test_repairs_plan_beats_sending_all_abroad(filled: kuznia.Workspace, tmp_path: Path):
    backlog = write_csv(tmp_path / "b.csv", ["item_id", "product_id", "region", "damaged_on"],
                        [[f"I{i}", "FPV-A", "North", "2026-10-01"] for i in range(6)])
    points = write_csv(
        tmp_path / "p.csv", ["point_id", "region", "product_id", "monthly_capacity",
                             "repair_days", "from_region", "transit_days"],
        [["HOME", "West", "FPV-A", 4, 10, "North", 3],
         ["ABR", "abroad", "FPV-A", 50, 40, "North", 20]])
    r = repairs.repairs_plan(filled.store, backlog, points, dt.date(2026, 11, 1))
    # 4 at home this month (13 days), the other 2: home next month (40) beats abroad (60)
    assert r.mean_days == pytest.approx((4 * 13 + 2 * 40) / 6)
    assert r.clear_days == pytest.approx(40)
    assert r.abroad_mean_days == pytest.approx(60)
    assert len(r.assignments) == 6 and {a["point_id"] for a in r.assignments} == {"HOME"}


def test_import_rules_for_the_resilience_tables(ws: kuznia.Workspace, example_dir: Path):
    for t in ("producers", "products"):
        ws.import_file(t, example_dir / f"{t}.csv")
    bad = write_csv(example_dir / "r.csv", ["region", "monthly_strike_probability"],
                    [["X", 1.5]])
    with pytest.raises(InputError, match="r.csv:2: column monthly_strike_probability"):
        ws.import_file("regions", bad)
    bad = write_csv(example_dir / "s.csv", ["site_id", "producer_id", "product_id", "region",
                                            "monthly_capacity", "status"],
                    [["S1", "P001", "ATG-B", "X", 5, "damaged"]])
    with pytest.raises(InputError, match="s.csv:2: column repair_until"):
        ws.import_file("sites", bad)
    bad = write_csv(example_dir / "k.csv", ["site_id", "struck_on", "damage_fraction"],
                    [["NOPE", "2026-01-01", 0.5]])
    with pytest.raises(InputError, match="k.csv:2: column site_id"):
        ws.import_file("strikes", bad)


def test_cli_json(filled: kuznia.Workspace, tmp_path: Path):
    db = filled.store.url
    run = CliRunner().invoke
    res = run(app, ["resilience", "simulate", "--db", db, "--months", "3", "--scenarios",
                    "500", "--start", "2026-11-01", "--json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert {"product_id", "expected_output"} <= set(data["products"][0])
    assert {"site_id", "ttr_months", "tts_months"} <= set(data["sites"][0])
    path = _candidates(tmp_path, [["K-WEST", "FPV-A", "P002", "West", 800, 5]])
    res = run(app, ["resilience", "duplicate", "--db", db, "--candidates", str(path),
                    "--budget", "10", "--months", "3", "--scenarios", "300",
                    "--saa-scenarios", "50", "--start", "2026-11-01", "--json"])
    assert res.exit_code == 0, res.output
    d = json.loads(res.stdout)
    assert {"chosen", "expected_shortfall_before", "expected_shortfall_after"} <= set(d)
    res = run(app, ["resilience", "simulate", "--db", db, "--months", "0"])
    assert res.exit_code == 2
    res = run(app, ["resilience", "regions", "--db", db, "--as-of", "2026-11-23"])
    assert res.exit_code == 0 and "North" in res.stdout


def test_a_product_with_demand_but_no_line_is_all_shortfall(filled: kuznia.Workspace,
                                                            tmp_path: Path):
    filled.import_file("products", write_csv(tmp_path / "p.csv", ["product_id", "name",
                                                                  "category"],
                                             [["NEW", "New thing", "drone"]]))
    filled.import_file("demand", write_csv(tmp_path / "d.csv", ["product_id", "monthly_demand",
                                                                "stock"], [["NEW", 10, 5]]))
    res = resilience.run(filled.store, months=4, scenarios=100, start=START)
    new = next(p for p in res.products if p["product_id"] == "NEW")
    assert new["expected_output"] == 0 and new["expected_shortfall"] == pytest.approx(35)
    assert new["hhi"] is None
