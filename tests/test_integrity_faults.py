"""Faults inside a streamed import: every exit path ends the threads and frees the lock.

Each case injects an error at one stage of the reader/checker/writer pipeline (read,
check, write, quarantine, commit) of a file spanning many batches, runs the import in a
thread with a time limit, and then checks that the import ended, stored nothing, and that
another writer gets the write lock at once.
"""

from __future__ import annotations

import errno
import threading
from pathlib import Path

import pytest

import kuznia
from helpers import count, write_csv
from kuznia.errors import KuzniaError
from kuznia.ingest import readers
from kuznia.ingest.quarantine import Quarantine
from kuznia.services import audit, imports
from kuznia.services.table_writer import TableWriter

LIMIT_SECONDS = 60  # a hang fails the test instead of the CI run


class Boom(RuntimeError):
    pass


def _uses_file(tmp_path: Path, n: int = 3000, bad_line: int | None = None) -> Path:
    from test_import import USE_HEADER, use_row

    rows = [use_row(f"F{i:05d}", effects="NaN" if i + 2 == bad_line else 1) for i in range(n)]
    return write_csv(tmp_path / "many.csv", USE_HEADER, rows)


def _run_limited(fn) -> BaseException | None:  # type: ignore[no-untyped-def]
    box: list[BaseException | None] = [None]

    def target() -> None:
        try:
            fn()
        except BaseException as exc:  # noqa: BLE001 - inspected by the test
            box[0] = exc

    before = set(threading.enumerate())
    t = threading.Thread(target=target, daemon=True)
    t.start()
    t.join(LIMIT_SECONDS)
    assert not t.is_alive(), "the import hung"
    # every thread the import started has ended (the threads other tests in this process
    # keep, such as a served site's, are not the import's: counted before, not after)
    left = [x.name for x in threading.enumerate() if x not in before]
    assert left == [], f"the import left threads running: {left}"
    return box[0]


def _nth_call_raises(monkeypatch, owner, name: str, n: int, exc: BaseException) -> None:
    real = getattr(owner, name)
    calls = {"n": 0}

    def wrapped(*a, **kw):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] >= n:
            raise exc
        return real(*a, **kw)

    monkeypatch.setattr(owner, name, wrapped)


def _assert_clean(ws: kuznia.Workspace, uses_before: int) -> None:
    assert count(ws, "uses") == uses_before
    assert not [t for t in threading.enumerate() if t.name == "kuznia-prefetch"]
    with ws.store.write() as conn:  # the lock is free: this does not wait
        audit.next_event_id(conn)
    assert ws.verify_audit().ok


STAGES = {
    "read": lambda mp: _nth_call_raises(mp, readers, "_frame_of", 3, Boom("read")),
    "check": lambda mp: _nth_call_raises(mp, imports, "convert", 3, Boom("check")),
    "write": lambda mp: _nth_call_raises(mp, TableWriter, "write", 2, Boom("write")),
    "quarantine": lambda mp: _nth_call_raises(
        mp, Quarantine, "write", 2, OSError(errno.ENOSPC, "No space left on device")),
    "commit": lambda mp: _nth_call_raises(mp, audit, "append", 1, Boom("commit")),
}


@pytest.mark.parametrize("stage", list(STAGES))
def test_an_error_at_any_stage_ends_the_import_and_frees_the_lock(
        stage: str, filled: kuznia.Workspace, tmp_path: Path, monkeypatch):
    f = _uses_file(tmp_path)
    before = count(filled, "uses")
    STAGES[stage](monkeypatch)
    quarantine = tmp_path / "q.csv" if stage == "quarantine" else None
    exc = _run_limited(lambda: filled.import_file("uses", f, batch_rows=50,
                                                  quarantine=quarantine))
    assert exc is not None
    if stage == "quarantine":  # a full disk is said in words, not as an internal error
        assert isinstance(exc, KuzniaError) and "disk is full" in str(exc)
        assert not (tmp_path / "q.csv").exists()
        assert not list(tmp_path.glob(".q.csv.*"))
    monkeypatch.undo()
    _assert_clean(filled, before)


def test_one_bad_number_on_line_2_of_a_long_file(filled: kuznia.Workspace, tmp_path: Path):
    f = _uses_file(tmp_path, n=20_000, bad_line=2)
    before = count(filled, "uses")
    exc = _run_limited(lambda: filled.import_file("uses", f, batch_rows=500))
    assert isinstance(exc, KuzniaError)
    assert "many.csv:2: column effects" in str(exc)
    _assert_clean(filled, before)


def test_a_nan_price_in_a_long_contracts_file(filled: kuznia.Workspace, tmp_path: Path):
    rows = [[f"K{i}", "P002", "FPV-A", "2026-01-01", 10, "NaN" if i == 0 else 100, "USD"]
            for i in range(5000)]
    f = write_csv(tmp_path / "c.csv", ["contract_id", "producer_id", "product_id",
                                       "signed_on", "quantity", "unit_price", "currency"], rows)
    before = count(filled, "contracts")
    exc = _run_limited(lambda: filled.import_file("contracts", f, batch_rows=100))
    assert isinstance(exc, KuzniaError) and "c.csv:2: column unit_price" in str(exc)
    assert count(filled, "contracts") == before
    _assert_clean(filled, count(filled, "uses"))


def test_the_reading_thread_stops_when_the_consumer_leaves_early():
    from kuznia.ingest.prefetch import prefetch

    produced = []

    def endless():
        i = 0
        while True:
            produced.append(i)
            yield i
            i += 1

    with prefetch(endless()) as items:
        assert next(items) == 0
    n = len(produced)
    assert not [t for t in threading.enumerate() if t.name == "kuznia-prefetch"]
    assert len(produced) == n  # nothing more is read once the block is left
