"""Time until the overview, a product page and a producer page have drawn their charts in
a real browser, beside the same pages' server calls made alone.

    python bench/pages_bench.py --db postgresql+psycopg://postgres@127.0.0.1:5432/bench \\
        [--browser /usr/bin/chromium] [--runs 9] [--workers 2]

Make the workspace first (``kuznia demo --uses 10000000 --db URL``). The script picks the
product and the producer with the most uses, makes an analyst account, and starts
``kuznia serve`` twice, fresh each time (the figures a server keeps are in its memory, so
a fresh server has none):

1. **calls alone**: for each page, the page's HTML and then each chart's JSON (the
   ``data-src`` of its canvases, read from the HTML), fetched one after the other by httpx
   with the analyst's token, as the browser would fetch them but with no browser. The
   first round is the cold one (the server computes each figure); the median is over the
   following ``--runs`` rounds (the figures kept).
2. **in the browser**: Chromium (Debian's, through Playwright; no browser download) logs
   in and opens each page ``--runs`` + 1 times; the time is from the navigation's start
   to the moment the last chart on the page was drawn (``canvas.dataset.drawnAt``, set by
   ``kuznia.js`` from ``performance.now()``, whose zero is the navigation's start). The
   browser's cache is kept between runs, as a user's is.

3. **first view after a write** (``--after-write``): a field record is posted (the
   engineer's ``POST /api/v1/uses``), and ``--gap`` seconds later (0: at once) each page
   and its charts are fetched, as the first reader after the write; beside it the same
   with the page kept (asked again, no write between). Run once with the server remaking
   what was asked lately after each write (``KUZNIA_WARM=1``, the default) and once
   without (``KUZNIA_WARM=0``), side by side. With no gap the reader meets the remaking
   half-way and waits for that same computation; a person opening a page a few seconds
   after a record meets it kept. A page's heavy sections load on their own (issue 23):
   the view times the frame (the page's HTML, headings and navigation), then each
   section's own route, asked side by side as htmx asks them, with its charts; each is
   reported in seconds from the start of the view. The overview (its headline, cost and
   trend), a product, a producer, the board and the watchdog are viewed.

Target (issue 10): every page drawn in under 1 second; (issue 23) every section within
1 second of a write.
"""

from __future__ import annotations

import argparse
import re
import secrets
import statistics
import sys
import time

import httpx
from _common import serving
from sqlalchemy import func, select

import kuznia
from kuznia.services import accounts
from kuznia.store.schema import use_cube

PASSWORD = "bench pages password"


SRC = re.compile(r'data-src="([^"]+)"')


def calls_alone(base: str, token: str, paths: dict[str, str], runs: int
                ) -> dict[str, tuple[float, float, int]]:
    """Per page: (cold seconds, median warm seconds, number of calls)."""
    out: dict[str, list[float]] = {label: [] for label in paths}
    counts: dict[str, int] = {}
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"},
                      timeout=600) as client:
        for _ in range(runs + 1):
            for label, path in paths.items():
                t0 = time.perf_counter()
                html = client.get(path)
                html.raise_for_status()
                srcs = [s.replace("&amp;", "&") for s in SRC.findall(html.text)]
                for src in srcs:
                    client.get(src).raise_for_status()
                out[label].append(time.perf_counter() - t0)
                counts[label] = 1 + len(srcs)
    return {label: (xs[0], statistics.median(xs[1:]), counts[label])
            for label, xs in out.items()}


DRAWN = ("() => { const cs = [...document.querySelectorAll('canvas[data-chart]')];"
         " return cs.length > 0 && cs.every(c => c.dataset.drawn); }")
LAST = ("() => Math.max(...[...document.querySelectorAll('canvas[data-chart]')]"
        ".map(c => Number(c.dataset.drawnAt || NaN)))")


