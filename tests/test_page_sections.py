"""Heavy sections load on their own (issue 23): a page's frame comes back without
computing them, a placeholder in their place that loads the section's own route (the same
access rule and scope as the page); once the figures are kept, the page has them in it."""

from __future__ import annotations

import html
import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

import kuznia
from kuznia.services import board as board_svc
from server_helpers import OTHERS, PRODUCER, Served, serve

HX = {"HX-Request": "true"}
SLOT = re.compile(r'<div class="slot" hx-get="([^"]*)"')


@pytest.fixture
def served(filled: kuznia.Workspace, tmp_path: Path) -> Served:
    return serve(filled, tmp_path / "server-data")


def _slots(text: str) -> list[str]:
    return [html.unescape(u) for u in SLOT.findall(text)]


def test_the_frame_comes_back_without_computing_and_the_section_loads_on_its_own(
        served: Served, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    real = board_svc.board

    def counted(*a: object, **k: object) -> object:
        calls.append(1)
        return real(*a, **k)  # type: ignore[arg-type]

    monkeypatch.setattr(board_svc, "board", counted)
    with TestClient(served.app) as client:
        h = served.headers("analyst")
        frame = client.get("/board", headers=h)
        assert frame.status_code == 200 and calls == []  # nothing computed for the frame
        assert "Computing the board…" in frame.text and '<nav aria-label="Main">' in frame.text
        assert _slots(frame.text) == ["/sections/board?top=20"]
        part = client.get("/sections/board?top=20", headers={**h, **HX})
        assert part.status_code == 200 and calls == [1]
        assert part.text.startswith('<div class="slot">') and "<nav" not in part.text
        assert "stack-box" in part.text or "Nothing on the board" in part.text
        # kept now: the page has the section in it, computed no more
        again = client.get("/board", headers=h)
        assert _slots(again.text) == [] and "Computing the board" not in again.text
        assert calls == [1] and part.text.split(">", 1)[1][:200] in again.text
        # opened without htmx the section is a page of its own, with a way back
        alone = client.get("/sections/board?top=20", headers=h)
        assert '<nav aria-label="Main">' in alone.text and 'href="/board?top=20"' in alone.text
        # a write makes the kept answers stale: the frame again comes back at once
        r = client.post("/api/v1/uses", headers=served.headers("engineer"), json={
            "use_id": "SECTIONS-1", "used_on": "2025-06-01", "product_id": "FPV-A",
            "units_used": 1, "effects": 1, "outcome": "effect"})
        assert r.status_code in (200, 201), r.text
        stale = client.get("/board", headers=h)
        assert _slots(stale.text) == ["/sections/board?top=20"] and calls == [1]


def test_every_section_of_a_product_and_a_producer_page_loads(served: Served) -> None:
    with TestClient(served.app) as client:
        h = served.headers("analyst")
        for page, parts in (("/products/FPV-A", {"headline", "pareto", "growth", "fixes",
                                                 "ranked", "flags"}),
                            ("/producers/P001", {"scorecard", "board", "quality", "flags"})):
            frame = client.get(page, headers=h)
            urls = _slots(frame.text)
            assert {u.split("?")[0].split("/")[3] for u in urls} == parts, urls
            for url in urls:
                r = client.get(url, headers={**h, **HX})
                assert r.status_code == 200 and "Computing" not in r.text, url
            whole = client.get(page, headers=h)
            assert _slots(whole.text) == [] and "<canvas" in whole.text
        # an unknown part is a 404, as a page would be
        assert client.get("/sections/product/nope/FPV-A", headers=h).status_code == 404


def test_a_section_checks_access_as_its_page_does(served: Served) -> None:
    with TestClient(served.app) as client:
        mine = served.headers("producer")
        frame = client.get(f"/producers/{PRODUCER}", headers=mine)
        urls = _slots(frame.text)
        assert urls and all(u.endswith("/" + PRODUCER) for u in urls)
        for url in urls:
            assert client.get(url, headers={**mine, **HX}).status_code == 200, url
        for other in OTHERS:  # another producer's sections are not there for it
            for part in ("board", "quality"):
                r = client.get(f"/sections/producer/{part}/{other}", headers=mine)
                assert r.status_code == 404, (part, other)
        # a role that may not open a page may not open its sections either
        eng = served.headers("engineer")
        assert client.get("/oversight", headers=eng).status_code == 403
        assert client.get("/sections/oversight", headers=eng).status_code == 403
        assert client.get("/sections/product/pareto/FPV-A", headers=eng).status_code == \
            client.get("/products/FPV-A", headers=eng).status_code
        nobody = client.get("/sections/board", follow_redirects=False)  # no session
        assert nobody.status_code in (303, 401)


def test_the_overview_frame_comes_at_once_and_its_sections_load(
        served: Served, monkeypatch: pytest.MonkeyPatch) -> None:
    from kuznia.services import costs, headline

    calls = []
    for module, name in ((costs, "cost_per_effect"), (headline, "headline")):
        real = getattr(module, name)
        monkeypatch.setattr(module, name, lambda *a, _r=real, **k: (calls.append(1),
                                                                      _r(*a, **k))[1])
    with TestClient(served.app) as client:
        h = served.headers("analyst")
        frame = client.get("/overview?category=one_way_drone", headers=h)
        assert frame.status_code == 200 and calls == []  # nothing computed for the frame
        assert '<h2 id="h-cpe">Cost per effect by product</h2>' in frame.text
        assert 'name="date_from"' in frame.text and "Computing the monthly trend…" in frame.text
        urls = _slots(frame.text)
        assert urls == [f"/sections/overview/{p}?category=one_way_drone"
                        for p in ("headline", "cost", "trend")]
        for url in urls:
            r = client.get(url, headers={**h, **HX})
            assert r.status_code == 200 and "Computing" not in r.text, url
            assert r.text.startswith('<div class="slot">') and "<nav" not in r.text
        made = len(calls)
        whole = client.get("/overview?category=one_way_drone", headers=h)
        assert _slots(whole.text) == [] and len(calls) == made  # kept: inline, not remade
        assert "<canvas" in whole.text and 'id="h-head"' in whole.text
        assert 'id="h-outcomes"' in whole.text
        alone = client.get(urls[0], headers=h)  # without htmx: a page with a way back
        assert '<nav aria-label="Main">' in alone.text
        assert 'href="/overview?category=one_way_drone"' in alone.text
        # the section routes keep the page's access rule: a producer may not open them
        assert client.get(urls[1], headers={**served.headers("producer"), **HX}
                          ).status_code in (403, 404)
        assert client.get("/sections/overview/nothing", headers=h).status_code == 404
