"""The page charts speak: an axis title on every axis, a legend that names the marks drawn
(and nothing else), the interval in the palette's fill, and a sentence instead of empty
axes when a period has no uses."""

from __future__ import annotations

import pytest

from browser.test_pages import (
    BROWSER,
    Site,
    charts_drawn,
    login,
    sections_loaded,
)
from kuznia import palette

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser-site"),  # conftest.py
              pytest.mark.skipif(not BROWSER, reason="KUZNIA_TEST_BROWSER names no Chromium")]

CHARTS = """() => [...document.querySelectorAll('canvas[data-chart]')]
  .filter(c => !c.dataset.nothing).map(c => {
    const ch = Chart.getChart(c);
    const legend = ch.legend.legendItems.map(i => i.text);
    const scales = Object.values(ch.scales).map(s => [s.id, s.options.title.display,
                                                      s.options.title.text]);
    const interval = ch.data.datasets.filter(d => /interval|runs/.test(d.label))
                                     .map(d => d.backgroundColor);
    return {kind: c.dataset.chart, legend, scales, interval};
  })"""


def test_every_chart_titles_its_axes_and_its_legend_names_its_marks(browser, site: Site
                                                                    ) -> None:
    from kuznia.services import records

    product = records.list_records(site.ws.store, "products", limit=1).rows[0]["product_id"]
    ctx, page = login(browser, site, "analyst")
    seen = set()
    for path in ("/overview", f"/overview?product={product}", f"/products/{product}"):
        page.goto(site.url + path)
        sections_loaded(page)  # a product's charts are in sections that load on their own
        charts_drawn(page)
        for chart in page.evaluate(CHARTS):
            seen.add(chart["kind"])
            untitled = [s for s in chart["scales"] if not (s[1] and s[2])]
            assert untitled == [], (path, chart)
            assert chart["interval"] == [palette.INTERVAL] * len(chart["interval"]), chart
            if chart["kind"] in ("cpe", "trend"):
                assert sorted(chart["legend"]) == ["90% interval", "cost per effect"], chart
            if chart["kind"] == "outcomes":
                assert chart["legend"] == ["effect", "no effect", "failure", "aborted"]
    assert {"cpe", "trend", "outcomes", "pareto", "growth"} <= seen
    ctx.close()


def test_a_period_with_no_uses_says_so(browser, site: Site) -> None:
    ctx, page = login(browser, site, "analyst")
    page.goto(site.url + "/overview?date_from=1990-01-01&date_to=1990-03-31")
    page.wait_for_load_state("networkidle")
    charts_drawn(page)
    empty = page.locator("main p.empty").all_inner_texts()
    assert empty and set(empty) == {"No uses in this period."}
    assert page.locator("main .canvas-box").count() == 0  # no empty axes left
    assert "No uses in this period." in page.locator("table").first.inner_text()
    ctx.close()
