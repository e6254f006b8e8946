"""A standby site: every command takes libpq's multi-host URL and follows the read-write
host; the server answers 503 with Retry-After (never 500) while there is no primary,
reconnects without a restart, says which store serves it and how far behind the standby
is, and logs a failover. The failover test starts its own primary and synchronous standby
where the PostgreSQL server binaries exist."""

from __future__ import annotations

import glob
import logging
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.engine import make_url
from typer.testing import CliRunner

import kuznia
from conftest import EXAMPLES, pg_schema
from kuznia.cli import app
from kuznia.ingest.tables import IMPORT_ORDER
from kuznia.server.app import create_app
from kuznia.services import accounts, audit
from kuznia.services.health import store_health
from server_helpers import serve

API = "/api/v1"
DEAD = "127.0.0.1:1"  # a loopback port nothing listens on: refused at once


def _multi_host(url: str, *hosts: str) -> str:
    """``url`` (one host) as libpq's multi-host form over ``hosts`` ("LIVE" is its own)."""
    u = make_url(url)
    live = f"{u.host}:{u.port or 5432}"
    query = [("host", live if h == "LIVE" else h) for h in hosts]
    query += [(k, v) for k, vs in u.query.items() for v in ([vs] if isinstance(vs, str)
                                                              else vs)]
    query.append(("target_session_attrs", "read-write"))
    from urllib.parse import quote, urlencode

    user = quote(u.username or "", safe="")
    return f"{u.drivername}://{user}@/{u.database}?{urlencode(query)}"


def _said(result) -> str:  # type: ignore[no-untyped-def]
    return " ".join(result.output.split())


@pytest.mark.postgres
@pytest.mark.parametrize("hosts", [(DEAD, "LIVE"), ("LIVE", DEAD)],
                         ids=["first-host-down", "standby-down"])
def test_every_command_takes_a_multi_host_url_and_reaches_the_read_write_host(hosts,
                                                                               tmp_path):
    run = CliRunner()
    with pg_schema() as url:
        multi = _multi_host(url, *hosts)
        assert run.invoke(app, ["init", "--db", multi]).exit_code == 0
        for table in IMPORT_ORDER:
            done = run.invoke(app, ["import", table, str(EXAMPLES / f"{table}.csv"),
                                    "--db", multi])
            assert done.exit_code == 0, done.output
        one = run.invoke(app, ["cost-per-effect", "--db", url, "--json"])
        many = run.invoke(app, ["cost-per-effect", "--db", multi, "--json"])
        assert many.exit_code == 0 and many.output == one.output
        assert run.invoke(app, ["audit", "verify", "--deep", "--db", multi]).exit_code == 0
        assert run.invoke(app, ["backup", "--out", str(tmp_path / "b.zip"),
                                "--db", multi]).exit_code == 0
        with kuznia.open(multi) as ws:
            with ws.store.read() as conn:
                port = conn.exec_driver_sql("SELECT inet_server_port()").scalar()
            assert port == (make_url(url).port or 5432)
            served = serve(ws, tmp_path / "data", with_producer=False)
            with TestClient(served.app) as client:
                health = client.get(f"{API}/health").json()
            assert (health["store"], health["writable"], health["role"]) == \
                ("postgresql", True, "primary")
            assert isinstance(health["replication"]["standbys"], list)


def test_a_store_nobody_answers_for_is_said_in_words(tmp_path):
    multi = f"postgresql+psycopg://kuznia@/kuznia?host={DEAD}&host=127.0.0.1:2" \
            "&target_session_attrs=read-write&connect_timeout=2"
    run = CliRunner()
    for args in (["cost-per-effect"], ["audit", "verify"], ["serve", "--port", "8765"],
                 ["backup", "--out", str(tmp_path / "b.zip")]):
        result = run.invoke(app, [*args, "--db", multi])
        assert result.exit_code == 1, result.output
        assert "cannot reach the workspace's database" in _said(result)
    assert not (tmp_path / "b.zip").exists()


def test_health_on_sqlite_says_which_store_and_that_it_is_writable(filled, tmp_path):
    served = serve(filled, tmp_path / "data")
    with TestClient(served.app) as client:
        health = client.get(f"{API}/health")
    assert health.status_code == 200
    body = health.json()
    assert body["store"] == filled.store.dialect and body["writable"] is True
    if filled.store.dialect == "sqlite":
        assert body["replication"] is None and body["role"] is None