def in_browser(base: str, executable: str, name: str, paths: dict[str, str], runs: int
               ) -> dict[str, tuple[float, float, int]]:
    """Per page: (cold seconds, median warm seconds, number of charts)."""
    from playwright.sync_api import sync_playwright

    out: dict[str, list[float]] = {label: [] for label in paths}
    charts: dict[str, int] = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
        page.goto(base + "/login")
        page.fill("input[name=name]", name)
        page.fill("input[name=password]", PASSWORD)
        page.click("form.login button[type=submit]")
        page.wait_for_load_state("networkidle")
        for _ in range(runs + 1):
            for label, path in paths.items():
                page.goto(base + path)
                page.wait_for_function(DRAWN, timeout=600_000)
                bad = page.eval_on_selector_all(
                    "canvas[data-chart]", "cs => cs.filter(c => c.dataset.drawn !== 'true')"
                    ".length")
                if bad:
                    sys.exit(f"{path}: {bad} chart(s) could not be drawn")
                out[label].append(page.evaluate(LAST) / 1000)
                charts[label] = page.eval_on_selector_all("canvas[data-chart]",
                                                          "cs => cs.length")
        browser.close()
    return {label: (xs[0], statistics.median(xs[1:]), charts[label])
            for label, xs in out.items()}


SLOT = re.compile(r'<div class="slot" hx-get="([^"]+)"')


def section_name(url: str) -> str:
    """/sections/product/pareto/ID-03 -> pareto; /sections/board?top=20 -> board."""
    parts = url.split("?")[0].strip("/").split("/")
    if len(parts) >= 3:
        return parts[2]
    return {"board": "stacks", "oversight": "flags"}.get(parts[-1], parts[-1])


def view(client: httpx.Client, path: str) -> dict[str, float]:
    """One view of a page as a browser makes it: the frame, then its charts' JSON and the
    sections that load on their own (at once, side by side, as htmx asks them), each
    section's charts after it. Seconds from the start of the view: ``frame``, each
    section by name, and ``whole`` (everything in)."""
    t0 = time.perf_counter()
    html = client.get(path)
    html.raise_for_status()
    out = {"frame": time.perf_counter() - t0}

    def section(url: str) -> tuple[str, float]:
        got = client.get(url.replace("&amp;", "&"), headers={"HX-Request": "true"})
        got.raise_for_status()
        for src in SRC.findall(got.text):
            client.get(src.replace("&amp;", "&")).raise_for_status()
        return section_name(url), time.perf_counter() - t0

    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(8) as pool:
        parts = list(pool.map(section, SLOT.findall(html.text)))
        for src in SRC.findall(html.text):
            client.get(src.replace("&amp;", "&")).raise_for_status()
    out.update(parts)
    out["whole"] = time.perf_counter() - t0
    return out


