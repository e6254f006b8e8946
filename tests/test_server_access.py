"""Access on every route, for every role: built from the app's own route table, so a new
route without an access rule fails here. A producer never sees another producer's data."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

import kuznia
from kuznia.server.app import route_table
from kuznia.services import access
from server_helpers import OTHERS, PRODUCER, Served, serve

# A value for each path parameter: records of *other* producers (P003's contract, P001's
# site...), so a producer must get 404 where the others get 200.
SAMPLES = {"contract_id": "C002", "delivery_id": "D003", "producer_id": "P003",
           "product_id": "ATG-B", "version": "v1", "use_id": "U0006", "site_id": "S-03",
           "struck_on": "2026-03-14", "currency": "EUR", "region": "West",
           "failure_mode": "fuze_dud", "action_id": "CA-002", "name": "subject",
           "other": "subject", "job_id": "0" * 24, "key": "0123456789abcdef",
           "partner_id": "PA-B", "licence_id": "L-003", "stage": "filed",
           "entered_on": "2026-02-01", "doc_id": "d-0000000000000000"}
ROLES = (*access.ROLES, "anonymous")


@pytest.fixture
def served(filled: kuznia.Workspace, tmp_path: Path) -> Served:
    return serve(filled, tmp_path / "server-data")


def api_routes(app: object) -> list[APIRoute]:
    routes = route_table(app)  # type: ignore[arg-type]
    # the table is what the app serves: every documented path is in it, and back
    documented = set(app.openapi()["paths"])  # type: ignore[attr-defined]
    assert documented == {r.path.replace(":path}", "}") for r in routes if r.include_in_schema}
    return routes


def fill(path: str) -> str:
    return re.sub(r"\{(\w+)(?::path)?\}", lambda m: SAMPLES[m.group(1)], path)


def test_every_route_declares_an_action_the_rules_know(served: Served) -> None:
    routes = api_routes(served.app)
    assert len(routes) > 40
    for route in routes:
        if not route.include_in_schema:
            continue  # the docs page: public, no data
        extra = route.openapi_extra or {}
        assert "x-access" in extra, f"{route.path} has no access rule"
        action = extra["x-access"]["action"]
        assert action == "public" or action in access.ACTIONS or re.fullmatch(
            r"(read|write):\w+", action), action


def _expected(role: str, action: str) -> str:
    if action == "public":
        return "allowed"
    if role == "anonymous":
        return "401"
    return "allowed" if access.allowed(role, action) else "403"


def test_access_matrix(served: Served) -> None:
    """Every route x every role: 401 without credentials, 403 for a role without the
    action, otherwise an answer (possibly a 400 for the empty request, or a producer's
    404), never a 5xx and never another producer's id in a producer's answer."""
    seen = 0
    with TestClient(served.app, raise_server_exceptions=False) as client:
        for route in api_routes(served.app):
            if not route.include_in_schema:
                continue
            action = route.openapi_extra["x-access"]["action"]  # type: ignore[index]
            for method in route.methods:
                url = fill(route.path)
                for role in ROLES:
                    r = client.request(method, url, headers=served.headers(role))
                    want = _expected(role, action)
                    where = f"{method} {url} as {role}"
                    assert r.status_code < 500, f"{where}: {r.status_code} {r.text[:300]}"
                    if want == "allowed":
                        assert r.status_code not in (401, 403), f"{where}: {r.text[:300]}"
                    else:
                        assert r.status_code == int(want), f"{where}: {r.status_code}"
                        assert r.headers["content-type"] == "application/problem+json"
                    if role == "producer":
                        text = r.text
                        if r.status_code >= 400:  # an error may quote what was asked for
                            for part in url.split("/"):
                                text = text.replace(part, "") if part else text
                        for other in OTHERS:
                            assert other not in text, f"{where} shows {other}: {r.text}"
                        assert "OP-0" not in text, f"{where} shows an operator"
                    seen += 1
    assert seen > 40 * len(ROLES)


def test_producer_reads_its_own_and_gets_404_for_others(served: Served) -> None:
    h = served.headers("producer")
    with TestClient(served.app) as client:
        own = client.get("/api/v1/contracts/C001", headers=h)
        assert own.status_code == 200 and own.json()["producer_id"] == PRODUCER
        theirs = client.get("/api/v1/contracts/C002", headers=h)
        missing = client.get("/api/v1/contracts/C999", headers=h)
        assert theirs.status_code == missing.status_code == 404
        # the same body, but for the id asked for (U0002 names no producer: its lot says P002)
        assert theirs.text.replace("C002", "X") == missing.text.replace("C999", "X")
        listed = client.get("/api/v1/contracts", headers=h).json()["rows"]
        assert [r["contract_id"] for r in listed] == ["C001"]
        deliveries = client.get("/api/v1/deliveries", headers=h).json()["rows"]
        assert {d["contract_id"] for d in deliveries} == {"C001"}
        uses = client.get("/api/v1/uses?total=true", headers=h).json()
        assert uses["total"] == 4 and {u["producer_id"] for u in uses["rows"]} == {PRODUCER}
        assert all(u["operator"] is None for u in uses["rows"])
        # a filter naming another producer gives nothing, as if there were nothing
        other = client.get("/api/v1/uses?producer=P003&total=true", headers=h).json()
        assert other["total"] == 0 and other["rows"] == []
        assert client.get("/api/v1/uses?operator=OP-01", headers=h).status_code == 403
        costs = client.get("/api/v1/cost-per-effect?by=product,producer", headers=h).json()
        assert {r["producer_id"] for r in costs["rows"]} == {PRODUCER}
        assert client.get("/api/v1/cost-per-effect?by=operator", headers=h).status_code == 403
        fixes = client.get("/api/v1/fixes", headers=h).json()["rows"]
        assert {f["action_id"] for f in fixes} <= {"CA-001"}
        # the history of stored rows spans every producer's: not a producer's to read
        assert client.get("/api/v1/audit/history", headers=h).status_code == 403
    with TestClient(served.app) as client:
        got = client.get("/api/v1/audit/history?table=contracts",
                         headers=served.headers("auditor"))
        assert got.status_code == 200 and got.json()["changes"] == []
        bad = client.get("/api/v1/audit/history?table=nope", headers=served.headers("auditor"))
        assert bad.status_code == 400 and bad.json()["params"] == ["table"]


def test_engineer_sees_no_price_and_no_contract(served: Served) -> None:
    h = served.headers("engineer")
    with TestClient(served.app) as client:
        uses = client.get("/api/v1/uses", headers=h).json()["rows"]
        assert uses and all(u["unit_price"] is None and u["cost"] is None for u in uses)
        for path in ("/api/v1/contracts", "/api/v1/offers", "/api/v1/rates",
                     "/api/v1/cost-per-effect", "/api/v1/plans"):
            assert client.get(path, headers=h).status_code == 403, path
        board = client.get("/api/v1/board?as_of=2026-12-31", headers=h).json()
        assert all(b["kind"] not in access.CONTRACT_BLOCKS for b in board["blocks"])
    with TestClient(served.app) as client:  # the analyst sees the priced uses
        uses = client.get("/api/v1/uses", headers=served.headers("analyst")).json()["rows"]
        assert any(u["unit_price"] is not None for u in uses)


def test_bad_tokens_are_401_alike(served: Served) -> None:
    with TestClient(served.app) as client:
        for header in ("Bearer kz_nope", "Bearer ", "Basic abc", "Bearer " + "x" * 5000):
            r = client.get("/api/v1/me", headers={"Authorization": header})
            assert r.status_code == 401, header
            assert r.headers["www-authenticate"].startswith("Bearer")
        kuznia_accounts = __import__("kuznia.services.accounts", fromlist=["x"])
        kuznia_accounts.revoke_tokens(served.ws.store, "analyst", actor="tester")
        assert client.get("/api/v1/me", headers=served.headers("analyst")).status_code == 401
        kuznia_accounts.disable_user(served.ws.store, "auditor", actor="tester")
        assert client.get("/api/v1/me", headers=served.headers("auditor")).status_code == 401
