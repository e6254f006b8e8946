"""Backups: one file from one snapshot, checked before anything is restored, restored all
or nothing into an empty store of either kind (SQLite -> PostgreSQL is how a workspace
moves), with the same audit head and a chain that verifies deep."""

from __future__ import annotations

import errno
import hashlib
import json
import threading
import zipfile
from pathlib import Path

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

import kuznia
from conftest import pg_schema
from helpers import write_csv
from kuznia.cli import app
from kuznia.services import accounts, audit, sessions
from kuznia.services import backup as backups
from kuznia.services import restore as restores
from kuznia.store import engine as engines
from kuznia.store.schema import metadata

RUN = CliRunner()


def _cli(*args: str):  # type: ignore[no-untyped-def]
    result = RUN.invoke(app, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), \
        result.exception
    assert result.exit_code != 3, result.output
    return result


def _said(result) -> str:  # type: ignore[no-untyped-def]
    """What a command printed, its lines joined (the console wraps long ones)."""
    return " ".join(result.output.split())


def _counts(url: str) -> dict[str, int]:
    engine = engines.make_engine(kuznia.settings.database_url(url))
    try:
        with engine.connect() as conn:
            return {t.name: conn.execute(sa.select(sa.func.count()).select_from(t)).scalar_one()
                    for t in backups.tables_of(conn)}
    finally:
        engine.dispose()


def _answers(url: str) -> list[dict]:  # type: ignore[type-arg]
    with kuznia.open(url) as ws:
        return ws.cost_per_effect(by="product,producer").to_dict()["rows"]


def _same_answers(a: list[dict], b: list[dict]) -> None:  # type: ignore[type-arg]
    """Equal, but for the last bits of sums the two stores add in another order."""
    assert len(a) == len(b)
    for x, y in zip(a, b, strict=True):
        assert x.keys() == y.keys()
        for k in x:
            if isinstance(x[k], float):
                assert y[k] == pytest.approx(x[k], rel=1e-12), k
            else:
                assert x[k] == y[k], k


def _with_people(ws: kuznia.Workspace) -> str:
    """Accounts, a token and a session, as a served workspace has them; the token."""
    accounts.add_user(ws.store, "ana", "analyst", actor="tester",
                      password="correct horse battery")
    token = accounts.issue_token(ws.store, "ana", actor="tester")
    with ws.store.read() as conn:
        account = accounts.authenticate_token(conn, token)
    assert account is not None
    sessions.open_session(ws.store, account)
    return token


def _restore_target(kind: str, tmp_path: Path):  # type: ignore[no-untyped-def]
    if kind == "sqlite":
        from contextlib import nullcontext

        return nullcontext(str(tmp_path / "restored.db"))
    return pg_schema()


@pytest.mark.parametrize("target", ["sqlite", pytest.param("postgresql",
                                                           marks=pytest.mark.postgres)])
def test_a_backup_restores_to_the_same_workspace(filled: kuznia.Workspace, tmp_path: Path,
                                                 target: str):
    token = _with_people(filled)
    # a row update, so that row_updates (a serial id) holds rows before the restore
    write_csv(tmp_path / "p.csv", ["producer_id", "name", "kind", "region"],
              [["P001", "Renamed Works", "state", "North"]])
    filled.import_file("producers", tmp_path / "p.csv", update=True)
    source = filled.store.url
    out = tmp_path / "ws.kuznia-backup"
    made = _cli("backup", "--out", str(out), "--db", source, "--json")
    assert made.exit_code == 0, made.output
    summary = json.loads(made.output)
    assert summary["file_sha256"] == hashlib.sha256(out.read_bytes()).hexdigest()
    with _restore_target(target, tmp_path) as url:
        done = _cli("restore", str(out), "--db", url)
        assert done.exit_code == 0, done.output
        assert _counts(url) == _counts(source)
        _same_answers(_answers(url), _answers(source))
        with kuznia.open(url) as ws:
            check = ws.verify_audit(deep=True)
            assert check.ok, check.reason
            assert check.head == summary["audit_head"]["hash"]
            with ws.store.read() as conn:  # the token works on the restored workspace
                assert accounts.authenticate_token(conn, token).name == "ana"
            # writes go on: a row update (a new row_updates id) and a new account
            filled_again = tmp_path / "p2.csv"
            write_csv(filled_again, ["producer_id", "name", "kind", "region"],
                      [["P001", "Renamed Again", "state", "North"]])
            ws.import_file("producers", filled_again, update=True)
            accounts.add_user(ws.store, "bob", "auditor", actor="tester")
            assert ws.verify_audit(deep=True).ok


