"""The command line as a user meets it: help, exit codes, messages without tracebacks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

import kuznia
from kuznia.cli import app
from kuznia.ingest.tables import IMPORT_ORDER

runner = CliRunner()
COMMANDS = [["init"], ["import"], ["uses"], ["cost-per-effect"], ["report"], ["demo"],
            ["audit"], ["audit", "list"], ["audit", "verify"]]


@pytest.mark.parametrize("cmd", COMMANDS, ids=" ".join)
def test_every_command_has_help(cmd):
    result = runner.invoke(app, [*cmd, "--help"])
    assert result.exit_code == 0
    assert "Usage:" in result.output and len(result.output) > 200


def _cli(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """A real process, as a user runs it (slow: use for end-to-end checks only)."""
    return subprocess.run([sys.executable, "-m", "kuznia", *args], cwd=cwd, text=True,
                          capture_output=True, env={**os.environ, **(env or {})}, timeout=300)


class Ran:
    def __init__(self, returncode: int, stdout: str, stderr: str):
        self.returncode, self.stdout, self.stderr = returncode, stdout, stderr


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """The CLI in this process, in ``tmp_path``: fast enough for every case."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("KUZNIA_DB", raising=False)

    def invoke(*args: str, env: dict[str, str] | None = None) -> Ran:
        r = runner.invoke(app, list(args), env=env)
        if r.exception and not isinstance(r.exception, SystemExit):
            raise r.exception
        return Ran(r.exit_code, r.stdout, r.stderr)

    return invoke


@pytest.fixture
def cli_ws(tmp_path: Path, example_dir: Path, run) -> Path:
    with kuznia.init(str(tmp_path / "kuznia.db"), actor="tester") as ws:
        for t in IMPORT_ORDER:
            ws.import_file(t, example_dir / f"{t}.csv")
    return tmp_path


def test_default_workspace_is_kuznia_db_here(tmp_path: Path, run):
    assert run("init").returncode == 0
    assert (tmp_path / "kuznia.db").exists()
    r = run("init")
    assert r.returncode == 1 and "already holds a workspace" in r.stderr


def test_kuznia_db_variable_and_option_are_honoured(tmp_path: Path, run):
    assert run("init", env={"KUZNIA_DB": str(tmp_path / "elsewhere.db")}).returncode == 0
    assert (tmp_path / "elsewhere.db").exists() and not (tmp_path / "kuznia.db").exists()
    assert run("init", "--db", "third.db", "--currency", "eur").returncode == 0
    with kuznia.open(str(tmp_path / "third.db")) as ws:
        assert ws.currency == "EUR"


def test_cost_per_effect_json_has_the_documented_fields(cli_ws: Path, run):
    r = run("cost-per-effect", "--by", "product,producer", "--json")
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    row = next(x for x in data["rows"] if x["product_id"] == "ATG-B")
    for key in ("product_id", "producer_id", "uses", "units_used", "effects", "cost",
                "effects_per_use", "cost_per_effect", "cost_per_effect_low",
                "cost_per_effect_high"):
        assert key in row
    assert row["cost_per_effect"] == pytest.approx(4613.0)


def test_table_output_names_the_figures(cli_ws: Path, run):
    r = run("cost-per-effect", "--by", "product")
    assert r.returncode == 0
    assert "4,613" in r.stdout and "90% interval" in r.stdout


def test_bad_data_exits_1_with_file_line_column_and_no_traceback(cli_ws: Path):
    bad = cli_ws / "bad.csv"
    bad.write_text("producer_id,name,kind,region\nX,Y,cooperative,R\n", encoding="utf-8")
    r = _cli("import", "producers", str(bad), cwd=cli_ws)
    assert r.returncode == 1
    assert f"{bad}:2: column kind: must be one of" in r.stderr
    assert "Traceback" not in r.stderr + r.stdout


def test_bad_usage_exits_2(cli_ws: Path, run):
    r = run("cost-per-effect", "--by", "colour")
    assert r.returncode == 2 and "cannot group by colour" in r.stderr
    r = run("import", "widgets", "x.csv")
    assert r.returncode == 2
    r = run("cost-per-effect", "--from", "last week")
    assert r.returncode == 2 and "ISO date" in r.stderr


