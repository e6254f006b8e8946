"""The producers' portal on a phone (375 px): a producer answers a block of its board with
a PDF and an analyst sees the answer and replies; a producer's offer sent from its page is
used by the plan procurement runs. Each page passes axe and is photographed."""

from __future__ import annotations

from pathlib import Path

import pytest

from browser.test_pages import (
    AXE,
    BROWSER,
    SHOTS,
    Site,
    login,
)

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser-site"),  # conftest.py
              pytest.mark.skipif(not BROWSER, reason="KUZNIA_TEST_BROWSER names no Chromium")]
PHONE = 375


def axe_clean(page) -> None:  # type: ignore[no-untyped-def]
    page.evaluate(AXE.read_text())
    result = page.evaluate("() => axe.run(document, {resultTypes: ['violations']})")
    assert [(v["id"], [n["target"] for n in v["nodes"]][:3])
            for v in result["violations"]] == []


def shot(page, name: str, part: str | None = None) -> None:  # type: ignore[no-untyped-def]
    """The whole page, and the part the test is about (the page is long on a phone)."""
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / f"portal-{name}-{PHONE}.png"), full_page=True)
    if part is not None:
        page.locator(part).first.screenshot(path=str(SHOTS / f"portal-{name}-part-{PHONE}.png"))
    assert page.evaluate("() => document.documentElement.scrollWidth") <= PHONE + 5


def test_a_producer_answers_a_block_and_an_analyst_sees_it(browser, site: Site,
                                                          tmp_path: Path) -> None:
    pdf = tmp_path / "8D report.pdf"
    pdf.write_bytes(b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n")
    ctx, page = login(browser, site, "producer", PHONE)
    page.goto(f"{site.url}/producers/{site.producer}")
    page.wait_for_load_state("networkidle")
    assert page.locator("#scorecard").count() == 1
    thread = page.locator("div.thread").first
    thread_id = thread.get_attribute("id")
    thread.locator("summary:text('Answer this block')").click()
    thread.locator("textarea[name=body]").fill("Root cause found; the new lot ships Monday.")
    thread.locator("input[type=file]").set_input_files(str(pdf))
    thread.locator("button:text('Send the answer')").click()
    page.wait_for_selector(f"#{thread_id} p[role=status]:text('Sent.')")
    sent = page.locator(f"#{thread_id}")
    assert "the new lot ships Monday" in sent.inner_text()
    assert sent.locator("a:text('8D report.pdf')").count() == 1
    shot(page, "producer-answered", f"li.block:has(#{thread_id})")
    axe_clean(page)
    assert not page.errors, page.errors
    ctx.close()

    ctx, page = login(browser, site, "analyst", PHONE)
    page.goto(f"{site.url}/producers/{site.producer}")
    page.wait_for_load_state("networkidle")
    seen = page.locator(f"#{thread_id}")
    assert "Answer from the producer" in seen.inner_text()
    assert "the new lot ships Monday" in seen.inner_text()
    seen.locator("summary:text('Reply to the producer')").click()
    seen.locator("textarea[name=body]").fill("Thank you: send the lot numbers.")
    seen.locator("button:text('Send the reply')").click()
    page.wait_for_selector(f"#{thread_id} li.side-ministry")
    shot(page, "analyst-replied", f"li.block:has(#{thread_id})")
    axe_clean(page)
    # and on the ministry's board, on the block itself
    page.goto(f"{site.url}/board?top=1000")
    page.wait_for_load_state("networkidle")
    on_board = page.locator(f"#{thread_id}")
    assert "the new lot ships Monday" in on_board.inner_text()
    assert "Thank you: send the lot numbers." in on_board.inner_text()
    shot(page, "analyst-board", f"li.block:has(#{thread_id})")
    assert not page.errors, page.errors
    ctx.close()

    ctx, page = login(browser, site, "producer", PHONE)  # lands on its page: the visit
    assert page.url == f"{site.url}/producers/{site.producer}"
    assert "1 new since your last visit" in page.locator(f"#{thread_id}").inner_text()
    board_status = "section[aria-labelledby=h-board] p[role=status]:not(.new)"
    assert "1 new message on this board" in page.locator(board_status).inner_text()
    shot(page, "producer-new-reply", "section[aria-labelledby=h-score]")
    page.reload()
    assert "new since your last visit" not in page.locator(f"#{thread_id}").inner_text()
    ctx.close()


def test_a_producers_offer_is_used_by_a_plan(browser, site: Site) -> None:
    ctx, page = login(browser, site, "producer", PHONE)
    page.goto(f"{site.url}/producers/{site.producer}")
    page.wait_for_load_state("networkidle")
    form = page.locator("form.offer-form").first
    product = form.locator("select[name=product_id] option").first.get_attribute("value")
    form.locator("select[name=product_id]").select_option(product)
    form.locator("input[name=unit_price]").fill("0.01")  # too cheap for a plan to pass by
    form.locator("input[name=capacity]").fill("1000")
    form.locator("button:text('Send the offer')").click()
    page.wait_for_selector("#offers p[role=status]")
    assert "The planner uses them" in page.locator("#offers").inner_text()
    shot(page, "producer-offer-sent", "#offers")
    axe_clean(page)
    ctx.close()

    ctx, page = login(browser, site, "procurement", PHONE)
    page.goto(site.url + "/planner")
    page.fill("input[name=budget]", "1000000")
    page.click("form.plan-form button[type=submit]")
    page.wait_for_selector("#plan-lines")
    rows = page.locator("#plan-lines tbody tr").all_inner_texts()
    mine = [r for r in rows if r.split("\t")[1] == site.producer
            and r.split("\t")[0] == product]
    assert mine and "sent by account producer" in mine[0]
    assert any("imported by" in r for r in rows)
    shot(page, "procurement-plan", "#plan")
    axe_clean(page)
    assert not page.errors, page.errors
    ctx.close()
