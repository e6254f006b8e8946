"""The field form on a phone (375 px), as an engineer at night would use it: in words with
no column names, pick-lists that work offline, the date from the device's clock, records
sent by themselves once the server answers again (each stored once), a record the server
refuses shown with its problem. Screenshots in day and night colours under
``test-screenshots/``. Time is moved with Playwright's clock, never slept."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

import kuznia
from browser.test_living import _serve
from browser.test_pages import AXE, BROWSER, PASSWORD, SHOTS
from kuznia.demo import DemoSize, generate
from kuznia.ingest.tables import IMPORT_ORDER, SPECS
from kuznia.services import accounts, field, records
from kuznia.services.access import EVERYTHING

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(not BROWSER, reason="KUZNIA_TEST_BROWSER names no Chromium")]

WIDTH = 375
PENDING = "#pending li.record-item"
SENT = "#sent li.record-item"


class Site:
    def __init__(self, url: str, ws: kuznia.Workspace, folder: Path):
        self.url, self.ws, self.folder = url, ws, folder


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    from kuznia.server.app import create_app

    folder = tmp_path_factory.mktemp("field")
    generate(folder / "data", DemoSize(uses=500, producers=30), 3, lambda _m: None)
    ws = kuznia.init(str(folder / "ws.db"), "USD", "browser tests")
    for table in IMPORT_ORDER:
        ws.import_file(table, folder / "data" / f"{table}.csv")
    accounts.add_user(ws.store, "engineer", "engineer", actor="tester", password=PASSWORD)
    url, server, thread = _serve(create_app(ws.store, data_dir=folder / "server"))
    yield Site(url, ws, folder)
    server.should_exit = True  # type: ignore[attr-defined]
    thread.join(10)
    ws.close()


@pytest.fixture(scope="module")
def product(site: Site) -> dict:
    """A product of the demo with versions, lots and failure modes, as the catalogue has it."""
    return next(p for p in field.catalogue(site.ws.store, EVERYTHING)["products"]
                if p["versions"] and len(p["lots"]) > 1 and len(p["failure_modes"]) > 1)


def open_form(browser, site: Site, *, workers: bool = False, clock: dt.datetime | None = None,
              scheme: str = "light"):  # type: ignore[no-untyped-def]
    """A phone-sized context logged in as the engineer, on the form. ``workers``: the
    service worker runs (it keeps the page offline; Playwright's routes do not see what
    a worker fetches, so the tests that route requests block it)."""
    ctx = browser.new_context(viewport={"width": WIDTH, "height": 800}, timezone_id="UTC",
                              color_scheme=scheme,
                              service_workers="allow" if workers else "block")
    page = ctx.new_page()
    page.errors = []  # type: ignore[attr-defined]
    page.on("pageerror", lambda e: page.errors.append(str(e)))
    if clock is not None:
        page.clock.install(time=clock)
    page.goto(site.url + "/login")
    page.fill("input[name=name]", "engineer")
    page.fill("input[name=password]", PASSWORD)
    page.click("form.login button[type=submit]")
    page.wait_for_url("**/field")
    expect(page.locator("#f-product_id option")).not_to_have_count(1)  # the catalogue came
    return ctx, page


def expect(locator):  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect as pw_expect

    return pw_expect(locator)


def fill_use(page, product: dict, outcome: str, *, lot: str | None = None,  # type: ignore[no-untyped-def]
             effects: str = "1", mode: str | None = None) -> None:
    page.select_option("#f-product_id", product["id"])
    page.select_option("#f-version", product["versions"][0]["id"])
    page.fill("#f-lot", lot if lot is not None else product["lots"][0]["id"])
    page.click(f"label[for=o-{outcome}]")
    if outcome == "effect":
        page.fill("#f-effects", effects)
    if outcome == "failure":
        page.select_option("#f-failure_mode", mode or product["failure_modes"][0]["id"])


def stored(site: Site, product: dict, operator: str = "OP-FIELD") -> list[dict]:
    """The uses of ``product`` the test's ``operator`` recorded, as the store has them."""
    return [r for r in records.list_records(site.ws.store, "uses", limit=1000,
                                             filters={"product_id": product["id"]}).rows
            if r.get("operator") == operator]


