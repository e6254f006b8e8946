"""The test-fix-test loop on a workspace whose counts are known by construction."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from scipy import integrate, stats
from typer.testing import CliRunner

import kuznia
from helpers import write_csv
from kuznia.analytics.board import AGING_DAYS
from kuznia.cli import app
from kuznia.errors import InputError

# (version, producer, uses, {mode: failures}); versions come in the order v1, v2, v3
PLAN = [
    ("v1", "P1", 150, {"jam": 18, "link": 4}),
    ("v1", "P2", 50, {"jam": 2, "link": 1}),
    ("v2", "P1", 150, {"jam": 1, "link": 3}),
    ("v2", "P2", 50, {"jam": 1, "link": 2}),
    ("v3", "P1", 100, {"link": 3, "seal": 3}),
]
MONTH = {"v1": "2026-01", "v2": "2026-03", "v3": "2026-05"}
CONDITIONS = ["ew=high;night=1", "night=1; ew=high", "ew=low", ""]
AS_OF = dt.date(2026, 6, 1)


def _uses_rows() -> list[list[object]]:
    rows, i = [], 0
    for version, producer, n, modes in PLAN:
        fails = [m for m, k in modes.items() for _ in range(k)]
        for j in range(n):
            i += 1
            mode = fails[j] if j < len(fails) else ""
            rows.append([f"U{i:05d}", f"{MONTH[version]}-{1 + j % 28:02d}", "X", version,
                         producer, 0 if mode else 1, "failure" if mode else "effect", mode,
                         CONDITIONS[i % 4]])
    return rows


def build(folder: Path) -> dict[str, Path]:
    folder.mkdir(exist_ok=True)
    f = {}
    f["producers"] = write_csv(folder / "producers.csv", ["producer_id", "name", "kind", "region"],
                               [["P1", "One", "state", "R1"], ["P2", "Two", "private", "R2"]])
    f["products"] = write_csv(folder / "products.csv", ["product_id", "name", "category"],
                              [["X", "Product X", "drone"]])
    f["versions"] = write_csv(folder / "versions.csv", ["product_id", "version", "introduced_on"],
                              [["X", "v2", "2026-03-01"], ["X", "v1", "2026-01-01"],
                               ["X", "v3", "2026-05-01"]])
    f["contracts"] = write_csv(
        folder / "contracts.csv",
        ["contract_id", "producer_id", "product_id", "signed_on", "quantity", "unit_price",
         "currency", "due_on"],
        [["C1", "P1", "X", "2026-01-02", 100, 500, "USD", "2026-02-01"],
         ["C2", "P2", "X", "2026-01-02", 10, 500, "USD", "2026-02-01"]])
    f["deliveries"] = write_csv(
        folder / "deliveries.csv",
        ["delivery_id", "contract_id", "delivered_on", "quantity", "accepted_quantity", "lot"],
        [["D1", "C1", "2026-01-20", 60, 50, "L1"], ["D2", "C2", "2026-01-25", 10, 10, "L2"]])
    f["uses"] = write_csv(folder / "uses.csv",
                          ["use_id", "used_on", "product_id", "version", "producer_id", "effects",
                           "outcome", "failure_mode", "conditions"], _uses_rows())
    f["failure_modes"] = write_csv(folder / "failure_modes.csv",
                                   ["product_id", "failure_mode", "description", "severity"],
                                   [["X", "jam", "jams", 4], ["X", "link", "link lost", 2]])
    f["corrective_actions"] = write_csv(
        folder / "corrective_actions.csv",
        ["action_id", "product_id", "failure_mode", "fixed_in_version", "opened_on",
         "producer_id"],
        [["A-JAM", "X", "jam", "v2", "2026-01-15", ""],
         ["A-LINK", "X", "link", "v3", "2026-03-15", ""],
         ["A-LINK-P2", "X", "link", "v3", "2026-03-20", "P2"],
         ["A-FUTURE", "X", "link", "v9", "2026-05-10", ""]])
    return f


@pytest.fixture
def loop_ws(ws: kuznia.Workspace, tmp_path: Path) -> kuznia.Workspace:
    files = build(tmp_path / "loop")
    for table in ("producers", "products", "versions", "contracts", "deliveries", "uses",
                  "failure_modes", "corrective_actions"):
        ws.import_file(table, files[table])
    return ws


def _truth(by_version: bool = False) -> dict[tuple, tuple[int, int]]:
    """(version?, mode) -> (failures, uses of the group), counted from PLAN."""
    uses: dict[tuple, int] = {}
    fails: dict[tuple, int] = {}
    for version, _p, n, modes in PLAN:
        g = (version,) if by_version else ()
        uses[g] = uses.get(g, 0) + n
        for m, k in modes.items():
            fails[(*g, m)] = fails.get((*g, m), 0) + k
    return {k: (v, uses[k[:-1]]) for k, v in fails.items()}


def test_pareto_counts_rates_and_shares(loop_ws: kuznia.Workspace):
    table = loop_ws.failures(product="X")
    truth = _truth()
    got = {(r["failure_mode"],): (r["failures"], r["uses"]) for r in table}
    assert got == truth
    assert [r["failures"] for r in table] == sorted((v[0] for v in truth.values()), reverse=True)
    total = sum(v[0] for v in truth.values())
    for r in table:
        assert r["share"] == pytest.approx(r["failures"] / total, abs=1e-4)
        assert r["rate_per_100_low"] <= r["rate_per_100"] <= r["rate_per_100_high"]
        assert r["rate_per_100"] == pytest.approx(100 * r["failures"] / r["uses"], abs=1e-4)
    assert table[-1]["cumulative_share"] == pytest.approx(1.0)
    assert table[0]["severity"] == 4 and table[0]["failure_mode"] == "jam"


def test_pareto_by_version_and_by_condition(loop_ws: kuznia.Workspace):
    by_v = loop_ws.failures(product="X", by="version")
    assert {(r["version"], r["failure_mode"]): (r["failures"], r["uses"]) for r in by_v} \
        == _truth(by_version=True)
    by_c = loop_ws.failures(product="X", by="condition:ew")
    rows = _uses_rows()
    for r in by_c:
        value = r["conditions"]["ew"]
        want = {"high": "ew=high", "low": "ew=low", "(none)": None}[value]
        group = [u for u in rows if (want in u[8].replace(" ", "") if want else "ew=" not in u[8])]
        assert r["uses"] == len(group)
        assert r["failures"] == sum(1 for u in group if u[7] == r["failure_mode"])
    # the two spellings of the same conditions count together: half the uses have ew=high
    high = [r for r in by_c if r["conditions"]["ew"] == "high" and r["failure_mode"] == "jam"]
    assert len(high) == 1 and high[0]["uses"] == 250


def test_fix_statuses_follow_the_uses(loop_ws: kuznia.Workspace):
    fixes = {r["action_id"]: r for r in loop_ws.fixes(product="X")}
    jam = fixes["A-JAM"]
    assert (jam["failures_before"], jam["uses_before"], jam["failures_after"],
            jam["uses_after"]) == (20, 200, 2, 300)
    assert jam["status"] == "verified"
    # an independent computation of the sequential test's always-valid p-value: the
    # binomial likelihood ratio of the failures after, given all failures, mixed over
    # rho with a Beta(4, 2.5) prior (counts and uses scaled by the lots' dispersion):
    # exactly as a sum over the service's 40 points at the prior's quantiles, and near
    # the integral over the smooth prior (here the points hold less of the tail near 0)
    phi = jam["lot_dispersion"]
    x1, n1, x2, n2 = 20 / phi, 200 / phi, 2 / phi, 300 / phi
    mixture = integrate.quad(
        lambda r: stats.beta.pdf(r, 4, 2.5) * r ** x2 * ((n1 + n2) / (n1 + r * n2)) ** (x1 + x2),
        0, 1)[0]
    assert jam["p_value"] == pytest.approx(min(1.0, 1 / mixture), rel=0.3)
    r = stats.beta.ppf((np.arange(40) + 0.5) / 40, 4, 2.5)
    points = np.mean(r ** x2 * ((n1 + n2) / (n1 + r * n2)) ** (x1 + x2))
    assert jam["p_value"] == pytest.approx(min(1.0, 1 / points), rel=1e-9)
    link = fixes["A-LINK"]
    assert (link["failures_before"], link["uses_before"], link["failures_after"],
            link["uses_after"]) == (10, 400, 3, 100)
    assert link["status"] == "awaiting_data"
    assert link["uses_needed"] is None or link["uses_needed"] > 0
    assert fixes["A-LINK-P2"]["status"] == "open"  # P2 has no uses of v3
    assert fixes["A-LINK-P2"]["uses_before"] == 100
    assert fixes["A-FUTURE"]["status"] == "open"
    assert "not in versions" in fixes["A-FUTURE"]["note"]


def test_board_blocks_and_weights(loop_ws: kuznia.Workspace):
    b = loop_ws.board(as_of=AS_OF)
    kinds = {(x["kind"], x["ref"]) for x in b.blocks}
    assert ("corrective_action", "A-JAM") not in kinds  # verified: off the board
    assert {("corrective_action", "A-LINK"), ("corrective_action", "A-FUTURE"),
            ("late_delivery", "C1"), ("rejected_lot", "L1")} <= kinds
    assert not any(x["ref"] == "C2" for x in b.blocks)  # delivered in full
    late = next(x for x in b.blocks if x["ref"] == "C1")
    assert late["age_days"] == (AS_OF - dt.date(2026, 2, 1)).days
    assert late["weight"] == pytest.approx(10 * 0.5 * (1 + late["age_days"] / AGING_DAYS),
                                           abs=1e-3)
    lot = next(x for x in b.blocks if x["ref"] == "L1")
    assert lot["base_weight"] == pytest.approx(10 * 10 / 60, abs=1e-3)
    # seal (no action, unrated: severity 3) fails 3 in P1's 400 uses: 0.75 per 100
    assert not any(x["kind"] == "failure_mode" for x in b.blocks)
    low = loop_ws.board(as_of=AS_OF, threshold=0.5)
    seal = next(x for x in low.blocks if x["kind"] == "failure_mode")
    assert (seal["producer_id"], seal["ref"]) == ("P1", "X/seal")
    assert seal["base_weight"] == pytest.approx(3 * 0.75, abs=1e-3)
    # stacks: oldest at the bottom (first), heaviest stack first
    for s in b.stacks:
        dates = [x["opened_on"] for x in s["blocks"]]
        assert dates == sorted(dates)
    weights = [s["weight"] for s in b.stacks]
    assert weights == sorted(weights, reverse=True)
    # a producer sees its own blocks and the product-wide ones of its products
    mine = loop_ws.board(producer="P2", as_of=AS_OF)
    assert all(x["producer_id"] in (None, "P2") for x in mine.blocks)
    assert not any(x["ref"] == "C1" for x in mine.blocks)


def test_board_clears_when_the_data_do(loop_ws: kuznia.Workspace, tmp_path: Path):
    write_csv(tmp_path / "d.csv", ["delivery_id", "contract_id", "delivered_on", "quantity",
                                   "accepted_quantity", "lot"],
              [["D3", "C1", "2026-04-01", 50, 50, "L3"]])
    loop_ws.import_file("deliveries", tmp_path / "d.csv")
    refs = {x["ref"] for x in loop_ws.board(as_of=AS_OF).blocks}
    assert "C1" not in refs and "L1" not in refs
    # but not before the delivery came
    refs = {x["ref"] for x in loop_ws.board(as_of=dt.date(2026, 3, 1)).blocks}
    assert {"C1", "L1"} <= refs


def test_growth_by_version(loop_ws: kuznia.Workspace):
    g = loop_ws.growth("X").to_dict()
    got = [(v["version"], v["uses"], v["failures"]) for v in g["versions"]]
    assert got == [("v1", 200, 25), ("v2", 200, 7), ("v3", 100, 6)]
    for v in g["versions"]:
        assert v["reliability_low"] <= v["reliability"] <= v["reliability_high"]
    fit = g["fit"]
    assert fit["beta"] < 1  # failures per use fell
    assert fit["reliability_now_low"] <= fit["reliability_now"] <= fit["reliability_now_high"]
    assert fit["reliability_now"] > 1 - 38 / 500  # better than the pooled figure
    # the fit checked by Pearson's chi-square, computed here from the fitted curve
    cum = fit["lam"] * np.array([200.0, 400.0, 500.0]) ** fit["beta"]
    expected = np.diff(np.r_[0.0, cum])
    stat = float(np.sum((np.array([25, 7, 6]) - expected) ** 2 / expected))
    gof = fit["goodness_of_fit"]
    assert gof["chi_square"] == pytest.approx(stat) and gof["df"] == 1
    assert gof["p_value"] == pytest.approx(stats.chi2.sf(stat, 1))
    assert gof["fits"] == (gof["p_value"] >= 0.10) and fit["projected"] == (gof["fits"])
    # the latest version's own figure beside the fit
    assert fit["latest_version"] == {k: g["versions"][-1][k] for k in fit["latest_version"]}
    assert fit["latest_version"]["version"] == "v3"


def test_growth_in_steps_is_not_projected_from_a_curve():
    """Reliability constant within versions and one big step (20 failures in 200 uses
    twice, then 2 in 200 twice): the power law does not fit, and nothing is projected."""
    from kuznia.analytics.reliability import discrete_growth
    from kuznia.services.growth import _goodness_of_fit

    uses, fails = [200, 200, 200, 200], [20, 20, 2, 2]
    gof = _goodness_of_fit(discrete_growth(uses, fails), np.cumsum(uses), np.array(fails))
    assert gof["df"] == 2 and gof["p_value"] < 0.01 and gof["fits"] is False
    smooth = [20, 12, 9, 7]  # a falling rate the curve follows
    gof = _goodness_of_fit(discrete_growth(uses, smooth), np.cumsum(uses), np.array(smooth))
    assert gof["fits"] is True


def test_growth_needs_two_versions(ws: kuznia.Workspace, tmp_path: Path):
    files = build(tmp_path / "one")
    for t in ("producers", "products", "versions"):
        ws.import_file(t, files[t])
    write_csv(tmp_path / "u.csv", ["use_id", "used_on", "product_id", "version", "effects",
                                   "outcome", "failure_mode"],
              [["U1", "2026-01-05", "X", "v1", 0, "failure", "jam"],
               ["U2", "2026-01-06", "X", "v1", 1, "effect", ""]])
    ws.import_file("uses", tmp_path / "u.csv")
    g = ws.growth("X")
    assert g.fit is None and "two versions" in g.unfitted_reason


def _cube_vs_rescan(ws: kuznia.Workspace) -> None:
    with ws.store.read() as conn:
        cube = pl.DataFrame(conn.exec_driver_sql(
            "SELECT product_id, producer_id, version, failure_mode, SUM(uses) FROM failure_cube "
            "GROUP BY product_id, producer_id, version, failure_mode").all(),
            schema=["product_id", "producer_id", "version", "failure_mode", "n"], orient="row")
        scan = pl.DataFrame(conn.exec_driver_sql(
            "SELECT product_id, COALESCE(producer_id, ''), COALESCE(version, ''), "
            "COALESCE(failure_mode, ''), COUNT(*) FROM uses "
            "GROUP BY 1, 2, 3, 4").all(),
            schema=["product_id", "producer_id", "version", "failure_mode", "n"], orient="row")
    key = ["product_id", "producer_id", "version", "failure_mode"]
    cube = cube.filter(pl.col("n") != 0).with_columns(pl.col("n").cast(pl.Int64)).sort(key)
    scan = scan.with_columns(pl.col("n").cast(pl.Int64)).sort(key)
    assert cube.equals(scan)


def test_failure_cube_follows_reimports_and_updates(loop_ws: kuznia.Workspace, tmp_path: Path):
    _cube_vs_rescan(loop_ws)
    files = build(tmp_path / "again")
    loop_ws.import_file("uses", files["uses"])  # the same file: nothing changes
    _cube_vs_rescan(loop_ws)
    write_csv(tmp_path / "fix.csv", ["use_id", "used_on", "product_id", "version", "producer_id",
                                     "effects", "outcome", "failure_mode", "conditions"],
              [["U00001", "2026-01-01", "X", "v1", "P1", 0, "failure", "link", "ew=low"]])
    loop_ws.import_file("uses", tmp_path / "fix.csv", update=True)
    _cube_vs_rescan(loop_ws)
    assert {r["failure_mode"]: r["failures"] for r in loop_ws.failures(product="X")}["link"] == 14


def test_bad_rows_name_file_row_and_column(ws: kuznia.Workspace, tmp_path: Path):
    files = build(tmp_path / "bad")
    for t in ("producers", "products"):
        ws.import_file(t, files[t])
    bad = write_csv(tmp_path / "fm.csv", ["product_id", "failure_mode", "description", "severity"],
                    [["X", "jam", "jams", 5], ["NOPE", "x", "y", 1]])
    with pytest.raises(InputError) as exc:
        ws.import_file("failure-modes", bad)
    text = str(exc.value)
    assert "fm.csv:2: column severity" in text and "fm.csv:3: column product_id" in text


def test_cli_json_shapes(loop_ws: kuznia.Workspace, tmp_path: Path):
    db = loop_ws.store.url
    run = CliRunner().invoke
    fixes = json.loads(run(app, ["fixes", "--db", db, "--json"]).stdout)
    for r in fixes["rows"]:
        assert {"action_id", "failure_mode", "status", "rate_before", "rate_after",
                "uses_before", "uses_after", "uses_needed", "p_value"} <= set(r)
    board = json.loads(run(app, ["board", "--db", db, "--json", "--as-of", "2026-06-01"]).stdout)
    for b in board["blocks"]:
        assert {"kind", "ref", "producer_id", "product_id", "opened_on", "age_days",
                "weight"} <= set(b)
    res = run(app, ["failures", "--db", db, "--by", "version,condition:ew", "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["by"] == ["version", "condition:ew"]
    chart = tmp_path / "g.png"
    res = run(app, ["growth", "--db", db, "--product", "X", "--chart", str(chart)])
    assert res.exit_code == 0 and chart.read_bytes()[:4] == b"\x89PNG"
    assert "growth fit" in res.stdout
    res = run(app, ["board", "--db", db, "--as-of", "2026-06-01"])
    assert res.exit_code == 0 and "P1" in res.stdout
    res = run(app, ["failures", "--db", db, "--by", "colour"])
    assert res.exit_code == 2
    assert run(app, ["growth", "--db", db, "--product", "NOPE"]).exit_code == 2
    res = run(app, ["uses", "--db", db, "--product", "X", "--failure-mode", "seal", "--json"])
    assert json.loads(res.stdout)["total"] == 3


def test_demo_fix_rule_rarely_verifies_a_fix_that_did_nothing():
    # equal rates before and after, one look of uneven sizes: "verified" must be rare (the
    # test's level is 5%); the verdict's own tests, as ``verdict`` applies them (the
    # repeated looks are in test_fix_verdicts.py)
    from kuznia.analytics.fixes import _tests, verdict

    rng = np.random.default_rng(3)
    verified = 0
    reps = 2000
    for i in range(reps):
        n1, n2 = int(rng.integers(100, 3000)), int(rng.integers(50, 3000))
        x1, x2 = rng.binomial(n1, 0.03), rng.binomial(n2, 0.03)
        fell, _ = _tests(x1, n1, np.array([x2]), np.array([n2]), 0.05, 0.5)
        hit = bool(fell[0] >= np.log(1 / 0.05)) and x1 > 0
        if i < 20:
            assert hit == (verdict(x1, n1, x2, n2).status == "verified")
        verified += hit
    assert verified / reps <= 0.05


def test_upgrading_an_older_workspace_fills_the_failure_cube(loop_ws: kuznia.Workspace):
    from kuznia.store.engine import downgrade, upgrade

    before = loop_ws.failures(product="X", by="version,condition:ew").rows
    downgrade(loop_ws.store.engine, "0002")
    upgrade(loop_ws.store.engine)
    # actions and modes were dropped with the downgrade; the cube is rebuilt from the uses
    after = loop_ws.failures(product="X", by="version,condition:ew").rows
    strip = [{k: v for k, v in r.items() if k != "severity"} for r in before]
    assert [{k: v for k, v in r.items() if k != "severity"} for r in after] == strip
    _cube_vs_rescan(loop_ws)
