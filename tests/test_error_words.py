"""Services speak in parameters; each adapter says them in its own words."""

from __future__ import annotations

import datetime as dt

import pytest
from typer.testing import CliRunner

import kuznia
from kuznia.cli import app
from kuznia.errors import NotFoundError, UsageError

runner = CliRunner()


def test_the_python_api_names_parameters(filled: kuznia.Workspace):
    with pytest.raises(UsageError) as e:
        filled.cost_per_effect("product", dt.date(2026, 3, 1), dt.date(2026, 1, 1))
    assert str(e.value) == "date_to (2026-01-01) is before date_from (2026-03-01)"
    assert e.value.params == ("date_to", "date_from")
    assert e.value.render(lambda p: f"`{p}`") == \
        "`date_to` (2026-01-01) is before `date_from` (2026-03-01)"
    with pytest.raises(NotFoundError) as e:
        filled.growth("NOPE")
    assert e.value.http_status == 404


@pytest.mark.parametrize("args,words", [
    (["cost-per-effect", "--from", "2026-03-01", "--to", "2026-01-01"],
     "--to (2026-01-01) is before --from (2026-03-01)"),
    (["resilience", "duplicate", "--candidates", "x.csv", "--budget", "1", "--weight",
      "FPV-A=-1"], "--weight FPV-A must be at least 0"),
    (["plan", "allocate", "--budget", "10", "--without-producer", "PX"],
     "--without-producer names PX"),
    (["import", "nope", "x.csv"], "unknown TABLE 'nope'"),
    (["uses", "--month", "2026"], "--month takes YYYY-MM"),
    (["growth", "--product", "NOPE"], "no product 'NOPE'"),
])
def test_the_command_line_names_options(filled: kuznia.Workspace, args: list[str],
                                        words: str):
    r = runner.invoke(app, [*args, "--db", filled.store.url])
    assert r.exit_code == 2, r.output
    assert words in r.output


def test_an_import_error_suggests_quarantine_only_where_it_exists(filled: kuznia.Workspace,
                                                                  tmp_path):
    bad = tmp_path / "u.csv"
    bad.write_text("use_id,used_on,product_id,effects,outcome\nX,2026-13-01,FPV-A,1,effect\n")
    r = runner.invoke(app, ["import", "uses", str(bad), "--db", filled.store.url])
    assert r.exit_code == 1 and "--quarantine" in r.output
    offers = tmp_path / "o.csv"
    offers.write_text("product_id,producer_id,unit_price,capacity\nFPV-A,P002,x,1\n")
    r = runner.invoke(app, ["plan", "allocate", "--budget", "10", "--offers", str(offers),
                            "--db", filled.store.url])
    assert r.exit_code == 1 and "--quarantine" not in r.output