def test_a_lost_connection_is_a_503_with_retry_after_never_a_500(filled, tmp_path,
                                                                  monkeypatch):
    import psycopg

    from kuznia.server.auth import SESSION_COOKIE
    from kuznia.services import health, sessions

    served = serve(filled, tmp_path / "data")

    def lost(_store):  # type: ignore[no-untyped-def]
        raise sa.exc.OperationalError("SELECT 1", {}, psycopg.OperationalError(
            "server closed the connection unexpectedly"))

    monkeypatch.setattr(health, "store_health", lost)
    with TestClient(served.app, raise_server_exceptions=False) as client:
        answer = client.get(f"{API}/health")
        assert answer.status_code == 503, answer.text
        assert answer.headers["Retry-After"] == "2"
        assert "try again shortly" in answer.json()["detail"]
        # a page whose session cannot be read: a 503 page, not a 500
        monkeypatch.setattr(sessions, "find_session", lambda *_a, **_k: lost(None))
        client.cookies.set(SESSION_COOKIE, "some-session")
        page = client.get("/board")
        assert page.status_code == 503 and page.headers["Retry-After"] == "2"
        assert "try again shortly" in page.text


# --- a primary, a synchronous standby, and a failover ------------------------------------

BIN = sorted(glob.glob("/usr/lib/postgresql/*/bin"))
NEEDED = ("initdb", "pg_ctl", "pg_basebackup", "postgres")


def _why_no_clusters() -> str | None:
    if not BIN or not all((Path(BIN[-1]) / b).exists() for b in NEEDED):
        return "the PostgreSQL server binaries (initdb, pg_ctl, pg_basebackup) are not in " \
               "/usr/lib/postgresql/*/bin"
    if os.geteuid() == 0:
        if shutil.which("runuser") is None:
            return "running as root, and no runuser to start PostgreSQL as another user"
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root, and no 'postgres' user to run PostgreSQL as"
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Cluster:
    data: Path
    port: int
    log: Path


