"""Errors as a browser meets them: a page with the caller's navigation and a way back
(403, 404, 500), while the API keeps problem details."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

import kuznia
from server_helpers import PASSWORD, Served, serve

API = "/api/v1"
HTML = {"Accept": "text/html,application/xhtml+xml"}


@pytest.fixture
def served(filled: kuznia.Workspace, tmp_path: Path) -> Served:
    return serve(filled, tmp_path / "server-data")


def _signed_in(served: Served, role: str) -> TestClient:
    client = TestClient(served.app, raise_server_exceptions=False)
    assert client.post(f"{API}/session", json={"name": role, "password": PASSWORD}
                       ).status_code == 200
    return client


def _is_page_with_menu(r: object, status: int, start: str) -> None:
    assert r.status_code == status  # type: ignore[attr-defined]
    assert r.headers["content-type"].startswith("text/html")  # type: ignore[attr-defined]
    text = r.text  # type: ignore[attr-defined]
    assert '<nav aria-label="Main">' in text and 'href="/uses"' in text
    assert f'<a href="{start}">Go to your start page</a>' in text
    assert "content-security-policy" in r.headers  # type: ignore[attr-defined]


def test_refusals_and_missing_pages_keep_the_menu(served: Served) -> None:
    with _signed_in(served, "engineer") as client:
        _is_page_with_menu(client.get("/accounts", headers=HTML), 403, "/field")
        _is_page_with_menu(client.get("/no/such/page", headers=HTML), 404, "/field")
        _is_page_with_menu(client.get("/records/uses/NO-SUCH-USE", headers=HTML), 404,
                           "/field")
    with _signed_in(served, "analyst") as client:
        # the plans' folder with no plan named is the list of saved plans, not "no plan ''"
        for path in ("/plans", "/plans/"):
            r = client.get(path, headers=HTML)
            assert r.status_code == 200 and r.url.path == "/planner", path
        # the API answers the same refusals as problem details
        r = client.get(f"{API}/no/such/route")
        assert r.status_code == 404 and r.headers["content-type"] == "application/problem+json"


def test_a_500_is_a_page_for_a_browser_and_problem_details_for_the_api(
        served: Served, monkeypatch: pytest.MonkeyPatch) -> None:
    from kuznia.services import board

    def broken(*_a: object, **_k: object) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(board, "board", broken)
    with _signed_in(served, "analyst") as client:
        frame = client.get("/board", headers=HTML)  # the frame does not compute the board
        assert frame.status_code == 200 and 'hx-get="/sections/board?top=20"' in frame.text
        r = client.get("/sections/board?top=20", headers=HTML)  # its section, on its own
        _is_page_with_menu(r, 500, "/overview")
        assert "logged as" in r.text and "a bug" not in r.text and "Traceback" not in r.text
        r = client.get("/sections/board?top=20", headers={**HTML, "HX-Request": "true"})
        assert r.status_code == 500 and r.text.lstrip().startswith('<div class="error"')
        r = client.get(f"{API}/board")
        assert r.status_code == 500
        assert r.headers["content-type"] == "application/problem+json"
        assert r.json()["error_id"] in r.json()["detail"]
