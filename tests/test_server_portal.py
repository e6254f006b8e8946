"""The producers' portal through the server: who may answer, reply, download and send
offers (another producer's answers 404), the attachment served as a download, the
scorecard's API route and the pages showing each part."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

import kuznia
from kuznia.services import audit, audit_check, board
from server_helpers import OTHERS, PRODUCER, serve

PDF = b"%PDF-1.7\n%%EOF\n"


@pytest.fixture
def client(filled: kuznia.Workspace, tmp_path: Path):  # type: ignore[no-untyped-def]
    served = serve(filled, tmp_path / "data")
    with TestClient(served.app) as c:
        yield c, served


def _block(ws: kuznia.Workspace, producer: str = PRODUCER) -> dict:
    return board.board(ws.store, producer, scope=producer).blocks[0]


def _whole(c, url, headers):  # type: ignore[no-untyped-def]
    """A page with the sections that load on their own, as a browser shows it."""
    import html
    import re

    text = c.get(url, headers=headers).text
    for part in re.findall(r'hx-get="([^"]+)"', text):
        if part.startswith("/sections/"):
            text += c.get(html.unescape(part), headers={**headers, "HX-Request": "true"}).text
    return text


def test_answer_reply_and_download_with_their_rules(client):  # type: ignore[no-untyped-def]
    c, s = client
    b = _block(s.ws)
    form = {"kind": b["kind"], "ref": b["ref"], "body": "Lot <b>7</b> ships Monday"}
    r = c.post(f"/producers/{PRODUCER}/blocks/answer", headers=s.headers("producer"),
               data=form, files={"attachment": ("../x/8D.pdf", PDF, "application/pdf")})
    assert r.status_code == 200
    assert "Lot &lt;b&gt;7&lt;/b&gt; ships Monday" in r.text  # escaped, never markup
    for role, status in (("analyst", 403), ("engineer", 403), ("procurement", 403)):
        assert c.post(f"/producers/{PRODUCER}/blocks/answer", headers=s.headers(role),
                      data=form).status_code == status
    # another producer's page: as if it did not exist
    assert c.post(f"/producers/{OTHERS[0]}/blocks/answer", headers=s.headers("producer"),
                  data=form).status_code == 404
    assert c.post(f"/producers/{PRODUCER}/blocks/reply", headers=s.headers("producer"),
                  data=form).status_code == 403
    r = c.post(f"/producers/{PRODUCER}/blocks/reply", headers=s.headers("analyst"),
               data={**form, "body": "Send the lot numbers"})
    assert r.status_code == 200 and "Reply from the ministry" in r.text
    assert "audit event" in r.text  # an analyst reads the audit trail
    mid = 1
    got = c.get(f"/portal/attachments/{mid}", headers=s.headers("producer"))
    assert got.status_code == 200 and got.content == PDF
    assert got.headers["content-type"] == "application/pdf"
    assert got.headers["content-disposition"].startswith('attachment; filename="8D.pdf"')
    assert got.headers["x-content-type-options"] == "nosniff"
    assert c.get(f"/portal/attachments/{mid}", headers=s.headers("auditor")).status_code == 200
    # the answer on the ministry's board and on the producer's page
    page = _whole(c, f"/board?product={b['product_id']}&top=1000", s.headers("analyst"))
    assert "ships Monday" in page and "8D.pdf" in page
    page = _whole(c, f"/producers/{PRODUCER}", s.headers("producer"))
    assert "1 new" in page and "ships Monday" in page
    assert "1 new" not in _whole(c, f"/producers/{PRODUCER}", s.headers("producer"))
    with s.ws.store.read() as conn:
        actions = [e["action"] for e in audit.find_events(conn, table="block_messages")]
        assert sorted(actions) == ["block_answer", "block_reply"]
        assert audit_check.verify(conn, deep=True).ok


def test_another_producers_attachment_is_not_found(client):  # type: ignore[no-untyped-def]
    from kuznia.services import portal

    c, s = client
    b = _block(s.ws, OTHERS[1])
    got = portal.answer(s.ws.store, actor="x", producer=OTHERS[1], kind=b["kind"],
                        ref=b["ref"], body="ours", attachment=("r.pdf", PDF))
    assert c.get(f"/portal/attachments/{got['message_id']}",
                 headers=s.headers("producer")).status_code == 404
    assert c.get("/portal/attachments/999", headers=s.headers("analyst")).status_code == 404


def test_a_non_pdf_is_refused_in_words(client):  # type: ignore[no-untyped-def]
    c, s = client
    b = _block(s.ws)
    r = c.post(f"/producers/{PRODUCER}/blocks/answer", headers=s.headers("producer"),
               data={"kind": b["kind"], "ref": b["ref"], "body": "see"},
               files={"attachment": ("r.pdf", b"GIF89a", "application/pdf")})
    assert r.status_code == 400 and "not a PDF" in r.text


def test_offers_from_the_portal(client):  # type: ignore[no-untyped-def]
    c, s = client
    h = s.headers("producer")
    r = c.post(f"/producers/{PRODUCER}/offers", headers=h,
               data={"product_id": "FPV-A", "unit_price": "410", "capacity": "700"})
    assert r.status_code == 200 and "sent by account producer" in r.text.lower()
    r = c.post(f"/producers/{PRODUCER}/offers", headers=h,
               data={"product_id": "FPV-A", "unit_price": "cheap", "capacity": "700"})
    assert r.status_code == 422 and "unit_price" in r.text
    head = "product_id,producer_id,unit_price,capacity,min_order,lot_size,effects_per_unit\n"
    r = c.post(f"/producers/{PRODUCER}/offers/upload", headers=h, files={
        "file": ("offers.csv", (head + f"FPV-A,{OTHERS[0]},1,1,,,\n").encode(), "text/csv")})
    assert r.status_code == 422 and "offers.csv" in r.text
    assert c.post(f"/producers/{OTHERS[0]}/offers", headers=h, data={
        "product_id": "FPV-A", "unit_price": "1", "capacity": "1"}).status_code == 404
    assert c.post(f"/producers/{PRODUCER}/offers", headers=s.headers("procurement"), data={
        "product_id": "FPV-A", "unit_price": "1", "capacity": "1"}).status_code == 403
    page = c.get(f"/producers/{PRODUCER}", headers=s.headers("procurement"))
    assert "Sent by account producer" in page.text


def test_the_scorecard_route_and_its_scope(client):  # type: ignore[no-untyped-def]
    c, s = client
    own = c.get(f"/api/v1/producers/{PRODUCER}/scorecard", headers=s.headers("producer"))
    assert own.status_code == 200 and own.json()["producer_id"] == PRODUCER
    assert own.json()["cost_per_effect"]
    assert c.get(f"/api/v1/producers/{OTHERS[0]}/scorecard",
                 headers=s.headers("producer")).status_code == 404
    eng = c.get(f"/api/v1/producers/{OTHERS[0]}/scorecard", headers=s.headers("engineer"))
    assert eng.status_code == 200 and eng.json()["cost_per_effect"] == []  # no prices
    page = _whole(c, f"/producers/{OTHERS[0]}", s.headers("analyst"))
    assert "Scorecard" in page and "too few other producers to compare" in page


def test_a_browser_session_needs_its_csrf_token(client):  # type: ignore[no-untyped-def]
    from server_helpers import PASSWORD

    c, s = client
    b = _block(s.ws)
    r = c.post("/api/v1/session", json={"name": "producer", "password": PASSWORD})
    assert r.status_code == 200
    token = r.json()["csrf_token"]
    form = {"kind": b["kind"], "ref": b["ref"], "body": "from a session"}
    assert c.post(f"/producers/{PRODUCER}/blocks/answer", data=form).status_code == 403
    assert c.post(f"/producers/{PRODUCER}/offers", data={
        "product_id": "FPV-A", "unit_price": "1", "capacity": "1"}).status_code == 403
    r = c.post(f"/producers/{PRODUCER}/blocks/answer", data=form,
               headers={"X-CSRF-Token": token})
    assert r.status_code == 200 and "from a session" in r.text
