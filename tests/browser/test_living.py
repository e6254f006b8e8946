"""Pages people can live in, in a real browser: a session kept past two minutes of
clicking (the server's clock moved, never slept) on SQLite and on PostgreSQL, a
simulation run from the resilience page that draws its fan chart, procurement's plans
saved, opened and compared, a producer that meets no refusal from any link it is shown,
and error pages with the caller's menu. Same harness as ``test_pages``.
"""

from __future__ import annotations

import datetime as dt
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import pytest

import kuznia
from browser.test_pages import AXE, BROWSER, PASSWORD, SHOTS, login, sections_loaded
from kuznia.demo import DemoSize, generate
from kuznia.ingest.tables import IMPORT_ORDER
from kuznia.services import accounts

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(not BROWSER, reason="KUZNIA_TEST_BROWSER names no Chromium")]


class Clock:
    """The server's notion of now for sessions, moved by the test."""

    def __init__(self) -> None:
        self.now = dt.datetime.now(dt.UTC)

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += dt.timedelta(**delta)


class Site:
    def __init__(self, url: str, ws: kuznia.Workspace, producer: str, folder: Path,
                 clock: Clock):
        self.url, self.ws, self.producer, self.folder = url, ws, producer, folder
        self.clock = clock


def _serve(app: object) -> tuple[str, object, threading.Thread]:
    import uvicorn

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    for _ in range(2000):  # the server's own flag, not a clock
        if server.started:
            break
        thread.join(0.01)
    assert server.started, "the server did not start"
    return f"http://127.0.0.1:{sock.getsockname()[1]}", server, thread


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql",
                                                               marks=pytest.mark.postgres)])
def site(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
         ) -> Iterator[Site]:
    from contextlib import ExitStack

    from sqlalchemy import func, select

    from conftest import pg_schema
    from kuznia.server.app import create_app
    from kuznia.store.schema import use_cube

    folder = tmp_path_factory.mktemp("living")
    generate(folder / "data", DemoSize(uses=2000, producers=30), 5, lambda _m: None)
    with ExitStack() as stack:
        url = str(folder / "ws.db") if request.param == "sqlite" \
            else stack.enter_context(pg_schema())
        ws = kuznia.init(url, "USD", "browser tests")
        stack.callback(ws.close)
        for table in IMPORT_ORDER:
            ws.import_file(table, folder / "data" / f"{table}.csv")
        with ws.store.read() as conn:
            producer = conn.execute(
                select(use_cube.c.producer_id).where(use_cube.c.producer_id != "")
                .group_by(use_cube.c.producer_id)
                .order_by(func.sum(use_cube.c.uses).desc()).limit(1)).scalar()
        for role in accounts.ROLES:
            accounts.add_user(ws.store, role, role, actor="tester", password=PASSWORD,
                              producer=producer if role == "producer" else None,
                              partner="PA-A" if role == "partner" else None)
        clock = Clock()
        app = create_app(ws.store, data_dir=folder / "server", clock=clock)
        url, server, thread = _serve(app)
        yield Site(url, ws, producer, folder, clock)
        server.should_exit = True  # type: ignore[attr-defined]
        thread.join(10)


def _axe_serious(page) -> list[str]:  # type: ignore[no-untyped-def]
    """axe-core's serious and critical violations on the page (evaluated by the test, not
    served: the CSP holds)."""
    page.evaluate(AXE.read_text())
    result = page.evaluate("() => axe.run(document, {resultTypes: ['violations']})")
    return [v["id"] for v in result["violations"] if v["impact"] in ("serious", "critical")]


def _shot(page, site: Site, name: str) -> None:  # type: ignore[no-untyped-def]
    """Named by the site's backend too: the SQLite and PostgreSQL runs of a test may run
    at once (in two pytest-xdist workers) and must not write the same file."""
    SHOTS.mkdir(exist_ok=True)
    width = page.viewport_size["width"]
    backend = site.ws.store.dialect
    page.screenshot(path=str(SHOTS / f"living-{name}-{backend}-{width}.png"), full_page=True)
    if width == 375:  # no sideways scroll of the page itself at phone width
        assert page.evaluate("() => document.documentElement.scrollWidth") <= 380, name


