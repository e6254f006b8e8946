"""Schemathesis over the API's own OpenAPI schema, as an analyst and as a producer: no
generated request gives a 5xx, and every answer conforms to the schema."""

from __future__ import annotations

from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
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


def _fuzz(served: Served, role: str) -> int:
    """Every operation of the schema, a few generated requests each (derandomised, so
    a run is repeatable); returns how many operations ran."""
    api = schemathesis.openapi.from_asgi("/api/v1/openapi.json", served.app)
    headers = served.headers(role)
    ran = 0
    for result in api.get_all_operations():
        operation = result.ok()

        @given(operation.as_strategy())
        @settings(max_examples=5, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        def run(case) -> None:  # type: ignore[no-untyped-def]
            case.call_and_validate(headers=headers, checks=CHECKS)

        run()
        ran += 1
    return ran


def test_generated_requests_as_analyst(served: Served) -> None:
    assert _fuzz(served, "analyst") > 40


def test_generated_requests_as_producer(served: Served) -> None:
    assert _fuzz(served, "producer") > 40