class Clusters:
    """Two PostgreSQL clusters of our own on loopback ports, in a temporary folder."""

    def __init__(self, base: Path):
        self.base = base
        self.bin = Path(BIN[-1])
        self.primary = Cluster(base / "primary", _free_port(), base / "primary.log")
        self.standby = Cluster(base / "standby", _free_port(), base / "standby.log")

    def run(self, *args: str) -> None:
        cmd = [str(self.bin / args[0]), *args[1:]]
        if os.geteuid() == 0:  # initdb and postgres refuse root
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
        if done.returncode:
            logs = "".join(c.log.read_text() for c in (self.primary, self.standby)
                           if c.log.exists())
            raise AssertionError(f"{args}: {done.stdout}{done.stderr}{logs[-3000:]}")

    def conf(self, c: Cluster, lines: list[str], file: str = "postgresql.conf") -> None:
        with open(c.data / file, "a") as f:
            f.write("\n".join(lines) + "\n")

    def start(self, c: Cluster) -> None:
        self.run("pg_ctl", "-D", str(c.data), "-l", str(c.log), "-w", "-t", "30", "start")

    def url(self, c: Cluster, db: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{c.port}/{db}"

    def up(self) -> None:
        p, s = self.primary, self.standby
        self.run("initdb", "-D", str(p.data), "-U", "postgres", "--auth=trust", "-E", "UTF8",
                 "--no-sync")
        self.conf(p, [f"port = {p.port}", "listen_addresses = '127.0.0.1'",
                      f"unix_socket_directories = '{self.base}'", "wal_level = replica",
                      "max_wal_senders = 4", "hot_standby = on", "fsync = off",
                      "synchronous_commit = remote_apply",
                      "synchronous_standby_names = 'standby1'", "shared_buffers = 16MB"])
        self.start(p)
        self.run("pg_basebackup", "-h", "127.0.0.1", "-p", str(p.port), "-U", "postgres",
                 "-D", str(s.data), "-R", "-X", "stream", "--checkpoint=fast", "--no-sync")
        # the standby: its own port; no synchronous standby of its own once promoted
        self.conf(s, [f"port = {s.port}", "synchronous_standby_names = ''"])
        self.conf(s, [f"primary_conninfo = 'host=127.0.0.1 port={p.port} user=postgres "
                      "application_name=standby1'"], "postgresql.auto.conf")
        self.start(s)
        self.wait_for(lambda c: c.exec_driver_sql(
            "SELECT count(*) FROM pg_stat_replication WHERE sync_state = 'sync'").scalar(),
            self.url(p))

    def wait_for(self, ready, url: str, seconds: float = 30) -> None:  # type: ignore[no-untyped-def]
        """Poll an outside process's state (a server's, not ours: no clock to inject)."""
        engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
        deadline = time.monotonic() + seconds
        try:
            while True:
                try:
                    with engine.connect() as conn:
                        if ready(conn):
                            return
                except sa.exc.OperationalError:
                    pass
                assert time.monotonic() < deadline, f"not ready after {seconds} s: {url}"
                time.sleep(0.05)
        finally:
            engine.dispose()

    def down(self) -> None:
        for c in (self.standby, self.primary):
            if (c.data / "postmaster.pid").exists():
                try:
                    self.run("pg_ctl", "-D", str(c.data), "-m", "immediate", "stop")
                except AssertionError:
                    pass


@pytest.fixture
def clusters() -> Iterator[Clusters]:
    why = _why_no_clusters()
    if why:
        pytest.skip(why)
    base = Path(tempfile.mkdtemp(prefix="kuznia-failover-"))
    if os.geteuid() == 0:
        pg = pwd.getpwnam("postgres")
        os.chown(base, pg.pw_uid, pg.pw_gid)
    c = Clusters(base)
    try:
        c.up()
        yield c
    finally:
        c.down()
        shutil.rmtree(base, ignore_errors=True)


def _use(i: int) -> dict[str, object]:
    return {"use_id": f"FO-{i:04d}", "used_on": "2026-05-01", "operator": "OP-09",
            "product_id": "FPV-A", "version": "v2", "lot": "L-0002", "effects": i % 3,
            "outcome": "effect" if i % 3 else "no_effect"}


@pytest.mark.standby
def test_failover_to_a_synchronous_standby_loses_no_acknowledged_use(clusters, tmp_path,
                                                                     caplog):
    p, s = clusters.primary, clusters.standby
    with sa.create_engine(clusters.url(p), isolation_level="AUTOCOMMIT").connect() as conn:
        conn.exec_driver_sql("CREATE DATABASE kuznia")
    multi = (f"postgresql+psycopg://postgres@/kuznia?host=127.0.0.1:{p.port}"
             f"&host=127.0.0.1:{s.port}&target_session_attrs=read-write&connect_timeout=3")
    standby_first = (f"postgresql+psycopg://postgres@/kuznia?host=127.0.0.1:{s.port}"
                     f"&host=127.0.0.1:{p.port}&target_session_attrs=read-write")
    with kuznia.init(multi, "USD", actor="tester") as ws:
        with kuznia.open(standby_first) as other:  # the standby answers first, read-only:
            with other.store.read() as conn:     # passed over for the read-write host
                assert conn.exec_driver_sql("SELECT inet_server_port()").scalar() == p.port
        for table in ("rates", "producers", "products", "versions", "contracts", "deliveries"):
            ws.import_file(table, EXAMPLES / f"{table}.csv")
        # one field engineer with a token (no password: no argon2 hashing to wait for)
        accounts.add_user(ws.store, "eng", "engineer", actor="tester")
        h = {"Authorization": f"Bearer {accounts.issue_token(ws.store, 'eng', actor='t')}"}
        served = create_app(ws.store, data_dir=tmp_path / "data")
        acknowledged: set[str] = set()
        unavailable = 0

        def send(i: int) -> int:
            nonlocal unavailable
            answer = client.post(f"{API}/uses", json=_use(i), headers=h)
            assert answer.status_code != 500, answer.text
            if answer.status_code == 503:
                assert int(answer.headers["Retry-After"]) > 0
                unavailable += 1
            else:
                assert answer.status_code in (200, 201), answer.text
                acknowledged.add(f"FO-{i:04d}")
            return answer.status_code

        caplog.set_level(logging.WARNING, logger="kuznia.store")
        with TestClient(served, raise_server_exceptions=False) as client:
            health = client.get(f"{API}/health").json()
            assert health["role"] == "primary" and health["writable"]
            assert [x["sync_state"] for x in health["replication"]["standbys"]] == ["sync"]
            for i in range(8):  # with the primary up: each acknowledged once applied there
                assert send(i) == 201
            with kuznia.open(clusters.url(s, "kuznia")) as on_standby:  # read-only, behind
                seen = store_health(on_standby.store)
                assert (seen["role"], seen["writable"]) == ("standby", False)
                assert seen["replication"]["replay_lag_seconds"] >= 0
                assert on_standby.uses(product="FPV-A", operator="OP-09").total == 8
            # the primary's building is hit
            clusters.run("pg_ctl", "-D", str(p.data), "-m", "immediate", "stop")
            for i in range(8, 11):  # no primary: refused for now, never a 500
                assert send(i) == 503
            assert client.get(f"{API}/health").status_code == 503
            clusters.run("pg_ctl", "-D", str(s.data), "-w", "promote")
            for i in range(8, 16):  # the field app sends again what was not acknowledged
                for _attempt in range(3):
                    if send(i) != 503:
                        break
            health = client.get(f"{API}/health").json()
            assert health["role"] == "primary" and health["writable"]
            assert send(0) == 200  # a retry of an acknowledged use: stored once already
        assert acknowledged == {f"FO-{i:04d}" for i in range(16)}
        assert unavailable == 3  # the three sent while there was no primary
    assert any(f"127.0.0.1:{s.port} now" in r.getMessage() for r in caplog.records)
    promoted = clusters.url(s, "kuznia")
    with kuznia.open(promoted) as ws:
        with ws.store.read() as conn:
            stored = conn.execute(sa.text(
                "SELECT use_id, count(*) FROM uses WHERE use_id LIKE :p GROUP BY use_id"),
                {"p": "FO-%"}).all()
            assert {u: n for u, n in stored} == {u: 1 for u in acknowledged}
            events = audit.list_events(conn)
        check = ws.verify_audit(deep=True)
        assert check.ok, check.reason
        assert [e["event_id"] for e in events] == list(range(1, len(events) + 1))