def _click_to(page, href: str) -> int:  # type: ignore[no-untyped-def]
    # a first view computes its figures (the board: 15 s on PostgreSQL on a busy
    # two-core machine); the time is not what this measures (bench/soak_pages.py does)
    page.set_default_timeout(180_000)
    with page.expect_navigation(timeout=180_000) as nav:
        page.click(f"header nav a[href='{href}']")
    page.wait_for_load_state("networkidle")
    return nav.value.status


def test_a_session_outlives_two_minutes_of_clicking(browser, site: Site) -> None:
    ctx, page = login(browser, site, "analyst")
    paths = ["/board", "/uses", "/planner", "/resilience", "/oversight", "/overview"]
    for step in range(8):  # 8 x 40 s: past five minutes, each step a click in the menu
        site.clock.advance(seconds=40)
        path = paths[step % len(paths)]
        status = _click_to(page, path)
        assert status == 200, (step, path, status)
        assert urlsplit(page.url).path == path  # not sent to the login page
        assert page.locator("header nav").count() == 1
    assert not page.errors, page.errors
    site.clock.advance(minutes=31)  # idle past the limit: the login page, and back after
    page.goto(site.url + "/board")
    assert urlsplit(page.url).path == "/login"
    ctx.close()


def test_a_simulation_run_from_the_page_draws_its_fan(browser, site: Site) -> None:
    ctx, page = login(browser, site, "analyst")
    page.goto(site.url + "/resilience")
    page.fill("input[name=months]", "3")
    page.fill("input[name=scenarios]", "200")
    page.click("#h-sim ~ form button[type=submit]")
    page.wait_for_function("() => { const c = document.querySelector("
                           "'#sim canvas[data-chart=fan]'); return c && c.dataset.drawn; }",
                           timeout=120_000)
    marks = page.evaluate("""() => { const c = Chart.getChart(document.querySelector(
        '#sim canvas[data-chart=fan]')); return c.data.datasets.map(
        (d, i) => c.getDatasetMeta(i).data.length); }""")
    assert page.get_attribute("#sim canvas[data-chart=fan]", "data-drawn") == "true"
    assert len(marks) == 4 and all(n == 3 for n in marks), marks  # 3 months, 4 lines
    assert page.locator("#sim figure select option").count() >= 1
    assert _axe_serious(page) == []
    _shot(page, site, "resilience-run")
    assert not page.errors, page.errors
    ctx.close()


@pytest.mark.parametrize("width", [375, 1280])
def test_procurement_plans_saves_opens_and_compares(browser, site: Site, width: int) -> None:
    ctx, page = login(browser, site, "procurement", width)
    _click_to(page, "/planner")
    for name, budget in ((f"spring-{width}", "300000"), (f"summer-{width}", "600000")):
        page.fill("input[name=budget]", budget)
        page.fill("input[name=save]", name)
        page.click("form.plan-form button[type=submit]")
        # the list shows the new plan without a reload
        page.wait_for_selector(f"#saved-plans a[href='/plans/{name}']")
        assert page.locator("#plan-lines tbody tr").count() > 0
    page.select_option("select[name=a]", f"spring-{width}")
    page.select_option("select[name=b]", f"summer-{width}")
    page.click("#saved-plans form button[type=submit]")
    page.wait_for_selector("table.diff-lines")
    totals = page.locator("table.diff-totals tbody tr").all_inner_texts()
    assert totals[0].startswith("Expected effects") and "+" in totals[0]
    assert "pre.diff" not in page.content() and page.locator("pre").count() == 0
    changes = [int(x) for x in page.eval_on_selector_all(
        "table.diff-lines td[data-change]", "tds => tds.map(t => t.dataset.change)")]
    assert changes and all(c != 0 for c in changes)
    assert _axe_serious(page) == []
    _shot(page, site, "planner-compare")
    page.click(f"#h-compare a[href='/plans/spring-{width}']")
    page.wait_for_load_state("networkidle")
    assert page.inner_text("h1") == f"Plan spring-{width}"
    assert page.locator("#plan-lines tbody tr").count() > 0
    assert _axe_serious(page) == []
    _shot(page, site, "plan")
    assert not page.errors, page.errors
    ctx.close()


