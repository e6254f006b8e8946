"""The allocation planner through the workspace: offers, rates from uses, saved plans."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

import kuznia
from helpers import write_csv
from kuznia.errors import ConflictError, InputError, UsageError
from kuznia.ingest.tables import SPECS
from kuznia.services import planning

OFFER_COLUMNS = SPECS["offers"].columns[:-1]  # without licence_id, which is optional


@pytest.fixture
def planned(filled: kuznia.Workspace, example_dir: Path) -> kuznia.Workspace:
    filled.import_file("offers", example_dir / "offers.csv")
    return filled


def test_file_and_table_give_the_same_plan(planned: kuznia.Workspace, example_dir: Path):
    a = planning.allocate(planned.store, budget=500_000, max_producer_share=0.8)
    b = planning.allocate(planned.store, budget=500_000, max_producer_share=0.8,
                          offers_file=example_dir / "offers.csv")
    assert a.status == b.status == "optimal"
    # the same lines; only the table's say where each offer came from
    assert [{k: v for k, v in r.items() if k != "offer_from"} for r in a.rows] == b.rows
    assert all(r["offer_from"].startswith("imported by tester on ") for r in a.rows)
    assert a.total_cost <= 500_000
    assert a.expected_effects_low <= a.expected_effects <= a.expected_effects_high


def test_rates_come_from_the_uses_and_q10_is_more_cautious(planned: kuznia.Workspace):
    mean = planning.allocate(planned.store, budget=300_000)
    cautious = planning.allocate(planned.store, budget=300_000, risk="q10")
    offers = {(o["product_id"], o["producer_id"]): o for o in mean.inputs["offers"]}
    assert offers[("FPV-A", "P002")]["rate_source"] == "uses (mean)"
    # the mean plan is the best at the expected rates; the cautious one can only tie or trail
    assert cautious.expected_effects <= mean.expected_effects + 1e-9
    for plan in (mean, cautious):  # figures at the expected rates sit inside their interval
        assert plan.expected_effects_low <= plan.expected_effects <= plan.expected_effects_high
    assert any("chosen for its own worst 10%" in line for line in cautious.explanation)
    # over the same joint draws of the rates, its own worst tenth is at least that of the
    # plan for the expected rates (which it was compared with), at some cost in the mean
    r = cautious.risk
    assert r["level"] == 0.10 and r["draws"] == 200
    assert r["quantile"] >= r["tail_mean"] - 1e-6
    assert r["tail_mean"] >= r["mean_plan_tail_mean"] - 1e-6 * abs(r["mean_plan_tail_mean"])
    assert r["mean_plan_expected_effects"] == pytest.approx(mean.expected_effects)
    assert mean.risk is None
    with pytest.raises(UsageError, match="risk takes mean") as e:
        planning.allocate(planned.store, budget=1, risk="q90")
    assert e.value.param == "risk"


def test_a_plan_meets_every_limit(planned: kuznia.Workspace):
    plan = planning.allocate(planned.store, budget=2_000_000, max_region_share=0.8,
                             require={"ATG-B": 20}, min_category_share={"guided_munition": 0.2})
    assert plan.status == "optimal"
    assert sum(r["quantity"] for r in plan.rows if r["product_id"] == "ATG-B") >= 20
    atg_cost = sum(r["cost"] for r in plan.rows if r["product_id"] == "ATG-B")
    assert atg_cost >= 0.2 * 2_000_000
    by_region: dict[str, float] = {}
    for r in plan.rows:
        by_region[r["region"]] = by_region.get(r["region"], 0.0) + r["cost"]
    assert max(by_region.values()) <= 0.8 * plan.total_cost + 1e-6
    # a single producer of ATG-B under a producer cap: no unit of it can be bought
    capped = planning.allocate(planned.store, budget=2_000_000, max_producer_share=0.6,
                               require={"ATG-B": 20})
    assert capped.status == "infeasible"
    assert "lets no unit of it be bought" in capped.explanation[0]


def test_infeasible_is_an_answer_with_reasons(planned: kuznia.Workspace):
    plan = planning.allocate(planned.store, budget=100_000, require={"ATG-B": 50})
    assert plan.status == "infeasible" and plan.rows == []
    assert plan.explanation == ["the required 50 ATG-B cost 675.0k, the budget is 100.0k"]


def test_bad_offers_file_is_named_by_line_and_column(planned: kuznia.Workspace,
                                                    tmp_path: Path):
    f = write_csv(tmp_path / "offers.csv", OFFER_COLUMNS,
                  [["FPV-A", "P002", "480", "100", "500", "1", ""],
                   ["FPV-A", "NOPE", "480", "100", "0", "1", ""]])
    with pytest.raises(InputError) as info:
        planning.allocate(planned.store, budget=1000, offers_file=f)
    text = str(info.value)
    assert f"{f}:2: column min_order: is more than the capacity" in text
    assert f"{f}:3: column producer_id: no producer with this id" in text


def test_a_product_never_used_needs_a_given_rate(planned: kuznia.Workspace, tmp_path: Path):
    write_csv(tmp_path / "p.csv", SPECS["products"].columns, [["NEW", "New", "cat"]])
    planned.import_file("products", tmp_path / "p.csv")
    f = write_csv(tmp_path / "o.csv", OFFER_COLUMNS,
                  [["NEW", "P001", "10", "100", "0", "1", ""]])
    with pytest.raises(InputError, match="no use of this product to estimate it from"):
        planning.allocate(planned.store, budget=1000, offers_file=f)  # nothing else to plan
    write_csv(f, OFFER_COLUMNS, [["NEW", "P001", "10", "100", "0", "1", ""],
                                           ["FPV-A", "P002", "480", "100", "0", "1", ""]])
    plan = planning.allocate(planned.store, budget=100_000, offers_file=f)
    assert plan.left_out == ["NEW/P001"]
    assert any("left out" in line and "NEW/P001" in line for line in plan.explanation)
    assert [r["product_id"] for r in plan.rows] == ["FPV-A"]
    write_csv(f, OFFER_COLUMNS, [["NEW", "P001", "10", "100", "0", "1", "0.5"]])
    plan = planning.allocate(planned.store, budget=1000, offers_file=f)
    assert plan.expected_effects == pytest.approx(50.0)
    assert plan.expected_effects_low == plan.expected_effects_high  # a given rate is certain


def test_what_ifs_change_prices_and_drop_producers(planned: kuznia.Workspace):
    base = planning.allocate(planned.store, budget=500_000)
    dearer = planning.allocate(planned.store, budget=500_000, what_if=planning.WhatIf(
        price_change={"FPV-A": 0.2}))
    assert dearer.expected_effects < base.expected_effects
    without = planning.allocate(planned.store, budget=500_000, what_if=planning.WhatIf(
        without_producers=["P002"]))
    assert all(r["producer_id"] != "P002" for r in without.rows)


def test_greedy_baseline_is_reported_with_what_it_breaks(planned: kuznia.Workspace):
    plan = planning.allocate(planned.store, budget=600_000, max_producer_share=0.7)
    assert plan.baseline["expected_effects"] > 0
    # the greedy rule puts all of FPV-A on one producer (which one: the first of equals)
    (broken,) = plan.baseline["breaks"]
    assert re.fullmatch(r"P00\d has 100% of FPV-A, over the 70% producer cap", broken)
    assert plan.binding[0].startswith("the budget binds")


def test_saved_plans_are_audited_listed_shown_and_compared(planned: kuznia.Workspace):
    a = planning.allocate(planned.store, budget=500_000)
    b = planning.allocate(planned.store, budget=800_000)
    planning.save_plan(planned.store, "jan", a, "officer")
    planning.save_plan(planned.store, "feb", b, "officer")
    with pytest.raises(ConflictError, match="already exists"):
        planning.save_plan(planned.store, "jan", b, "officer")
    events = planned.audit_events()
    assert [e["action"] for e in events][-2:] == ["save_plan", "save_plan"]
    assert planned.verify_audit().ok
    assert [p["name"] for p in planning.list_plans(planned.store).rows] == ["jan", "feb"]
    shown = planning.show_plan(planned.store, "jan")
    assert shown["inputs"]["budget"] == 500_000 and shown["lines"] == a.rows
    d = planning.diff_plans(planned.store, "jan", "feb")
    assert d["inputs"]["budget"] == {"from": 500_000, "to": 800_000}
    assert d["expected_effects"] == {"from": a.expected_effects, "to": b.expected_effects}
    assert all(x["change"] == x["quantity_to"] - x["quantity_from"] for x in d["lines"])


def test_cli_plan_json_and_saved_plans(planned: kuznia.Workspace, tmp_path: Path,
                                       monkeypatch: pytest.MonkeyPatch):
    from typer.testing import CliRunner

    from kuznia.cli import app

    runner = CliRunner()
    db = planned.store.url
    r = runner.invoke(app, ["plan", "allocate", "--budget", "500000", "--max-region-share",
                            "90%", "--require", "ATG-B=10", "--save", "p1", "--json",
                            "--db", db])
    assert r.exit_code == 0, r.stderr
    data = json.loads(r.stdout)
    for key in ("status", "expected_effects", "total_cost", "lines", "baseline"):
        assert key in data
    for line in data["lines"]:
        assert {"product_id", "producer_id", "quantity", "cost", "expected_effects"} <= set(line)
    assert {"expected_effects", "total_cost"} <= set(data["baseline"])
    r = runner.invoke(app, ["plan", "allocate", "--budget", "100", "--require", "ATG-B=10",
                            "--db", db])
    assert r.exit_code == 1 and "the budget is 100" in r.stdout
    r = runner.invoke(app, ["plan", "allocate", "--budget", "100", "--require", "ATG-B=ten",
                            "--db", db])
    assert r.exit_code == 2
    assert runner.invoke(app, ["plan", "show", "p1", "--db", db]).exit_code == 0
    assert runner.invoke(app, ["plan", "show", "nope", "--db", db]).exit_code == 2
    listed = json.loads(runner.invoke(app, ["plan", "list", "--json", "--db", db]).stdout)
    assert [p["name"] for p in listed["plans"]] == ["p1"]
    # a name the server could not address, or one a PostgreSQL column would cut, is
    # refused before the solve, in words; nothing is saved
    for bad in ("a/b", "x" * 129, " p2", "", "tab\there"):
        r = runner.invoke(app, ["plan", "allocate", "--budget", "500000", "--save", bad,
                                "--db", db])
        assert r.exit_code == 2 and "a plan's name takes" in r.stderr, (bad, r.stderr)
    listed = json.loads(runner.invoke(app, ["plan", "list", "--json", "--db", db]).stdout)
    assert [p["name"] for p in listed["plans"]] == ["p1"]


def test_every_returned_plan_breaks_nothing_on_the_demo(tmp_path: Path):
    """A bigger instance: the demo's offers with all limit kinds at once."""
    from kuznia.demo import DemoSize, generate

    files = generate(tmp_path / "d", DemoSize(uses=3000, producers=60))
    with kuznia.init(str(tmp_path / "w.db")) as ws:
        for table, path in files.items():
            ws.import_file(table, path)
        plan = planning.allocate(ws.store, budget=5e6, max_producer_share=0.5,
                                 max_region_share=0.3,
                                 min_category_share={"fpv_drone": 0.1},
                                 require={"GM-01": 10})
    assert plan.status == "optimal"
    assert plan.total_cost <= 5e6
    spend_by_region: dict[str, float] = {}
    for r in plan.rows:
        spend_by_region[r["region"]] = spend_by_region.get(r["region"], 0) + r["cost"]
    assert max(spend_by_region.values()) <= 0.3 * plan.total_cost + 1e-6
    assert sum(r["quantity"] for r in plan.rows if r["product_id"] == "GM-01") >= 10


