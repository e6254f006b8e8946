"""The pages in a real browser: Playwright driving Debian's Chromium (never a downloaded
browser) against ``kuznia serve``'s application on a loopback port, over a small demo
workspace on SQLite (``site`` and ``browser``: ``conftest.py``, shared with test_charts,
test_phone and test_portal). Runs when KUZNIA_TEST_BROWSER names the Chromium executable
(``.ci/run`` installs Chromium and sets it).

Screenshots of every page at 375 and 1280 px are kept under ``test-screenshots/`` (listed
in ``.gitignore``).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from urllib.parse import urlsplit

import pytest

import kuznia
from kuznia.services import accounts

BROWSER = os.environ.get("KUZNIA_TEST_BROWSER")
pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser-site"),  # conftest.py
              pytest.mark.skipif(not BROWSER, reason="KUZNIA_TEST_BROWSER names no Chromium "
                                                     "(.ci/run installs and names it)")]
PASSWORD = "correct horse battery"
ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "test-screenshots"
AXE = Path(__file__).parent / "vendor" / "axe-core" / "axe.min.js"
START = {"analyst": "/overview", "admin": "/accounts", "auditor": "/audit",
         "procurement": "/imports", "engineer": "/field", "partner": "/partner"}


class Site:
    def __init__(self, url: str, ws: kuznia.Workspace, producer: str, folder: Path):
        self.url, self.ws, self.producer, self.folder = url, ws, producer, folder


def login(browser, site: Site, role: str, width: int = 1280):  # type: ignore[no-untyped-def]
    ctx = browser.new_context(viewport={"width": width, "height": 900})
    page = ctx.new_page()
    page.errors = []  # type: ignore[attr-defined]
    page.on("pageerror", lambda e: page.errors.append(str(e)))
    page.on("console", lambda m: page.errors.append(m.text) if m.type == "error" else None)
    page.goto(site.url + "/login")
    page.fill("input[name=name]", role)
    page.fill("input[name=password]", PASSWORD)
    with page.expect_navigation():
        page.click("form.login button[type=submit]")
    sections_loaded(page)  # the start page is in once its sections are ("networkidle"
    return ctx, page  # waits half a second more, idle, on every login)


def charts_drawn(page) -> None:  # type: ignore[no-untyped-def]
    sections_loaded(page)  # the charts of a section that loads on its own come with it
    page.wait_for_function("() => [...document.querySelectorAll('canvas[data-chart]')]"
                           ".every(c => c.dataset.drawn)")
    bad = page.eval_on_selector_all("canvas[data-chart]",
                                    "cs => cs.filter(c => c.dataset.drawn !== 'true').length")
    assert bad == 0, "a chart could not be drawn"


def test_each_role_lands_on_its_start_page(browser, site: Site) -> None:
    for role in accounts.ROLES:
        ctx, page = login(browser, site, role)
        want = START.get(role, f"/producers/{site.producer}")
        assert page.url == site.url + want, role
        assert page.locator("h1").count() == 1
        assert not page.errors, (role, page.errors)
        ctx.close()


def test_a_producer_sees_no_other_producers_id(browser, site: Site) -> None:
    from kuznia.services import records

    others = {r["producer_id"] for r in records.list_records(
        site.ws.store, "producers", limit=1000).rows} - {site.producer}
    ctx, page = login(browser, site, "producer")
    seen = []
    for path in (f"/producers/{site.producer}", "/board", "/uses",
                 f"/producers/{site.producer}?flag=late"):
        page.goto(site.url + path)
        page.wait_for_load_state("networkidle")
        text = page.content()
        seen += [o for o in others if o in text]
    # another producer's page is not found, as if it did not exist
    r = page.goto(site.url + "/producers/" + sorted(others)[0])
    assert r is not None and r.status == 404
    assert sorted(others)[0] in page.content()  # named only in the error it asked about
    r = page.goto(site.url + "/overview")
    assert r is not None and r.status == 403
    assert seen == []
    ctx.close()


def test_from_the_overview_a_products_figure_leads_to_its_uses(browser, site: Site) -> None:
    ctx, page = login(browser, site, "analyst")
    charts_drawn(page)
    row = page.locator("table").first.locator("tbody tr").first
    product = row.locator("th").first.inner_text()
    uses = int(row.locator("td[data-label=Uses]").inner_text().replace(",", ""))
    row.locator("td.key a").click()  # the cost per effect figure
    page.wait_for_load_state("networkidle")
    assert "/uses?" in page.url
    assert f"{uses:,} uses match" in page.inner_text("main")
    products = set(page.locator("table tbody tr td:nth-child(4)").all_inner_texts())
    assert products == {product}
    # and a click on the chart's bar opens the product's page
    page.goto(site.url + "/overview")
    charts_drawn(page)
    canvas = page.locator("canvas[data-chart=cpe]").first
    box = canvas.bounding_box()
    assert box is not None
    point = page.evaluate("""() => { const c = Chart.getChart(document.querySelector(
        'canvas[data-chart=cpe]')); const el = c.getDatasetMeta(0).data[0];
        return [el.x, (el.y + el.base) / 2, c.data.labels[0]]; }""")
    page.mouse.click(box["x"] + point[0], box["y"] + point[1])
    page.wait_for_url(f"**/products/{point[2].rsplit('(', 1)[-1].rstrip(')')}")  # "Name (ID)"
    ctx.close()


def test_a_bad_uses_file_shows_every_row_problem_and_stores_nothing(browser, site: Site
                                                                    ) -> None:
    from kuznia.services import trace

    before = trace.list_uses(site.ws.store, limit=1).total
    bad = site.folder / "bad-uses.csv"
    bad.write_text("use_id,used_on,operator,product_id,version,producer_id,lot,units_used,"
                   "effects,outcome,failure_mode,conditions,notes\n"
                   "B1,2025-13-01,,FD-01,,,,1,0,no_effect,,,\n"
                   "B2,2025-02-01,,FD-01,,,,x,0,no_effect,,,\n"
                   "B3,2025-02-01,,FD-01,,,,1,0,maybe,,,\n")
    ctx, page = login(browser, site, "engineer")
    page.goto(site.url + "/imports")
    page.select_option("select[name=table]", "uses")
    page.set_input_files("input[name=file]", str(bad))
    page.click("form button[type=submit]")
    page.wait_for_selector(".job .error table")
    cells = page.locator(".job .error table tbody tr").all_inner_texts()
    assert len(cells) == 3
    for line, column in ((2, "used_on"), (3, "units_used"), (4, "outcome")):
        assert any(c.startswith(f"{line}\t{column}") for c in cells), (line, column, cells)
    assert trace.list_uses(site.ws.store, limit=1).total == before
    ctx.close()


def test_the_planner_form_gives_the_cli_plan(browser, site: Site, capsys) -> None:
    from kuznia.cli import main

    db = str(site.folder / "ws.db")
    ctx, page = login(browser, site, "analyst")
    page.goto(site.url + "/planner")
    page.fill("input[name=budget]", "2000000")
    page.fill("input[name=max_producer_share]", "40%")
    page.click("form.plan-form button[type=submit]")
    page.wait_for_selector("#plan-lines")
    shown = sorted((r[0], r[1], int(r[3].replace(",", ""))) for r in (
        row.split("\t") for row in page.locator("#plan-lines tbody tr").all_inner_texts()))
    ctx.close()
    import sys

    argv = sys.argv
    sys.argv = ["kuznia", "plan", "allocate", "--budget", "2000000",
                "--max-producer-share", "40%", "--db", db, "--json"]
    try:
        main()
    except SystemExit as e:
        assert e.code in (0, None)
    finally:
        sys.argv = argv
    plan = json.loads(capsys.readouterr().out)
    cli = sorted((r["product_id"], r["producer_id"], r["quantity"]) for r in plan["lines"])
    assert shown == cli and cli


# The field form's tests are in test_field.py.


def price_flag(site: Site) -> dict:
    """A price flag of the demo (a planted outlier or mark-up), as the server has it."""
    from kuznia.services import oversight

    return next(f for f in oversight.flags(site.ws.store).flags
                if f["code"] in ("price_outlier", "resale_markup"))


def test_a_price_flag_is_confirmed_on_its_page_and_shows_in_the_audit(browser, site: Site
                                                                      ) -> None:
    flag = price_flag(site)
    ctx, page = login(browser, site, "auditor")
    page.goto(site.url + "/oversight?" + f"code={flag['code']}")
    page.click(f"a[href='/oversight/flags/{flag['key']}']")
    page.wait_for_load_state("networkidle")
    assert page.url == site.url + f"/oversight/flags/{flag['key']}"
    # the peers, plotted with the line the price crossed, and listed
    assert page.locator("svg.strip-plot circle.peer").count() >= 3
    assert page.locator("svg.strip-plot line.threshold").count() == 1
    assert flag["contract_id"] in page.inner_text("table")
    page.check("input[name=status][value=confirmed]")
    page.fill("#comment", "Invoice checked: paid at four times the peers.")
    page.click("form.triage button[type=submit]")
    page.wait_for_selector("#case >> text=Saved.")
    assert "confirmed" in page.inner_text("#case")
    assert "Invoice checked" in page.inner_text("#case .comments")
    page.click("#case a[href^='/audit?before=']")  # the audit event of the change
    page.wait_for_load_state("networkidle")
    first = page.locator("table tbody tr").first.inner_text()
    assert "auditor" in first and "flag" in first
    page.goto(site.url + "/oversight?status=confirmed")
    sections_loaded(page)  # the triage was a write: the flags load on their own
    assert flag["text"][:30] in page.inner_text("main")
    assert not page.errors, page.errors
    ctx.close()


def test_the_uses_export_sums_to_the_figure_on_the_page(browser, site: Site) -> None:
    import csv
    import io

    ctx, page = login(browser, site, "analyst")
    charts_drawn(page)
    row = page.locator("table").first.locator("tbody tr").first
    figure = row.locator("td.key").inner_text()  # the product's cost per effect
    row.locator("td.key a").click()
    page.wait_for_load_state("networkidle")
    summary = page.locator("dl.figures")
    assert summary.locator(".cpe").inner_text() == figure
    uses = int(summary.locator("dd").nth(0).inner_text().replace(",", ""))
    cost = summary.locator("dd").nth(2).inner_text()
    with page.expect_download() as got:
        page.click("p.exports a:text('CSV')")
    text = Path(got.value.path()).read_text(encoding="utf-8")
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    assert len(rows) == uses
    total = sum(float(r["cost"]) for r in rows)
    effects = sum(int(r["effects"]) for r in rows)
    assert f"{total:,.0f}" == cost
    assert f"{total / effects:,.0f}" == figure
    # newest first, and a header sorts the list
    import datetime as dt

    days = [dt.datetime.strptime(d.replace("\xa0", " "), "%d %b %Y").date()
            for d in page.locator("table.uses tbody td.date").all_inner_texts()]
    assert days and days == sorted(days, reverse=True)
    page.click("table.uses thead a:text('Effects')")
    page.wait_for_load_state("networkidle")
    effects_shown = [int(x) for x in page.locator(
        "table.uses tbody tr td:nth-child(9)").all_inner_texts()]
    assert effects_shown == sorted(effects_shown, reverse=True)
    assert not page.errors, page.errors
    ctx.close()


def sections_loaded(page) -> None:  # type: ignore[no-untyped-def]
    """Every section that loads on its own is in (no placeholder left)."""
    page.wait_for_function("() => !document.querySelector('.slot[aria-busy]')")


def test_analyst_overview_product_uses_and_the_export_equals_the_figure(browser, site: Site
                                                                       ) -> None:
    import csv
    import io

    ctx, page = login(browser, site, "analyst")
    assert urlsplit(page.url).path == "/overview"
    charts_drawn(page)
    page.locator("main table a[href^='/products/']").first.click()
    page.wait_for_load_state("networkidle")
    assert urlsplit(page.url).path.startswith("/products/")
    # the frame and its headings at once; the sections come in on their own
    assert page.locator("h2#h-pareto").count() == 1
    sections_loaded(page)
    charts_drawn(page)
    link = page.locator("#h-own ~ .slot p.finding a").first  # the product's own figure
    figure = link.locator("strong").inner_text().split()[0]  # "1,234 USD" -> "1,234"
    link.click()
    page.wait_for_load_state("networkidle")
    assert urlsplit(page.url).path == "/uses"
    summary = page.locator("dl.figures")
    assert summary.locator(".cpe").inner_text() == figure
    with page.expect_download() as got:
        page.click("p.exports a:text('CSV')")
    rows = list(csv.DictReader(io.StringIO(Path(got.value.path()).read_text(
        encoding="utf-8"), newline="")))
    total = sum(float(r["cost"]) for r in rows)
    effects = sum(int(r["effects"]) for r in rows)
    assert f"{total / effects:,.0f}" == figure
    assert not page.errors, page.errors
    ctx.close()


PAGES = {
    "analyst": ["/overview", "/products/{product}", "/producers/{producer}", "/board",
                "/uses", "/uses?sort=-cost", "/contracts/{contract}",
                "/records/deliveries/{delivery}", "/planner", "/resilience"],
    "producer": ["/producers/{producer}", "/uses", "/contracts/{own_contract}", "/vault"],
    "procurement": ["/imports", "/licences"],
    "partner": ["/partner"],
    "engineer": ["/field"],
    "auditor": ["/audit", "/oversight", "/oversight/flags/{flag}"],
    "admin": ["/accounts"],
    "anonymous": ["/login"],
}


def page_ids(site: Site) -> dict[str, str]:
    """The ids the paths of ``PAGES`` name, from the site's workspace."""
    from kuznia.services import records

    product = records.list_records(site.ws.store, "products", limit=1).rows[0]["product_id"]
    delivery = records.list_records(site.ws.store, "deliveries", limit=1).rows[0]
    own = records.list_records(site.ws.store, "contracts", limit=1,
                               filters={"producer_id": site.producer}).rows[0]
    return {"product": product, "producer": site.producer, "flag": price_flag(site)["key"],
            "contract": delivery["contract_id"], "delivery": delivery["delivery_id"],
            "own_contract": own["contract_id"]}


