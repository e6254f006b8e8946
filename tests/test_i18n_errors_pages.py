"""A page asked in Ukrainian says what is wrong with the request in Ukrainian (issue 30):
a misspelt or reversed date, another producer's record asked by a producer, a language
Kuznia does not speak, an import its role may not make, an upload whose job failed; the
API answers the same request in its machine English."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

import kuznia
from kuznia.errors import KuzniaError, NotFoundError, UsageError
from kuznia.i18n import N_, Plural, Text, language
from kuznia.server.problems import message_of, say_message
from kuznia.server.web.base import job_error
from kuznia.services import jobs
from server_helpers import Served, serve

API = "/api/v1"
UK = {"Accept-Language": "uk-UA,uk;q=0.9"}


@pytest.fixture
def served(filled: kuznia.Workspace, tmp_path: Path) -> Served:
    return serve(filled, tmp_path / "server-data")


def _as(served: Served, role: str) -> dict[str, str]:
    return {**served.headers(role), **UK}


def test_a_misspelt_or_reversed_date_is_said_in_the_pages_language(served: Served) -> None:
    h = _as(served, "analyst")
    with TestClient(served.app) as client:
        page = client.get("/overview?date_from=2026-13-01", headers=h)
        assert page.status_code == 400 and '<html lang="uk">' in page.text
        # the field named by its label on the form, not by its parameter's code
        assert "«Від»: приймає дату (РРРР-ММ-ДД), а не &#39;2026-13-01&#39;" in page.text
        assert "date_from" not in page.text.split("<main", 1)[1].split("</main>")[0]
        assert "Input should be" not in page.text
        page = client.get("/overview?date_from=2026-1-1", headers=h)
        assert page.status_code == 400
        assert "приймає дату ISO (РРРР-ММ-ДД), а не &#39;2026-1-1&#39;" in page.text
        assert "takes an ISO date" not in page.text
        page = client.get("/overview?date_from=2026-03-01&date_to=2026-01-01", headers=h)
        assert page.status_code == 400
        assert "«До» (2026-01-01) раніше за «Від» (2026-03-01)" in page.text
        assert "is before" not in page.text
        # the API answers the same in English, whatever the browser asks
        r = client.get(f"{API}/cost-per-effect?date_from=2026-13-01", headers=h)
        assert r.status_code == 400 and "Input should be a valid date" in r.json()["detail"]
        r = client.get(f"{API}/cost-per-effect?date_from=2026-1-1", headers=h)
        assert "takes an ISO date (YYYY-MM-DD), not '2026-1-1'" in r.json()["detail"]
        r = client.get(f"{API}/cost-per-effect?date_from=2026-03-01&date_to=2026-01-01",
                       headers=h)
        assert r.json()["detail"] == "date_to (2026-01-01) is before date_from (2026-03-01)"


def test_another_producers_record_is_not_found_in_the_pages_language(served: Served) -> None:
    h = _as(served, "producer")
    with TestClient(served.app) as client:
        page = client.get("/producers/P001", headers=h)
        assert page.status_code == 404
        assert "немає запису виробника з producer_id &#39;P001&#39;" in page.text
        assert "no producers record" not in page.text
        r = client.get(f"{API}/producers/P001/scorecard", headers=h)
        assert r.status_code == 404
        assert r.json()["detail"] == "no producers record with producer_id 'P001'"


def test_a_refused_import_and_an_unknown_language_in_the_pages_language(
        served: Served) -> None:
    with TestClient(served.app) as client:
        upload = {"file": ("uses.csv", b"use_id\n", "text/csv")}
        page = client.post("/imports", data={"table": "uses"}, headers=_as(served, "producer"),
                           files=upload)
        assert page.status_code == 403  # the page is not the producer's role's
        assert "роль «виробник» не дозволяє цього робити" in page.text
        page = client.post("/imports", data={"table": "uses"}, headers=_as(served, "analyst"),
                           files=upload)
        assert page.status_code == 403  # the page is the analyst's, the table is not
        assert "не дозволяє імпортувати застосування" in page.text
        assert "may not" not in page.text
        page = client.post("/language", data={"lang": "xx", "next": "/"},
                           headers=_as(served, "analyst"))
        assert page.status_code == 400
        assert "немає мови &#39;xx&#39;: виберіть одну з en, uk" in page.text


def test_a_failed_uploads_job_is_said_in_the_pages_language_and_kept_english_for_the_api(
        served: Served) -> None:
    h = _as(served, "procurement")
    with TestClient(served.app) as client:
        page = client.post("/imports", data={"table": "producers"}, headers=h,
                           files={"file": ("bad.csv", b"nonsense\n1\n", "text/csv")})
        assert page.status_code == 200, page.text
        job_id = jobs.list_jobs(served.ws.store, actor=None, kinds=("import",),
                                limit=1)[0]["job_id"]
        client.app.state.executor.submit(lambda: None).result()  # one worker: the job is done
        page = client.get(f"/jobs/{job_id}", headers=h)
        assert "bad.csv: " in page.text and "нічого з цього файлу не збережено" in page.text
        assert "nothing from this file was stored" not in page.text
        job = client.get(f"{API}/jobs/{job_id}", headers=h).json()
        assert job["status"] == "failed" and "said" not in job["result"]
        assert job["result"]["error"]["detail"].endswith("nothing from this file was stored")


def test_a_kept_message_says_its_values_and_parameters_in_the_language() -> None:
    errors: list[KuzniaError] = [
        UsageError(Plural("{comment} takes at most %(num)s character",
                          "{comment} takes at most %(num)s characters", 4000),
                   params=("comment",)),
        NotFoundError(N_("no product %(product)s"), product="'X-1'"),
        UsageError(N_("the %(role)s role may not read %(table)s"), role=Text("producer"),
                   table=Text("uses")),
        UsageError(N_("%(hi)s (%(end)s) is before %(lo)s (%(start)s)"),
                   params=("date_to", "date_from"), hi="{date_to}", lo="{date_from}",
                   end=dt.date(2026, 1, 1), start="2026-03-01"),
    ]
    for e in errors:
        kept = message_of(e)
        assert say_message(kept) == e.render()
        with language("uk"):
            said, expected = say_message(kept), e.say()
        assert said == expected and said != e.render()
    with language("uk"):
        assert "4\u00a0000 символів" in say_message(message_of(errors[0]))


def test_a_jobs_error_kept_before_its_message_was_is_still_said() -> None:
    cut_off = {"error": {"message": jobs.CUT_OFF}}
    unknown = {"error": {"status": 400, "detail": "words of no message"}}
    with language("uk"):
        assert job_error(cut_off).startswith("сервер зупинився")
        assert job_error(unknown) == "words of no message"
    assert job_error(cut_off) == jobs.CUT_OFF


def test_an_internal_error_and_a_missing_page_in_the_pages_language(
        served: Served, monkeypatch: pytest.MonkeyPatch) -> None:
    from kuznia.services import board

    def broken(*_a: object, **_k: object) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(board, "board", broken)
    h = _as(served, "analyst")
    with TestClient(served.app, raise_server_exceptions=False) as client:
        page = client.get("/sections/board?top=20", headers=h)
        assert page.status_code == 500 and "внутрішня помилка" in page.text
        assert "logged as" not in page.text and "a bug" not in page.text
        r = client.get(f"{API}/board", headers=h)
        assert r.status_code == 500 and "logged as" in r.json()["detail"]
        page = client.get("/no-such-page", headers=h)
        assert page.status_code == 404 and "такої сторінки немає" in page.text
        # a request of a kind the address does not take: words, not the framework's phrase
        page = client.put("/overview", headers={**h, "Accept": "text/html"})
        assert page.status_code == 405 and "Method Not Allowed" not in page.text
        assert "не приймає такого запиту" in page.text
        assert client.put(f"{API}/board", headers=h).json()["detail"] == "Method Not Allowed"
