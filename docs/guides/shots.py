"""Take the role guides' screenshots (docs/guides/img/) from a small demo workspace.

    PYTHONPATH=src python docs/guides/shots.py [--browser /usr/bin/chromium]

Makes a synthetic workspace (4,000 uses, seed 11, as the browser tests), one account per
role, serves it on a loopback port, and photographs each page a guide shows with
Playwright and Debian's Chromium (no browser download), at 1280 px (or 375 px for a phone)
and cut to the part the guide talks about. Each picture is reduced to a 64-colour palette
so the set stays small (the guides' pictures together under about 1.5 MB).
"""

from __future__ import annotations

import argparse
import socket
import tempfile
import threading
from pathlib import Path

import kuznia
from kuznia.demo import DemoSize, generate
from kuznia.ingest.tables import IMPORT_ORDER
from kuznia.services import accounts

PASSWORD = "guide screenshots password"
IMG = Path(__file__).parent / "img"


def serve(folder: Path) -> tuple[str, kuznia.Workspace, str, object]:
    import uvicorn
    from sqlalchemy import func, select

    from kuznia.server.app import create_app
    from kuznia.store.schema import use_cube

    generate(folder / "data", DemoSize(uses=4000, producers=30), 11, lambda _m: None)
    ws = kuznia.init(str(folder / "ws.db"), "USD", "guide screenshots")
    for table in IMPORT_ORDER:
        ws.import_file(table, folder / "data" / f"{table}.csv")
    with ws.store.read() as conn:
        producer = conn.execute(select(use_cube.c.producer_id)
                                .where(use_cube.c.producer_id != "")
                                .group_by(use_cube.c.producer_id)
                                .order_by(func.sum(use_cube.c.uses).desc()).limit(1)).scalar()
    for role in accounts.ROLES:
        accounts.add_user(ws.store, role, role, actor="guide", password=PASSWORD,
                          producer=producer if role == "producer" else None)
    app = create_app(ws.store, data_dir=folder / "server")
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        thread.join(0.05)
    return f"http://127.0.0.1:{sock.getsockname()[1]}", ws, producer, server


def small(path: Path) -> None:
    """The picture in 64 colours (text and charts stay sharp; a fraction of the bytes)."""
    from PIL import Image

    with Image.open(path) as im:
        im.convert("RGB").quantize(64, dither=Image.Dither.NONE).save(path, optimize=True)


def main() -> None:
    from playwright.sync_api import sync_playwright

    ap = argparse.ArgumentParser()
    ap.add_argument("--browser", default="/usr/bin/chromium")
    args = ap.parse_args()
    IMG.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        base, ws, producer, server = serve(Path(tmp))
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=args.browser, args=["--no-sandbox"])

            def login(role: str, width: int = 1280):  # type: ignore[no-untyped-def]
                ctx = browser.new_context(viewport={"width": width, "height": 860})
                page = ctx.new_page()
                page.goto(base + "/login")
                page.fill("input[name=name]", role)
                page.fill("input[name=password]", PASSWORD)
                page.click("form.login button[type=submit]")
                page.wait_for_load_state("networkidle")
                return ctx, page

            def settle(page) -> None:  # type: ignore[no-untyped-def]
                page.wait_for_load_state("networkidle")
                page.wait_for_function("() => !document.querySelector('.slot[aria-busy]')")
                page.wait_for_function(
                    "() => [...document.querySelectorAll('canvas[data-chart]')]"
                    ".every(c => c.dataset.drawn)")

            def shot(page, name: str, selector: str | None = None) -> None:  # type: ignore[no-untyped-def]
                target = IMG / name
                if selector:
                    page.locator(selector).first.screenshot(path=str(target))
                else:
                    page.screenshot(path=str(target))
                small(target)
                print(f"{target.name}: {target.stat().st_size // 1024} KB")

            # procurement: the planner, a saved plan, two plans compared
            ctx, page = login("procurement")
            page.goto(base + "/planner")
            settle(page)
            for name, budget in (("spring", "300000"), ("summer", "600000")):
                page.fill("input[name=budget]", budget)
                page.fill("input[name=save]", name)
                page.click("form.plan-form button[type=submit]")
                page.wait_for_selector(f"#saved-plans a[href='/plans/{name}']")
            shot(page, "procurement-plan.png")
            page.select_option("select[name=a]", "spring")
            page.select_option("select[name=b]", "summer")
            page.click("#saved-plans form button[type=submit]")
            page.wait_for_selector("table.diff-lines")
            shot(page, "procurement-compare.png", "#h-compare >> xpath=..")
            ctx.close()

            # auditor: the watchdog, a price flag's page with its peers
            from kuznia.services import oversight

            flag = next(f for f in oversight.flags(ws.store).flags
                        if f["code"] in ("price_outlier", "resale_markup"))
            ctx, page = login("auditor")
            page.goto(base + "/oversight")
            settle(page)
            shot(page, "watchdog-list.png")
            page.goto(base + f"/oversight/flags/{flag['key']}")
            settle(page)
            shot(page, "watchdog-flag.png")
            page.click("section[aria-labelledby=h-measure] details summary")
            shot(page, "watchdog-measured.png", "section[aria-labelledby=h-measure]")
            ctx.close()

            # producer: its own page
            ctx, page = login("producer")
            settle(page)
            shot(page, "producer-page.png")
            ctx.close()

            # field engineer: the field form on a phone
            ctx, page = login("engineer", 375)
            settle(page)
            shot(page, "field-phone.png")
            ctx.close()

            # admin: accounts and the audit trail
            ctx, page = login("admin")
            settle(page)
            shot(page, "admin-accounts.png")
            page.goto(base + "/audit")
            settle(page)
            shot(page, "admin-audit.png")
            ctx.close()
            browser.close()
        server.should_exit = True  # type: ignore[attr-defined]
        ws.close()


if __name__ == "__main__":
    main()
