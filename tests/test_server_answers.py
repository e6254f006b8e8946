"""Every API route answers what its OpenAPI operation declares (issue 29: typed answers):
a request each route answers with success, from every resource, checked against the
schema by Schemathesis (the generated requests of ``test_server_schema`` mostly meet
errors; these meet the figures themselves)."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import schemathesis
from fastapi.testclient import TestClient

import kuznia
from helpers import write_csv
from kuznia.ingest.tables import SPECS
from kuznia.services import records
from server_helpers import PASSWORD, PRODUCER, Served, serve


@pytest.fixture
def served(filled: kuznia.Workspace, tmp_path: Path) -> Served:
    return serve(filled, tmp_path / "server-data")


class Checked:
    """A client whose every answer must be a success that conforms to the schema."""

    def __init__(self, served: Served, client: TestClient):
        self.schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", served.app)
        self.served, self.client = served, client
        self.operations: set[str] = set()

    def __call__(self, method: str, path: str, role: str = "analyst", **kw: Any) -> Any:
        r = self.client.request(method, "/api/v1" + path,
                                headers=self.served.headers(role), **kw)
        assert 200 <= r.status_code < 300, (method, path, r.status_code, r.text[:400])
        operation = self.schema.find_operation_by_path(method,
                                                       "/api/v1" + path.split("?")[0])
        assert operation is not None, (method, path)
        operation.validate_response(r)  # raises, naming the key, when it does not conform
        self.operations.add(f"{method} {operation.path}")
        json = r.headers.get("content-type", "").startswith("application/json")
        return r.json() if json else r


def test_every_resource_answers_as_its_schema_says(served: Served, tmp_path: Path) -> None:
    with TestClient(served.app) as client:
        call = Checked(served, client)
        for path in ("/health", "/me", "/cost-per-effect?by=product,producer",
                     "/cost-per-effect?by=product,month", "/headline",
                     "/headline?date_from=2026-01-01&date_to=2026-03-31",
                     "/uses?limit=5&total=true", "/failures", "/failures?by=version",
                     "/fixes", "/growth?product=FPV-A", "/board",
                     "/producers/P001/scorecard", "/use-summary?product=FPV-A",
                     "/resilience/regions", "/audit?limit=5", "/audit/history",
                     "/audit/verify", "/licences"):
            call("GET", path)
        for path in ("/users", "/vault/documents", "/vault/log"):
            call("GET", path, "admin")
        for role in ("producer", "engineer", "partner"):
            call("GET", "/me", role)
            call("GET", "/licences", role)
        call("GET", f"/producers/{PRODUCER}/scorecard", "producer")
        call("GET", "/cost-per-effect?by=product", "producer")
        call("GET", "/board", "engineer")
        call("GET", "/field/catalogue", "engineer")
        flags = call("GET", "/oversight/flags")["flags"]
        assert flags
        call("GET", f"/oversight/flags/{flags[0]['key']}")
        call("POST", f"/oversight/flags/{flags[0]['key']}/triage",
             json={"status": "in_review", "comment": "looking"})
        call("GET", "/oversight/flags", "producer")
        # every table: a page of its records, and the first of them by its key
        for table in SPECS:
            if table == "licences":  # each role's own view, not paged
                first = call("GET", "/licences", "admin")["licences"][0]
            else:
                first = call("GET", f"/{table}?limit=2", "admin")["rows"][0]
            call("GET", f"/{table}/" + "/".join(quote(str(first[k]), safe="")
                                                for k in records.key_columns(table)), "admin")
        # plans
        plan = call("POST", "/plans/allocate", json={"budget": 500_000.0})
        assert plan["lines"]
        call("POST", "/plans", json={"budget": 400_000.0, "name": "answers-a"})
        call("POST", "/plans", json={"budget": 600_000.0, "name": "answers-b"})
        call("GET", "/plans")
        call("GET", "/plans/answers-a")
        call("GET", "/plans/answers-a/diff/answers-b")
        # resilience and repairs
        call("POST", "/resilience/simulate", json={"months": 3, "scenarios": 50})
        candidates = write_csv(tmp_path / "cand.csv", [
            "candidate_id", "product_id", "producer_id", "region", "monthly_capacity",
            "cost"], [["K-WEST", "FPV-A", "P002", "West", 800, 5]])
        call("POST", "/resilience/duplicate", data={"budget": "6", "months": "3",
                                                    "scenarios": "200",
                                                    "saa_scenarios": "50"},
             files={"candidates": candidates.read_bytes()})
        backlog = write_csv(tmp_path / "backlog.csv", [
            "item_id", "product_id", "region", "damaged_on"],
            [["I1", "FPV-A", "East", "2026-03-01"]])
        points = write_csv(tmp_path / "points.csv", [
            "point_id", "region", "product_id", "monthly_capacity", "repair_days",
            "from_region", "transit_days", "licence_id"],
            [["A1", "abroad", "FPV-A", 2, 20, "East", 30, ""]])
        call("POST", "/repairs/plan", files={"backlog": backlog.read_bytes(),
                                             "repair_points": points.read_bytes()})
        # accounts
        call("POST", "/users", "admin", json={"name": "answers", "role": "analyst"})
        call("POST", "/users/answers/tokens", "admin", json={"expires_days": 3})
        call("POST", "/users/answers/revoke-tokens", "admin")
        call("POST", "/users/answers/disable", "admin")
        wrong = client.post("/api/v1/session", json={"name": "auditor", "password": "no"})
        assert wrong.status_code == 401
        call("POST", "/locks/lift", "admin", json={"name": "auditor"})
        login = call("POST", "/session", "anonymous",
                     json={"name": "auditor", "password": PASSWORD})
        assert login["via"] == "session"
        # an import while the request waits, then its job; one use, stored and again
        imported = call("POST", "/imports/producers", "procurement",
                        files={"file": ("p.csv", b"producer_id,name,kind,region\n"
                                        b"P-ANS,Answers,private,West\n")})
        call("GET", f"/jobs/{imported['job_id']}", "procurement")
        queued = call("POST", "/imports/producers?wait=false", "procurement",
                      files={"file": ("q.csv", b"producer_id,name,kind,region\n"
                                      b"P-ANS2,Answers,private,West\n")})
        assert queued["status"] == "queued"
        use = {"use_id": "ANS-1", "used_on": "2026-03-01", "product_id": "FPV-A",
               "units_used": 1, "effects": 1, "outcome": "effect"}
        call("POST", "/uses", "engineer", json=use)
        call("POST", "/uses", "engineer", json=use)
        call("GET", "/uses/outbox/ANS-1", "engineer")
        # downloads are declared as files
        call("GET", "/exports/uses?product=FPV-A&format=csv")
        call("GET", "/exports/flags")
        call("DELETE", "/session", "auditor")
    assert len(call.operations) >= 75, sorted(call.operations)


def test_the_check_can_fail(served: Served) -> None:
    """A declared type that the answer does not have is caught (the check is real)."""
    with TestClient(served.app) as client:
        call = Checked(served, client)
        call("GET", "/board")
        spec = served.app.openapi()  # type: ignore[attr-defined]
        spec["components"]["schemas"]["Board"]["properties"]["threshold_per_100"] = {
            "type": "string"}
        broken = Checked(served, client)
        with pytest.raises(Exception, match="threshold_per_100|not of type"):
            broken("GET", "/board")