def test_missing_workspace_is_explained(tmp_path: Path):
    r = _cli("cost-per-effect", cwd=tmp_path)
    assert r.returncode == 1 and "kuznia init" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "kuznia.db").exists()


def test_uses_lists_the_records_behind_a_figure(cli_ws: Path, run):
    r = run("uses", "--product", "FPV-A", "--producer", "P002", "--month", "2026-02",
             "--json")
    data = json.loads(r.stdout)
    assert data["total"] == 3
    assert {u["use_id"] for u in data["rows"]} == {"U0001", "U0002", "U0003"}
    assert all(u["source_file"] == "uses.csv" for u in data["rows"])


def test_audit_verify_exit_codes(cli_ws: Path, run):
    assert run("audit", "verify").returncode == 0
    import sqlite3

    con = sqlite3.connect(cli_ws / "kuznia.db")
    con.execute("UPDATE audit_events SET actor = 'x' WHERE event_id = 3")
    con.commit()
    con.close()
    r = run("audit", "verify")
    assert r.returncode == 1 and "event 3" in r.stderr


def test_as_names_the_actor(cli_ws: Path, example_dir: Path, run):
    new = cli_ws / "new_producers.csv"  # new rows: an import that changes nothing writes
    new.write_text("producer_id,name,kind,region\nP-AS,As,state,R\n", encoding="utf-8")
    run("import", "producers", str(new), "--as", "analyst-7")  # no event
    r = run("audit", "list", "--json")
    assert json.loads(r.stdout)["events"][-1]["actor"] == "analyst-7"


def test_quarantine_exits_1_but_keeps_good_rows(cli_ws: Path, run):
    f = cli_ws / "p.csv"
    f.write_text("producer_id,name,kind,region\nQ1,A,state,R\nQ2,B,nope,R\n", encoding="utf-8")
    r = run("import", "producers", str(f), "--quarantine", "rej.csv")
    assert r.returncode == 1 and "1 added" in r.stdout and "1 rejected" in r.stdout
    assert "Q2" in (cli_ws / "rej.csv").read_text()


def test_demo_builds_a_workspace_and_a_report(tmp_path: Path):
    r = _cli("demo", "--uses", "3000", cwd=tmp_path)  # a real process, as the README says
    assert r.returncode == 0, r.stderr
    report = Path(r.stdout.strip().splitlines()[-1])
    assert report == tmp_path / "kuznia-report" / "report.html"
    html = report.read_text()
    assert 'src="http' not in html and 'href="http' not in html  # works offline
    # cost, trend, outcomes, then a Pareto and a Duane plot per busy product with failures
    assert html.count("data:image/png;base64,") >= 5
    assert 'id="board"' in html and 'id="fixes"' in html
    for png in ("cost_by_product", "monthly_trend", "outcomes"):
        assert (report.parent / f"{png}.png").stat().st_size > 1000
    assert (tmp_path / "kuznia-demo.db").exists()
    # the demo went through the real import path: audited files and an intact chain
    with kuznia.open(str(tmp_path / "kuznia-demo.db")) as ws:
        assert ws.verify_audit().ok
        assert {e["table_name"] for e in ws.audit_events()} >= set(IMPORT_ORDER)


def test_demo_replaces_a_demo_but_never_a_real_workspace(tmp_path: Path, run):
    assert run("demo", "--uses", "500").returncode == 0
    assert run("demo", "--uses", "500").returncode == 0
    run("init", "--db", "real.db")
    r = run("demo", "--uses", "500", "--db", "real.db")
    assert r.returncode == 1 and "not a demo" in r.stderr


def test_python_api_results_become_frames(cli_ws: Path):
    with kuznia.open(str(cli_ws / "kuznia.db")) as ws:
        costs = ws.cost_per_effect("product,producer")
        pdf, plf = costs.to_pandas(), costs.to_polars()
        assert len(pdf) == len(plf) == len(costs.rows) == 3
        assert pdf.loc[pdf["product_id"] == "ATG-B", "cost_per_effect"].item() == 4613.0
        assert ws.uses(product="FPV-A").to_polars().height == 5
        assert ws.audit_events().to_pandas()["action"].tolist()[0] == "init"
