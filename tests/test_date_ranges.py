"""One rule for a reversed date range, wherever dates are asked: a usage error that names
both dates (the parameters in each front end's words, and the values), never an empty
answer. A range of one day is not reversed."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

import kuznia
from kuznia.cli import app
from kuznia.errors import UsageError
from kuznia.services import audit, records
from server_helpers import PASSWORD, serve

runner = CliRunner()
LATE, EARLY = dt.date(2026, 3, 1), dt.date(2026, 1, 1)
WORDS = "(2026-01-01) is before"


def _audit_events(ws: kuznia.Workspace) -> None:
    with ws.store.read() as conn:
        audit.find_events(conn, date_from=LATE, date_to=EARLY)


@pytest.mark.parametrize("ask", [
    lambda ws: ws.cost_per_effect("product", LATE, EARLY),
    lambda ws: ws.uses(date_from=LATE, date_to=EARLY),
    lambda ws: ws.uses(date_from=LATE, date_to=EARLY, producer="P002", limit=None),
    lambda ws: ws.flags(LATE, EARLY),
    lambda ws: ws.ocds(date_from=LATE, date_to=EARLY),
    lambda ws: records.list_records(ws.store, "contracts", dates={"signed_on": (LATE, EARLY)}),
    lambda ws: _audit_events(ws),
], ids=["cost-per-effect", "uses", "uses-scoped", "flags", "ocds", "records", "audit"])
def test_the_python_api_refuses_a_reversed_range(filled: kuznia.Workspace, ask) -> None:
    with pytest.raises(UsageError) as e:
        ask(filled)
    assert WORDS in str(e.value) and "(2026-03-01)" in str(e.value)
    assert len(e.value.params) == 2


def test_one_day_is_a_range(filled: kuznia.Workspace) -> None:
    day = dt.date(2026, 2, 1)
    assert filled.cost_per_effect("product", day, day).rows is not None
    assert filled.uses(date_from=day, date_to=day).rows is not None


@pytest.mark.parametrize("args", [
    ["cost-per-effect", "--from", "2026-03-01", "--to", "2026-01-01"],
    ["uses", "--from", "2026-03-01", "--to", "2026-01-01"],
    ["oversight", "flags", "--from", "2026-03-01", "--to", "2026-01-01"],
])
def test_the_command_line_refuses_a_reversed_range(filled: kuznia.Workspace,
                                                   args: list[str]) -> None:
    res = runner.invoke(app, [*args, "--db", str(filled.store.url)])
    assert res.exit_code == 2, res.output
    assert "--to (2026-01-01) is before --from (2026-03-01)" in res.stderr


def test_export_ocds_refuses_a_reversed_range(filled: kuznia.Workspace, tmp_path: Path) -> None:
    out = tmp_path / "ocds.json"
    res = runner.invoke(app, ["export", "ocds", "--out", str(out), "--from", "2026-03-01",
                              "--to", "2026-01-01", "--db", str(filled.store.url)])
    assert res.exit_code == 2 and "--to (2026-01-01) is before" in res.stderr
    assert not out.exists()


API_PATHS = ("/api/v1/cost-per-effect?date_from=2026-03-01&date_to=2026-01-01",
             "/api/v1/uses?date_from=2026-03-01&date_to=2026-01-01",
             "/api/v1/oversight/flags?date_from=2026-03-01&date_to=2026-01-01",
             "/api/v1/contracts?signed_on_from=2026-03-01&signed_on_to=2026-01-01")
PAGE_PATHS = ("/uses?date_from=2026-03-01&date_to=2026-01-01",
              "/overview?date_from=2026-03-01&date_to=2026-01-01")


def test_the_api_and_the_pages_refuse_a_reversed_range(filled: kuznia.Workspace,
                                                       tmp_path: Path) -> None:
    served = serve(filled, tmp_path / "server-data")
    with TestClient(served.app) as client:
        for path in API_PATHS:
            r = client.get(path, headers=served.headers("admin"))
            assert r.status_code == 400, (path, r.text)
            assert WORDS in r.json()["detail"] and len(r.json()["params"]) == 2, path
        assert client.post("/api/v1/session", json={"name": "analyst", "password": PASSWORD}
                           ).status_code == 200
        for path in PAGE_PATHS:
            r = client.get(path, headers={"Accept": "text/html"})
            assert r.status_code == 400, path
            assert "is before" in r.text and "2026-01-01" in r.text, path
