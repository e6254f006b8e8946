"""The audit trail covers the data: direct edits of rows, prices, settings or the kept
aggregates, deleted events and cut-off heads are all found, and named."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

import kuznia
from helpers import write_csv
from kuznia.cli import app
from kuznia.store.engine import downgrade, upgrade
from test_import import USE_HEADER, use_row


def _sql(ws: kuznia.Workspace, statement: str) -> None:
    with ws.store.engine.begin() as conn:
        conn.exec_driver_sql(statement)


def test_a_clean_workspace_passes_deep(filled: kuznia.Workspace, example_dir: Path,
                                       tmp_path: Path):
    # updates, quarantine imports and repeats keep the digests true
    text = (example_dir / "contracts.csv").read_text()
    f = tmp_path / "c.csv"
    f.write_text(text.replace("1000,495,USD", "1000,499,USD"))
    filled.import_file("contracts", f, update=True)
    u = write_csv(tmp_path / "u.csv", USE_HEADER, [use_row("Z1"), use_row("Z2", effects=-1),
                                                   use_row("U0001", effects=2)])
    filled.import_file("uses", u, quarantine=tmp_path / "q.csv", update=True)
    check = filled.verify_audit(deep=True)
    assert check.ok, check
    assert check.rows_checked and check.rows_checked > 20


EDITS = {
    "a use's effects": ("UPDATE uses SET effects = effects + 1 WHERE use_id = 'U0002'",
                        "uses", "U0002"),
    "a contract's price": ("UPDATE contracts SET unit_price_ws = 1 WHERE contract_id = 'C002'",
                           "contracts", "C002"),
    "a row inserted": ("INSERT INTO producers (producer_id, name, kind, region, event_id) "
                       "VALUES ('PX', 'x', 'state', 'r', 2)", "producers", "PX"),
    "a row's event": ("UPDATE deliveries SET event_id = 999 WHERE delivery_id = 'D001'",
                      "deliveries", "D001"),
    "a row deleted": ("DELETE FROM strikes", "strikes", None),
    "a rehashed row": ("UPDATE offers SET unit_price = 1, row_hash = 7", "offers", None),
    "the kept aggregate": ("UPDATE use_cube SET effects = effects + 5", "use_cube", None),
    "a setting": ("UPDATE settings SET value = 'EUR' WHERE key = 'currency'", "settings",
                  None),
}


@pytest.mark.parametrize("edit", list(EDITS))
def test_a_direct_edit_is_found_by_deep_and_named(filled: kuznia.Workspace, edit: str):
    statement, table, key = EDITS[edit]
    _sql(filled, statement)
    assert filled.verify_audit().ok  # the events alone cannot see it
    check = filled.verify_audit(deep=True)
    assert not check.ok
    assert check.table == table, check
    if key is not None:
        assert check.key == key, check


def test_deleted_events_are_an_error(filled: kuznia.Workspace, tmp_path: Path):
    _sql(filled, "DELETE FROM audit_events")
    check = filled.verify_audit()
    assert not check.ok and "empty" in check.reason
    # the next write restarts the chain at 1: still an error
    f = write_csv(tmp_path / "u.csv", USE_HEADER, [use_row("R1")])
    filled.import_file("uses", f)
    check = filled.verify_audit()
    assert not check.ok and "restarted" in check.reason


def test_a_head_kept_elsewhere_finds_cut_off_events(filled: kuznia.Workspace, tmp_path: Path):
    runner = CliRunner()
    db = filled.store.url
    r = runner.invoke(app, ["audit", "head", "--db", db])
    assert r.exit_code == 0
    head = r.stdout.strip().splitlines()[-1]
    assert len(head) == 64
    f = write_csv(tmp_path / "u.csv", USE_HEADER, [use_row("H1")])
    filled.import_file("uses", f)
    check = filled.verify_audit(expect_head=head)
    assert check.ok and check.events_after_expected_head == 1
    # cut the newest two events off: the chain alone still holds, the anchor does not
    _sql(filled, "DELETE FROM audit_events WHERE event_id >= (SELECT max(event_id) - 1 FROM "
                 "audit_events)")
    assert filled.verify_audit().ok
    r = runner.invoke(app, ["audit", "verify", "--expect-head", head, "--db", db])
    assert r.exit_code == 1 and "cut off" in r.output


def test_deep_from_the_command_line(filled: kuznia.Workspace):
    runner = CliRunner()
    db = filled.store.url
    r = runner.invoke(app, ["audit", "verify", "--deep", "--db", db])
    assert r.exit_code == 0 and "rows match" in r.output
    _sql(filled, "UPDATE uses SET notes = 'changed' WHERE use_id = 'U0003'")
    r = runner.invoke(app, ["audit", "verify", "--deep", "--db", db])
    assert r.exit_code == 1 and "uses U0003" in r.output


def test_an_upgraded_workspace_gets_hashes_and_a_migrate_event(
        filled_before_licences: kuznia.Workspace):
    filled = filled_before_licences
    downgrade(filled.store.engine, "0004")
    upgrade(filled.store.engine)
    events = filled.audit_events().rows
    assert events[-1]["action"] == "migrate"
    assert filled.verify_audit(deep=True).ok