def test_buying_nothing_is_said_with_its_reason(planned: kuznia.Workspace):
    """The best plan for a budget below every offer's smallest order buys nothing: the
    first version printed "no plan: optimal"."""
    from typer.testing import CliRunner

    from kuznia.cli import app

    plan = planning.allocate(planned.store, budget=100)
    assert plan.status == "optimal" and plan.rows == []
    assert plan.outcome.startswith("nothing bought: every offer's smallest order costs "
                                   "more than the budget of 100 (the cheapest that adds "
                                   "effects: ")
    r = CliRunner().invoke(app, ["plan", "allocate", "--budget", "100",
                                 "--db", planned.store.url])
    assert r.exit_code == 0, r.stderr
    assert "nothing bought: every offer's smallest order" in r.stdout
    assert "no plan" not in r.stdout


def test_a_plan_stopped_by_the_time_limit_is_kept_and_said(ws: kuznia.Workspace,
                                                           example_dir: Path, tmp_path: Path):
    """An almost strongly correlated knapsack of 1,000 offers (tests/test_solver_limits.py)
    at a zero gap: the time limit stops the solve; the best plan found is the answer,
    said as such in the CLI's words and the JSON. The time limit rises from 0.05 s until
    a plan is found, so a slow machine tests the same thing."""
    from typer.testing import CliRunner

    from kuznia.cli import app

    ws.import_file("products", example_dir / "products.csv")
    n = 1000
    write_csv(tmp_path / "producers.csv", SPECS["producers"].columns,
              [[f"Q{i:04d}", f"Maker {i}", "private", "Region 01"] for i in range(n // 2)])
    ws.import_file("producers", tmp_path / "producers.csv")
    rng = np.random.default_rng(0)
    weight = rng.integers(1000, 10000, n)
    value = weight + rng.integers(-100, 100, n)
    offers = write_csv(tmp_path / "offers.csv", OFFER_COLUMNS, [
        [("FPV-A", "ATG-B")[i % 2], f"Q{i // 2:04d}", int(weight[i]), 1, 0, 1,
         float(value[i]) / 1e4] for i in range(n)])
    budget = str(int(0.37 * weight.sum()))
    runner = CliRunner()
    for limit in ("0.05", "0.5", "2", "8"):
        r = runner.invoke(app, ["plan", "allocate", "--budget", budget, "--offers",
                                str(offers), "--gap", "0", "--time-limit", limit, "--json",
                                "--db", ws.store.url])
        data = json.loads(r.stdout)
        if data["status"] != "no_solution":
            break
        assert r.exit_code == 1 and "no solution found within the time limit" in r.stdout
    assert r.exit_code == 0, r.stderr
    assert data["status"] == "feasible" and len(data["lines"]) > 10
    assert data["total_cost"] <= float(budget)
    gap = data["solver"]["gap"]
    assert gap > 0
    words = f"best found within the time limit, gap {gap:.1%}"
    assert data["outcome"] == data["solver"]["outcome"] == words
    assert data["explanation"][0].startswith(words + ": the best plan found before")
    text = runner.invoke(app, ["plan", "allocate", "--budget", budget, "--offers",
                               str(offers), "--gap", "0", "--time-limit", limit,
                               "--db", ws.store.url]).stdout
    assert "plan: best found within the time limit, gap" in text
