"""The vault on the server: each role sees the titles it may, a producer a live licence
names gets a marked copy (streamed), anyone else a 404 (logged), another partner's
document is a 404, and the log is a partner's own."""

from __future__ import annotations

import datetime as dt
import zipfile
from io import BytesIO
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

import kuznia
from kuznia.services import vault
from server_helpers import PARTNER, PRODUCER, Served, serve


@pytest.fixture
def served(filled: kuznia.Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
           ) -> tuple[Served, dict[str, str]]:
    (tmp_path / "keys").mkdir()
    monkeypatch.setenv("KUZNIA_VAULT_KEY_FILE", str(tmp_path / "keys" / "vault.key"))
    day = dt.date.today()
    extra = tmp_path / "more-licences.csv"
    extra.write_text("licence_id,partner_id,kind,product_id,producers,requested_on,"
                     "granted_on,expires_on,max_units,status\n"
                     f"L-900,{PARTNER},repair,FPV-A,{PRODUCER},{day - dt.timedelta(30)},"
                     f"{day - dt.timedelta(20)},{day + dt.timedelta(200)},,granted\n")
    filled.import_file("licences", extra)
    doc = tmp_path / "manual.txt"
    doc.write_text("SECRET-STEP torque the bolt\n")
    own = vault.add_document(filled.store, doc, licence_id="L-900", actor="clerk",
                             title="Own manual")["doc_id"]
    other = vault.add_document(filled.store, doc, licence_id="L-003", actor="clerk",
                               title="Other partner's manual")["doc_id"]
    return serve(filled, tmp_path / "server-data"), {"own": own, "other": other}


def test_titles_content_and_log_by_role(served: tuple[Served, dict[str, str]]) -> None:
    s, docs = served
    with TestClient(s.app) as client:
        def get(path: str, role: str):  # type: ignore[no-untyped-def]
            return client.get(f"/api/v1{path}", headers=s.headers(role))

        titles = {r: [d["title"] for d in get("/vault/documents", r).json()["documents"]]
                  for r in ("partner", "producer", "admin", "auditor")}
        assert titles["partner"] == ["Own manual"]
        assert titles["producer"] == ["Own manual"]
        assert sorted(titles["admin"]) == sorted(titles["auditor"]) == \
            ["Other partner's manual", "Own manual"]
        assert get("/vault/documents", "analyst").status_code == 403
        assert get(f"/vault/documents/{docs['own']}", "partner").status_code == 200
        assert get(f"/vault/documents/{docs['other']}", "partner").status_code == 404
        got = get(f"/vault/documents/{docs['own']}/content", "producer")
        assert got.status_code == 200 and got.headers["content-type"] == "application/zip"
        with zipfile.ZipFile(BytesIO(got.content)) as z:
            assert "SECRET-STEP" in z.read("manual.txt").decode()
            assert "Recipient: producer" in z.read("NOTICE-kuznia-copy.txt").decode()
        copy_id = got.headers["x-kuznia-copy-id"]
        refused = get(f"/vault/documents/{docs['other']}/content", "producer")
        missing = get("/vault/documents/d-0000000000000000/content", "producer")
        assert refused.status_code == missing.status_code == 404
        assert get(f"/vault/documents/{docs['own']}/content", "partner").status_code == 403
        log = get("/vault/log", "partner").json()["accesses"]
        assert [(r["account"], r["outcome"], r["copy_id"]) for r in log] == \
            [("producer", "copy", copy_id)]
        assert get("/vault/log?partner=PA-B", "partner").json()["accesses"] == []
        everything = get("/vault/log", "auditor").json()["accesses"]
        assert [r["outcome"] for r in everything] == ["copy", "refused", "refused"]
        assert get("/vault/log", "producer").status_code == 403
        page = client.get("/vault", headers=s.headers("producer"))
        assert page.status_code == 200 and "Own manual" in page.text
        assert "Other partner" not in page.text
        own_page = client.get("/partner", headers=s.headers("partner"))
        assert own_page.status_code == 200 and "Who took your documents" in own_page.text
        assert "Copy issued" in own_page.text and "Own manual" in own_page.text
        assert "Other partner" not in own_page.text
    assert not list((s.data_dir).glob("kuznia-copy-*"))


def test_repeated_refusals_are_a_flag_with_its_page(served: tuple[Served, dict[str, str]]
                                                    ) -> None:
    s, docs = served
    with TestClient(s.app) as client:
        for _ in range(3):
            r = client.get(f"/api/v1/vault/documents/{docs['other']}/content",
                           headers=s.headers("producer"))
            assert r.status_code == 404
        flags = client.get("/api/v1/oversight/flags", headers=s.headers("auditor")).json()
        mine = [f for f in flags["flags"] if f["code"] == "vault_refusals"]
        assert [f["reference"]["account"] for f in mine] == ["producer"]
        assert "refused 3 times" in mine[0]["text"]
        page = client.get(f"/oversight/flags/{mine[0]['key']}", headers=s.headers("auditor"))
        assert page.status_code == 200 and "refused 3 times" in page.text
        own = client.get("/api/v1/oversight/flags", headers=s.headers("producer")).json()
        assert not [f for f in own["flags"] if f["code"].startswith("vault_")]