def axe_serious(page) -> list[str]:  # type: ignore[no-untyped-def]
    page.evaluate(AXE.read_text())  # evaluated by the test, not served: the CSP holds
    result = page.evaluate("() => axe.run(document, {resultTypes: ['violations']})")
    return [(v["id"], [n["target"] for n in v["nodes"]][:3]) for v in result["violations"]
            if v["impact"] in ("serious", "critical")]


def shot(page, name: str) -> None:  # type: ignore[no-untyped-def]
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / f"field-{name}-{WIDTH}.png"), full_page=True)
    assert page.evaluate("() => document.documentElement.scrollWidth") <= WIDTH + 5, name


COLUMNS = set(SPECS["uses"].columns)


def test_the_form_speaks_in_words_and_asks_only_what_applies(browser, site: Site,
                                                             product: dict) -> None:
    ctx, page = open_form(browser, site)
    shown = page.locator("main label, main legend, main button, main h2").all_inner_texts()
    assert "Product" in shown and "Lot (from the label) (if known)" in shown
    for text in shown:  # no use_id, used_on, product_id, units_used, no_effect...
        assert "_" not in text and text.strip().lower() not in COLUMNS, text
    # the record's id is made on the device and never shown
    body = page.inner_text("main")
    assert not re.search(r"[0-9a-f]{8}-[0-9a-f]{4}-", body)
    assert page.locator("label[for^=o-]").all_inner_texts() == [
        "Effect", "No effect", "Failure", "Aborted"]
    # skip logic: effects only for an effect, a failure mode only for a failure
    assert page.locator("#f-effects").is_hidden() and page.locator("#f-failure_mode").is_hidden()
    page.select_option("#f-product_id", product["id"])
    versions = page.locator("#f-version option").evaluate_all("os => os.map(o => o.value)")
    assert versions == [""] + [v["id"] for v in product["versions"]]
    lots = page.locator("#lots option").evaluate_all("os => os.map(o => o.value)")
    assert lots == [lot["id"] for lot in product["lots"]]
    page.click("label[for=o-effect]")
    assert page.locator("#f-effects").is_visible() and page.locator("#f-failure_mode").is_hidden()
    page.click("label[for=o-failure]")
    assert page.locator("#f-effects").is_hidden()
    modes = page.locator("#f-failure_mode option").evaluate_all("os => os.map(o => o.value)")
    assert modes[1:-1] == [m["id"] for m in product["failure_modes"]]  # "" first, "other" last
    # "Clear for the next one" keeps what is ticked to keep, and only that
    page.fill("#f-operator", "OP-KEEP")
    page.fill("#f-lot", product["lots"][0]["id"])
    page.click("label.check:has(input[value=lot])")
    page.click("label.check:has(input[value=operator])")
    page.click("#field-new")
    assert page.input_value("#f-lot") == product["lots"][0]["id"]
    assert page.input_value("#f-operator") == ""
    assert page.input_value("#f-product_id") == product["id"]
    assert page.locator("input[name=outcome]:checked").count() == 0
    page.click("label.check:has(input[value=lot])")
    page.click("label.check:has(input[value=operator])")
    # every control at least 44 px each way
    small = page.evaluate("""() => [...document.querySelectorAll(
        'main input:not([type=radio]):not([type=checkbox]), main select, main textarea,'
        + ' main button, main label.check, .outcome .choices label')]
        .map(e => [e.id || e.textContent.trim(), e.getBoundingClientRect()])
        .filter(([_, r]) => r.width > 0 && (r.width < 44 || r.height < 44))
        .map(([n, r]) => [n, r.width, r.height])""")
    assert small == []
    assert page.evaluate("() => 'BarcodeDetector' in window") == page.locator(
        "#scan-lot").is_visible()
    assert axe_serious(page) == []
    shot(page, "light")
    page.click("#theme-toggle")  # night colours, remembered on the device
    assert page.evaluate("() => document.documentElement.dataset.theme") == "dark"
    assert axe_serious(page) == []
    shot(page, "dark")
    page.reload()
    assert page.evaluate("() => document.documentElement.dataset.theme") == "dark"
    assert not page.errors, page.errors
    ctx.close()
    # the device's preference is followed until the toggle says otherwise
    ctx, page = open_form(browser, site, scheme="dark")
    assert page.evaluate("() => document.documentElement.dataset.theme") == "dark"
    ctx.close()


