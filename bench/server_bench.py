"""Latency of the API under 50 concurrent clients on loopback, against its own floor.

    python bench/server_bench.py --db postgresql+psycopg://postgres@127.0.0.1:5432/bench \\
        [--workers 2] [--clients 50] [--seconds 20]

Starts ``kuznia serve`` on the workspace (make it first, e.g. ``kuznia demo --uses
10000000 --db URL``), makes an analyst and a producer account, and then, for each request
kind in turn, keeps ``--clients`` connections busy for ``--seconds`` with wrk (Debian's
``wrk``: a C load generator on one thread, so the load takes little of the two cores the
server needs; the first version of this script used httpx and asyncio, which took a core
of its own) and prints p50, p95, p99, requests per second and the p95 as a multiple of the floor's:

- ``floor``: ``GET /me``, an authenticated endpoint that does nothing (the cost of HTTP,
  the token check and the thread pool: the floor every other figure stands on);
- ``cost-per-effect`` by product (a kept aggregate: the use cube, not a scan of uses);
- ``uses page``: the first page (100) of the uses behind one product and producer's
  figure, the trace a click on a number asks for (``ix_uses_trace``);
- ``board`` and a producer's ``contracts``.

Targets (issue 9): p95 under 200 ms for each read, a page of uses under 100 ms.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import subprocess
from pathlib import Path

from _common import serving
from sqlalchemy import func, select

import kuznia
from kuznia.services import accounts
from kuznia.store.schema import use_cube

LUA = Path(__file__).with_name("server_load.lua")


def load(base: str, calls: list[tuple[str, str]], clients: int, seconds: float
         ) -> dict[str, float]:
    """``clients`` connections of wrk (one C thread: the load costs the server's cores
    little) sending ``calls`` (token, path) in turn for ``seconds``."""
    out = subprocess.run(
        ["wrk", "-t1", f"-c{clients}", f"-d{seconds:.0f}s", "--timeout", "60s", "-s",
         str(LUA), base, "--", *[x for call in calls for x in call]],
        capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", required=True)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--only", default="", help="Run only the kinds whose label has this.")
    args = ap.parse_args()

    with kuznia.open(args.db) as ws:
        suffix = secrets.token_hex(3)
        with ws.store.read() as conn:
            producer, product = conn.execute(
                select(use_cube.c.producer_id, use_cube.c.product_id)
                .where(use_cube.c.producer_id != "")
                .group_by(use_cube.c.producer_id, use_cube.c.product_id)
                .order_by(func.sum(use_cube.c.uses).desc()).limit(1)).one()
        accounts.add_user(ws.store, f"bench-a-{suffix}", "analyst", actor="bench")
        accounts.add_user(ws.store, f"bench-p-{suffix}", "producer", actor="bench",
                          producer=producer)
        analyst = accounts.issue_token(ws.store, f"bench-a-{suffix}", actor="bench")
        own = accounts.issue_token(ws.store, f"bench-p-{suffix}", actor="bench")
        dialect = ws.store.dialect
    workers = args.workers if dialect == "postgresql" else 1
    with serving(args.db, workers) as base:
        api = "/api/v1"
        kinds = [
            ("floor: GET /me", [(analyst, f"{api}/me")]),
            ("cost-per-effect by product", [(analyst, f"{api}/cost-per-effect")]),
            ("uses page (100) behind a figure",
             [(analyst, f"{api}/uses?product={product}&producer={producer}&limit=100")]),
            ("board", [(analyst, f"{api}/board")]),
            ("a producer's contracts", [(own, f"{api}/contracts")]),
        ]
        kinds.append(("mix of the four reads", [c for _, calls in kinds[1:] for c in calls]))
        print(f"{dialect}, {workers} worker(s), {args.clients} clients (wrk), "
              f"{args.seconds:.0f} s each, {os.cpu_count()} cores; product {product}, "
              f"producer {producer}")
        print(f"{'request':<34}{'n':>8}{'rps':>9}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}"
              f"{'x floor p95':>12}{'errors':>8}")
        floor = None
        kinds = [k for k in kinds if args.only in k[0] or k[0].startswith("floor")]
        for _, calls in kinds:  # warm-up, not counted: both workers' pools, imports and
            load(base, calls, args.clients, 10)  # kept answers (cold ones: see the docs)
        for _, calls in kinds:  # one client each: returns once any answer still being
            load(base, calls, 1, 1)  # made by the warm-up is made (workers quiet again)
        for label, calls in kinds:
            r = load(base, calls, args.clients, args.seconds)
            floor = floor or r["p95"]
            print(f"{label:<34}{r['n']:>8}{r['n'] / (r['us'] / 1e6):>9.1f}"
                  f"{r['p50'] / 1000:>9.1f}{r['p95'] / 1000:>9.1f}{r['p99'] / 1000:>9.1f}"
                  f"{r['p95'] / floor:>12.1f}{r['non2xx'] + r['socket']:>8}")


if __name__ == "__main__":
    main()
