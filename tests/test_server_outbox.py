"""Field records never wait for an import (services/use_outbox.py): while a real import
holds the write lock (stopped inside its transaction by its progress hook, never slept),
``POST /uses`` answers 202 at once; the record is stored exactly once when the import
ends, survives a server that stopped before writing it, and a record only the write can
refuse shows its problem on its status."""

from __future__ import annotations

import io
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

import kuznia
from kuznia.server.app import create_app
from kuznia.server.outbox import Drainer
from kuznia.services import use_outbox
from kuznia.services.imports import import_file
from kuznia.services.store import open_store
from kuznia.store.schema import audit_events, uses
from server_helpers import Served, serve

API = "/api/v1"
COLUMNS = ("use_id,used_on,operator,product_id,version,producer_id,lot,units_used,effects,"
           "outcome,failure_mode,conditions,notes")
FIELD = {"use_id": "F-1", "used_on": "2026-04-02", "product_id": "FPV-A", "version": "v1",
         "lot": "L-0001", "units_used": 1, "effects": 2, "outcome": "effect"}
U0001 = {"use_id": "U0001", "used_on": "2026-02-10", "operator": "OP-01", "product_id": "FPV-A",
         "version": "v1", "producer_id": "P002", "lot": "L-0001", "units_used": 1, "effects": 1,
         "outcome": "effect", "conditions": "ew=high;night=1"}  # as examples/uses.csv has it
BOUND = 20  # seconds: on the old code the answer came only when the import ended


@pytest.fixture
def served(filled: kuznia.Workspace, tmp_path: Path) -> Served:
    return serve(filled, tmp_path / "server-data")


def _import_file(use_ids: list[str]) -> bytes:
    rows = [f"{u},2026-04-01,OP-09,FPV-A,v1,P002,L-0001,1,1,effect,,," for u in use_ids]
    return ("\n".join([COLUMNS, *rows]) + "\n").encode()


@contextmanager
def import_running(store: Any, use_ids: list[str]) -> Iterator[threading.Event]:
    """A real import of ``use_ids``, held inside its write transaction (its progress hook
    waits) until the block ends; yields the event that lets it finish early."""
    held, release = threading.Event(), threading.Event()
    failed: list[BaseException] = []

    def hold(_done: int, _total: int) -> None:
        held.set()
        release.wait()

    def run() -> None:
        try:
            import_file(store, "uses", io.BytesIO(_import_file(use_ids)), actor="engineer",
                        name="big.csv", progress=hold, batch_rows=1)
        except BaseException as exc:  # noqa: BLE001 - shown by the test
            failed.append(exc)
            held.set()

    importer = threading.Thread(target=run)
    importer.start()
    try:
        assert held.wait(60) and not failed, failed
        yield release
    finally:
        release.set()
        importer.join()
    assert not failed, failed


