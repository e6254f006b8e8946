"""The field form's catalogue (GET /api/v1/field/catalogue): only for accounts that may
record uses, scoped to what the account may record for, and answered 304 while its ETag
stands."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

import kuznia
from kuznia.services import field
from kuznia.services.access import EVERYTHING, Scope
from server_helpers import PRODUCER, Served, serve

URL = "/api/v1/field/catalogue"


@pytest.fixture
def served(filled: kuznia.Workspace, tmp_path: Path) -> Served:
    return serve(filled, tmp_path / "server-data")


def test_an_engineer_gets_every_product_with_its_versions_lots_and_modes(served: Served
                                                                        ) -> None:
    with TestClient(served.app) as client:
        r = client.get(URL, headers=served.headers("engineer"))
    assert r.status_code == 200
    products = {p["id"]: p for p in r.json()["products"]}
    assert list(products) == ["ATG-B", "FPV-A"]
    fpv = products["FPV-A"]
    assert fpv["name"] == "One-way drone A"
    assert [v["id"] for v in fpv["versions"]] == ["v2", "v1"]  # newest first
    assert [lot["id"] for lot in fpv["lots"]] == ["L-0003", "L-0002", "L-0001"]
    assert fpv["lots_complete"] is True
    assert [m["id"] for m in fpv["failure_modes"]] == ["link_loss", "battery_cold"]
    assert [lot["id"] for lot in products["ATG-B"]["lots"]] == ["L-0004"]
    assert [m["id"] for m in products["ATG-B"]["failure_modes"]] == ["fuze_dud"]


@pytest.mark.parametrize("role", ["producer", "analyst", "procurement", "auditor", "admin"])
def test_only_who_may_record_uses_gets_the_catalogue(served: Served, role: str) -> None:
    with TestClient(served.app) as client:
        assert client.get(URL, headers=served.headers(role)).status_code == 403
        assert client.get(URL).status_code == 401


def test_a_producer_scope_sees_only_its_own_products_and_lots(served: Served) -> None:
    # P002 holds contract C001 (FPV-A: lots L-0001 and L-0002); L-0003 is P003's lot of
    # the same product, ATG-B is P001's product
    mine = field.catalogue(served.ws.store, Scope.of("producer", PRODUCER))
    assert [p["id"] for p in mine["products"]] == ["FPV-A"]
    assert [lot["id"] for lot in mine["products"][0]["lots"]] == ["L-0002", "L-0001"]
    assert [p["id"] for p in field.catalogue(served.ws.store, Scope.of("producer", "P001"))
            ["products"]] == ["ATG-B"]
    everything = field.catalogue(served.ws.store, EVERYTHING)
    assert len(everything["products"]) == 2


def test_the_etag_answers_304_until_the_catalogue_changes(served: Served,
                                                          tmp_path: Path) -> None:
    with TestClient(served.app) as client:
        first = client.get(URL, headers=served.headers("engineer"))
        tag = first.headers["etag"]
        again = client.get(URL, headers={**served.headers("engineer"), "If-None-Match": tag})
        assert again.status_code == 304 and again.content == b""
        modes = tmp_path / "modes.csv"
        modes.write_text("product_id,failure_mode,description,severity\n"
                         "ATG-B,seeker_loss,seeker loses the target,3\n")
        served.ws.import_file("failure_modes", modes)
        changed = client.get(URL, headers={**served.headers("engineer"), "If-None-Match": tag})
    assert changed.status_code == 200 and changed.headers["etag"] != tag
    atg = next(p for p in changed.json()["products"] if p["id"] == "ATG-B")
    assert [m["id"] for m in atg["failure_modes"]] == ["fuze_dud", "seeker_loss"]


def test_the_form_can_be_installed_and_keeps_its_csp(served: Served) -> None:
    import io
    import re

    from PIL import Image

    with TestClient(served.app) as client:
        page = client.get("/field", headers=served.headers("engineer"))
        assert page.status_code == 200
        assert "script-src 'self'" in page.headers["content-security-policy"]
        assert '<link rel="manifest" href="/static/field.webmanifest">' in page.text
        # no inline script: every <script> either has a src or holds JSON data
        for tag in re.findall(r"<script\b[^>]*>", page.text):
            assert "src=" in tag or 'type="application/json"' in tag, tag
        manifest = client.get("/static/field.webmanifest")
        assert manifest.headers["content-type"].startswith("application/manifest+json")
        assert manifest.json()["start_url"] == "/field"
        for icon in manifest.json()["icons"]:
            png = client.get(icon["src"])
            assert png.headers["content-type"] == "image/png"
            w, h = Image.open(io.BytesIO(png.content)).size
            assert f"{w}x{h}" == icon["sizes"]
        worker = client.get("/sw.js").text
        assert all(icon["src"] in worker for icon in manifest.json()["icons"])
        assert '"/static/field.webmanifest"' in worker
