"""Resilience through the service layer and the CLI, on both backends, with the example
files (examples/regions.csv, sites.csv, demand.csv, strikes.csv)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

import kuznia
from helpers import brute_force_repairs, expected_availability, write_csv
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
    # the history runs from the workspace's first record (the first use, 10 February
    # 2026), not from the first strike (14 March): February to November, 10 months
    assert (north["months_struck"], north["months_observed"]) == (1, 10)
    assert (north["observed_from"], north["observed_to"]) == ("2026-02", "2026-11")
    assert north["history_from"] == "first record"
    assert north["monthly_strike_probability"] == pytest.approx(1.5 / 11)  # Jeffreys mean
    assert north["monthly_strike_probability_low"] < 1 / 10 < north[
        "monthly_strike_probability_high"]
    assert rows["West"]["monthly_strike_probability"] > 0  # never struck is not safe
    assert north["repair_months"] == 3  # 14 March to 30 May: 77 days
    assert north["damage_fraction"] == pytest.approx(0.8)
    assert rows["West"]["months_struck"] == 0
    res = resilience.run(filled.store, months=3, scenarios=200, start=START, from_history=True)
    assert res.figures_from == "strikes history"
    # the history up to the start of the horizon (1 November 2026), from the first use
    assert res.history == {"observed_from": "2026-02", "observed_to": "2026-11",
                           "history_from": "first record"}


def test_strikes_after_the_day_do_not_count(filled: kuznia.Workspace):
    """As of 30 June 2026 Centre's strike of 2 October has not happened (the first version
    counted it); its repair after the day is not known yet either."""
    rows = {r["region"]: r for r in resilience.estimate_regions(filled.store,
                                                                 dt.date(2026, 6, 30))}
    assert (rows["Centre"]["months_struck"], rows["Centre"]["strikes"]) == (0, 0)
    assert (rows["North"]["months_struck"], rows["North"]["months_observed"]) == (1, 5)
    # as of 20 May North's strike of 14 March is not yet repaired (30 May): no repair months
    north = {r["region"]: r for r in resilience.estimate_regions(
        filled.store, dt.date(2026, 5, 20))}["North"]
    assert north["strikes"] == 1 and north["repair_months"] == 1  # the default, not 3


def test_no_history_before_the_day_is_an_answer(filled: kuznia.Workspace):
    # before every use and strike: no history, no rows (the first version divided by zero)
    assert resilience.estimate_regions(filled.store, dt.date(2026, 1, 15)) == []
    out = CliRunner().invoke(app, ["resilience", "regions", "--db", filled.store.url,
                                   "--as-of", "2026-01-15"])
    assert out.exit_code == 0, out.output
    assert "no history" in out.output
    # the first version printed p_hit_in_horizon -10.39 here; now it says there is nothing
    out = CliRunner().invoke(app, ["resilience", "simulate", "--db", filled.store.url,
                                   "--from-history", "--start", "2026-02-01", "--months", "3",
                                   "--scenarios", "20", "--json"])
    assert out.exit_code == 2, out.output  # a usage error, not an internal one (3)
    assert "no history" in out.output
    # a stated history start: January 2026, no strike yet, figures in [0, 1]
    res = resilience.run(filled.store, months=3, scenarios=20, start=dt.date(2026, 2, 1),
                         from_history=True, history_from=dt.date(2026, 1, 1))
    assert all(0 <= s["p_hit_in_horizon"] <= 1 for s in res.sites)
    with pytest.raises(UsageError, match="history_from"):
        resilience.estimate_regions(filled.store, dt.date(2026, 1, 15), dt.date(2026, 2, 1))


def test_the_history_starts_where_the_record_does_not_at_the_first_strike(
        filled: kuznia.Workspace):
    """A stated history start counts the quiet months before the first strike."""
    rows = {r["region"]: r for r in resilience.estimate_regions(
        filled.store, dt.date(2026, 11, 30), history_from=dt.date(2025, 12, 1))}
    assert rows["North"]["months_observed"] == 12
    assert rows["North"]["history_from"] == "stated"
    assert rows["North"]["monthly_strike_probability"] == pytest.approx(1.5 / 13)


def test_the_api_and_page_say_what_the_history_covers(filled: kuznia.Workspace,
                                                     tmp_path: Path):
    from fastapi.testclient import TestClient

    from server_helpers import serve

    served = serve(filled, tmp_path / "server")
    with TestClient(served.app, raise_server_exceptions=False) as client:
        r = client.get("/api/v1/resilience/regions?as_of=2026-11-30&history_from=2025-12-01",
                       headers=served.headers("analyst"))
        assert r.status_code == 200, r.text
        north = next(x for x in r.json()["regions"] if x["region"] == "North")
        assert (north["months_observed"], north["history_from"]) == (12, "stated")
        r = client.get("/api/v1/resilience/regions?as_of=2026-01-15",
                       headers=served.headers("analyst"))
        assert r.status_code == 200 and r.json()["regions"] == []
        page = client.get("/resilience", headers=served.headers("analyst"))
        assert page.status_code == 200
        assert "assuming months and regions independent" in page.text


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture,
                                 HealthCheck.too_slow])
@given(as_of=st.dates(dt.date(2025, 6, 1), dt.date(2028, 1, 1)),
       back=st.one_of(st.none(), st.integers(0, 900)))
def test_strike_figures_stay_probabilities(filled: kuznia.Workspace, as_of: dt.date,
                                           back: int | None):
    stated = None if back is None else as_of - dt.timedelta(days=back)
    rows = resilience.estimate_regions(filled.store, as_of, stated)
    for r in rows:
        assert 0 <= r["monthly_strike_probability_low"] <= r["monthly_strike_probability"] \
            <= r["monthly_strike_probability_high"] < 1
        assert 0 <= r["months_struck"] <= r["months_observed"]
        assert r["observed_to"] == as_of.strftime("%Y-%m")
        assert 0 <= r["site_hit_probability"] <= 1 and 0 <= r["damage_fraction"] <= 1
    if not rows:
        with pytest.raises(UsageError):
            resilience.run(filled.store, months=2, scenarios=2, start=as_of,
                           from_history=True, history_from=stated)
        return
    res = resilience.run(filled.store, months=2, scenarios=2, start=as_of,
                         from_history=True, history_from=stated)
    assert all(0 <= s["p_hit_in_horizon"] <= 1 for s in res.sites)


def test_the_strike_rate_from_the_history_is_unbiased(filled: kuznia.Workspace,
                                                      tmp_path: Path):
    """300 regions of one site each, struck each month with a known chance (0.05, 0.15 or
    0.3) over the 24 months from the workspace's first record (the first use, February
    2026): the share of months struck averages the chance within sampling error, and the
    Jeffreys mean its closed form (24 p + 1/2) / 25. Counting from the first strike (the
    first version) overstated it by a third to double for a region or three."""
    rng = np.random.default_rng(26)
    chances = np.repeat([0.05, 0.15, 0.3], 100)
    site_rows, strike_rows = [], []
    for r, p in enumerate(chances):
        site_rows.append([f"Z{r:03d}", "P002", "FPV-A", f"Z-{r:03d}", 10, "operating"])
        for m in np.flatnonzero(rng.random(24) < p):
            y, mo = divmod(1 + int(m), 12)
            strike_rows.append([f"Z{r:03d}", dt.date(2026 + y, mo + 1, 12).isoformat(), 0.5,
                                ""])
    filled.import_file("sites", write_csv(tmp_path / "s.csv", [
        "site_id", "producer_id", "product_id", "region", "monthly_capacity", "status"],
        site_rows))
    filled.import_file("strikes", write_csv(tmp_path / "k.csv", [
        "site_id", "struck_on", "damage_fraction", "repaired_on"], strike_rows))
    rows = [r for r in resilience.estimate_regions(filled.store, dt.date(2028, 1, 31))
            if r["region"].startswith("Z-")]
    assert {r["months_observed"] for r in rows} == {24}
    share = np.array([r["months_struck"] / r["months_observed"] for r in rows])
    mean = np.array([r["monthly_strike_probability"] for r in rows])
    for p in (0.05, 0.15, 0.3):
        mine = chances == p
        se = np.sqrt(p * (1 - p) / 24 / mine.sum())
        assert abs(share[mine].mean() - p) < 4 * se, (p, share[mine].mean())
        assert abs(mean[mine].mean() - (24 * p + 0.5) / 25) < 4 * se * 24 / 25


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


POINT_COLUMNS = ["point_id", "region", "product_id", "monthly_capacity", "repair_days",
                 "from_region", "transit_days"]


def test_repairs_list_items_that_reach_no_point(filled: kuznia.Workspace, tmp_path: Path):
    """ATG-B items in West reach no point (the first version crashed here: exit 3, a
    NumPy integer indexing a Polars 2 Series); they are listed, the others planned."""
    backlog = write_csv(tmp_path / "b.csv", ["item_id", "product_id", "region", "damaged_on"],
                        [["I1", "FPV-A", "North", "2026-10-01"],
                         ["I2", "ATG-B", "West", "2026-10-02"],
                         ["I3", "ATG-B", "West", "2026-10-03"]])
    points = write_csv(tmp_path / "p.csv", POINT_COLUMNS,
                       [["HOME", "Centre", "FPV-A", 2, 10, "North", 3],
                        ["FAR", "Centre", "ATG-B", 2, 10, "North", 3]])
    r = repairs.repairs_plan(filled.store, backlog, points, dt.date(2026, 11, 1))
    assert [a["item_id"] for a in r.assignments] == ["I1"]
    assert r.unreachable == [{"product_id": "ATG-B", "region": "West", "items": 2,
                              "item_ids": ["I2", "I3"]}]
    assert (r.items, r.placed, r.unreachable_items) == (3, 1, 2)
    assert r.mean_days == pytest.approx(13.0)
    run = CliRunner().invoke
    out = run(app, ["repairs", "plan", "--db", filled.store.url, "--backlog", str(backlog),
                    "--repair-points", str(points), "--as-of", "2026-11-01", "--json"])
    assert out.exit_code == 0, out.output
    data = json.loads(out.stdout)
    assert data["unreachable"][0]["item_ids"] == ["I2", "I3"] and data["placed"] == 1
    out = run(app, ["repairs", "plan", "--db", filled.store.url, "--backlog", str(backlog),
                    "--repair-points", str(points), "--as-of", "2026-11-01"])
    assert out.exit_code == 0, out.output
    assert "no repair point reachable for 2 ATG-B in West (I2, I3)" in out.output


@pytest.mark.parametrize("capacity", [0.5, 1.5])
def test_repair_capacities_are_whole_repairs(filled: kuznia.Workspace, tmp_path: Path,
                                             capacity: float):
    """0.5 a month placed nothing and called it optimal; 1.5 started 2 a month."""
    backlog = write_csv(tmp_path / "b.csv", ["item_id", "product_id", "region", "damaged_on"],
                        [["I1", "FPV-A", "North", "2026-10-01"]])
    points = write_csv(tmp_path / "p.csv", POINT_COLUMNS,
                       [["HOME", "Centre", "FPV-A", 2, 10, "North", 3],
                        ["TWO", "Centre", "FPV-A", capacity, 10, "North", 3]])
    with pytest.raises(InputError, match="p.csv:3: column monthly_capacity.*whole"):
        repairs.repairs_plan(filled.store, backlog, points, dt.date(2026, 11, 1))


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture,
                                 HealthCheck.too_slow])
@given(st.data())
def test_every_item_is_placed_within_capacity_or_listed(filled: kuznia.Workspace,
                                                        tmp_path_factory: pytest.TempPathFactory,
                                                        data: st.DataObject):
    """Random backlogs and repair points (some items reaching no point, some points of no
    capacity): no crash, each item placed once or listed as unreachable, no point starting
    more than its capacity in a month, and the placed items' total days the least that any
    assignment gets, by brute force over every assignment with each point's queue
    simulated."""
    regions_, products_ = ["North", "Centre", "West"], ["FPV-A", "ATG-B"]
    n_items = data.draw(st.integers(1, 5))
    items = [[f"I{i}", data.draw(st.sampled_from(products_)),
              data.draw(st.sampled_from(regions_)),
              (dt.date(2026, 10, 1) + dt.timedelta(days=data.draw(st.integers(0, 60))))
              .isoformat()] for i in range(n_items)]
    rows = []
    for j in range(data.draw(st.integers(1, 3))):
        product = data.draw(st.sampled_from(products_))
        cap, days = data.draw(st.integers(0, 3)), data.draw(st.integers(1, 45))
        for origin in data.draw(st.sets(st.sampled_from(regions_), min_size=1)):
            rows.append([f"R{j}", "Centre", product, cap, days, origin,
                         data.draw(st.integers(0, 70))])
    folder = tmp_path_factory.mktemp("rep")
    r = repairs.repairs_plan(filled.store, write_csv(folder / "b.csv", [
        "item_id", "product_id", "region", "damaged_on"], items),
        write_csv(folder / "p.csv", POINT_COLUMNS, rows), dt.date(2026, 11, 1))
    placed = [a["item_id"] for a in r.assignments]
    listed = [i for u in r.unreachable for i in u["item_ids"]]
    assert sorted(placed + listed) == sorted(i[0] for i in items)
    cap = {(x[0], x[2]): x[3] for x in rows}
    starts: dict[tuple[str, int], int] = {}
    for a in r.assignments:
        key = (a["point_id"], a["start_month"])
        starts[key] = starts.get(key, 0) + 1
        assert starts[key] <= cap[(a["point_id"], a["product_id"])]
    reach = {(x[2], x[5]) for x in rows if x[3] > 0}  # (product, from region)
    for i in items:
        assert (i[0] in listed) == ((i[1], i[2]) not in reach)
    if not placed:
        assert r.mean_days is None
        return
    # the brute force over the placed items: groups (product, region), points (id, product)
    groups = sorted({(i[1], i[2]) for i in items if i[0] in placed})
    counts = np.array([sum((i[1], i[2]) == g for i in items) for g in groups])
    pts = sorted({(x[0], x[2]) for x in rows if x[3] > 0})
    transit = np.full((len(groups), len(pts)), np.nan)
    for x in rows:
        if (x[0], x[2]) in pts and (x[2], x[5]) in groups:
            transit[groups.index((x[2], x[5])), pts.index((x[0], x[2]))] = x[6]
    best = brute_force_repairs(counts, transit, np.array([cap[p] for p in pts], dtype=float),
                        np.array([next(x[4] for x in rows if (x[0], x[2]) == p) for p in pts],
                                 dtype=float))
    assert r.mean_days * len(placed) == pytest.approx(best)


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