def _post(client: TestClient, served: Served, record: dict[str, Any]) -> Any:
    """POST /uses from another thread, bounded: it must not wait for the import."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(client.post, f"{API}/uses", json=record,
                           headers=served.headers("engineer")).result(timeout=BOUND)


def _drained(app: Any) -> None:
    """Queue a drain (as the heartbeat does while records wait; a drain queued while the
    import held the lock may have given up) and wait until the job worker (one thread,
    first come first served) has run it."""
    app.state.drainer.kick()
    app.state.executor.submit(lambda: None).result(timeout=120)


def _events(store: Any) -> int:
    with store.read() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(audit_events)).scalar()


def _stored(store: Any, use_id: str) -> list[Any]:
    with store.read() as conn:
        return conn.execute(sa.select(uses.c.use_id, uses.c.effects)
                            .where(uses.c.use_id == use_id)).all()


def test_a_field_record_does_not_wait_for_an_import_and_is_stored_once(
        served: Served) -> None:
    store = served.ws.store
    before = _events(store)
    with TestClient(served.app) as client:
        with import_running(store, ["BIG-1", "BIG-2", "BIG-3"]) as release:
            r = _post(client, served, FIELD)
            assert release.is_set() is False  # answered while the import held the lock
            assert r.status_code == 202, r.text
            body = r.json()
            assert body["status"] == "waiting" and body["problems"] == []
            assert r.headers["location"] == f"{API}/uses/outbox/F-1" == body["href"]
            again = _post(client, served, FIELD)  # the field form's retry: the same row
            assert again.status_code == 202 and again.json()["received_at"] == \
                body["received_at"]
            other = _post(client, served, {**FIELD, "effects": 3})
            assert other.status_code == 409 and "waiting" in other.json()["detail"]
            # a use stored before the import: the same record is a 200 at once, another
            # record under its use_id a 409 at once, neither kept to wait
            assert _post(client, served, U0001).status_code == 200
            changed = _post(client, served, {**U0001, "effects": 5})
            assert changed.status_code == 409 and "stored with other" in \
                changed.json()["detail"]
            # a bad record is refused at once, with an import's problems, and not kept
            bad = _post(client, served, {**FIELD, "use_id": "F-2", "lot": "L-NOPE"})
            assert bad.status_code == 422, bad.text
            assert [p["column"] for p in bad.json()["problems"]] == ["lot"]
            assert use_outbox.waiting(store) == 1
            status = client.get(r.headers["location"], headers=served.headers("engineer"))
            assert status.json()["status"] == "waiting"
            assert _stored(store, "F-1") == []
        _drained(served.app)
        status = client.get(f"{API}/uses/outbox/F-1", headers=served.headers("engineer"))
        assert status.status_code == 200 and status.json()["status"] == "stored"
        assert status.json()["event_id"] is not None
        # sent once more, now stored: 200 and nothing written
        assert client.post(f"{API}/uses", json=FIELD,
                           headers=served.headers("engineer")).status_code == 200
    assert _stored(store, "F-1") == [("F-1", 2)]
    assert _events(store) == before + 2  # the import's event and the record's, no more


def test_a_record_acknowledged_is_stored_after_a_restart(served: Served,
                                                        monkeypatch: pytest.MonkeyPatch
                                                        ) -> None:
    store = served.ws.store
    with monkeypatch.context() as m:
        m.setattr(Drainer, "kick", lambda self: None)  # the server dies before it drains
        m.setattr(Drainer, "kick_if_waiting", lambda self: None)
        with TestClient(served.app) as client, import_running(store, ["BIG-1"]):
            r = _post(client, served, FIELD)
            assert r.status_code == 202, r.text
    assert _stored(store, "F-1") == []
    assert use_outbox.waiting(store) == 1
    # a new server process on the same workspace (its own store, engines and files)
    again = open_store(store.url)
    try:
        app = create_app(again, data_dir=served.data_dir)
        with TestClient(app) as client:
            _drained(app)
            status = client.get(f"{API}/uses/outbox/F-1", headers=served.headers("engineer"))
            assert status.json()["status"] == "stored", status.text
        assert _stored(again, "F-1") == [("F-1", 2)]
        assert use_outbox.waiting(again) == 0
    finally:
        again.close()


def test_a_record_only_the_write_can_refuse_shows_its_problem(served: Served) -> None:
    store = served.ws.store
    with TestClient(served.app) as client:
        # the import running stores F-1 itself, with other content: checked without the
        # lock, the field record looked new
        with import_running(store, ["F-1"]):
            r = _post(client, served, FIELD)
            assert r.status_code == 202, r.text
        _drained(served.app)
        status = client.get(f"{API}/uses/outbox/F-1", headers=served.headers("engineer"))
        body = status.json()
        assert body["status"] == "rejected", body
        (problem,) = body["problems"]
        assert problem["column"] == "use_id" and problem["value"] == "F-1"
        assert "already stored with other content" in problem["message"]
        assert set(problem) == {"file", "line", "column", "message", "value"}
        # another engineer does not see the sender's outbox row
        accounts_mod = __import__("kuznia.services.accounts", fromlist=["x"])
        accounts_mod.add_user(store, "engineer2", "engineer", actor="tester",
                              password="correct horse battery")
        token = accounts_mod.issue_token(store, "engineer2", actor="tester")
        seen = client.get(f"{API}/uses/outbox/F-1",
                          headers={"Authorization": f"Bearer {token}"}).json()
        assert seen["status"] == "stored" and seen["problems"] == []  # the import's use
        # a producer may not ask at all
        assert client.get(f"{API}/uses/outbox/F-1",
                          headers=served.headers("producer")).status_code == 403
    assert _stored(store, "F-1") == [("F-1", 1)]  # the import's row, untouched


def test_a_waiting_record_is_in_the_backup_and_stored_after_a_restore(
        filled: kuznia.Workspace, tmp_path: Path) -> None:
    from kuznia.services import backup as backups
    from kuznia.services import restore as restores

    # received while an import ran; the server stopped before it drained
    use_outbox.receive(filled.store, FIELD, actor="engineer")
    out = tmp_path / "ws.kuznia-backup"
    made = backups.backup(filled.store.url, out)
    assert made.to_dict()["rows"]["use_outbox"] == 1
    restored = tmp_path / "restored.db"
    restores.restore(out, str(restored))
    store = open_store(str(restored))
    try:
        assert use_outbox.waiting(store) == 1
        done = use_outbox.drain(store, lock_wait=5)
        assert (done.stored, done.rejected, done.left) == (1, 0, 0)
        assert _stored(store, "F-1") == [("F-1", 2)]
        assert use_outbox.status(store, "F-1", actor="engineer")["status"] == "stored"
        assert use_outbox.drain(store).stored == 0  # drained once: nothing waits
    finally:
        store.close()