def test_pick_lists_work_offline_and_each_record_is_stored_once(browser, site: Site,
                                                               product: dict) -> None:
    ctx, page = open_form(browser, site, workers=True)
    page.evaluate("() => navigator.serviceWorker.ready")
    page.reload()  # the worker now controls the page and keeps its files
    page.wait_for_function("() => navigator.serviceWorker.controller !== null")
    ctx.set_offline(True)
    page.reload()  # the page from the worker, the pick-lists from the device
    expect(page.locator("#f-product_id option")).to_have_count(
        1 + len(field.catalogue(site.ws.store, EVERYTHING)["products"]))
    page.fill("#f-operator", "OP-FIELD")
    fill_use(page, product, "failure", mode=product["failure_modes"][1]["id"])
    page.click("#field-form button[type=submit]")
    expect(page.locator(PENDING)).to_have_count(1)
    # "Clear for the next one": what belongs to one launch goes, what is kept stays
    assert page.input_value("#f-operator") == "OP-FIELD"
    assert page.input_value("#f-product_id") == product["id"]
    assert page.input_value("#f-lot") == ""
    assert page.locator("input[name=outcome]:checked").count() == 0
    assert page.locator("#f-failure_mode").is_hidden()
    fill_use(page, product, "effect", effects="2", lot=product["lots"][1]["id"])
    page.click("#field-form button[type=submit]")
    expect(page.locator(PENDING)).to_have_count(2)
    mode = product["failure_modes"][1]["id"].replace("_", " ")
    first = page.locator(PENDING).first.inner_text()
    assert re.match(rf"{product['id']} · \d\d:\d\d · failure \({mode}\)\nwaiting to be sent",
                    first), first
    assert "2 waiting" in page.inner_text("#sync-state")
    assert stored(site, product) == []
    ctx.set_offline(False)  # the `online` event sends them
    expect(page.locator(PENDING)).to_have_count(0)
    expect(page.locator(SENT)).to_have_count(2)
    assert "stored at" in page.locator(SENT).first.inner_text()
    kept = stored(site, product)
    assert sorted((r["outcome"], r["effects"], r["failure_mode"]) for r in kept) == [
        ("effect", 2, None), ("failure", 0, product["failure_modes"][1]["id"])]
    assert {r["lot"] for r in kept} == {product["lots"][0]["id"], product["lots"][1]["id"]}
    assert "Nothing waiting · last contact with the server" in page.inner_text("#sync-state")
    assert not page.errors, page.errors
    ctx.close()


