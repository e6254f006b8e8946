"""The API's behaviour: imports the same as the CLI's, jobs, one use at a time, sessions
with CSRF, errors as problem details, audited writes naming the account."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from typer.testing import CliRunner

import kuznia
from kuznia.cli import app as cli
from kuznia.errors import InputError
from kuznia.ingest.tables import IMPORT_ORDER
from kuznia.services import audit, audit_check, jobs, sign_in_rows
from kuznia.store.schema import DATA_TABLES
from server_helpers import PASSWORD, Served, serve

API = "/api/v1"


@pytest.fixture
def served(ws: kuznia.Workspace, tmp_path: Path) -> Served:
    return serve(ws, tmp_path / "server-data", with_producer=False)


def rows_of(store: object, table: str) -> list[tuple]:
    t = DATA_TABLES[table]
    cols = [c for c in t.c if c.name not in ("event_id", "row_hash")]  # per-store keys
    with store.read() as conn:  # type: ignore[attr-defined]
        return [tuple(r) for r in conn.execute(sa.select(*cols).order_by(*cols))]


def upload(client: TestClient, served: Served, role: str, table: str, path: Path,
           **params: object) -> object:
    with path.open("rb") as f:
        return client.post(f"{API}/imports/{table}", headers=served.headers(role),
                           files={"file": (path.name, f, "text/csv")}, params=params)


ROLE_OF = {t: role for role, tables in
           {"procurement": ("producers", "products", "contracts", "deliveries", "offers",
                            "rates", "partners", "licences", "licence_stages"),
            "engineer": ("versions", "uses", "failure_modes", "corrective_actions"),
            "analyst": ("regions", "sites", "demand", "strikes")}.items() for t in tables}


def test_imports_store_what_the_cli_stores(served: Served, example_dir: Path,
                                           tmp_path: Path) -> None:
    cli_db = tmp_path / "cli.db"
    runner = CliRunner()
    assert runner.invoke(cli, ["init", "--db", str(cli_db)]).exit_code == 0
    with TestClient(served.app) as client:
        for table in IMPORT_ORDER:
            r = upload(client, served, ROLE_OF[table], table, example_dir / f"{table}.csv")
            assert r.status_code == 200, r.text
            body = r.json()
            res = runner.invoke(cli, ["import", table, str(example_dir / f"{table}.csv"),
                                      "--db", str(cli_db), "--json"])
            assert res.exit_code == 0, res.output
            assert body["import"]["added"] == json.loads(res.stdout)["added"]
            # the same file again stores nothing more
            again = upload(client, served, ROLE_OF[table], table, example_dir / f"{table}.csv")
            assert again.json()["import"]["added"] == 0
    with kuznia.open(str(cli_db)) as other:
        for table in IMPORT_ORDER:
            assert rows_of(served.ws.store, table) == rows_of(other.store, table), table
    # every import through the server is audited under the account that sent it
    with served.ws.store.read() as conn:
        actors = {e["actor"] for e in audit.list_events(conn, 0) if e["action"] == "import"}
        assert audit_check.verify(conn).ok
    assert actors == {"procurement", "engineer", "analyst"}


def test_row_problems_are_data_the_same_as_the_cli_gives(served: Served, example_dir: Path
                                                         ) -> None:
    bad = example_dir / "producers.csv"
    text = bad.read_text().splitlines()
    text[2] = "P002,Northwind,no_such_kind,Region 11"
    text.append("P009,,state,")
    bad.write_text("\n".join(text) + "\n")
    with pytest.raises(InputError) as cli_side:
        served.ws.import_file("producers", bad)
    with TestClient(served.app) as client:
        r = upload(client, served, "procurement", "producers", bad)
        assert r.status_code == 422
        assert r.headers["content-type"] == "application/problem+json"
        body = r.json()
        want = [{"file": "producers.csv", "line": p.line, "column": p.column,
                 "message": p.message, "value": p.value} for p in cli_side.value.problems]
        assert body["problems"] == want and len(want) >= 3
        assert body["problems_total"] == cli_side.value.total
        # nothing stored; the job says so too
        assert rows_of(served.ws.store, "producers") == []
        job = client.get(f"{API}/jobs/{body['job_id']}", headers=served.headers("procurement"))
        assert job.json()["status"] == "failed"
        assert job.json()["result"]["error"]["problems"] == want
        # with quarantine the good rows are stored and the bad ones can be downloaded
        q = upload(client, served, "procurement", "producers", bad, quarantine="true")
        assert q.status_code == 200, q.text
        assert q.json()["import"]["rejected"] == 2
        got = client.get(q.json()["import"]["quarantine"], headers=served.headers("procurement"))
        assert got.status_code == 200 and "no_such_kind" in got.text
        # another account's job is not found, like one that does not exist
        assert client.get(f"{API}/jobs/{body['job_id']}",
                          headers=served.headers("engineer")).status_code == 404
        assert client.get(f"{API}/jobs/{body['job_id']}",
                          headers=served.headers("auditor")).status_code == 200


def test_a_large_import_is_a_job_to_follow(served: Served, example_dir: Path) -> None:
    with TestClient(served.app) as client:
        r = upload(client, served, "procurement", "producers", example_dir / "producers.csv",
                   wait="false")
        assert r.status_code == 202
        href = r.headers["location"]
        served.app.state.executor.submit(lambda: None).result()  # the job ran before it
        job = client.get(href, headers=served.headers("procurement")).json()
        assert job["status"] == "done" and job["result"]["import"]["added"] == 3
        assert job["rows_read"] == 3


def test_a_job_cut_off_is_failed_and_stored_nothing(served: Served) -> None:
    store = served.ws.store
    job_id = jobs.create(store, "import", actor="procurement", table="producers")
    jobs.start(store, job_id)
    with store.engine.begin() as conn:  # as left by a process that died mid-import
        conn.execute(sa.update(jobs.jobs).where(jobs.jobs.c.job_id == job_id).values(
            worker="elsewhere:1:dead", heartbeat_at="2000-01-01T00:00:00+00:00"))
    jobs._local.pop(job_id, None)
    with TestClient(served.app) as client:  # the server's start marks it failed
        job = client.get(f"{API}/jobs/{job_id}", headers=served.headers("admin")).json()
    assert job["status"] == "failed"
    assert "nothing of it was stored" in job["result"]["error"]["message"]


def test_one_use_at_a_time(served: Served, example_dir: Path) -> None:
    for table in IMPORT_ORDER:
        if table != "uses":
            served.ws.import_file(table, example_dir / f"{table}.csv")
    use = {"use_id": "W-1", "used_on": "2026-05-01", "operator": "OP-09",
           "product_id": "FPV-A", "version": "v2", "lot": "L-0002", "effects": 2,
           "outcome": "effect", "notes": "=HYPERLINK(\"x\")"}
    h = served.headers("engineer")
    with TestClient(served.app) as client:
        first = client.post(f"{API}/uses", json=use, headers=h)
        assert first.status_code == 201, first.text
        again = client.post(f"{API}/uses", json=use, headers=h)
        assert again.status_code == 200 and again.json()["added"] == 0
        other = client.post(f"{API}/uses", json={**use, "effects": 3}, headers=h)
        assert other.status_code == 409
        bad = client.post(f"{API}/uses", json={**use, "use_id": "W-2", "outcome": "win",
                                               "used_on": "2026-13-01"}, headers=h)
        assert bad.status_code == 422
        assert {"outcome", "used_on"} <= {p["column"] for p in bad.json()["problems"]}
        assert client.post(f"{API}/uses", json={**use, "use_id": "W-3", "extra": 1},
                           headers=h).status_code == 400
        assert client.post(f"{API}/uses", json=use,
                           headers=served.headers("procurement")).status_code == 403
        stored = client.get(f"{API}/uses/W-1", headers=h).json()
        assert stored["effects"] == 2 and stored["producer_id"] == "P002"


def test_sessions_with_csrf_and_logout(served: Served) -> None:
    with TestClient(served.app) as client:
        r = client.post(f"{API}/session", json={"name": "admin", "password": PASSWORD})
        assert r.status_code == 200
        cookie = r.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=strict" in cookie
        csrf = r.json()["csrf_token"]
        assert client.get(f"{API}/me").json()["via"] == "session"
        body = {"name": "newcomer", "role": "auditor"}
        assert client.post(f"{API}/users", json=body).status_code == 403  # no CSRF token
        assert client.post(f"{API}/users", json=body,
                           headers={"X-CSRF-Token": "forged"}).status_code == 403
        assert client.post(f"{API}/users", json=body,
                           headers={"X-CSRF-Token": csrf}).status_code == 201
        assert client.delete(f"{API}/session", headers={"X-CSRF-Token": csrf}
                             ).status_code == 204
        assert client.get(f"{API}/me").status_code == 401
    with TestClient(served.app) as client:  # the old cookie is worth nothing now
        client.cookies.set("kuznia_session", cookie.split("=", 1)[1].split(";")[0])
        assert client.get(f"{API}/me").status_code == 401
    with served.ws.store.read() as conn:
        added = [e for e in audit.list_events(conn, 0)
                 if e["action"] == "user_added" and "newcomer" in e["detail"]]
    assert [e["actor"] for e in added] == ["admin"]


def test_failed_logins_are_throttled(served: Served) -> None:
    import datetime as dt

    from kuznia.store.schema import login_attempts

    with TestClient(served.app) as client:
        wrong = {"name": "analyst", "password": "wrong" * 3}
        assert client.post(f"{API}/session", json=wrong).status_code == 401
        with sign_in_rows.bookkeeping(served.ws.store) as conn:  # 8 failures: 32 s to wait
            conn.execute(sa.update(login_attempts).values(
                failures=8, last_failed_at=dt.datetime.now(dt.UTC).isoformat()))
        r = client.post(f"{API}/session", json={"name": "analyst", "password": PASSWORD})
        assert r.status_code == 429 and 1 <= int(r.headers["retry-after"]) <= 32
        with sign_in_rows.bookkeeping(served.ws.store) as conn:
            conn.execute(sa.update(login_attempts).values(failures=10, locked=True))
        r = client.post(f"{API}/session", json={"name": "analyst", "password": PASSWORD})
        assert r.status_code == 429 and "locked" in r.json()["detail"]
        admin = served.headers("admin")
        assert client.post(f"{API}/locks/lift", json={"name": "analyst"},
                           headers=admin).status_code == 200
        assert client.post(f"{API}/locks/lift", json={"address": "testclient"},
                           headers=admin).status_code == 200
        r = client.post(f"{API}/session", json={"name": "analyst", "password": PASSWORD})
        assert r.status_code == 200


def test_errors_are_problem_details_and_a_500_hides_its_traceback(
        served: Served, monkeypatch: pytest.MonkeyPatch) -> None:
    h = served.headers("analyst")
    with TestClient(served.app, raise_server_exceptions=False) as client:
        r = client.get(f"{API}/cost-per-effect?date_from=2026-05-01&date_to=2026-01-01",
                       headers=h)
        assert r.status_code == 400 and r.json()["params"] == ["date_to", "date_from"]
        assert r.json()["detail"] == \
            "date_to (2026-01-01) is before date_from (2026-05-01)"
        for bad in ("threshold=1e309", "threshold=nan", "threshold=-1"):
            r = client.get(f"{API}/board?{bad}", headers=h)
            assert r.status_code == 400 and r.json()["params"] == ["threshold"], bad
        r = client.get(f"{API}/uses?limit=0", headers=h)
        assert r.status_code == 400 and r.json()["params"] == ["limit"]
        # a plan's name its address could not carry is refused before any solve
        r = client.post(f"{API}/plans", json={"budget": 1000, "name": "q1/q2"}, headers=h)
        assert r.status_code == 400 and "a plan's name takes" in r.json()["detail"]
        r = client.get(f"{API}/nowhere", headers=h)
        assert r.status_code == 404 and r.headers["content-type"] == "application/problem+json"

        def boom(*a: object, **k: object) -> None:
            raise RuntimeError("secret internals")

        monkeypatch.setattr("kuznia.services.costs.cost_per_effect", boom)
        r = client.get(f"{API}/cost-per-effect", headers=h)
        assert r.status_code == 500
        assert "secret" not in r.text and "Traceback" not in r.text
        assert r.json()["error_id"] in r.json()["detail"]
        for resp in (r, client.get(f"{API}/docs")):
            csp = resp.headers["content-security-policy"]
            assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
            assert "unsafe-inline" not in csp.split("script-src")[1].split(";")[0]
            assert resp.headers["x-content-type-options"] == "nosniff"
            assert resp.headers["referrer-policy"] == "no-referrer"


def test_docs_are_served_from_the_package(served: Served) -> None:
    with TestClient(served.app) as client:
        page = client.get(f"{API}/docs").text
        assert "<script>" not in page and "http" not in page  # no inline script, no CDN
        for asset in ("/static/swagger-ui/swagger-ui-bundle.js",
                      "/static/swagger-ui/swagger-ui.css", "/static/kuznia-docs.js"):
            assert asset in page
            assert client.get(asset).status_code == 200
        schema = client.get(f"{API}/openapi.json").json()
        assert schema["paths"][f"{API}/contracts"]["get"]["x-access"]["roles"] == [
            "admin", "analyst", "auditor", "procurement", "producer"]


def test_a_nul_character_is_a_400_not_a_database_error(served: Served) -> None:
    """Found by Schemathesis on PostgreSQL, whose text cannot hold a NUL."""
    h = served.headers("analyst")
    with TestClient(served.app, raise_server_exceptions=False) as client:
        r = client.get(f"{API}/versions", params={"product_id": "A\x00B"}, headers=h)
        assert r.status_code == 400 and "product_id" in r.json()["detail"]
        r = client.post(f"{API}/session", json={"name": "x\x00", "password": "y" * 12})
        assert r.status_code == 400 and "JSON body" in r.json()["detail"]
        r = client.get(f"{API}/contracts/C%00", headers=h)
        assert r.status_code == 400
        ok = client.post(f"{API}/session", json={"name": "analyst", "password": PASSWORD})
        assert ok.status_code == 200  # a JSON body without one is handed on unchanged
