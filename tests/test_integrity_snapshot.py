"""A report (and every multi-query answer) reads one snapshot: an import that commits
while it is being gathered is wholly absent from it, in every section."""

from __future__ import annotations

import csv
import threading
from pathlib import Path

import kuznia
from helpers import count, write_csv
from kuznia.report import charts
from test_import import USE_HEADER, use_row


def test_a_report_ignores_an_import_that_commits_meanwhile(filled: kuznia.Workspace,
                                                            tmp_path: Path, monkeypatch):
    before = count(filled, "uses")
    events_before = len(filled.audit_events().rows)
    f = write_csv(tmp_path / "u.csv", USE_HEADER, [use_row(f"S{i}") for i in range(500)])
    real = charts.cost_by_product
    done = []

    def import_meanwhile(*args, **kwargs):  # type: ignore[no-untyped-def]
        # runs after the report's first query: another writer imports and commits
        def other() -> None:
            with kuznia.open(filled.store.url) as other_ws:
                done.append(other_ws.import_file("uses", f).added)

        t = threading.Thread(target=other)
        t.start()
        t.join(60)
        return real(*args, **kwargs)

    monkeypatch.setattr(charts, "cost_by_product", import_meanwhile)
    path = filled.report(tmp_path / "r", with_uses=True)
    assert done == [500]  # the import did commit in the middle
    listed = sum(len(list(csv.DictReader(p.open())))
                 for p in (path.parent / "uses").rglob("*.csv"))
    assert listed == before  # the use lists, read last, match the figures read first
    html = path.read_text()
    assert f"intact ({events_before} events)" in html  # the audit section agrees too
    assert count(filled, "uses") == before + 500  # and a new answer sees it


def test_a_table_answer_reads_one_snapshot(filled: kuznia.Workspace, tmp_path: Path,
                                           monkeypatch):
    """cost_per_effect reads the cube, then prices: both from the same state."""
    f = write_csv(tmp_path / "u.csv", USE_HEADER, [use_row(f"T{i}") for i in range(50)])
    calls = []
    real = filled.store.read

    def reads():  # type: ignore[no-untyped-def]
        calls.append(1)
        if len(calls) == 2:  # between the answer's reads, another writer commits
            with kuznia.open(filled.store.url) as other:
                other.import_file("uses", f)
        return real()

    monkeypatch.setattr(filled.store, "read", reads)
    table = filled.cost_per_effect("product")
    assert len(calls) >= 2  # the answer did take more than one read
    assert sum(r["uses"] for r in table.rows) == 6
