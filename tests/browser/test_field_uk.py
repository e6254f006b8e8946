"""The field form in Ukrainian, offline (issue 30): a phone whose browser asks for
Ukrainian gets the form, its pick-lists, its own checks, its sync line and its list of
records in Ukrainian, from the page the service worker kept, with no server in reach; the
records it keeps are stored once the server answers again. Time is never slept."""

from __future__ import annotations

import re

import pytest

from browser.test_field import (  # noqa: F401 - the fixtures of the English form's tests
    BROWSER,
    PASSWORD,
    PENDING,
    SENT,
    WIDTH,
    Site,
    expect,
    fill_use,
    product,
    site,
    stored,
)
from kuznia.services import field
from kuznia.services.access import EVERYTHING

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(not BROWSER, reason="KUZNIA_TEST_BROWSER names no Chromium")]

ENGLISH = re.compile(r"\b(?:waiting|sent|stored|required|Nothing|server|Save|Product|the)\b")


def test_the_form_speaks_ukrainian_offline(browser, site: Site, product: dict) -> None:  # noqa: F811
    ctx = browser.new_context(viewport={"width": WIDTH, "height": 800}, timezone_id="UTC",
                              locale="uk-UA", service_workers="allow")
    page = ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(site.url + "/login")
    assert page.locator("html").get_attribute("lang") == "uk"
    page.fill("input[name=name]", "engineer")
    page.fill("input[name=password]", PASSWORD)
    page.click("form.login button[type=submit]")
    page.wait_for_url("**/field")
    expect(page.locator("#f-product_id option")).not_to_have_count(1)
    page.evaluate("() => navigator.serviceWorker.ready")
    page.reload()
    page.wait_for_function("() => navigator.serviceWorker.controller !== null")
    ctx.set_offline(True)
    page.reload()  # the page the worker kept, in the language it was asked in
    expect(page.locator("#f-product_id option")).to_have_count(
        1 + len(field.catalogue(site.ws.store, EVERYTHING)["products"]))
    assert page.locator("html").get_attribute("lang") == "uk"
    assert page.inner_text("#field-form button[type=submit]") == "Зберегти це застосування"
    assert page.locator("#f-product_id option").first.inner_text() == "Оберіть виріб"
    # the pick-lists' line: a plural form of "виріб" for the count, kept on this device
    n = len(field.catalogue(site.ws.store, EVERYTHING)["products"])
    word = "виріб" if n % 10 == 1 and n % 100 != 11 else \
        "вироби" if n % 10 in (2, 3, 4) and n % 100 not in (12, 13, 14) else "виробів"
    expect(page.locator("#catalogue-state")).to_contain_text(f"Списки вибору: {n} {word}")
    # the form's own checks, before anything is kept (the date is the device's already)
    page.click("#field-form button[type=submit]")
    expect(page.locator("#err-product_id")).to_have_text("Виріб: обов'язкове поле.")
    expect(page.locator("#form-msg")).to_contain_text("Не збережено: 2 поля треба виправити.")
    page.fill("#f-operator", "OP-UK")
    fill_use(page, product, "failure", mode=product["failure_modes"][0]["id"])
    page.click("#field-form button[type=submit]")
    expect(page.locator(PENDING)).to_have_count(1)
    assert "очікує надсилання" in page.locator(PENDING).first.inner_text()
    assert "відмова" in page.locator(PENDING).first.inner_text()
    expect(page.locator("#sync-state")).to_contain_text("1 очікує")
    fill_use(page, product, "effect", effects="1", lot=product["lots"][1]["id"])
    page.click("#field-form button[type=submit]")
    expect(page.locator("#sync-state")).to_contain_text("2 очікують")
    for selector in ("#sync-state", "#pending", "#catalogue-state", "#field-form"):
        text = page.inner_text(selector)
        assert not ENGLISH.search(text), (selector, text)
    assert stored(site, product, "OP-UK") == []
    ctx.set_offline(False)  # the `online` event sends them
    expect(page.locator(SENT)).to_have_count(2)
    assert "збережено о" in page.locator(SENT).first.inner_text()
    expect(page.locator("#sync-state")).to_contain_text("Нічого не очікує")
    assert len(stored(site, product, "OP-UK")) == 2
    assert not errors, errors
    ctx.close()
