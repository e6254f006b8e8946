"""One figure, one function (issue 29): every chart on every page fetches the API route
that computed what the page shows, with the page's own question; asked again with nothing
kept, that route answers exactly what the page shows. And an API route refuses a query
parameter it does not take, rather than answer another question."""

from __future__ import annotations

import html
import re
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import pytest
from fastapi.testclient import TestClient

import kuznia
from kuznia.server.api import figures
from kuznia.server.api.base import figure_url
from kuznia.server.cache import AnswerCache
from server_helpers import OTHERS, PRODUCER, Served, serve

HX = {"HX-Request": "true"}
SLOT = re.compile(r'<div class="slot" hx-get="([^"]*)"')
DATA_SRC = re.compile(r'\sdata-src="([^"]*)"')
JSON_LINK = re.compile(r'\shref="(/api/v1/[^"]*)">as JSON</a>')

# role: the pages with figures it may open
PAGES = {
    "analyst": ["/overview", "/overview?product=FPV-A", "/overview?category=one_way_drone",
                "/products/FPV-A", "/producers/P001", f"/producers/{PRODUCER}", "/board",
                "/board?product=FPV-A", "/oversight", "/licences"],
    "engineer": ["/products/FPV-A", "/producers/P001", "/board"],
    "procurement": ["/overview", "/products/FPV-A", "/producers/P003"],
    "producer": [f"/producers/{PRODUCER}", "/board"],
    "partner": ["/partner"],
}


@pytest.fixture
def served(filled: kuznia.Workspace, tmp_path: Path) -> Served:
    return serve(filled, tmp_path / "server-data")


def _whole_page(client: TestClient, path: str, headers: dict[str, str]) -> str:
    """The page with every section that loads on its own loaded (and so computed)."""
    frame = client.get(path, headers=headers)
    assert frame.status_code == 200, (path, frame.text[:300])
    parts = [frame.text]
    for url in SLOT.findall(frame.text):
        r = client.get(html.unescape(url), headers={**headers, **HX})
        assert r.status_code == 200, (url, r.text[:300])
        parts.append(r.text)
    return "\n".join(parts)


def _data_urls(text: str) -> list[str]:
    """Every chart's data URL, and every link to a figure's JSON, on the page."""
    urls = [html.unescape(u) for u in DATA_SRC.findall(text)]
    urls += [html.unescape(u) for u in JSON_LINK.findall(text)]
    return list(dict.fromkeys(urls))


def test_every_chart_fetches_what_its_page_shows_from_its_route_with_nothing_kept(
        served: Served) -> None:
    checked = set()
    with TestClient(served.app) as client:
        for role, pages in PAGES.items():
            h = served.headers(role)
            for page in pages:
                served.app.state.answers = AnswerCache()  # type: ignore[attr-defined]
                text = _whole_page(client, page, h)
                for url in _data_urls(text):
                    kept = served.app.state.answers  # type: ignore[attr-defined]
                    before = len(kept)
                    shown = client.get(url, headers=h)
                    assert shown.status_code == 200, (role, page, url, shown.text[:300])
                    # the page kept the answer under this very question: nothing made now
                    assert len(kept) == before, (role, page, url)
                    served.app.state.answers = AnswerCache()  # type: ignore[attr-defined]
                    fresh = client.get(url, headers=h)
                    assert fresh.status_code == 200, (role, page, url)
                    assert fresh.json() == shown.json(), (role, page, url)
                    served.app.state.answers = kept  # type: ignore[attr-defined]
                    checked.add((role, urlsplit(url).path))
    # the producer page's cost chart (issue 29: it drew every producer's figures)
    assert ("analyst", "/api/v1/cost-per-effect") in checked
    assert {"/api/v1/failures", "/api/v1/growth", "/api/v1/oversight/flags",
            "/api/v1/licences"} <= {p for _, p in checked}
    assert ("partner", "/api/v1/licences") in checked


def test_a_producer_page_cost_chart_shows_that_producer_only(served: Served) -> None:
    with TestClient(served.app) as client:
        h = served.headers("analyst")
        text = _whole_page(client, "/producers/P001", h)
        url = next(u for u in _data_urls(text) if u.startswith("/api/v1/cost-per-effect"))
        assert dict(parse_qsl(urlsplit(url).query)) == {"by": "product", "producer": "P001"}
        served.app.state.answers = AnswerCache()  # type: ignore[attr-defined]
        mine = client.get(url, headers=h).json()
        every = client.get("/api/v1/cost-per-effect?by=product", headers=h).json()
        assert mine["rows"] and all(r["trace_filters"]["producer"] == "P001"
                                    for r in mine["rows"])
        assert sum(r["uses"] for r in mine["rows"]) < sum(r["uses"] for r in every["rows"])
        # a producer asking for another producer's gets nothing, not its own nor theirs
        p = served.headers("producer")
        theirs = client.get(f"/api/v1/cost-per-effect?by=product&producer={OTHERS[0]}",
                            headers=p).json()
        assert theirs["rows"] == []
        own = client.get(f"/api/v1/cost-per-effect?by=product&producer={PRODUCER}",
                         headers=p).json()
        assert own == client.get("/api/v1/cost-per-effect?by=product", headers=p).json()


def test_a_query_parameter_a_route_does_not_take_is_refused_by_name(served: Served) -> None:
    with TestClient(served.app) as client:
        h = served.headers("analyst")
        r = client.get("/api/v1/growth?product=FPV-A&producer=P001", headers=h)
        assert r.status_code == 400, r.text
        assert r.json()["params"] == ["producer"] and "producer" in r.json()["detail"]
        r = client.get("/api/v1/plans?limit=3", headers=h)
        assert r.status_code == 400 and r.json()["params"] == ["limit"]
        # the access check comes first: no credentials is a 401, whatever is asked
        assert client.get("/api/v1/growth?product=FPV-A&nope=1").status_code == 401
        assert client.get("/api/v1/growth?product=FPV-A", headers=h).status_code == 200


def test_a_page_asks_a_figure_only_what_its_route_takes() -> None:
    with pytest.raises(TypeError, match="producer"):
        figure_url(figures.growth, {"product": "FPV-A", "producer": "P001"})
    path, query = figure_url(figures.scorecard, {"producer_id": "P 1"})
    assert (path, query) == ("/api/v1/producers/P 1/scorecard", {})