def test_the_date_is_the_devices_on_the_day_the_record_is_made(browser, site: Site,
                                                               product: dict) -> None:
    evening = dt.datetime(2026, 3, 14, 23, 50, tzinfo=dt.UTC)  # not the server's day
    ctx, page = open_form(browser, site, clock=evening)
    assert page.input_value("#f-used_on") == "2026-03-14"
    page.clock.fast_forward("00:20:00")  # past midnight with the form open
    fill_use(page, product, "no_effect")
    page.fill("#f-operator", "OP-DATE")
    page.click("#field-form button[type=submit]")
    expect(page.locator(SENT)).to_have_count(1)
    made = stored(site, product, "OP-DATE")
    assert [str(r["used_on"]) for r in made] == ["2026-03-15"]
    assert page.input_value("#f-used_on") == "2026-03-15"
    # a page opened (from the device) on a later day fills that day, not the page's
    page.clock.set_system_time(dt.datetime(2026, 3, 17, 8, 0, tzinfo=dt.UTC))
    page.reload()
    assert page.input_value("#f-used_on") == "2026-03-17"
    # a day after the device's today is refused at the field, before anything is kept
    page.fill("#f-used_on", "2026-03-18")
    fill_use(page, product, "no_effect")
    page.click("#field-form button[type=submit]")
    assert page.inner_text("#err-used_on") == \
        "Date is after today on this device's clock (2026-03-17)."
    assert page.get_attribute("#f-used_on", "aria-invalid") == "true"
    expect(page.locator(PENDING)).to_have_count(0)
    ctx.close()


def test_a_server_not_reached_is_tried_again_until_each_record_is_stored_once(
        browser, site: Site, product: dict) -> None:
    """The server stops answering while the browser believes it is online: the records
    wait, the state says since when the server has not been reached, and once it answers
    again they are sent by the timer (time moved by the test), without a reload or a click."""
    ctx, page = open_form(browser, site, clock=dt.datetime(2026, 3, 20, 21, 5, tzinfo=dt.UTC))
    assert page.evaluate("() => navigator.onLine")
    # the first contact (and the catalogue asked after it) has ended before the server is
    # cut off: an answer still in flight would arrive after the jump and count as contact
    expect(page.locator("#sync-state")).to_contain_text("last contact with the server 21:05")
    expect(page.locator("#sync-state[data-sending=no]")).to_have_count(1)
    page.wait_for_load_state("networkidle")
    page.route("**/api/v1/**", lambda route: route.abort("connectionrefused"))
    page.clock.fast_forward("00:09:00")
    page.fill("#f-operator", "OP-KILL")
    for outcome in ("failure", "aborted"):
        fill_use(page, product, outcome)
        page.click("#field-form button[type=submit]")
    expect(page.locator(PENDING)).to_have_count(2)
    expect(page.locator("#sync-state")).to_contain_text(
        "2 waiting · server not reached since 21:05")
    assert page.locator(f"{PENDING}[data-state=waiting]").count() == 2
    shot(page, "waiting-light")
    page.clock.fast_forward("00:01:00")  # the timer tries again: still nothing
    expect(page.locator("#sync-state[data-sending=no]")).to_have_count(1)
    expect(page.locator("#sync-state")).to_contain_text("server not reached since 21:05")
    assert stored(site, product, "OP-KILL") == []
    page.unroute("**/api/v1/**")  # the server is back
    page.clock.fast_forward("00:10:00")
    expect(page.locator(PENDING)).to_have_count(0)
    expect(page.locator(SENT)).to_have_count(2)
    expect(page.locator("#sync-state")).to_contain_text("Nothing waiting")
    kept = stored(site, product, "OP-KILL")
    assert sorted(r["outcome"] for r in kept) == ["aborted", "failure"]  # each once

    def lose_the_answer(route) -> None:  # type: ignore[no-untyped-def]
        route.fetch()  # the server stores the record; its answer never arrives
        route.abort("connectionreset")

    page.route("**/api/v1/uses", lose_the_answer)
    fill_use(page, product, "no_effect")
    page.click("#field-form button[type=submit]")
    expect(page.locator("#sync-state")).to_contain_text("1 waiting · server not reached")
    assert len(stored(site, product, "OP-KILL")) == 3
    page.unroute("**/api/v1/uses")
    page.click("#send-now")  # sent again: 200, the same record, stored once
    expect(page.locator(SENT)).to_have_count(3)
    assert len(stored(site, product, "OP-KILL")) == 3
    assert not page.errors, page.errors
    ctx.close()


