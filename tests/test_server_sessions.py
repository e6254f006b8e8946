"""Sessions that last and sign-in that never waits: a browser session kept past minutes of
clicking (the clock moved, never slept), bookkeeping that never fails a read, sign-in
while an import holds the write lock, public routes that ignore a stale cookie, and a
login that must come from this site."""

from __future__ import annotations

import datetime as dt
import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

import kuznia
from kuznia.server.app import create_app
from kuznia.services import accounts, sessions, sign_in_rows
from kuznia.store.schema import sessions as sessions_table
from server_helpers import PASSWORD, Served, serve

API = "/api/v1"
T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)


class Clock:
    """The sessions' notion of now, moved by the test."""

    def __init__(self, now: dt.datetime = T0):
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += dt.timedelta(**delta)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def served(filled: kuznia.Workspace, tmp_path: Path, clock: Clock) -> Served:
    s = serve(filled, tmp_path / "server-data")
    s.app = create_app(filled.store, data_dir=tmp_path / "server-data", clock=clock)
    return s


def _last_seen(store: object) -> list[str]:
    with sign_in_rows.read(store) as conn:  # type: ignore[arg-type]
        return [r.last_seen_at for r in conn.execute(sa.select(sessions_table.c.last_seen_at))]


def test_a_session_lasts_past_two_minutes_of_pages(served: Served, clock: Clock) -> None:
    pages = ("/overview", "/board", "/uses", "/planner", "/resilience", "/imports",
             "/oversight", "/audit")
    with TestClient(served.app) as client:
        r = client.post(f"{API}/session", json={"name": "analyst", "password": PASSWORD})
        assert r.status_code == 200
        for step in range(12):  # 12 steps of 25 s: five minutes of clicking
            clock.advance(seconds=25)
            for path in pages[step % 3::3]:
                r = client.get(path, follow_redirects=False)
                assert r.status_code == 200, (clock.now - T0, path, r.text[:300])
            assert client.get(f"{API}/me").json()["via"] == "session"
        # noted as seen when a minute had passed (at 75, 150, 225 and 300 s), never failing
        assert _last_seen(served.ws.store) == [(T0 + dt.timedelta(minutes=5)).isoformat()]
        clock.advance(minutes=31)  # idle too long: the session has ended
        r = client.get("/overview", follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"].startswith("/login")
        assert _last_seen(served.ws.store) == []


def test_a_touch_that_cannot_be_written_is_logged_and_the_read_goes_on(
        served: Served, clock: Clock, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    store = served.ws.store
    value, _ = sessions.open_session(store, accounts.Account("analyst", "analyst", None),
                                     now=T0)

    def broken(_store: object) -> None:
        raise sa.exc.OperationalError("UPDATE sessions", {}, Exception("database is locked"))

    monkeypatch.setattr(sign_in_rows, "bookkeeping", broken)
    with caplog.at_level(logging.WARNING, logger="kuznia.sessions"):
        found = sessions.find_session(store, value, now=T0 + dt.timedelta(minutes=2))
    assert found is not None and found.account.name == "analyst"
    assert "could not note a session as seen" in caplog.text


def _holding_the_write_lock(store: object, held: threading.Event,
                            release: threading.Event) -> None:
    """What an import does to the store while it runs: one audited write transaction,
    open until ``release``."""
    from kuznia.store.schema import settings

    with store.write() as conn:  # type: ignore[attr-defined]
        conn.execute(settings.insert(), {"key": "import_in_progress", "value": "1"})
        held.set()
        release.wait()


def test_sign_in_does_not_wait_for_an_import(served: Served, clock: Clock) -> None:
    store = served.ws.store
    held, release = threading.Event(), threading.Event()
    importer = threading.Thread(target=_holding_the_write_lock, args=(store, held, release))
    importer.start()
    try:
        assert held.wait(30)
        with ThreadPoolExecutor(1) as pool, TestClient(served.app) as client:
            def sign_in_and_read() -> list[int]:
                statuses = []
                wrong = {"name": "engineer", "password": "not the password"}
                statuses.append(client.post(f"{API}/session", json=wrong).status_code)
                right = {"name": "engineer", "password": PASSWORD}
                statuses.append(client.post(f"{API}/session", json=right).status_code)
                clock.advance(minutes=2)  # the session is touched (written) on this read
                statuses.append(client.get(f"{API}/me").status_code)
                return statuses

            # bounded, not slept: on the old code this waited for the import (SQLite:
            # 30 s, then 409; PostgreSQL: until the import ended)
            assert pool.submit(sign_in_and_read).result(timeout=20) == [401, 200, 200]
            assert release.is_set() is False  # all of it while the import held the lock
    finally:
        release.set()
        importer.join()
    assert _last_seen(store) == [(T0 + dt.timedelta(minutes=2)).isoformat()]


def test_public_routes_ignore_a_stale_session_cookie(served: Served) -> None:
    with TestClient(served.app) as client:
        client.cookies.set("kuznia_session", "ended-long-ago")
        assert client.get(f"{API}/health").status_code == 200
        assert client.get("/login").status_code == 200
        assert client.get("/static/kuznia.css").status_code == 200
        r = client.post(f"{API}/session", json={"name": "analyst", "password": PASSWORD})
        assert r.status_code == 200
    with TestClient(served.app) as client:  # a route that needs a session still asks
        client.cookies.set("kuznia_session", "ended-long-ago")
        assert client.get(f"{API}/me").status_code == 401


def test_a_sign_in_from_another_site_is_refused(served: Served) -> None:
    right = {"name": "analyst", "password": PASSWORD}
    with TestClient(served.app) as client:
        for headers in ({"Origin": "https://elsewhere.example"},
                        {"Sec-Fetch-Site": "cross-site"}, {"Sec-Fetch-Site": "same-site"}):
            r = client.post(f"{API}/session", json=right, headers=headers)
            assert r.status_code == 403, headers
            assert "set-cookie" not in r.headers
        r = client.post(f"{API}/session", json=right, headers={
            "Origin": "http://testserver", "Sec-Fetch-Site": "same-origin"})
        assert r.status_code == 200


def test_the_login_form_needs_its_own_login_token(served: Served) -> None:
    form = {"name": "analyst", "password": PASSWORD}
    with TestClient(served.app) as client:
        # a form posted from elsewhere: the browser has no login cookie for it to match
        r = client.post("/login", data={**form, "login_token": "guessed"},
                        follow_redirects=False)
        assert r.status_code == 403 and "kuznia_session" not in r.headers.get("set-cookie", "")
        assert "log in again" in r.text
        r = client.post("/login", data=form, headers={"Origin": "https://elsewhere.example"},
                        follow_redirects=False)
        assert r.status_code == 403
        page = client.get("/login")
        token = page.text.split('name="login_token" value="', 1)[1].split('"', 1)[0]
        r = client.post("/login", data={**form, "login_token": token},
                        follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == "/overview"
        assert client.get(f"{API}/me").json()["name"] == "analyst"