def after_write(base: str, token: str, engineer: str, paths: dict[str, str], runs: int,
                gap: float, product: str) -> dict[str, tuple[dict[str, float], float]]:
    """Per page: (median seconds of the frame and of each section of the first view ``gap``
    s after a write, median seconds of a kept view, whole)."""
    first: dict[str, list[dict[str, float]]] = {label: [] for label in paths}
    kept: dict[str, list[float]] = {label: [] for label in paths}

    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"},
                      timeout=600) as client, \
            httpx.Client(base_url=base, headers={"Authorization": f"Bearer {engineer}"},
                         timeout=600) as field:
        for path in paths.values():  # every page asked once: the server knows them
            view(client, path)
        for i in range(runs):
            for label, path in paths.items():
                use = {"use_id": f"bench-{secrets.token_hex(6)}-{i}",
                       "used_on": time.strftime("%Y-%m-%d"), "product_id": product,
                       "units_used": 1, "effects": 1, "outcome": "effect"}
                field.post("/api/v1/uses", json=use).raise_for_status()
                if gap:
                    time.sleep(gap)
                first[label].append(view(client, path))
                kept[label].append(view(client, path)["whole"])

    def medians(views: list[dict[str, float]]) -> dict[str, float]:
        names = {k for v in views for k in v}
        # a section in the page already (kept by the warmer) came with the frame
        return {k: statistics.median(v.get(k, v["frame"]) for v in views) for k in names}

    return {label: (medians(first[label]), statistics.median(kept[label]))
            for label in paths}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", required=True)
    ap.add_argument("--browser", default="/usr/bin/chromium")
    ap.add_argument("--runs", type=int, default=9)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--after-write", action="store_true",
                    help="only the first view after a write, warmed and not")
    ap.add_argument("--gap", type=float, default=3.0,
                    help="seconds between the write and the first view")
    args = ap.parse_args()

    suffix = secrets.token_hex(3)
    name = f"bench-pages-{suffix}"
    with kuznia.open(args.db) as ws:
        with ws.store.read() as conn:
            producer, product = conn.execute(
                select(use_cube.c.producer_id, use_cube.c.product_id)
                .where(use_cube.c.producer_id != "")
                .group_by(use_cube.c.producer_id, use_cube.c.product_id)
                .order_by(func.sum(use_cube.c.uses).desc()).limit(1)).one()
            uses = conn.execute(select(func.sum(use_cube.c.uses))).scalar()
        accounts.add_user(ws.store, name, "analyst", actor="bench", password=PASSWORD)
        token = accounts.issue_token(ws.store, name, actor="bench")
        accounts.add_user(ws.store, name + "-field", "engineer", actor="bench",
                          password=PASSWORD)
        engineer = accounts.issue_token(ws.store, name + "-field", actor="bench")
        dialect = ws.store.dialect
    workers = args.workers if dialect == "postgresql" else 1
    paths = {"overview": "/overview", f"product {product}": f"/products/{product}",
             f"producer {producer}": f"/producers/{producer}"}
    if args.after_write:  # and the other pages with sections that load on their own
        paths.update({"board": "/board", "watchdog": "/oversight"})
    print(f"{dialect}, {uses:,} uses, {workers} worker(s), {args.runs} warm runs after "
          f"one cold run")
    if args.after_write:
        got = {}
        for warm in ("1", "0"):
            with serving(args.db, workers, env={"KUZNIA_WARM": warm}) as base:
                got[warm] = after_write(base, token, engineer, paths, args.runs, args.gap,
                                        product)
        print(f"first view {args.gap:g} s after a write (median of {args.runs}), seconds "
              "from the start of the view until each part is in")
        for warm in ("1", "0"):
            print("warmed after each write" if warm == "1" else "not warmed")
            print(f"{'page':<24}{'kept s':>8}{'frame s':>9}{'whole s':>9}  sections")
            for label in paths:
                parts, whole_kept = got[warm][label]
                rest = ", ".join(f"{k} {v:.3f}" for k, v in sorted(parts.items())
                                 if k not in ("frame", "whole"))
                print(f"{label:<24}{whole_kept:>8.3f}{parts['frame']:>9.3f}"
                      f"{parts['whole']:>9.3f}  {rest}")
        return
    with serving(args.db, workers) as base:
        alone = calls_alone(base, token, paths, args.runs)
    with serving(args.db, workers) as base:
        drawn = in_browser(base, args.browser, name, paths, args.runs)
    print(f"{'page':<22}{'calls':>6}{'alone cold s':>14}{'alone s':>9}{'charts':>8}"
          f"{'browser cold s':>16}{'browser s':>11}{'browser/alone':>15}")
    for label in paths:
        a_cold, a_warm, n = alone[label]
        b_cold, b_warm, charts = drawn[label]
        print(f"{label:<22}{n:>6}{a_cold:>14.3f}{a_warm:>9.3f}{charts:>8}{b_cold:>16.3f}"
              f"{b_warm:>11.3f}{b_warm / a_warm:>15.2f}")


if __name__ == "__main__":
    main()
