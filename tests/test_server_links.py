"""Every role follows every link it is shown, from its start page on, and meets no 403
or 404: the pages show only the links their caller may open (``web.base.may_open``)."""

from __future__ import annotations

import html
import re
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import pytest
from fastapi.testclient import TestClient

import kuznia
from kuznia.server.auth import Caller
from kuznia.server.web.base import may_open, only_links_it_may_open
from kuznia.services.accounts import ROLES, Account
from server_helpers import PASSWORD, PRODUCER, Served, serve

LINK = re.compile(r'<a\b[^>]*?\shref="([^"]*)"')
SECTION = re.compile(r'\shx-get="([^"]*)"')  # a section the browser loads on its own


@pytest.fixture
def served(filled: kuznia.Workspace, tmp_path: Path) -> Served:
    return serve(filled, tmp_path / "server-data")


def test_each_role_meets_no_refusal_from_a_link_it_is_shown(served: Served) -> None:
    for role in ROLES:
        with TestClient(served.app) as client:
            r = client.post("/api/v1/session", json={"name": role, "password": PASSWORD})
            assert r.status_code == 200
            todo, seen, refused, sections = ["/"], set(), [], set()
            while todo and len(seen) < 150:
                path = todo.pop()
                if path in seen:
                    continue
                seen.add(path)
                r = client.get(path)
                if r.status_code >= 400:
                    refused.append((path, r.status_code))
                    continue
                for got in SECTION.findall(r.text):  # as htmx asks it
                    got = html.unescape(got)
                    sections.add(got)
                    loaded = client.get(got, headers={"HX-Request": "true"})
                    if loaded.status_code >= 400:
                        refused.append((got, loaded.status_code))
                for href in LINK.findall(r.text):
                    full = urlsplit(urljoin("http://testserver" + path, html.unescape(href)))
                    if full.path.startswith(("/static/", "/api/")) or href.startswith("#"):
                        continue
                    todo.append(full.path + (f"?{full.query}" if full.query else ""))
            # a partner has one page of its own (its licences); every other role many
            assert len(seen) > (1 if role == "partner" else 5), role
            assert refused == [], role
            if role == "producer":  # its scope is its own: nothing of its is kept yet
                assert any(s.startswith("/sections/producer/") for s in sections), sections


def test_a_producer_is_shown_its_own_page_and_no_product_page() -> None:
    producer = Caller(Account("p", "producer", PRODUCER), "session")
    analyst = Caller(Account("a", "analyst", None), "session")
    assert may_open(producer, f"/producers/{PRODUCER}?flag=late")
    assert not may_open(producer, "/producers/P001")
    assert not may_open(producer, "/products/FPV-A")
    assert not may_open(producer, "/overview")
    assert may_open(producer, "/records/uses/U0001") and may_open(producer, "/uses?lot=L-1")
    assert not may_open(producer, "/no/such/page")
    assert may_open(analyst, "/products/FPV-A") and may_open(analyst, "/producers/P001")
    page = ('<p><a href="/products/FPV-A">FPV-A</a> by <a class="x" href="/producers/P002">'
            'P002</a></p><canvas data-chart="cpe" data-href="/products/{key}"></canvas>')
    assert only_links_it_may_open(page, producer) == (
        '<p><span>FPV-A</span> by <a class="x" href="/producers/P002">P002</a></p>'
        '<canvas data-chart="cpe"></canvas>')
    assert only_links_it_may_open(page, analyst) == page