def test_a_producer_meets_no_refusal_on_any_link_it_is_shown(browser, site: Site) -> None:
    ctx, page = login(browser, site, "producer")
    todo, seen, refused = [urlsplit(page.url).path], set(), []
    while todo and len(seen) < 80:
        path = todo.pop(0)
        if path in seen:
            continue
        seen.add(path)
        response = page.goto(site.url + path)
        sections_loaded(page)  # the links of the sections that load on their own too
        assert response is not None
        if response.status >= 400:
            refused.append((path, response.status))
            continue
        for href in page.eval_on_selector_all(
                "a[href]:not([download])", "as => as.map(a => a.getAttribute('href'))"):
            full = urljoin(site.url + path, href)
            parts = urlsplit(full)
            if not full.startswith(site.url) or parts.path.startswith(("/static/", "/api/")):
                continue
            target = parts.path + (f"?{parts.query}" if parts.query else "")
            if target not in seen:
                todo.append(target)
    assert len(seen) > 5  # it did crawl: its page, board, uses, records
    assert refused == []
    ctx.close()


@pytest.mark.parametrize("width", [375, 1280])
def test_error_pages_keep_the_menu_and_a_way_back(browser, site: Site, width: int) -> None:
    ctx, page = login(browser, site, "engineer", width)
    for path, status in (("/accounts", 403), ("/no/such/page", 404)):
        response = page.goto(site.url + path)
        assert response is not None and response.status == status
        assert page.locator("header nav a[href='/field']").count() == 1
        assert _axe_serious(page) == []
        _shot(page, site, f"error-{status}")
        page.click("text=Go to your start page")
        page.wait_for_url("**/field")
    ctx.close()


@pytest.mark.parametrize("width", [375, 1280])
def test_the_pareto_by_condition_shows_and_follows_the_condition(browser, site: Site,
                                                                  width: int) -> None:
    from kuznia.services import failures

    table = failures.failures(site.ws.store, by="condition:ew")
    product = max(table.rows, key=lambda r: r["failures"])["product_id"]
    ctx, page = login(browser, site, "analyst", width)
    page.set_default_timeout(180_000)
    page.goto(site.url + f"/products/{product}?pareto_by=condition:ew")
    # the Pareto section loads on its own when it is not kept yet: wait for its chart
    page.wait_for_function("() => document.querySelector('canvas[data-chart=pareto]')"
                           "?.dataset.drawn")
    section = page.locator("section[aria-labelledby=h-pareto]")
    # the failure mode heads each row, then the product, then the condition's value
    assert section.locator("thead th").nth(2).inner_text() == "Condition “ew”"
    values = set(section.locator("tbody tr td:nth-child(3)").all_inner_texts())
    assert values and "" not in values and values <= {"high", "low", "(none)"}
    groups = page.evaluate("""() => Chart.getChart(document.querySelector(
        'canvas[data-chart=pareto]')).data.datasets.filter(d => d.type === 'bar')
        .map(d => d.label)""")
    assert {g.removeprefix("ew ") for g in groups} == values  # one stack per value
    assert _axe_serious(page) == []
    _shot(page, site, "product-pareto-by-condition")
    first = section.locator("tbody tr").first
    value = first.locator("td").nth(1).inner_text()
    failures_shown = int(first.locator("td").nth(3).inner_text().replace(",", ""))
    first.locator("td").nth(3).locator("a").click()
    page.wait_for_load_state("networkidle")
    assert "condition=ew" in page.url
    assert f"{failures_shown:,} uses match" in page.inner_text("main")
    assert page.input_value("input[name=condition]") == (
        f"ew={'-' if value == '(none)' else value}")
    ctx.close()
