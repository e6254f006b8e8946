"""The uses behind a failure grouped by a condition: the ``condition`` filter of the uses
list (service, API, CLI) against a brute-force reading of the conditions, and the Pareto's
drill-down, which carries it, giving exactly the failures the figure counts."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

import kuznia
from kuznia.cli import app as cli
from kuznia.errors import UsageError
from kuznia.services import failures, trace
from server_helpers import serve

# conditions as people write them: spaces around pairs, keys in any order, a key that is
# a prefix of another, characters LIKE would take as wildcards
CONDITIONS = ["ew=high", "ew=low;night=1", " night=1 ; ew=high ", "ew=high;night=0",
              "ewx=high", "ew=hi_h", "ew=high%", "", "night=1", "ew=high; fog=yes",
              "fog=yes;ew=low", "ew=", "night=1;ew=low"]
MODES = ["link_loss", "battery_cold", ""]


@pytest.fixture
def conditioned(filled: kuznia.Workspace, tmp_path: Path) -> kuznia.Workspace:
    lines = ["use_id,used_on,operator,product_id,version,producer_id,lot,units_used,"
             "effects,outcome,failure_mode,conditions,notes"]
    for i, (cond, mode, version) in enumerate(itertools.product(CONDITIONS, MODES,
                                                                ("v1", "v2"))):
        outcome = "failure" if mode else "effect"
        lines.append(f"C{i:04d},2026-05-{1 + i % 28:02d},OP-01,FPV-A,{version},P002,,1,"
                     f"{0 if mode else 1},{outcome},{mode},\"{cond}\",")
    path = tmp_path / "more-uses.csv"
    path.write_text("\n".join(lines) + "\n")
    filled.import_file("uses", path)
    return filled


def _pairs(text: str | None) -> list[tuple[str, str]]:
    """A use's conditions as the failure counts read them: pairs split on ';', stripped."""
    out = []
    for part in (text or "").split(";"):
        if part.strip():
            key, _, value = part.strip().partition("=")
            out.append((key, value))
    return out


def _brute(ws: kuznia.Workspace, condition: str) -> set[str]:
    every = trace.list_uses(ws.store, limit=None, with_total=False).rows
    wanted = trace.parse_condition(condition)
    keep = set()
    for r in every:
        pairs = _pairs(r["conditions"])
        if all((not any(k == key for k, _ in pairs)) if value == "-"
               else (key, value) in pairs for key, value in wanted):
            keep.add(r["use_id"])
    return keep


@pytest.mark.parametrize("condition", ["ew=high", "ew=low", "night=1", "ew=-",
                                       "ew=high;night=1", "ew=hi_h", "ew=high%", "ew=",
                                       "fog=yes; ew=low", "ewx=-"])
def test_the_condition_filter_is_the_brute_force_reading(conditioned: kuznia.Workspace,
                                                         condition: str) -> None:
    got = trace.list_uses(conditioned.store, condition=condition, limit=None)
    assert {r["use_id"] for r in got.rows} == _brute(conditioned, condition)
    assert got.total == len(got.rows)
    assert got.filters["condition"] == condition


def test_a_condition_that_is_not_key_value_names_the_parameter(
        conditioned: kuznia.Workspace) -> None:
    for bad in ("ew", "=high", ";", ""):
        with pytest.raises(UsageError) as err:
            trace.list_uses(conditioned.store, condition=bad)
        assert err.value.params == ("condition",)


def test_the_pareto_by_condition_drills_down_to_exactly_its_failures(
        conditioned: kuznia.Workspace) -> None:
    for by in ("condition:ew", "condition:ew,version", "condition:night,condition:ew"):
        table = failures.failures(conditioned.store, "FPV-A", by=by)
        assert table.rows
        for row in table.rows:
            assert set(row["conditions"]) == {b.split(":", 1)[1] for b in by.split(",")
                                              if b.startswith("condition:")}
            assert "condition" in row["trace_filters"]
            assert "--condition" in row["trace"]
            behind = trace.list_uses(conditioned.store, **row["trace_filters"], limit=None)
            assert behind.total == row["failures"], (by, row)


def test_the_api_the_cli_and_the_page_take_the_condition(conditioned: kuznia.Workspace,
                                                         tmp_path: Path) -> None:
    want = _brute(conditioned, "ew=high")
    served = serve(conditioned, tmp_path / "srv")
    with TestClient(served.app) as client:
        r = client.get("/api/v1/uses", params={"condition": "ew=high", "limit": 1000,
                                               "total": True},
                       headers=served.headers("analyst"))
        assert r.status_code == 200
        assert {u["use_id"] for u in r.json()["rows"]} == want
        assert r.json()["total"] == len(want)
        bad = client.get("/api/v1/uses", params={"condition": "ew"},
                         headers=served.headers("analyst"))
        assert bad.status_code == 400 and bad.json()["params"] == ["condition"]
        page = client.get("/uses", params={"condition": "ew=high"},
                          headers=served.headers("analyst"))
        assert page.status_code == 200 and f"{len(want):,} uses match" in page.text
        assert 'name="condition" value="ew=high"' in page.text  # the filter stays set
    if conditioned.store.sqlite_file is None:
        return  # the CLI opens the file; PostgreSQL is the same service
    result = CliRunner().invoke(cli, ["uses", "--condition", "ew=high", "--limit", "0",
                                      "--db", str(conditioned.store.sqlite_file), "--json"])
    assert result.exit_code == 0, result.output
    assert {u["use_id"] for u in json.loads(result.output)["rows"]} == want
