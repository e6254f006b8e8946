"""Schemathesis over the API's own OpenAPI schema, as an analyst and as a producer: no
generated request gives a 5xx, and every answer conforms to the schema. Every operation
declares what it answers (so that the conformance check can fail), and how a caller
says who it is."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    response_schema_conformance,
    status_code_conformance,
)

import kuznia
from server_helpers import Served, serve


@pytest.fixture
def served(filled: kuznia.Workspace, tmp_path: Path) -> Served:
    return serve(filled, tmp_path / "server-data")


CHECKS = [not_a_server_error, response_schema_conformance, status_code_conformance]


def _nested(depth: int) -> object:
    out: object = 1
    for _ in range(depth):
        out = [out]
    return out


# What a hostile tester sent (issue 24), on top of what the schema generates: the ends of
# the calendar, days not written YYYY-MM-DD, ids that are folders or hide characters,
# JSON's true where a number goes, a lone surrogate, a body nested past any schema.
HOSTILE_TEXT = ["9999-12-31", "0001-01-01", "2026-1-1", "20260101", "9999-12", "..", ".",
                "P\u202e01", "a\u200bb", "x\ty"]
HOSTILE_JSON = [*HOSTILE_TEXT, True, "\ud800", "U\udc00x", _nested(40), _nested(2),
                b"[" * 50_000 + b"]" * 50_000]


def _hostile(case, value: object, where: int):  # type: ignore[no-untyped-def]
    """``case`` with one query parameter or JSON field replaced by ``value`` (or, for a
    JSON body, the whole body), so each operation meets these inputs too. A JSON body is
    sent as the bytes ``json.dumps`` writes (a lone surrogate as its ``\\ud800`` escape,
    which Schemathesis could not encode itself); bytes are sent as they are."""
    if case.query and isinstance(value, str) and not any(
            0xD800 <= ord(c) <= 0xDFFF for c in value):  # a URL cannot carry a surrogate
        key = sorted(case.query)[where % len(case.query)]
        case.query = {**case.query, key: value}
    elif case.media_type == "application/json":
        body = value
        if isinstance(case.body, dict) and case.body and where % 3 and \
                not isinstance(value, bytes):
            key = sorted(case.body)[where % len(case.body)]
            body = {**case.body, key: value}
        case.body = body if isinstance(body, bytes) else json.dumps(body).encode()
    return case


def _fuzz(served: Served, role: str) -> int:
    """Every operation of the schema, a few generated requests each (derandomised, so
    a run is repeatable), some with a hostile value put in; returns how many operations
    ran."""
    api = schemathesis.openapi.from_asgi("/api/v1/openapi.json", served.app)
    headers = served.headers(role)
    ran = 0
    for result in api.get_all_operations():
        operation = result.ok()

        @given(operation.as_strategy(), st.none() | st.sampled_from(HOSTILE_JSON),
               st.integers(0, 1000))
        @settings(max_examples=8, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        def run(case, value, where) -> None:  # type: ignore[no-untyped-def]
            if value is not None:
                case = _hostile(case, value, where)
            case.call_and_validate(headers=headers, checks=CHECKS)

        run()
        ran += 1
    return ran


def test_generated_requests_as_analyst(served: Served) -> None:
    assert _fuzz(served, "analyst") > 40


def test_generated_requests_as_producer(served: Served) -> None:
    assert _fuzz(served, "producer") > 40


# Operations allowed to answer without declaring what (their schema cannot fail them).
UNDECLARED_ALLOWED = 0


def _operations(served: Served) -> list[tuple[str, str, dict]]:  # type: ignore[type-arg]
    spec = served.app.openapi()  # type: ignore[attr-defined]
    return [(method.upper(), path, op) for path, ops in spec["paths"].items()
            for method, op in ops.items()]


def _declares_answer(op: dict) -> bool:  # type: ignore[type-arg]
    """Every success answer has a schema for each of its media types (a 204 or 304 has no
    body to declare)."""
    ok = {code: r for code, r in op["responses"].items() if code.startswith("2")}
    bodies = [r for code, r in ok.items() if code != "204"]
    return bool(ok) and all(r.get("content") and all(m.get("schema") for m in
                                                      r["content"].values())
                            for r in bodies)


def test_every_operation_declares_what_it_answers(served: Served) -> None:
    operations = _operations(served)
    undeclared = [f"{m} {p}" for m, p, op in operations if not _declares_answer(op)]
    assert len(operations) > 90
    assert len(undeclared) <= UNDECLARED_ALLOWED, undeclared


def test_the_check_of_declared_answers_can_fail() -> None:
    assert not _declares_answer({"responses": {"200": {"description": "x"}}})
    assert not _declares_answer({"responses": {"200": {"content": {"text/csv": {}}}}})
    assert _declares_answer({"responses": {"204": {"description": "gone"}}})


def test_the_schema_names_how_a_caller_says_who_it_is(served: Served) -> None:
    spec = served.app.openapi()  # type: ignore[attr-defined]
    schemes = spec["components"]["securitySchemes"]
    assert schemes["bearer"] == {**schemes["bearer"], "type": "http", "scheme": "bearer"}
    assert schemes["session"] == {**schemes["session"], "type": "apiKey", "in": "cookie",
                                  "name": "kuznia_session"}
    for method, path, op in _operations(served):
        public = op["x-access"]["action"] == "public"
        # either credential will do (a list of alternatives), and a public route needs none
        assert op.get("security") == (None if public else [{"bearer": []}, {"session": []}]), \
            (method, path)
        assert op["x-access"]["roles"], (method, path)  # the access rules stay published
