"""Answers remade after a write, before the next reader asks (server/warm.py): the reader
after a write is served from the cache, with exactly what computing afresh gives."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from fastapi.testclient import TestClient

import kuznia
from kuznia.server.app import create_app
from kuznia.server.warm import Warmer
from server_helpers import serve

API = "/api/v1"
QUESTIONS = (f"{API}/cost-per-effect?by=product,producer", f"{API}/board",
             f"{API}/uses?product=FPV-A&limit=20&total=true")
USE = {"use_id": "W-1", "used_on": "2026-04-02", "product_id": "FPV-A", "version": "v1",
       "lot": "L-0001", "units_used": 1, "effects": 2, "outcome": "effect"}


def test_a_reader_after_a_write_is_served_what_was_remade(filled: kuznia.Workspace,
                                                          tmp_path: Path) -> None:
    served = serve(filled, tmp_path / "server-data")
    app = served.app
    h = served.headers("analyst")
    with TestClient(app) as client:
        # driven by hand (set after the app started, so no thread of its own runs it)
        warmer = app.state.warmer = Warmer(filled.store, app.state.answers)
        before = {q: client.get(q, headers=h).json() for q in QUESTIONS}
        assert warmer.warm_once() == 0  # the first look only notes the head
        assert warmer.warm_once() == 0  # nothing written: nothing remade
        r = client.post(f"{API}/uses", json=USE, headers=served.headers("engineer"))
        assert r.status_code == 201, r.text
        assert warmer.warm_once() == len(QUESTIONS)
        made = app.state.answers.made
        after = {q: client.get(q, headers=h).json() for q in QUESTIONS}
        assert app.state.answers.made == made  # every one served from what was remade
    # and what was remade is what a server with nothing kept answers now
    fresh = create_app(filled.store, data_dir=tmp_path / "fresh")
    with TestClient(fresh) as client:
        assert after == {q: client.get(q, headers=h).json() for q in QUESTIONS}
    assert after != before  # the write changed the figures (the test could fail)


def test_answers_asked_on_another_day_are_not_remade(filled: kuznia.Workspace,
                                                     tmp_path: Path) -> None:
    served = serve(filled, tmp_path / "server-data")
    day = [dt.date.today()]
    with TestClient(served.app) as client:
        warmer = served.app.state.warmer = Warmer(filled.store, served.app.state.answers,
                                                  today=lambda: day[0])
        client.get(QUESTIONS[0], headers=served.headers("analyst"))
        warmer.warm_once()
        assert client.post(f"{API}/uses", json=USE,
                           headers=served.headers("engineer")).status_code == 201
        day[0] += dt.timedelta(days=1)
        assert warmer.warm_once() == 0


def test_the_warmer_remembers_a_bounded_number_of_questions(filled: kuznia.Workspace,
                                                           tmp_path: Path) -> None:
    served = serve(filled, tmp_path / "server-data")
    with TestClient(served.app) as client:
        warmer = served.app.state.warmer = Warmer(filled.store, served.app.state.answers,
                                                  recent=2)
        for q in QUESTIONS:
            client.get(q, headers=served.headers("analyst"))
        warmer.warm_once()
        assert client.post(f"{API}/uses", json=USE,
                           headers=served.headers("engineer")).status_code == 201
        assert warmer.warm_once() == 2  # the two asked last
        made = served.app.state.answers.made
        client.get(QUESTIONS[0], headers=served.headers("analyst"))  # the oldest: made now
        assert served.app.state.answers.made == made + 1