def test_every_page_passes_axe_and_is_photographed(browser, site: Site) -> None:
    ids = page_ids(site)
    SHOTS.mkdir(exist_ok=True)
    axe = AXE.read_text()
    failures = []
    for role, paths in PAGES.items():
        for width in (375, 1280):
            if role == "anonymous":
                ctx = browser.new_context(viewport={"width": width, "height": 900})
                page = ctx.new_page()
            else:
                ctx, page = login(browser, site, role, width)
            page.set_default_timeout(180_000)  # first views compute (busy machines)
            for path in paths:
                url = path.format(**ids)
                page.goto(site.url + url)  # the page is in once its sections are: no
                sections_loaded(page)  # "networkidle" (half a second a page, idle)
                if page.locator("canvas[data-chart]").count():
                    charts_drawn(page)
                page.evaluate(axe)  # evaluated by the test, not served: the CSP holds
                result = page.evaluate("() => axe.run(document, {resultTypes: ['violations']})")
                for v in result["violations"]:
                    if v["impact"] in ("serious", "critical"):
                        failures.append((role, url, width, v["id"],
                                         [n["target"] for n in v["nodes"]][:3]))
                name = (f"{role}-{url.strip('/').replace('/', '_').replace('?', '_') or 'home'}"
                        f"-{width}.png")
                page.screenshot(path=str(SHOTS / name), full_page=True)
                # no sideways scroll of the page itself at phone width
                if width == 375:
                    assert page.evaluate("() => document.documentElement.scrollWidth") <= 380, \
                        (role, url)
            ctx.close()
    assert failures == []
