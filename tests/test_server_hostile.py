"""Hostile requests of the second pass (issue 24): each is a 4xx naming what is wrong, never
a 500, on both stores."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

import kuznia
from server_helpers import PASSWORD, Served, serve

API = "/api/v1"


@pytest.fixture
def served(filled: kuznia.Workspace, tmp_path: Path) -> Served:
    return serve(filled, tmp_path / "server-data")


def _client(served: Served) -> TestClient:
    return TestClient(served.app, raise_server_exceptions=False)


DAYS_AT_THE_ENDS = [
    "cost-per-effect?date_to=9999-12-31", "cost-per-effect?date_from=9999-12-31",
    "cost-per-effect?by=month&date_from=9999-12-02&date_to=9999-12-31",
    "cost-per-effect?date_to=0001-01-05", "uses?date_to=9999-12-31",
    "uses?date_from=9999-12-31", "uses?month=9999-12", "contracts?signed_on_to=9999-12-31"]


def test_the_last_and_first_days_there_are_ends_not_errors(served: Served):
    with _client(served) as client:
        for query in DAYS_AT_THE_ENDS:
            r = client.get(f"{API}/{query}", headers=served.headers("analyst"))
            assert r.status_code == 200, (query, r.text)
        assert client.post(f"{API}/session", json={"name": "analyst",
                                                   "password": PASSWORD}).status_code == 200
        r = client.get("/overview?date_from=9999-12-01&date_to=9999-12-31")
        assert r.status_code == 200, r.text[:300]
        r = client.get("/overview?date_to=9999-12-31")
        assert r.status_code == 200, r.text[:300]


def test_regions_before_the_history_are_no_history(served: Served):
    # before any record there is no history: an answer with no regions (issue 26's rule),
    # never negative months or probabilities
    with _client(served) as client:
        r = client.get(f"{API}/resilience/regions?as_of=0001-01-01",
                       headers=served.headers("analyst"))
        assert r.status_code == 200 and r.json()["regions"] == [], r.text
        r = client.get(f"{API}/resilience/regions?as_of=2026-12-31",
                       headers=served.headers("analyst"))
        assert r.status_code == 200
        assert all(0 < x["monthly_strike_probability"] < 1 for x in r.json()["regions"])


NESTED = [b"[" * 100_000 + b"]" * 100_000, b'{"a":' * 5_000 + b"1" + b"}" * 5_000,
          b"[" * 40 + b"]" * 40]


def test_deeply_nested_json_is_a_400_before_authentication(served: Served):
    with _client(served) as client:
        for path, body in ((p, b) for p in ("/session", "/plans/allocate") for b in NESTED):
            r = client.post(f"{API}{path}", content=body,
                            headers={"content-type": "application/json"})
            assert r.status_code == 400, (path, r.status_code, r.text[:200])
            assert r.headers["content-type"] == "application/problem+json"
            assert "nests deeper" in r.json()["detail"]


def test_a_lone_surrogate_in_json_is_a_400(served: Served):
    with _client(served) as client:
        for path, body in (("/session", b'{"name": "\\ud800", "password": "x"}'),
                           ("/uses", b'{"use_id": "U\\udc00", "used_on": "2026-02-10", '
                                     b'"product_id": "FPV-A", "effects": 1, '
                                     b'"outcome": "effect"}')):
            r = client.post(f"{API}{path}", content=body,
                            headers={"content-type": "application/json",
                                     **served.headers("engineer")})
            assert r.status_code == 400, (path, r.text)
            assert "surrogate" in r.json()["detail"]


LAX_TYPES = [
    ("/plans/allocate", {"budget": True}, "budget"),
    ("/plans/allocate", {"budget": "1000"}, "budget"),
    ("/resilience/simulate", {"months": True, "scenarios": 10}, "months"),
    ("/resilience/simulate", {"from_history": "yes", "scenarios": 10}, "from_history"),
    ("/resilience/simulate", {"start": "2026-1-1", "scenarios": 10}, "start"),
    ("/users", {"name": "x1", "role": "analyst", "password": 123456789012}, "password"),
    ("/uses", {"use_id": "T1", "used_on": "2026-02-10", "product_id": "FPV-A",
               "effects": True, "outcome": "effect"}, "effects"),
]


def test_json_takes_its_own_types_strictly(served: Served):
    with _client(served) as client:
        for path, body, field in LAX_TYPES:
            role = {"/users": "admin", "/uses": "engineer"}.get(path, "analyst")
            r = client.post(f"{API}{path}", json=body, headers=served.headers(role))
            assert r.status_code == 400, (path, body, r.text)
            assert r.json()["params"] == [field], r.text


LAX_DAYS = [("cost-per-effect?date_from=2026-1-1", "date_from"),
            ("uses?date_to=20260101", "date_to"), ("board?as_of=2026-02-1", "as_of"),
            ("contracts?signed_on_from=2026-1-01", "signed_on_from")]


def test_a_day_in_a_query_is_written_yyyy_mm_dd(served: Served):
    with _client(served) as client:
        for query, field in LAX_DAYS:
            r = client.get(f"{API}/{query}", headers=served.headers("analyst"))
            assert r.status_code == 400 and r.json()["params"] == [field], r.text


def test_a_use_dated_2026_1_1_is_a_row_error_naming_used_on(served: Served):
    with _client(served) as client:
        r = client.post(f"{API}/uses", json={
            "use_id": "T1", "used_on": "2026-2-1", "product_id": "FPV-A", "effects": 1,
            "outcome": "effect"}, headers=served.headers("engineer"))
        assert r.status_code == 422, r.text
        assert [p["column"] for p in r.json()["problems"]] == ["used_on"]


def _attempt_keys(served: Served) -> set[str]:
    import sqlalchemy as sa

    from kuznia.services import sign_in_rows
    from kuznia.store.schema import login_attempts

    with sign_in_rows.read(served.ws.store) as conn:  # off the data's store on SQLite
        return set(conn.execute(sa.select(login_attempts.c.key)).scalars())


def test_x_forwarded_for_is_ignored_from_a_client_that_is_not_a_trusted_proxy(
        served: Served):
    wrong = {"name": "analyst", "password": "wrong" * 3}
    with TestClient(served.app, client=("198.51.100.5", 4000)) as client:
        for i in range(3):
            client.post(f"{API}/session", json=wrong,
                        headers={"X-Forwarded-For": f"203.0.113.{i}"})
    assert _attempt_keys(served) == {"user:analyst addr:198.51.100.5", "addr:198.51.100.5"}


def test_x_forwarded_for_names_the_client_behind_a_trusted_proxy(served: Served,
                                                                 tmp_path: Path):
    from kuznia.server.app import create_app

    app = create_app(served.ws.store, data_dir=tmp_path / "d",
                     trusted_proxies=["10.0.0.0/8"])
    wrong = {"name": "analyst", "password": "wrong" * 3}
    with TestClient(app, client=("10.1.2.3", 4000)) as client:
        client.post(f"{API}/session", json=wrong,
                    headers={"X-Forwarded-For": "198.51.100.1, 203.0.113.9, 10.0.0.7"})
    # the right-most address the trusted proxies were not: the client as they saw it
    assert _attempt_keys(served) == {"user:analyst addr:203.0.113.9", "addr:203.0.113.9"}


def test_a_bad_trusted_proxy_is_a_usage_error_naming_the_option(served: Served,
                                                                tmp_path: Path):
    from typer.testing import CliRunner

    from kuznia.cli import app as cli

    r = CliRunner().invoke(cli, ["serve", "--trusted-proxy", "proxy.example",
                                 "--db", served.ws.store.url])
    assert r.exit_code == 2 and "--trusted-proxy" in r.output, r.output


def test_the_owner_locked_out_from_one_address_signs_in_from_another_and_is_told(
        served: Served):
    import sqlalchemy as sa

    from kuznia.services import sign_in_rows
    from kuznia.store.schema import login_attempts

    wrong = {"name": "analyst", "password": "wrong" * 3}
    with TestClient(served.app, client=("203.0.113.66", 1)) as attacker:
        assert attacker.post(f"{API}/session", json=wrong).status_code == 401
    with sign_in_rows.bookkeeping(served.ws.store) as conn:  # as after ten failures
        conn.execute(sa.update(login_attempts).values(failures=10, locked=True,
                                                      last_failed_at="2026-01-01T00:00:00"))
    with TestClient(served.app, client=("203.0.113.66", 1)) as attacker:
        r = attacker.post(f"{API}/session", json={"name": "analyst", "password": PASSWORD})
        assert r.status_code == 429
    with TestClient(served.app, client=("198.51.100.8", 1)) as owner:
        r = owner.post(f"{API}/session", json={"name": "analyst", "password": PASSWORD})
        assert r.status_code == 200
        me = owner.get(f"{API}/me").json()
        assert me["locked_from"] == ["203.0.113.66"] and me["failed_sign_ins"] == 10
        users = owner.get(f"{API}/users", headers=served.headers("admin")).json()["users"]
        assert next(u for u in users if u["name"] == "analyst")["locked_from"] == [
            "203.0.113.66"]