def test_the_manifest_lists_every_table_with_its_counts_and_digests(filled, tmp_path):
    _with_people(filled)
    out = tmp_path / "b.zip"
    backups.backup(filled.store.url, out)
    with zipfile.ZipFile(out) as zf:
        manifest = json.loads(zf.read(backups.MANIFEST))
        parts = {p["table"]: p for p in manifest["parts"]}
        assert set(parts) == set(metadata.tables)  # the audit chain, accounts, sessions...
        counts = _counts(filled.store.url)
        for name, part in parts.items():
            data = zf.read(part["name"])
            assert hashlib.sha256(data).hexdigest() == part["sha256"]
            assert part["rows"] == counts[name] == data.count(b"\n")
            assert set(part["columns"]) == {c.name for c in metadata.tables[name].columns}
    assert manifest["schema_revision"] == engines.HEAD
    assert manifest["kuznia_version"] == kuznia.__version__
    with filled.store.read() as conn:
        assert manifest["audit_head"] == dict(zip(("event_id", "hash"), audit.head(conn),
                                                  strict=True))
    assert manifest["sha256"] == hashlib.sha256(backups.canonical(manifest)).hexdigest()
    assert "vault" in manifest["not_included"]
    # a SQLite workspace keeps its sessions in a file beside it (services/sign_in_rows):
    # not data, not in the backup (a restore signs everyone out); PostgreSQL keeps them in
    assert parts["sessions"]["rows"] == (0 if filled.store.sqlite_file else 1)
    assert parts["api_tokens"]["rows"] == 1


def test_a_backup_is_one_snapshot_while_an_import_writes(filled, tmp_path, example_dir):
    """An import that commits while the backup is being read is wholly out of it: the
    restored workspace verifies deep and ends at the head from before the import."""
    with filled.store.read() as conn:
        before = audit.head(conn)
    more = write_csv(tmp_path / "uses.csv",
                     ["use_id", "used_on", "product_id", "effects", "outcome"],
                     [[f"LATE-{i}", "2026-03-01", "FPV-A", 1, "effect"] for i in range(50)])
    wrote = []

    def import_meanwhile(table: str, rows: int) -> None:
        if not wrote:  # once, from another thread, while the snapshot is open
            t = threading.Thread(target=lambda: wrote.append(
                filled.import_file("uses", more).added))
            t.start()
            t.join()

    out = tmp_path / "b.zip"
    result = backups.backup(filled.store.url, out, progress=import_meanwhile)
    assert wrote == [50]
    assert result.manifest["audit_head"]["event_id"] == before[0]
    target = tmp_path / "r.db"
    restored = restores.restore(out, str(target))
    assert restored.audit_head["hash"] == before[1]
    assert restored.rows["uses"] == _counts(filled.store.url)["uses"] - 50
    with kuznia.open(str(target)) as ws:
        assert ws.verify_audit(deep=True).ok


def test_an_older_schema_is_migrated_after_the_restore(filled_before_licences, tmp_path):
    filled = filled_before_licences
    engines.downgrade(filled.store.engine, "0008")
    out = tmp_path / "old.zip"
    made = _cli("backup", "--out", str(out), "--db", filled.store.url)  # back up first
    assert made.exit_code == 0, made.output
    with zipfile.ZipFile(out) as zf:
        manifest = json.loads(zf.read(backups.MANIFEST))
    assert manifest["schema_revision"] == "0008"
    assert "tables/operator_cube.jsonl" not in [p["name"] for p in manifest["parts"]]
    target = tmp_path / "r.db"
    result = restores.restore(out, str(target))
    assert (result.schema_revision, result.migrated_to) == ("0008", engines.HEAD)
    with kuznia.open(str(target)) as ws:
        check = ws.verify_audit(deep=True, expect_head=manifest["audit_head"]["hash"])
        assert check.ok, check.reason
        assert ws.cost_per_effect(by="product").rows  # the new aggregate answers


# --- refusals: each in words, exit 1 or 2, nothing written -------------------------------

@pytest.fixture
def made(filled: kuznia.Workspace, tmp_path: Path) -> Path:
    out = tmp_path / "good.zip"
    backups.backup(filled.store.url, out)
    return out


@pytest.mark.parametrize("target", ["sqlite", pytest.param("postgresql",
                                                           marks=pytest.mark.postgres)])
def test_restore_refuses_a_workspace_that_holds_data(made, tmp_path, target):
    with _restore_target(target, tmp_path) as url:
        with kuznia.init(url, "EUR", actor="other") as ws:
            with ws.store.read() as conn:
                head = audit.head(conn)
        result = _cli("restore", str(made), "--db", url)
        assert result.exit_code == 1
        assert "already holds a workspace (1 audit event)" in _said(result)
        with kuznia.open(url) as ws:
            with ws.store.read() as conn:
                assert audit.head(conn) == head
            assert ws.currency == "EUR"


