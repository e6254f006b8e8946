"""Simulated people of every role clicking through their pages for a long while against a
``kuznia serve`` on loopback: no answer may be a 5xx, no session may end (a 401 or a
return to the login page), no link a role is shown may refuse it (403, 404); the p95 of
each kind of page is reported.

    python bench/soak_pages.py --db WORKSPACE [--minutes 30] [--users-per-role 2]
        [--max-requests 50000] [--think 0.5] [--workers 1]

Make the workspace first (``kuznia demo --uses 300000 --db bench/out/soak.db``). The
script adds one account per simulated person (``soak-ROLE-N``, the producer bound to the
producer with the most uses), starts ``kuznia serve`` fresh, and runs one thread per
person. Each logs in through the login form (its login token, as a browser does), then
clicks: a link of the page it is on or an entry of its menu, chosen at random (seeded),
and fetches the JSON of the page's charts (``data-src``) as the browser would. It stops
after ``--minutes`` or ``--max-requests`` requests in all, whichever comes first. A
session lasts through it: its last-seen time is written as it goes (the bug of issue 23
made every page a 500 from 60 s after login on SQLite).

Pages are reported by kind: the path with its ids replaced (``/products/*``,
``/records/uses/*``); the time is the page's HTML alone, its charts' JSON apart
(``json:...``). Exit status 1 when any request answered 5xx, 401, 403 or 404.
"""

from __future__ import annotations

import argparse
import html
import random
import re
import secrets
import statistics
import sys
import threading
import time
from collections import defaultdict
from urllib.parse import urljoin, urlsplit

import httpx
from _common import serving
from sqlalchemy import func, select

import kuznia
from kuznia.services import accounts
from kuznia.store.schema import use_cube

PASSWORD = "soak pages password"
LINK = re.compile(r'<a\b[^>]*?\shref="([^"]*)"')
SRC = re.compile(r'data-src="([^"]+)"')
SECTION = re.compile(r'<div class="slot" hx-get="([^"]+)"')  # loads on its own (htmx)
TOKEN = re.compile(r'name="login_token" value="([^"]+)"')
KINDS = [(re.compile(p), k) for p, k in (
    (r"^/products/.+", "/products/*"), (r"^/producers/.+", "/producers/*"),
    (r"^/records/([^/]+)/.+", r"/records/\1/*"), (r"^/plans/.+", "/plans/*"),
    (r"^/jobs/.+", "/jobs/*"), (r"^/sections/(product|producer)/([^/]+)/.+", r"/sections/\1/\2/*"))]


def kind_of(path: str) -> str:
    """The page's kind: its path with the ids replaced."""
    for pattern, kind in KINDS:
        if pattern.match(path):
            return pattern.sub(kind, path)
    return path


class Tally:
    """Every request's time and status, by kind, shared by the threads; the budget."""

    def __init__(self, max_requests: int, until: float):
        self.lock = threading.Lock()
        self.times: dict[str, list[float]] = defaultdict(list)
        self.statuses: dict[str, dict[int, int]] = defaultdict(lambda: defaultdict(int))
        self.bad: list[tuple[str, str, int]] = []
        self.left = max_requests
        self.until = until

    def take(self) -> bool:
        with self.lock:
            if self.left <= 0 or time.monotonic() >= self.until:
                return False
            self.left -= 1
            return True

    def note(self, who: str, kind: str, path: str, status: int, seconds: float) -> None:
        with self.lock:
            self.times[kind].append(seconds)
            self.statuses[kind][status] += 1
            if status >= 500 or status in (401, 403, 404):
                self.bad.append((who, path, status))


