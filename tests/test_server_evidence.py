"""The evidence pages and routes for each role: the uses list (summary, pick-lists, sorts,
exports), a contract's page, records as labelled pages, a flag's page and its triage;
who may open each, and that a producer never sees another's records or any triage."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

import kuznia
from helpers import write_csv
from kuznia.services import oversight, use_table
from server_helpers import OTHERS, PASSWORD, Served, serve

ROLES = ("admin", "analyst", "procurement", "engineer", "producer", "auditor")


@pytest.fixture
def served(filled: kuznia.Workspace, tmp_path: Path) -> Served:
    header = ["contract_id", "producer_id", "product_id", "signed_on", "quantity",
              "unit_price", "currency", "due_on"]
    rows = [[f"CP{i}", ("P001", "P002", "P003")[i % 3], "ATG-B",
             (dt.date(2026, 1, 5) + dt.timedelta(days=9 * i)).isoformat(), 20,
             13500 + 150 * i, "USD", ""] for i in range(6)]
    rows.append(["CX", "P003", "ATG-B", "2026-01-25", 20, 60000, "USD", ""])
    filled.import_file("contracts", write_csv(tmp_path / "peers.csv", header, rows))
    return serve(filled, tmp_path / "server-data")


def _outlier_key(served: Served) -> str:
    (flag,) = [f for f in oversight.flags(served.ws.store).flags
               if f["code"] == "price_outlier"]
    return flag["key"]


def _rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text, newline="")))


def test_who_opens_which_evidence_page(served: Served) -> None:
    key = _outlier_key(served)
    pages = {"/uses": set(ROLES), "/uses?sort=-cost": set(ROLES) - {"engineer"},
             "/contracts/C001": set(ROLES) - {"engineer"},
             "/records/deliveries/D001": set(ROLES),
             f"/oversight/flags/{key}": {"admin", "analyst", "auditor"}}
    with TestClient(served.app, raise_server_exceptions=False) as client:
        for url, allowed in pages.items():
            for role in ROLES:
                r = client.get(url, headers=served.headers(role))
                assert r.status_code < 500, (url, role, r.text[:300])
                if role in allowed:
                    assert r.status_code == 200, (url, role, r.status_code)
                else:
                    assert r.status_code in (400, 403), (url, role, r.status_code)
            r = client.get(url)
            assert r.status_code in (303, 200) and "login" in str(r.url), url


def test_a_producer_gets_404_for_anothers_contract_and_sees_no_triage(served: Served
                                                                     ) -> None:
    h = served.headers("producer")
    key = _outlier_key(served)
    with TestClient(served.app, raise_server_exceptions=False) as client:
        own = client.get("/contracts/C001", headers=h)
        assert own.status_code == 200 and "C001" in own.text
        theirs = client.get("/contracts/C002", headers=h)
        missing = client.get("/contracts/C999", headers=h)
        assert theirs.status_code == missing.status_code == 404
        assert theirs.text.replace("C002", "X") == missing.text.replace("C999", "X")
        for url in ("/uses", "/api/v1/exports/uses", "/api/v1/exports/uses?format=xlsx",
                    "/api/v1/use-summary", "/contracts/C001", f"/producers/{'P002'}"):
            r = client.get(url, headers=h)
            assert r.status_code == 200, url
            if "xlsx" not in url:
                for other in OTHERS:
                    assert other not in r.text, (url, other)
                assert "OP-0" not in r.text, url
                assert "/oversight/flags/" not in r.text and "Triage" not in r.text, url
        for url in (f"/api/v1/oversight/flags/{key}", "/api/v1/exports/flags",
                    f"/oversight/flags/{key}"):
            assert client.get(url, headers=h).status_code == 403, url
        r = client.post(f"/api/v1/oversight/flags/{key}/triage", headers=h,
                        json={"status": "confirmed"})
        assert r.status_code == 403


def test_the_uses_page_sums_the_set_and_exports_it(served: Served) -> None:
    h = served.headers("analyst")
    with TestClient(served.app) as client:
        page = client.get("/uses?product=FPV-A", headers=h)
        assert page.status_code == 200
        total = use_table.summary(served.ws.store, {"product": "FPV-A"})
        assert f"{total['uses']:,} uses match" in page.text
        assert f"{total['cost_per_effect']:,.0f}" in page.text
        # pick-lists, sortable headers, both exports linked with the same filters
        assert '<select name="product">' in page.text and 'value="FPV-A" selected' in page.text
        assert 'aria-sort="descending"' in page.text and "sort=-effects" in page.text
        assert "/api/v1/exports/uses?product=FPV-A&amp;format=csv" in page.text
        csv_ = client.get("/api/v1/exports/uses?product=FPV-A&format=csv", headers=h)
        assert csv_.headers["content-type"].startswith("text/csv")
        assert "attachment" in csv_.headers["content-disposition"]
        rows = _rows(csv_.text)
        assert len(rows) == total["uses"]
        assert sum(float(r["cost"]) for r in rows) == pytest.approx(total["cost"])
        summary = client.get("/api/v1/use-summary?product=FPV-A", headers=h).json()
        assert summary["cost_per_effect"] == pytest.approx(total["cost_per_effect"])
        x = client.get("/api/v1/exports/uses?product=FPV-A&format=xlsx", headers=h)
        assert x.status_code == 200 and x.content[:2] == b"PK"
        from openpyxl import load_workbook

        book = load_workbook(io.BytesIO(x.content))
        assert book["uses"].max_row == total["uses"] + 1
        bad = client.get("/api/v1/exports/uses?format=pdf", headers=h)
        assert bad.status_code == 400
        assert client.get("/uses?sort=price", headers=h).status_code == 400


def test_an_engineers_export_has_no_price(served: Served) -> None:
    with TestClient(served.app) as client:
        r = client.get("/api/v1/exports/uses", headers=served.headers("engineer"))
        header = r.text.splitlines()[0].split(",")
        assert "operator" in header and "cost" not in header and "unit_price" not in header


def test_a_record_is_a_page_of_labelled_fields_with_links(served: Served) -> None:
    h = served.headers("analyst")
    with TestClient(served.app) as client:
        r = client.get("/records/deliveries/D001", headers=h)
        assert "<dt>Contract</dt>" in r.text and 'href="/contracts/C001"' in r.text
        assert "<dt>Accepted quantity</dt>" in r.text and "accepted_quantity" not in r.text
        assert 'href="/uses?lot=L-0001"' in r.text and 'href="/audit?before=' in r.text
        moved = client.get("/records/contracts/C001", headers=h, follow_redirects=False)
        assert moved.status_code == 303 and moved.headers["location"] == "/contracts/C001"
        # without the audit trail, no link to it
        r = client.get("/records/deliveries/D001", headers=served.headers("procurement"))
        assert "/audit?" not in r.text


def test_the_contract_page_shows_value_lots_flags_and_history(served: Served) -> None:
    with TestClient(served.app) as client:
        r = client.get("/contracts/CX", headers=served.headers("auditor"))
        assert r.status_code == 200
        assert re.search(r"Value</dt><dd>1\.2\smillion\sUSD", r.text), r.text[:3000]  # 20 x 60,000
        assert "price outlier" in r.text and "/oversight/flags/" in r.text
        r = client.get("/contracts/C001", headers=served.headers("auditor"))
        assert 'href="/uses?lot=L-0001"' in r.text and 'href="/uses?lot=L-0002"' in r.text
        assert "Never amended" in r.text


def test_triage_through_the_api_and_the_page(served: Served) -> None:
    key = _outlier_key(served)
    with TestClient(served.app, raise_server_exceptions=False) as client:
        for role in ("admin", "procurement", "engineer"):
            r = client.post(f"/api/v1/oversight/flags/{key}/triage",
                            headers=served.headers(role), json={"status": "confirmed"})
            assert r.status_code == 403, role
        r = client.post(f"/api/v1/oversight/flags/{key}/triage",
                        headers=served.headers("analyst"),
                        json={"status": "in_review", "comment": "asking the buyer"})
        assert r.status_code == 200 and r.json()["status"] == "in_review"
        bad = client.post(f"/api/v1/oversight/flags/{key}/triage",
                          headers=served.headers("analyst"), json={"status": "done"})
        assert bad.status_code == 400
        none = client.post("/api/v1/oversight/flags/ffffffffffffffff/triage",
                           headers=served.headers("analyst"), json={"status": "confirmed"})
        assert none.status_code == 404
        got = client.get(f"/api/v1/oversight/flags/{key}", headers=served.headers("admin"))
        body = got.json()
        assert body["case"]["comments"][0]["body"] == "asking the buyer"
        assert body["prices"]["contract"]["contract_id"] == "CX"
        assert len(body["prices"]["peers"]) == body["flag"]["reference"]["peers"]
        # the watchdog filters by status and exports with it
        page = client.get("/oversight?status=in_review", headers=served.headers("auditor"))
        assert page.status_code == 200 and f"/oversight/flags/{key}" in page.text
        assert page.text.count('<tr class="sev-') == 1
        empty = client.get("/oversight?status=confirmed", headers=served.headers("auditor"))
        assert empty.text.count('<tr class="sev-') == 0
        flags = _rows(client.get("/api/v1/exports/flags",
                                 headers=served.headers("auditor")).text)
        assert {f["key"]: f["status"] for f in flags}[key] == "in review"
        # the flag's page: the peers plotted with the threshold, the comment escaped
        client.post(f"/api/v1/oversight/flags/{key}/triage",
                    headers=served.headers("auditor"), json={"comment": "<script>x</script>"})
        page = client.get(f"/oversight/flags/{key}", headers=served.headers("auditor"))
        assert "<svg" in page.text and 'class="threshold"' in page.text
        assert page.text.count('class="peer"') == body["flag"]["reference"]["peers"]
        assert "<script>x</script>" not in page.text and "&lt;script&gt;" in page.text
        # what was measured in a sentence; the numbers behind a toggle, named in words
        measured = page.text.split('id="h-measure"')[1].split("</section>")[0]
        said, behind = measured.split("<details>")
        assert "Its unit price" in said and "<dd>" not in said
        assert "Chance of seeing this by luck alone" in behind and "How sure: t on" in behind
        lead = page.text.split('class="lead')[1].split("</p>")[0]
        assert "p = " not in lead and "p &lt; " not in lead and "CX pays" in lead
        assert not re.search(r"<dt>(Z|P|P bar|Log median|Noise)</dt>", measured), measured
        audit = client.get("/audit?table=flag_triage", headers=served.headers("auditor"))
        assert audit.text.count("flag_") >= 2


def test_the_triage_form_needs_the_sessions_csrf_token(served: Served) -> None:
    key = _outlier_key(served)
    with TestClient(served.app, raise_server_exceptions=False) as client:
        form = client.get("/login").text  # the form's own login token (login CSRF)
        login_token = re.search(r'name="login_token" value="([^"]*)"', form).group(1)
        r = client.post("/login", data={"name": "auditor", "password": PASSWORD,
                                        "login_token": login_token},
                        follow_redirects=False)
        assert r.status_code == 303
        page = client.get(f"/oversight/flags/{key}")
        token = re.search(r'name="csrf-token" content="([^"]+)"', page.text).group(1)
        url = f"/oversight/flags/{key}/triage"
        form = {"status": "confirmed", "comment": "paid twice"}
        assert client.post(url, data=form).status_code == 403
        r = client.post(url, data=form, headers={"X-CSRF-Token": token, "HX-Request": "true"})
        assert r.status_code == 200 and "confirmed" in r.text and "paid twice" in r.text
        assert "Saved." in r.text