def _rewrite(src: Path, dst: Path, change) -> None:  # type: ignore[no-untyped-def]
    """A copy of a backup with its manifest changed and its digest made to match."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            if item.filename == backups.MANIFEST:
                manifest = json.loads(data)
                change(manifest)
                manifest["sha256"] = hashlib.sha256(backups.canonical(manifest)).hexdigest()
                data = json.dumps(manifest).encode()
            zout.writestr(item, data)


def test_a_backup_from_a_newer_kuznia_is_refused(made, tmp_path):
    newer = tmp_path / "newer.zip"
    _rewrite(made, newer, lambda m: m.update(schema_revision="0099",
                                             kuznia_version="9.0.0"))
    check = _cli("backup", "--verify", str(newer))
    assert check.exit_code == 1
    assert "newer Kuznia (9.0.0)" in _said(check) and "0099" in _said(check)
    target = tmp_path / "r.db"
    result = _cli("restore", str(newer), "--db", str(target))
    assert result.exit_code == 1 and "newer Kuznia" in result.output
    assert not target.exists()


def test_an_edited_manifest_is_refused(made, tmp_path):
    edited = tmp_path / "edited.zip"

    def change(m):  # type: ignore[no-untyped-def]
        m["parts"][0]["rows"] += 1
    _rewrite(made, edited, change)  # the manifest's own digest matches; the part's not
    result = _cli("backup", "--verify", str(edited))
    assert result.exit_code == 1 and "does not match its digest" in _said(result)


@settings(max_examples=15, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cut=st.floats(0.0, 0.999), flip=st.booleans())
def test_a_damaged_or_truncated_backup_is_refused_and_nothing_is_written(made, tmp_path,
                                                                         cut, flip):
    data = bytearray(made.read_bytes())
    at = int(len(data) * cut)
    if flip:  # one byte changed somewhere
        data[at] ^= 0xFF
    else:  # killed mid-way: only the first part of the file
        data = data[:at]
    bad = tmp_path / "bad.zip"
    bad.write_bytes(bytes(data))
    check = backups.verify(bad)
    if check.ok:  # a flip in what only describes the archive (a part's time stamp)
        assert flip
        with zipfile.ZipFile(made) as good, zipfile.ZipFile(bad) as same:
            assert [same.read(n) for n in good.namelist()] == \
                [good.read(n) for n in good.namelist()]
        return
    assert check.reason
    target = tmp_path / "r.db"
    result = _cli("restore", str(bad), "--db", str(target))
    assert result.exit_code == 1, result.output
    assert "nothing was restored" in _said(result)
    assert not target.exists()
    assert not [p for p in tmp_path.iterdir() if "restoring" in p.name]


@pytest.mark.postgres
def test_a_damaged_backup_writes_nothing_into_postgresql(made, tmp_path):
    data = made.read_bytes()
    bad = tmp_path / "bad.zip"
    bad.write_bytes(data[: len(data) // 2])
    with pg_schema() as url:
        assert _cli("restore", str(bad), "--db", url).exit_code == 1
        engine = engines.make_engine(url)
        try:
            assert not engines.has_tables(engine)
        finally:
            engine.dispose()


def test_a_full_disk_leaves_no_file_that_looks_complete(made, filled, tmp_path, monkeypatch):
    before = made.read_bytes()  # an older backup at the same path stays as it was
    real = backups._Sink.write
    room = len(before) // 2

    def full(self, data):  # type: ignore[no-untyped-def]
        if self.size + len(data) > room:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(self, data)

    monkeypatch.setattr(backups._Sink, "write", full)
    result = _cli("backup", "--out", str(made), "--db", filled.store.url)
    assert result.exit_code == 1
    assert "disk is full" in _said(result)
    assert made.read_bytes() == before
    assert sorted(p.name for p in made.parent.iterdir() if p.name.startswith(".good")) == []
    fresh = tmp_path / "fresh.zip"
    assert _cli("backup", "--out", str(fresh), "--db", filled.store.url).exit_code == 1
    assert not fresh.exists()


def test_a_backup_never_lands_on_the_workspace(filled, tmp_path):
    ws_file = filled.store.sqlite_file
    if ws_file is None:
        pytest.skip("only a SQLite workspace has files of its own that --out could land on")
    for target in (ws_file, Path(f"{ws_file}-wal"), tmp_path):
        result = _cli("backup", "--out", str(target), "--db", filled.store.url)
        assert result.exit_code == 2, result.output
        assert _said(result).startswith("error: --out "), result.output  # the option typed
    assert kuznia.open(str(ws_file)).verify_audit(deep=True).ok


@pytest.mark.parametrize("content", [b"", b"not a zip at all", b"PK\x03\x04junk"])
def test_what_is_not_a_backup_is_said_so(tmp_path, content):
    f = tmp_path / "x.zip"
    f.write_bytes(content)
    for args in (["backup", "--verify", str(f)], ["restore", str(f), "--db",
                                                   str(tmp_path / "r.db")]):
        result = _cli(*args)
        assert result.exit_code == 1 and "backup" in result.output, result.output
    assert _cli("backup", "--verify", str(tmp_path / "none.zip")).exit_code == 1
    assert _cli("backup", "--verify", str(tmp_path)).exit_code == 1
    assert _cli("backup").exit_code == 2