def person(base: str, name: str, seed: int, think: float, tally: Tally) -> None:
    """One simulated person: log in through the form, then click until the budget ends."""
    rng = random.Random(seed)
    with httpx.Client(base_url=base, timeout=120, follow_redirects=False) as client:
        form = client.get("/login")
        token = TOKEN.search(form.text)
        assert token, "no login token on the login page"
        r = client.post("/login", data={"name": name, "password": PASSWORD,
                                        "login_token": token.group(1)})
        if r.status_code != 303:
            tally.note(name, "/login", "/login", r.status_code, 0.0)
            return
        path = r.headers["location"]
        menu: list[str] = []
        while tally.take():
            t0 = time.perf_counter()
            r = client.get(path)
            tally.note(name, kind_of(urlsplit(path).path), path, r.status_code,
                       time.perf_counter() - t0)
            if r.status_code == 303 and r.headers.get("location", "").startswith("/login"):
                tally.note(name, "session ended", path, 401, 0.0)
                return
            links: list[str] = []
            if r.status_code == 200 and r.headers.get("content-type", "").startswith(
                    "text/html"):
                text = r.text
                for url in SECTION.findall(r.text):  # as htmx asks them, charts after
                    if not tally.take():
                        break
                    url = html.unescape(url)
                    t0 = time.perf_counter()
                    got = client.get(url, headers={"HX-Request": "true"})
                    tally.note(name, "section:" + kind_of(urlsplit(url).path), url,
                               got.status_code, time.perf_counter() - t0)
                    text += got.text
                for src in SRC.findall(text):
                    if not tally.take():
                        break
                    src = html.unescape(src)
                    t0 = time.perf_counter()
                    j = client.get(src)
                    tally.note(name, "json:" + kind_of(urlsplit(src).path), src,
                               j.status_code, time.perf_counter() - t0)
                nav = r.text.split('<nav aria-label="Main">', 1)
                if len(nav) == 2:
                    menu = [html.unescape(h) for h in LINK.findall(nav[1].split("</nav>")[0])]
                for href in LINK.findall(text):
                    href = html.unescape(href)
                    full = urlsplit(urljoin(base + path, href))
                    if href.startswith("#") or full.path.startswith(("/static/", "/api/")) \
                            or full.netloc != urlsplit(base).netloc:
                        continue
                    links.append(full.path + (f"?{full.query}" if full.query else ""))
            # a menu entry one time in three (or when the page has no links), else a link
            choices = menu if (rng.random() < 1 / 3 or not links) and menu else links
            path = rng.choice(choices) if choices else path
            time.sleep(think * rng.uniform(0.5, 1.5))  # a person reading the page


def add_people(db: str, per_role: int) -> list[str]:
    """One account per simulated person; the producer bound to the busiest producer."""
    tag = secrets.token_hex(3)
    names = []
    with kuznia.open(db) as ws:
        with ws.store.read() as conn:
            producer = conn.execute(
                select(use_cube.c.producer_id).where(use_cube.c.producer_id != "")
                .group_by(use_cube.c.producer_id)
                .order_by(func.sum(use_cube.c.uses).desc()).limit(1)).scalar()
        for role in accounts.ROLES:
            for i in range(per_role):
                name = f"soak-{role}-{tag}-{i}"
                accounts.add_user(ws.store, name, role, actor="soak bench", password=PASSWORD,
                                  producer=producer if role == "producer" else None)
                names.append(name)
    return names


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--db", required=True, help="The workspace (made by kuznia demo).")
    ap.add_argument("--minutes", type=float, default=30.0, help="How long to click.")
    ap.add_argument("--users-per-role", type=int, default=2)
    ap.add_argument("--max-requests", type=int, default=50_000,
                    help="At most this many requests in all.")
    ap.add_argument("--think", type=float, default=0.5,
                    help="Seconds a person reads a page before the next click (mean).")
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    names = add_people(args.db, args.users_per_role)
    with serving(args.db, args.workers) as base:
        started = time.monotonic()
        tally = Tally(args.max_requests, started + 60 * args.minutes)
        threads = [threading.Thread(target=person, args=(base, n, args.seed + i, args.think,
                                                         tally), daemon=True)
                   for i, n in enumerate(names)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.monotonic() - started
    total = sum(len(x) for x in tally.times.values())
    print(f"{len(names)} people ({args.users_per_role} per role), {total:,} requests in "
          f"{elapsed / 60:.1f} min, workers {args.workers}, think {args.think} s")
    print(f"{'page':32} {'requests':>8} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}  statuses")
    for kind in sorted(tally.times):
        xs = sorted(tally.times[kind])
        p95 = xs[min(len(xs) - 1, int(0.95 * len(xs)))] if xs else 0.0
        statuses = ", ".join(f"{s}: {n}" for s, n in sorted(tally.statuses[kind].items()))
        print(f"{kind:32} {len(xs):8} {1000 * statistics.median(xs):8.0f} "
              f"{1000 * p95:8.0f} {1000 * xs[-1]:8.0f}  {statuses}")
    server_errors = sum(1 for _, _, s in tally.bad if s >= 500)
    print(f"5xx: {server_errors}; 401/403/404 and ended sessions: "
          f"{len(tally.bad) - server_errors}")
    for who, path, status in tally.bad[:20]:
        print(f"  {status} {who} {path}")
    sys.exit(1 if tally.bad else 0)


if __name__ == "__main__":
    main()