def test_what_only_the_server_can_check_comes_back_on_the_record(browser, site: Site,
                                                                 product: dict) -> None:
    ctx, page = open_form(browser, site)
    # first what the device can check, at the field, with the import's words
    page.select_option("#f-product_id", product["id"])
    page.click("label[for=o-effect]")
    page.fill("#f-effects", "0")
    page.fill("#f-units_used", "two")
    page.click("#field-form button[type=submit]")
    assert page.inner_text("#err-effects") == \
        "Confirmed effects must be at least 1 when the outcome is effect."
    assert page.inner_text("#err-units_used") == "Units used is not a whole number."
    page.click("label[for=o-failure]")
    page.click("#field-form button[type=submit]")
    assert page.inner_text("#err-failure_mode") == \
        "What failed is required when the outcome is failure."
    expect(page.locator(PENDING)).to_have_count(0)
    # a lot the device does not know goes to the server, which refuses it
    page.fill("#f-units_used", "1")
    page.fill("#f-operator", "OP-REFUSED")
    fill_use(page, product, "no_effect", lot="L-NOT-A-LOT")
    page.click("#field-form button[type=submit]")
    refused = page.locator(f"{PENDING}[data-state=rejected]")
    expect(refused).to_have_count(1)
    assert "refused by the server: Lot: no delivery with this lot; import deliveries first" \
        in refused.inner_text()
    expect(page.locator("#sync-state")).to_contain_text("1 to correct")
    page.click("#theme-toggle")
    assert axe_serious(page) == []
    shot(page, "refused-dark")
    page.reload()  # never lost: still there after a reload
    expect(refused).to_have_count(1)
    refused.get_by_role("button", name="Correct it").click()
    assert page.input_value("#f-lot") == "L-NOT-A-LOT"
    assert "no delivery with this lot" in page.inner_text("#err-lot")
    page.fill("#f-lot", product["lots"][0]["id"])
    page.click("#field-form button[type=submit]")
    expect(page.locator(PENDING)).to_have_count(0)
    assert [r["lot"] for r in stored(site, product, "OP-REFUSED")] == [product["lots"][0]["id"]]
    assert not page.errors, page.errors
    ctx.close()


def test_a_record_received_but_waiting_at_the_server_is_followed_until_stored(
        browser, site: Site, product: dict) -> None:
    """POST /api/v1/uses may answer 202 (received; an import holds the write lock): the
    record stays on the device as received, is not sent again, and its status is asked
    for until the server says it is stored (both answers made by the test here)."""
    ctx, page = open_form(browser, site, clock=dt.datetime(2026, 3, 21, 20, 0, tzinfo=dt.UTC))
    posts, states = [], ["waiting", "stored"]
    page.route("**/api/v1/uses", lambda route: (posts.append(route.request.post_data_json),
                                                route.fulfill(status=202, json={
                                                    "status": "waiting",
                                                    "href": "/api/v1/outbox/test"})))
    page.route("**/api/v1/outbox/test", lambda route: route.fulfill(
        json={"status": states.pop(0) if len(states) > 1 else states[0]}))
    fill_use(page, product, "aborted")
    page.click("#field-form button[type=submit]")
    received = page.locator(f"{PENDING}[data-state=received]")
    expect(received).to_have_count(1)
    assert "received by the server, waiting to be stored" in received.inner_text()
    page.clock.fast_forward("00:00:10")  # asked: still waiting
    expect(page.locator(f"{PENDING}[data-asks='1']")).to_have_count(1)
    expect(page.locator("#sync-state[data-sending=no]")).to_have_count(1)
    page.clock.fast_forward("00:00:10")  # asked again: stored
    expect(page.locator(PENDING)).to_have_count(0)
    expect(page.locator(SENT)).to_have_count(1)
    assert len(posts) == 1 and posts[0]["outcome"] == "aborted"  # sent once
    ctx.close()
