"""Pages speak in words and readable figures: a crawl of every page each role is shown, on
a small demo workspace, fails on a figure with more than 6 significant digits (a raw float
such as 0.40581239 or 1234567.8) and on a code where a person should read words
(``awaiting_data``, ``no_effect``, any code of the label table in ``kuznia.words``)."""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import pytest
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import func, select

import kuznia
from kuznia import words
from kuznia.demo import DemoSize, generate
from kuznia.ingest.tables import IMPORT_ORDER
from kuznia.server.web.base import _day, _fig, _month, _num, _when
from kuznia.services import accounts

PASSWORD = "correct horse battery"
FIGURE = re.compile(r"(?<![\w.,/-])[-+−]?\d[\d,]*(?:\.\d+)?(?:e[-+]?\d+)?(?![\w])")
SKIP = ("/api/", "/static/", "/logout", "/login")
PER_ROUTE = 2  # pages of one shape (one route, other ids) visited per role


def significant_digits(figure: str) -> int:
    """Significant digits of a figure as printed: 1,234,567 has 7, 120,000 has 2, 0.0405 3.

    >>> [significant_digits(x) for x in ("1,234,567", "120,000", "0.0405", "3.50", "7")]
    [7, 2, 3, 3, 1]
    """
    text = figure.lstrip("+-−").replace(",", "").lower()
    mantissa = text.split("e")[0]
    if "." in mantissa:
        return len(mantissa.replace(".", "").lstrip("0"))
    return len(mantissa.lstrip("0").rstrip("0")) or 1


class VisibleText(HTMLParser):
    """The text a person reads on a page (not scripts, styles or attributes) and its
    links. ``<code>`` holds hashes, ids and commands shown as such (a hash's first
    twelve characters may all be digits), not figures or words: it is left out too."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self.links: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style", "template", "code"):
            self._hidden += 1
        if tag == "a":
            href = dict(attrs).get("href")
            if href:
                self.links.append(href)
        if dict(attrs).get("hx-get"):  # a section loaded on its own is read too
            self.links.append(str(dict(attrs)["hx-get"]))

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style", "template", "code"):
            self._hidden -= 1

    def handle_data(self, data: str) -> None:
        if not self._hidden:
            self.parts.append(data)

    @property
    def text(self) -> str:
        return " ".join(" ".join(self.parts).split())


def raw_codes() -> re.Pattern[str]:
    """A code of the label table standing alone (not inside a file name such as
    ``corrective_actions.csv`` or a path)."""
    alternatives = "|".join(sorted(words.CODES, key=len, reverse=True))
    return re.compile(r"(?<![\w./-])(" + alternatives + r")(?![\w-]|\.\w)")


def route_of(path: str) -> str:
    """A page's shape: /products/ID-03 and /products/ID-04 are one route."""
    parts = [p for p in path.split("/") if p]
    if not parts:
        return "/"
    if parts[0] == "records":
        return "/records/" + (parts[1] if len(parts) > 1 else "")
    if parts[0] == "sections":  # one section of a page: one shape per page and part
        return "/" + "/".join(parts[:3])
    return "/" + parts[0] + ("/*" if len(parts) > 1 else "")


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, dict]]:
    from kuznia.server.app import create_app
    from kuznia.store.schema import use_cube

    folder = tmp_path_factory.mktemp("speak")
    generate(folder / "data", DemoSize(uses=3000, producers=20), 5, lambda _m: None)
    ws = kuznia.init(str(folder / "ws.db"), "USD", "page words")
    for table in IMPORT_ORDER:
        ws.import_file(table, folder / "data" / f"{table}.csv")
    with ws.store.read() as conn:
        producer = conn.execute(select(use_cube.c.producer_id)
                                .where(use_cube.c.producer_id != "")
                                .group_by(use_cube.c.producer_id)
                                .order_by(func.sum(use_cube.c.uses).desc()).limit(1)).scalar()
    tokens = {}
    for role in accounts.ROLES:
        accounts.add_user(ws.store, role, role, actor="tester", password=PASSWORD,
                          producer=producer if role == "producer" else None,
                          partner="PA-A" if role == "partner" else None)
        tokens[role] = accounts.issue_token(ws.store, role, actor="tester")
    with TestClient(create_app(ws.store, data_dir=folder / "server")) as client:
        yield client, tokens
    ws.close()


