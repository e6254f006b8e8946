"""The hash-chained audit trail: intact chains pass; edits, removals, reorders are named."""

from __future__ import annotations

import pytest

import kuznia
from kuznia.services.audit import GENESIS, event_hash
from kuznia.services.audit_check import verify_chain


def _tamper(ws: kuznia.Workspace, sql: str) -> None:
    with ws.store.engine.begin() as conn:
        conn.exec_driver_sql(sql)


def test_every_write_appends_one_linked_event(filled: kuznia.Workspace):
    events = filled.audit_events()
    assert events[0]["action"] == "init" and events[0]["prev_hash"] == GENESIS
    for prev, event in zip(events, events[1:], strict=False):
        assert event["prev_hash"] == prev["hash"]
        assert event["hash"] == event_hash(event)
    uses = [e for e in events if e["table_name"] == "uses"]
    assert len(uses) == 1 and uses[0]["rows_added"] == 6
    assert len(uses[0]["file_sha256"]) == 64 and uses[0]["actor"] == "tester"
    check = filled.verify_audit()
    assert check.ok and check.checked == len(events) and check.head == events[-1]["hash"]


def test_an_edited_event_is_named(filled: kuznia.Workspace):
    _tamper(filled, "UPDATE audit_events SET rows_added = 5 WHERE event_id = 8")
    check = filled.verify_audit()
    assert not check.ok and check.first_bad_event == 8 and "edited" in check.reason


def test_an_edit_with_a_recomputed_hash_breaks_the_next_link(filled: kuznia.Workspace):
    events = filled.audit_events()
    forged = dict(events[3], actor="someone else")
    forged["hash"] = event_hash(forged)
    _tamper(filled, f"UPDATE audit_events SET actor = 'someone else', hash = '{forged['hash']}' "
                    f"WHERE event_id = {forged['event_id']}")
    check = filled.verify_audit()
    assert not check.ok and check.first_bad_event == forged["event_id"] + 1


def test_a_removed_event_is_named(filled: kuznia.Workspace):
    _tamper(filled, "DELETE FROM audit_events WHERE event_id = 4")
    check = filled.verify_audit()
    assert not check.ok and check.first_bad_event == 5


def test_reordered_events_are_named():
    events = []
    prev = GENESIS
    for i in range(1, 5):
        e = {"event_id": i, "at": f"2026-01-0{i}", "actor": "a", "action": "import",
             "table_name": "uses", "file_name": f"f{i}", "file_sha256": "0" * 64,
             "rows_added": i, "rows_updated": 0, "rows_unchanged": 0, "rows_rejected": 0,
             "detail": "{}", "prev_hash": prev}
        e["hash"] = event_hash(e)
        prev = e["hash"]
        events.append(e)
    assert verify_chain(events).ok
    swapped = [events[0], events[2], events[1], events[3]]
    check = verify_chain(swapped)
    assert not check.ok and check.first_bad_event == 3


@pytest.mark.parametrize("column", ["file_sha256", "detail", "at"])
def test_any_hashed_field_counts(filled: kuznia.Workspace, column: str):
    _tamper(filled, f"UPDATE audit_events SET {column} = 'x' WHERE event_id = 2")
    assert filled.verify_audit().first_bad_event == 2
