"""GET /api/v1/licences and the licence pages, per role: the ministry sees every licence,
a partner its own, a producer those naming it (and no other producer)."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

import kuznia
from server_helpers import PARTNER, PRODUCER, Served, serve

MINISTRY = ("admin", "analyst", "procurement", "engineer", "auditor")


@pytest.fixture
def served(filled: kuznia.Workspace, tmp_path: Path) -> Served:
    return serve(filled, tmp_path / "server-data")


def _ids(client: TestClient, served: Served, role: str, query: str = "") -> list[str]:
    r = client.get(f"/api/v1/licences{query}", headers=served.headers(role))
    assert r.status_code == 200, r.text
    return [x["licence_id"] for x in r.json()["licences"]]


def test_each_role_sees_the_licences_its_rule_gives_and_no_more(served: Served) -> None:
    with TestClient(served.app) as client:
        for role in MINISTRY:
            assert _ids(client, served, role) == ["L-001", "L-002", "L-003", "L-004", "L-005"]
        assert PARTNER == "PA-A"
        assert _ids(client, served, "partner") == ["L-001", "L-002"]
        assert PRODUCER == "P002"
        got = client.get("/api/v1/licences", headers=served.headers("producer")).json()
        assert [x["licence_id"] for x in got["licences"]] == ["L-002", "L-004"]
        # L-002 names P002 and P003: a producer sees itself only
        assert all(x["producers"] == ["P002"] for x in got["licences"])
        assert "P003" not in client.get("/api/v1/licences",
                                        headers=served.headers("producer")).text
        assert client.get("/api/v1/licences").status_code == 401
        # states and waiting, on a day
        assert _ids(client, served, "analyst", "?status=expired&as_of=2026-04-01") == ["L-003"]
        assert _ids(client, served, "analyst", "?status=granted&as_of=2026-02-01") == [
            "L-001", "L-003"]
        r = client.get("/api/v1/licences?as_of=2026-04-01", headers=served.headers("analyst"))
        rows = {x["licence_id"]: x for x in r.json()["licences"]}
        assert (rows["L-002"]["stage"], rows["L-002"]["days_in_stage"],
                rows["L-002"]["days_waiting"]) == ("partner review", 48, 59)
        assert rows["L-003"]["expired"] and not rows["L-003"]["live"]
        assert rows["L-001"]["live"] and rows["L-001"]["days_waiting"] is None
        bad = client.get("/api/v1/licences?status=lost", headers=served.headers("analyst"))
        assert bad.status_code == 400 and bad.json()["params"] == ["status"]
        bad = client.get("/api/v1/licences?as_of=2026-4-1", headers=served.headers("analyst"))
        assert bad.status_code == 400
        # a partner reads no table and no figure
        h = served.headers("partner")
        for path in ("/api/v1/licences/L-003", "/api/v1/licences/L-001", "/api/v1/partners",
                     "/api/v1/partners/PA-B", "/api/v1/licence_stages", "/api/v1/contracts",
                     "/api/v1/cost-per-effect", "/api/v1/failures", "/api/v1/uses"):
            assert client.get(path, headers=h).status_code == 403, path
        assert client.get("/api/v1/licences/L-003",
                          headers=served.headers("auditor")).status_code == 200


PAGES = (("/licences", set(MINISTRY)), ("/licences?status=in_review", set(MINISTRY)),
         ("/partner", {"partner"}))


def test_the_licence_pages_per_role(served: Served) -> None:
    with TestClient(served.app) as client:
        for (path, allowed), role in itertools.product(PAGES, (*MINISTRY, "producer",
                                                               "partner")):
            r = client.get(path, headers=served.headers(role))
            assert r.status_code == (200 if role in allowed else 403), (role, r.status_code)
            if role == "partner" and r.status_code == 200:
                assert "L-001" in r.text and "L-002" in r.text
                assert "L-003" not in r.text and "Partner B" not in r.text
            if path.startswith("/licences") and r.status_code == 200:
                assert "in review" in r.text.lower() and "in_review</" not in r.text
        r = client.get("/", headers=served.headers("partner"), follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == "/partner"