def crawl(client: TestClient, start: str, limit: int = 50) -> Iterator[tuple[str, str]]:
    """Every page reachable from ``start`` by the links shown (a few of each route)."""
    seen, per_route = {start}, {}  # type: ignore[var-annotated]
    todo = deque([start])
    while todo and len(seen) <= limit:
        url = todo.popleft()
        r = client.get(url)
        assert r.status_code < 500, (url, r.status_code)
        if r.status_code != 200 or "text/html" not in r.headers.get("content-type", ""):
            continue
        parser = VisibleText()
        parser.feed(r.text)
        yield url, parser.text
        for href in parser.links:
            link = urljoin(url, href)
            parts = urlsplit(link)
            if parts.netloc not in ("", "testserver") or parts.path.startswith(SKIP):
                continue
            target = parts.path + ("?" + parts.query if parts.query else "")
            shape = route_of(parts.path)
            if target in seen or per_route.get(shape, 0) >= PER_ROUTE:
                continue
            per_route[shape] = per_route.get(shape, 0) + 1
            seen.add(target)
            todo.append(target)


@pytest.mark.parametrize("role", accounts.ROLES)
def test_every_page_shows_readable_figures_and_words(site: tuple[TestClient, dict],
                                                     role: str) -> None:
    client, tokens = site
    # a token, not a session: the crawl is about what pages say, not how long they last
    client.headers["Authorization"] = f"Bearer {tokens[role]}"
    r = client.get("/", follow_redirects=False)
    assert r.status_code == 303
    start = r.headers["location"]
    codes = raw_codes()
    too_long, raw, pages = [], [], []
    for url, text in crawl(client, start):
        pages.append(url)
        too_long += [(url, f) for f in FIGURE.findall(text) if significant_digits(f) > 6]
        raw += [(url, c) for c in sorted(set(codes.findall(text)))]
    assert len(pages) >= 1
    assert too_long == [], too_long[:20]
    assert raw == [], raw[:20]


def test_the_crawl_would_see_a_raw_float_and_a_code() -> None:
    parser = VisibleText()
    parser.feed("<p>rate 0.40581239 · status awaiting_data <script>x = 1.2345678</script></p>")
    figures = [f for f in FIGURE.findall(parser.text) if significant_digits(f) > 6]
    assert figures == ["0.40581239"]
    assert "1.2345678" not in parser.text
    assert raw_codes().findall(parser.text + " corrective_actions.csv") == ["awaiting_data"]


def test_every_template_is_under_the_label_filter() -> None:
    """Codes that templates print go through ``say``: no template replaces underscores
    by hand any more (the way codes used to leak half-translated)."""
    templates = Path(kuznia.__file__).parent / "server" / "templates"
    hand = [p.name for p in templates.glob("*.html") if "replace('_', ' ')" in p.read_text()]
    assert hand == []


@given(st.one_of(st.floats(-1e13, 1e13, allow_nan=False), st.integers(-10**13, 10**13)),
       st.integers(0, 4))
def test_a_figure_filter_never_prints_more_than_six_digits(value: float, digits: int) -> None:
    for shown in (_num(value, digits), _fig(value)):
        figures = FIGURE.findall(shown.replace("\u00a0", " "))
        assert figures and all(significant_digits(f) <= 6 for f in figures), shown


def test_figures_dates_and_codes_as_people_read_them() -> None:
    assert _num(1234567.8) == "1.23\u00a0million" and _num(123456.78, 2) == "123,457"
    assert _num(0.123456, 2) == "0.12" and _fig(3.14159) == "3.142" and _num(None) == "–"
    assert _when("2026-12-07T01:38:20.123+00:00") == "7\u00a0Dec\u00a02026, 01:38\u00a0UTC"
    assert _day("2025-08-16") == "16\u00a0Aug\u00a02025" and _month("2025-03") == "Mar\u00a02025"
    assert words.say("awaiting_data") == "waiting for data" and words.say("P0013") == "P0013"
