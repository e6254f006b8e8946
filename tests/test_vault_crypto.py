"""The vault's sealing and marking, without a store: the key file, chunks that cannot be
reordered or cut short, the kinds of file it takes, a PDF stamp that survives a re-save."""

from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kuznia.errors import UsageError
from kuznia.services import vault_copies as vc
from kuznia.services import vault_crypto as crypto


def small_pdf(path: Path, pages: int = 2, text: str = "") -> Path:
    from pypdf import PdfWriter

    w = PdfWriter()
    for _ in range(pages):
        w.add_blank_page(595, 842)
    if text:
        w.add_metadata({"/Title": text})
    with path.open("wb") as f:
        w.write(f)
    return path


def test_key_file_made_0600_and_read_back(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "vault.key"
    path.parent.mkdir()
    key = crypto.master_key(str(path), may_create=True)
    assert len(key) == 32
    assert (path.stat().st_mode & 0o777) == 0o600
    assert crypto.master_key(str(path), may_create=False) == key


def test_key_file_in_a_new_folder_is_made_with_its_folder(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "vault" / "master.key"
    key = crypto.master_key(str(path), may_create=True)
    assert (path.stat().st_mode & 0o777) == 0o600
    assert (path.parent.stat().st_mode & 0o777) == 0o700
    assert crypto.master_key(str(path), may_create=False) == key


def test_key_file_problems_name_the_setting(tmp_path: Path) -> None:
    with pytest.raises(crypto.VaultKeyError, match="KUZNIA_VAULT_KEY_FILE"):
        crypto.master_key("", may_create=True)
    with pytest.raises(crypto.VaultKeyError, match="KUZNIA_VAULT_KEY_FILE.*restore"):
        crypto.master_key(str(tmp_path / "gone.key"), may_create=False)
    bad = tmp_path / "bad.key"
    bad.write_text("not a key\n")
    bad.chmod(0o600)
    with pytest.raises(crypto.VaultKeyError, match="KUZNIA_VAULT_KEY_FILE.*not a Kuznia"):
        crypto.master_key(str(bad), may_create=False)
    good = tmp_path / "open.key"
    crypto.master_key(str(good), may_create=True)
    good.chmod(0o644)
    with pytest.raises(crypto.VaultKeyError, match="chmod 600"):
        crypto.master_key(str(good), may_create=False)
    if os.geteuid() != 0:  # root reads any file
        good.chmod(0o000)
        with pytest.raises(crypto.VaultKeyError, match="cannot read"):
            crypto.master_key(str(good), may_create=False)


def test_wrong_master_key_is_refused_in_words() -> None:
    data = crypto.new_data_key()
    wrapped = crypto.wrap(b"\x01" * 32, data)
    assert crypto.unwrap(b"\x01" * 32, wrapped) == data
    with pytest.raises(crypto.VaultKeyError, match="not the one"):
        crypto.unwrap(b"\x02" * 32, wrapped)


@given(st.lists(st.binary(min_size=1, max_size=40), min_size=1, max_size=6))
def test_chunks_round_trip(blocks: list[bytes]) -> None:
    key = crypto.new_data_key()
    sealed = list(crypto.seal_chunks(key, "d-1", blocks))
    assert b"".join(crypto.open_chunks(key, "d-1", len(sealed), sealed)) == b"".join(blocks)


def test_chunks_reordered_cut_or_moved_do_not_open() -> None:
    key = crypto.new_data_key()
    sealed = list(crypto.seal_chunks(key, "d-1", [b"one", b"two", b"three"]))
    swapped = [(0, *sealed[1][1:]), (1, *sealed[0][1:]), sealed[2]]
    cases = {
        "swapped": (3, swapped),
        "cut short (count kept)": (3, sealed[:2]),
        "cut short (count changed too)": (2, sealed[:2]),
        "gap": (3, [sealed[0], sealed[2]]),
    }
    for name, (count, rows) in cases.items():
        with pytest.raises(crypto.VaultDamageError):
            list(crypto.open_chunks(key, "d-1", count, rows))
        assert name
    with pytest.raises(crypto.VaultDamageError):  # moved to another document
        list(crypto.open_chunks(key, "d-2", 3, sealed))


def test_media_types_by_first_bytes(tmp_path: Path) -> None:
    pdf = small_pdf(tmp_path / "a.pdf")
    assert vc.media_type(pdf) == "application/pdf"
    (tmp_path / "t.txt").write_text("zażółć gęślą jaźń\n", encoding="utf-8")
    assert vc.media_type(tmp_path / "t.txt") == "text/plain"
    (tmp_path / "i.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 20)
    assert vc.media_type(tmp_path / "i.png") == "image/png"
    docx = tmp_path / "d.docx"
    with zipfile.ZipFile(docx, "w") as z:
        z.writestr("[Content_Types].xml", "<Types/>")
    assert vc.media_type(docx).startswith("application/vnd.openxml")
    renamed = tmp_path / "x.pdf"  # a name says nothing
    renamed.write_bytes(b"MZ\x90\x00" + b"\x00" * 100)
    with pytest.raises(UsageError, match="does not take.*PDF"):
        vc.media_type(renamed)
    plain_zip = tmp_path / "z.zip"
    with zipfile.ZipFile(plain_zip, "w") as z:
        z.writestr("a.exe", "x")
    with pytest.raises(UsageError, match="ZIP archive but not an Office"):
        vc.media_type(plain_zip)
    broken = tmp_path / "broken.pdf"
    broken.write_bytes(b"%PDF-1.7\n" + b"\x00garbage" * 50)
    with pytest.raises(UsageError, match="cannot be read as one"):
        vc.media_type(broken)
    from pypdf import PdfReader, PdfWriter

    locked = PdfWriter(clone_from=PdfReader(pdf))
    locked.encrypt("secret")
    with (tmp_path / "locked.pdf").open("wb") as f:
        locked.write(f)
    with pytest.raises(UsageError, match="encrypted PDF"):
        vc.media_type(tmp_path / "locked.pdf")
    (tmp_path / "empty.txt").write_bytes(b"")
    with pytest.raises(UsageError, match="empty"):
        vc.media_type(tmp_path / "empty.txt")


def test_pdf_stamp_survives_a_resave(tmp_path: Path) -> None:
    from pypdf import PdfReader, PdfWriter

    src = small_pdf(tmp_path / "src.pdf", pages=3)
    stamped = tmp_path / "stamped.pdf"
    vc.stamp_pdf(src, stamped, account="alice", at="2026-12-07T05:00:00+00:00",
                 copy_id="c-" + "ab" * 10, licence_id="L1")
    reader = PdfReader(stamped)
    assert all("Copy for alice" in (p.extract_text() or "") for p in reader.pages)
    assert reader.metadata["/KuzniaCopyId"] == "c-" + "ab" * 10
    # re-saved by another tool, its metadata dropped: the page stamp still names the copy
    w = PdfWriter(clone_from=PdfReader(stamped))
    w.metadata = None
    buf = io.BytesIO()
    w.write(buf)
    resaved = tmp_path / "resaved.pdf"
    resaved.write_bytes(buf.getvalue())
    assert vc.read_mark(resaved) == vc.Mark("c-" + "ab" * 10, "pdf stamp")
    assert vc.read_mark(stamped) == vc.Mark("c-" + "ab" * 10, "pdf metadata")


def test_zip_copy_carries_its_notice(tmp_path: Path) -> None:
    out = tmp_path / "copy.zip"
    vc.zip_copy([b"hello ", b"world"], out, name="m.txt", account="bob", at="T",
                copy_id="c-" + "01" * 10, licence_id="L1", partner="PA")
    with zipfile.ZipFile(out) as z:
        assert z.read("m.txt") == b"hello world"
        notice = z.read(vc.NOTICE).decode()
    assert "Recipient: bob" in notice and "c-" + "01" * 10 in notice and "Terms:" in notice
    assert vc.read_mark(out) == vc.Mark("c-" + "01" * 10, "zip notice")
    assert vc.read_mark(small_pdf(tmp_path / "plain.pdf")) == vc.Mark(None, "nothing")
