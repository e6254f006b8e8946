"""The server as a real process (``kuznia serve``) on loopback: several workers on
PostgreSQL writing at once keep the audit chain linear and lose no write; a kill during
an import job leaves nothing half-stored, and the job is failed when the server is back."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

import kuznia
from conftest import pg_schema
from kuznia.ingest.tables import IMPORT_ORDER
from kuznia.server.app import create_app
from kuznia.services import accounts, audit, audit_check
from kuznia.store.schema import uses as uses_table

DEADLINE = 120.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def running(db: str, tmp: Path, workers: int = 1, extra: tuple[str, ...] = ()
            ) -> Iterator[tuple[str, subprocess.Popen]]:
    """``kuznia serve`` in a process of its own; ready once every worker said so."""
    port = free_port()
    env = {**os.environ, "KUZNIA_DATA_DIR": str(tmp / "server-data")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "kuznia", "serve", "--db", db, "--port", str(port),
         "--workers", str(workers), *extra], stderr=subprocess.PIPE, text=True, env=env)
    try:
        ready = 0
        assert proc.stderr is not None
        for line in proc.stderr:  # blocks on the server's own words, no polling
            if "Application startup complete" in line:
                ready += 1
                if ready == workers:
                    break
        assert ready == workers, "the server did not start"
        yield f"http://127.0.0.1:{port}/api/v1", proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _count(store: object) -> int:
    with store.read() as conn:  # type: ignore[attr-defined]
        return int(conn.execute(sa.select(sa.func.count()).select_from(uses_table)).scalar())


@pytest.fixture
def pg_filled(example_dir: Path) -> Iterator[tuple[kuznia.Workspace, str]]:
    """A PostgreSQL workspace with the examples (several workers serve PostgreSQL only)."""
    with pg_schema() as url, kuznia.init(url, "USD", actor="tester") as ws:
        for table in IMPORT_ORDER:
            ws.import_file(table, example_dir / f"{table}.csv")
        yield ws, url


@pytest.mark.postgres
def test_workers_writing_at_once_lose_nothing(pg_filled: tuple[kuznia.Workspace, str],
                                              tmp_path: Path) -> None:
    filled, db_url = pg_filled
    token = accounts.issue_token(filled.store, accounts.add_user(
        filled.store, "eng", "engineer", actor="tester") and "eng", actor="tester")
    before = _count(filled.store)
    with running(db_url, tmp_path, workers=2) as (base, _):
        def send(client_no: int) -> list[int]:
            codes = []
            with httpx.Client(base_url=base, timeout=DEADLINE,
                              headers={"Authorization": f"Bearer {token}"}) as client:
                for i in range(8):
                    r = client.post("/uses", json={
                        "use_id": f"C{client_no}-{i}", "used_on": "2026-06-01",
                        "product_id": "FPV-A", "lot": "L-0002", "effects": 1,
                        "outcome": "effect"})
                    codes.append(r.status_code)
            return codes

        with ThreadPoolExecutor(6) as pool:
            codes = [c for cs in pool.map(send, range(6)) for c in cs]
    # each is stored at once (201), or, when the other worker's write held the lock past
    # half a second, kept in the outbox (202) and stored by a drain: none lost, none twice
    assert set(codes) <= {201, 202} and len(codes) == 48
    from kuznia.services import use_outbox

    use_outbox.drain(filled.store)  # what a worker still running would do next
    assert use_outbox.waiting(filled.store) == 0
    assert _count(filled.store) == before + 48
    with filled.store.read() as conn:
        check = audit_check.verify(conn)
        events = audit.list_events(conn, 0)
    assert check.ok
    ids = sorted(e["event_id"] for e in events)
    assert ids == list(range(ids[0], ids[0] + len(ids)))  # one chain, no gap, no fork
    assert sum(e["actor"] == "eng" for e in events) == 48


@pytest.mark.postgres
def test_every_worker_flags_at_the_thresholds_the_server_was_given(
        pg_filled: tuple[kuznia.Workspace, str], tmp_path: Path) -> None:
    filled, db_url = pg_filled
    accounts.add_user(filled.store, "aud", "auditor", actor="tester")
    token = accounts.issue_token(filled.store, "aud", actor="tester")
    cfg = tmp_path / "flags.toml"
    cfg.write_text("[concentration]\nmin_units = 100000000\n")
    with running(db_url, tmp_path, workers=2, extra=("--oversight-config", str(cfg))) as (
            base, _):
        with httpx.Client(base_url=base, timeout=DEADLINE,
                          headers={"Authorization": f"Bearer {token}"}) as client:
            got = [client.get("/oversight/flags").json() for _ in range(8)]
    assert {g["config"]["concentration"]["min_units"] for g in got} == {100_000_000}
    assert not any(f["code"] == "concentration" for g in got for f in g["flags"])


def test_a_kill_during_an_import_stores_nothing(tmp_path: Path, example_dir: Path) -> None:
    db = str(tmp_path / "ws.db")
    with kuznia.init(db, "USD", actor="tester") as ws:
        for table in IMPORT_ORDER:
            ws.import_file(table, example_dir / f"{table}.csv")
        accounts.add_user(ws.store, "eng", "engineer", actor="tester")
        token = accounts.issue_token(ws.store, "eng", actor="tester")
        before = _count(ws.store)
    big = tmp_path / "many-uses.csv"
    with big.open("w") as f:
        f.write("use_id,used_on,product_id,lot,effects,outcome\n")
        for i in range(400_000):
            f.write(f"K{i:07d},2026-06-01,FPV-A,L-0002,1,effect\n")
    headers = {"Authorization": f"Bearer {token}"}
    with running(db, tmp_path) as (base, proc):
        with httpx.Client(base_url=base, timeout=DEADLINE, headers=headers) as client:
            with big.open("rb") as f:
                r = client.post("/imports/uses", files={"file": ("many-uses.csv", f)},
                                params={"wait": "false"})
            assert r.status_code == 202, r.text
            href = r.headers["location"].removeprefix("/api/v1")
            job: dict = {}
            for _ in range(100_000):  # until it has rows in hand (each GET is a real call)
                job = client.get(href).json()
                if job["status"] == "running" and job["rows_read"] > 0:
                    break
                assert job["status"] in ("queued", "running"), job
            assert job["status"] == "running"
        proc.kill()  # mid-import, no goodbye
        proc.wait()
    with kuznia.open(db) as ws:
        assert _count(ws.store) == before  # nothing half-stored
        with TestClient(create_app(ws.store, data_dir=tmp_path / "server-data")) as client:
            got = client.get(f"/api/v1{href}", headers=headers).json()
        assert got["status"] == "failed"
        assert "nothing of it was stored" in got["result"]["error"]["message"]
        with ws.store.read() as conn:
            assert audit_check.verify(conn).ok


def test_serve_on_a_taken_port_says_so(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from kuznia.cli import app as cli

    db = str(tmp_path / "ws.db")
    kuznia.init(db, "USD", actor="tester").close()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        r = CliRunner().invoke(cli, ["serve", "--db", db, "--port", str(port)])
    assert r.exit_code == 2, r.output
    assert f"cannot listen on 127.0.0.1:{port}" in r.output and "--port" in r.output
