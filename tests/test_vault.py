"""The partners' vault through its service and its commands: sealed at rest, copies only
for the producers a live licence names, every copy traced to its recipient, every access
and refusal logged and audited, crypto-shredding, backups."""

from __future__ import annotations

import datetime as dt
import io
import json
import re
import zipfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

import kuznia
from kuznia.cli import app
from kuznia.errors import NotFoundError, UsageError
from kuznia.services import vault
from kuznia.services import vault_crypto as crypto
from kuznia.services.access import ForbiddenError
from test_vault_crypto import small_pdf

MARKER = "PLAINTEXT-MARKER-7f3a9c-torque-to-42"
TODAY = dt.date.today()


def _csv(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def d(days: int) -> str:
    return (TODAY + dt.timedelta(days=days)).isoformat()


@pytest.fixture
def key_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "keys"
    folder.mkdir()
    path = folder / "vault.key"
    monkeypatch.setenv("KUZNIA_VAULT_KEY_FILE", str(path))
    return path


@pytest.fixture
def lw(ws: kuznia.Workspace, tmp_path: Path, key_file: Path) -> kuznia.Workspace:
    """A workspace with two partners, licences live, expired, revoked and pending, and
    accounts: maker1 (P1), maker2 (P2), boss (admin), watcher (auditor)."""
    src = tmp_path / "in"
    src.mkdir()
    files = {
        "producers": "producer_id,name,kind,region\nP1,Maker one,state,R1\n"
                     "P2,Maker two,private,R2\n",
        "products": "product_id,name,category\nX1,Product one,one_way_drone\n",
        "partners": "partner_id,name,country\nPA,Partner A,Country A\n"
                    "PB,Partner B,Country B\n",
        "licences": "licence_id,partner_id,kind,product_id,producers,requested_on,"
                    "granted_on,expires_on,max_units,status\n"
                    f"L1,PA,repair,X1,P1,{d(-90)},{d(-60)},{d(300)},,granted\n"
                    f"L2,PA,repair,X1,P1,{d(-400)},{d(-390)},{d(-10)},,granted\n"
                    f"L3,PA,repair,X1,P1,{d(-90)},{d(-60)},,,revoked\n"
                    f"L4,PB,maintenance,X1,P2,{d(-90)},{d(-60)},,,granted\n"
                    f"L5,PA,production,X1,P1,{d(-20)},,,,in_review\n",
    }
    for table, text in files.items():
        ws.import_file(table, _csv(src / f"{table}.csv", text))
    from kuznia.services import accounts

    accounts.add_user(ws.store, "maker1", "producer", actor="t", producer="P1")
    accounts.add_user(ws.store, "maker2", "producer", actor="t", producer="P2")
    accounts.add_user(ws.store, "boss", "admin", actor="t")
    accounts.add_user(ws.store, "watcher", "auditor", actor="t")
    return ws


def _doc(tmp_path: Path, name: str = "manual.txt", text: str = MARKER) -> Path:
    folder = tmp_path / "docs"
    folder.mkdir(exist_ok=True)
    return _csv(folder / name, f"{text}\nstep 1: check.\n" * 3)


def _events(ws: kuznia.Workspace) -> int:
    with ws.store.read() as conn:
        return int(conn.exec_driver_sql("SELECT count(*) FROM audit_events").scalar_one())


def test_stored_sealed_nowhere_in_plaintext(lw: kuznia.Workspace, tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(crypto, "CHUNK", 64)  # several chunks from a small file
    doc = vault.add_document(lw.store, _doc(tmp_path), licence_id="L1", actor="clerk")
    assert doc["chunks"] > 1 and doc["partner_id"] == "PA"
    needle = MARKER.encode()
    with lw.store.read() as conn:
        for table in ("vault_chunks", "vault_documents", "vault_keys", "vault_access",
                      "audit_events"):
            for row in conn.exec_driver_sql(f"SELECT * FROM {table}"):
                for value in row:
                    raw = bytes(value) if isinstance(value, bytes | memoryview) \
                        else str(value).encode()
                    assert needle not in raw, table
    if lw.store.sqlite_file is not None:  # every file of the workspace's folder
        for f in lw.store.sqlite_file.parent.iterdir():
            if f.is_file():
                assert needle not in f.read_bytes(), f
    # the master key is not in the workspace either
    key = crypto.master_key(str(tmp_path / "keys" / "vault.key"), may_create=False)
    if lw.store.sqlite_file is not None:
        assert key not in lw.store.sqlite_file.read_bytes()


def test_copy_for_a_named_producer_traced_by_hash_and_notice(lw: kuznia.Workspace,
                                                             tmp_path: Path) -> None:
    doc = vault.add_document(lw.store, _doc(tmp_path), licence_id="L1", actor="clerk",
                             title="Repair manual")
    out = tmp_path / "copy.zip"
    copy = vault.issue_copy(lw.store, doc["doc_id"], account="maker1", out=out)
    assert copy.form == "zip"
    with zipfile.ZipFile(out) as z:
        assert MARKER in z.read("manual.txt").decode()
        assert "Recipient: maker1" in z.read("NOTICE-kuznia-copy.txt").decode()
    found = vault.trace(lw.store, out)
    assert (found["account"], found["copy_id"], found["same_file"]) == \
        ("maker1", copy.copy_id, True)
    # repacked without its comment, the document taken out beside the notice: the notice
    repacked = tmp_path / "repacked.zip"
    with zipfile.ZipFile(out) as z, zipfile.ZipFile(repacked, "w") as r:
        for name in z.namelist():
            r.writestr(name, z.read(name))
    found = vault.trace(lw.store, repacked)
    assert found["account"] == "maker1" and "notice" in found["found_by"]
    log = vault.access_log(lw.store, partner="PA").rows
    assert [(r["account"], r["outcome"], r["licence_id"], r["copy_sha256"]) for r in log] \
        == [("maker1", "copy", "L1", copy.sha256)]
    assert vault.access_log(lw.store, partner="PB").rows == []


def test_pdf_copy_stamped_and_traced_after_a_resave(lw: kuznia.Workspace,
                                                    tmp_path: Path) -> None:
    from pypdf import PdfReader, PdfWriter

    pdf = small_pdf(tmp_path / "plan.pdf", pages=2)
    doc = vault.add_document(lw.store, pdf, licence_id="L1", actor="clerk")
    out = tmp_path / "copy.pdf"
    copy = vault.issue_copy(lw.store, doc["doc_id"], account="maker1", out=out)
    reader = PdfReader(out)
    assert all(f"copy id {copy.copy_id}" in p.extract_text() for p in reader.pages)
    w = PdfWriter(clone_from=reader)
    w.metadata = None
    buf = io.BytesIO()
    w.write(buf)
    resaved = tmp_path / "resaved.pdf"
    resaved.write_bytes(buf.getvalue())
    found = vault.trace(lw.store, resaved)
    assert (found["account"], found["copy_id"], found["same_file"]) == \
        ("maker1", copy.copy_id, False)
    with pytest.raises(NotFoundError, match="no copy the vault issued"):
        vault.trace(lw.store, pdf)


@pytest.mark.parametrize(("account", "licence", "why"), [
    ("maker1", "L2", "expired on"),
    ("maker1", "L3", "is revoked"),
    ("maker2", "L1", "does not name producer P2"),
    ("maker1", "L5", "is not granted"),
    ("boss", "L1", "not a producer's"),
    ("nobody", "L1", "no such account"),
])
def test_refused_as_if_no_document_and_logged(lw: kuznia.Workspace, tmp_path: Path,
                                              account: str, licence: str, why: str) -> None:
    doc = vault.add_document(lw.store, _doc(tmp_path), licence_id=licence, actor="clerk")
    out = tmp_path / "copy.zip"
    before = _events(lw)
    with pytest.raises(NotFoundError) as refused:
        vault.issue_copy(lw.store, doc["doc_id"], account=account, out=out)
    assert refused.value.exit_code == 2 and why not in str(refused.value)
    assert not out.exists() and not list(tmp_path.glob(".kuznia-*"))
    assert _events(lw) == before + 1
    row = vault.access_log(lw.store).rows[-1]
    assert (row["account"], row["outcome"]) == (account, "refused") and why in row["reason"]


def test_key_file_wrong_or_missing(lw: kuznia.Workspace, tmp_path: Path, key_file: Path,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    doc = vault.add_document(lw.store, _doc(tmp_path), licence_id="L1", actor="clerk")
    assert (key_file.stat().st_mode & 0o777) == 0o600
    other = tmp_path / "keys" / "other.key"
    crypto.master_key(str(other), may_create=True)
    monkeypatch.setenv("KUZNIA_VAULT_KEY_FILE", str(other))
    before = _events(lw)
    with pytest.raises(crypto.VaultKeyError, match="KUZNIA_VAULT_KEY_FILE"):
        vault.add_document(lw.store, _doc(tmp_path), licence_id="L4", actor="clerk")
    with pytest.raises(crypto.VaultKeyError, match="KUZNIA_VAULT_KEY_FILE"):
        vault.issue_copy(lw.store, doc["doc_id"], account="maker1", out=tmp_path / "c.zip")
    monkeypatch.setenv("KUZNIA_VAULT_KEY_FILE", str(tmp_path / "keys" / "gone.key"))
    with pytest.raises(crypto.VaultKeyError, match="restore the key file"):
        vault.add_document(lw.store, _doc(tmp_path), licence_id="L1", actor="clerk")
    assert not (tmp_path / "keys" / "gone.key").exists()
    assert _events(lw) == before and len(vault.documents(lw.store).rows) == 1
    assert not (tmp_path / "c.zip").exists()


def test_size_and_kind_refused_in_words(lw: kuznia.Workspace, tmp_path: Path) -> None:
    big = _doc(tmp_path, "big.txt", "x" * 100)
    with pytest.raises(UsageError, match="over the vault's limit.*KUZNIA_VAULT_MAX_MB"):
        vault.add_document(lw.store, big, licence_id="L1", actor="c", max_bytes=100)
    exe = tmp_path / "docs" / "tool.pdf"
    exe.write_bytes(b"MZ\x90\x00\x03" + bytes(range(256)))
    with pytest.raises(UsageError, match="does not take"):
        vault.add_document(lw.store, exe, licence_id="L1", actor="c")
    with pytest.raises(NotFoundError, match="no licence 'L9'"):
        vault.add_document(lw.store, _doc(tmp_path), licence_id="L9", actor="c")
    assert vault.documents(lw.store).rows == []


def test_shred_then_no_one_reads(lw: kuznia.Workspace, tmp_path: Path) -> None:
    doc = vault.add_document(lw.store, _doc(tmp_path), licence_id="L1", actor="clerk")
    keep = vault.add_document(lw.store, _doc(tmp_path), licence_id="L4", actor="clerk")
    with pytest.raises(ForbiddenError, match="only an admin"):
        vault.shred(lw.store, "PA", actor="watcher")
    done = vault.shred(lw.store, "PA", actor="boss")
    assert done["documents"] == 1
    with pytest.raises(vault.ShreddedError, match="destroyed.*no one can read"):
        vault.issue_copy(lw.store, doc["doc_id"], account="maker1", out=tmp_path / "c.zip")
    with pytest.raises(vault.ShreddedError):
        vault.add_document(lw.store, _doc(tmp_path), licence_id="L1", actor="clerk")
    with lw.store.read() as conn:
        assert conn.exec_driver_sql("SELECT wrapped_key FROM vault_keys WHERE "
                                    "partner_id = 'PA'").scalar() is None
    vault.issue_copy(lw.store, keep["doc_id"], account="maker2", out=tmp_path / "k.zip")
    outcomes = [r["outcome"] for r in vault.access_log(lw.store).rows]
    assert outcomes == ["shredded", "unreadable", "copy"]
    assert lw.verify_audit(deep=True).ok


def test_deep_audit_catches_an_edited_or_deleted_vault_record(lw: kuznia.Workspace,
                                                              tmp_path: Path) -> None:
    doc = vault.add_document(lw.store, _doc(tmp_path), licence_id="L1", actor="clerk")
    vault.issue_copy(lw.store, doc["doc_id"], account="maker1", out=tmp_path / "c.zip")
    with pytest.raises(NotFoundError):
        vault.issue_copy(lw.store, doc["doc_id"], account="maker2", out=tmp_path / "d.zip")
    assert lw.verify_audit(deep=True).ok
    with lw.store.engine.begin() as conn:
        conn.exec_driver_sql("UPDATE vault_access SET account = 'someone' "
                             "WHERE outcome = 'refused'")
    check = lw.verify_audit(deep=True)
    assert not check.ok and check.table == "vault_access" and "edited" in check.reason
    with lw.store.engine.begin() as conn:
        conn.exec_driver_sql("UPDATE vault_access SET account = 'maker2' "
                             "WHERE outcome = 'refused'")
    assert lw.verify_audit(deep=True).ok
    with lw.store.engine.begin() as conn:
        conn.exec_driver_sql("DELETE FROM vault_access WHERE outcome = 'refused'")
    check = lw.verify_audit(deep=True)
    assert not check.ok and check.table == "vault_access" and "deleted" in check.reason


def test_deep_audit_catches_a_swapped_chunk(lw: kuznia.Workspace, tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(crypto, "CHUNK", 64)
    doc = vault.add_document(lw.store, _doc(tmp_path), licence_id="L1", actor="clerk")
    with lw.store.engine.begin() as conn:
        conn.exec_driver_sql(f"DELETE FROM vault_chunks WHERE doc_id = '{doc['doc_id']}' "
                             "AND chunk_no = 1")
    check = lw.verify_audit(deep=True)
    assert not check.ok and check.table == "vault_chunks"
    with pytest.raises(crypto.VaultDamageError):
        vault.issue_copy(lw.store, doc["doc_id"], account="maker1", out=tmp_path / "c.zip")


def _insider_flags(lw: kuznia.Workspace, tmp_path: Path,
                   monkeypatch: pytest.MonkeyPatch) -> list[dict]:
    """Copies on a Saturday night, two documents at once, refusals: every vault flag (with
    the thresholds lowered to two documents, and 400 days before expiry)."""
    from kuznia.services import oversight, oversight_config

    saturday_night = dt.datetime.combine(TODAY, dt.time(23, 30), dt.UTC)
    saturday_night -= dt.timedelta(days=(TODAY.weekday() - 5) % 7)
    monkeypatch.setattr(vault, "_now", lambda: saturday_night)
    docs = [vault.add_document(lw.store, _doc(tmp_path), licence_id="L1", actor="c")
            for _ in range(2)]
    for doc in docs:
        vault.issue_copy(lw.store, doc["doc_id"], account="maker1", out=tmp_path / "c.zip",
                         on=saturday_night.date())
    for _ in range(3):
        with pytest.raises(NotFoundError):
            vault.issue_copy(lw.store, docs[0]["doc_id"], account="maker2",
                             out=tmp_path / "c.zip")
    cfg = oversight_config.load(None)
    cfg["vault"]["burst_documents"] = 2
    cfg["vault"]["expiry_days"] = 400  # L1 expires in 300 days
    return oversight.flags(lw.store, config=cfg).flags


def test_insider_flags(lw: kuznia.Workspace, tmp_path: Path,
                       monkeypatch: pytest.MonkeyPatch) -> None:
    from kuznia.services import oversight

    got = _insider_flags(lw, tmp_path, monkeypatch)
    codes = {(f["code"], f["reference"].get("account")) for f in got
             if f["code"].startswith("vault_")}
    assert codes == {("vault_burst", "maker1"), ("vault_after_hours", "maker1"),
                     ("vault_before_expiry", "maker1"), ("vault_refusals", "maker2")}
    assert all(f["producer_id"] is None for f in got if f["code"].startswith("vault_"))
    default = {f["code"] for f in oversight.flags(lw.store).flags}
    assert "vault_burst" not in default and "vault_before_expiry" not in default
    assert "vault_refusals" in default


def test_insider_flags_are_said_in_ukrainian(lw: kuznia.Workspace, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    from kuznia.i18n import language
    from kuznia.server.web import flag_words
    from kuznia.server.web.flag_words import flag_text

    flags = [f for f in _insider_flags(lw, tmp_path, monkeypatch)
             if f["code"].startswith("vault_")]
    assert {f["code"] for f in flags} == {"vault_burst", "vault_after_hours",
                                          "vault_before_expiry", "vault_refusals"}
    ids = {"maker1", "maker2", "L1", "P2", "UTC"}
    for f in flags:
        assert flag_text(f["text"]) == f["text"]  # English as the service keeps it
        with language("uk"):
            said = flag_text(f["text"])
        words = set(re.findall(r"[A-Za-z]{2,}\w*", said)) - ids
        assert words == set(), (f["code"], said)
        assert re.search(r"[а-яіїєґ]{3}", said), said
        with language("uk"):  # and the figures behind it, named in words
            named = flag_words.numbers(f)
        labels = " ".join(label for label, _ in named)
        assert not re.search(r"[A-Za-z]{2,}", labels), (f["code"], named)
    refusals = next(f for f in flags if f["code"] == "vault_refusals")
    assert "licence L1 does not name producer P2" in refusals["text"]
    with language("uk"):  # the reason quoted in the flag is said too, and the moment
        said = flag_text(refusals["text"])
    assert "L1" in said and "P2" in said and "T" not in said.replace("UTC", "")


def test_backup_and_restore_keep_the_vault(lw: kuznia.Workspace, tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    from kuznia.services import backup, restore

    monkeypatch.setattr(crypto, "CHUNK", 64)
    doc = vault.add_document(lw.store, _doc(tmp_path), licence_id="L1", actor="clerk")
    file = tmp_path / "b.zip"
    backup.backup(lw.store.url, file)
    target = tmp_path / "restored" / "w.db"
    target.parent.mkdir()
    restore.restore(file, str(target))
    with kuznia.open(str(target)) as again:
        assert again.verify_audit(deep=True).ok
        vault.issue_copy(again.store, doc["doc_id"], account="maker1",
                         out=tmp_path / "c.zip")
    with zipfile.ZipFile(tmp_path / "c.zip") as z:
        assert MARKER in z.read("manual.txt").decode()


def test_commands(lw: kuznia.Workspace, tmp_path: Path) -> None:
    runner = CliRunner()
    db = ["--db", lw.store.url]
    added = runner.invoke(app, ["vault", "add", str(_doc(tmp_path)), "--licence", "L1",
                                "--title", "Manual", *db])
    assert added.exit_code == 0, added.output
    doc_id = added.output.strip().splitlines()[-1]
    assert doc_id.startswith("d-")
    out = tmp_path / "copy.zip"
    got = runner.invoke(app, ["vault", "get", doc_id, "--out", str(out), "--as", "maker1",
                              *db])
    assert got.exit_code == 0, got.output
    nowhere = runner.invoke(app, ["vault", "get", doc_id, "--out", str(tmp_path / "no" / "c"),
                                  "--as", "maker1", *db])
    assert nowhere.exit_code == 2 and "does not exist" in nowhere.output
    refused = runner.invoke(app, ["vault", "get", doc_id, "--out", str(tmp_path / "x"),
                                  "--as", "maker2", *db])
    assert refused.exit_code == 2 and "no document" in refused.output
    assert "Traceback" not in refused.output
    traced = runner.invoke(app, ["vault", "trace", str(out), *db])
    assert traced.exit_code == 0 and "issued to maker1" in traced.output
    log = runner.invoke(app, ["vault", "log", "--partner", "PA", "--json", *db])
    rows = json.loads(log.output)["accesses"]
    assert [r["outcome"] for r in rows] == ["copy", "refused"]
    shred = runner.invoke(app, ["vault", "shred", "--partner", "PA", "--as", "maker1", *db])
    assert shred.exit_code == 2 and "only an admin" in shred.output
    shred = runner.invoke(app, ["vault", "shred", "--partner", "PA", "--as", "boss", *db])
    assert shred.exit_code == 0, shred.output
    after = runner.invoke(app, ["vault", "get", doc_id, "--out", str(tmp_path / "y"),
                                "--as", "maker1", *db])
    assert after.exit_code == 1 and "no one can read" in after.output
    assert "internal error" not in after.output
