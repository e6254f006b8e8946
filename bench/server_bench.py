"""Latency of the API under 50 concurrent clients on loopback, against its own floor.

    python bench/server_bench.py --db postgresql+psycopg://postgres@127.0.0.1:5432/bench \\
        [--workers 2] [--clients 50] [--seconds 20]

Starts ``kuznia serve`` on the workspace (make it first, e.g. ``kuznia demo --uses
10000000 --db URL``), makes an analyst and a producer account, and then, for each request
kind in turn, keeps ``--clients`` clients busy for ``--seconds`` (bounded in count and
time) and prints p50, p95, p99 and requests per second:

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
import asyncio
import os
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import time

import httpx
from sqlalchemy import func, select

import kuznia
from kuznia.services import accounts
from kuznia.store.schema import use_cube


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def load(base: str, token: str, path: str, clients: int, seconds: float,
               max_requests: int) -> tuple[list[float], int]:
    latencies: list[float] = []
    errors = 0
    stop = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=60,
                                 headers={"Authorization": f"Bearer {token}"}) as client:
        async def one() -> None:
            nonlocal errors
            while time.perf_counter() < stop and len(latencies) < max_requests:
                t = time.perf_counter()
                r = await client.get(path)
                latencies.append(time.perf_counter() - t)
                errors += r.status_code != 200

        await asyncio.gather(*(one() for _ in range(clients)))
    return latencies, errors


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", required=True)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--max-requests", type=int, default=200_000)
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
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "kuznia", "serve", "--db", args.db,
                             "--port", str(port), "--workers", str(workers)],
                            stderr=subprocess.PIPE, text=True)
    try:
        ready = 0
        assert proc.stderr is not None
        for line in proc.stderr:
            ready += "Application startup complete" in line
            if ready == workers:
                break
        base = f"http://127.0.0.1:{port}/api/v1"
        kinds = [
            ("floor: GET /me", analyst, "/me"),
            ("cost-per-effect by product", analyst, "/cost-per-effect"),
            ("uses page (100) behind a figure", analyst,
             f"/uses?product={product}&producer={producer}&limit=100"),
            ("board", analyst, "/board"),
            ("a producer's contracts", own, "/contracts"),
        ]
        print(f"{dialect}, {workers} worker(s), {args.clients} clients, {args.seconds:.0f} s "
              f"each, {os.cpu_count()} cores; product {product}, producer {producer}")
        print(f"{'request':<34}{'n':>8}{'rps':>9}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}"
              f"{'errors':>8}")
        for label, token, path in kinds:
            lat, errors = asyncio.run(load(base, token, path, args.clients, args.seconds,
                                           args.max_requests))
            q = statistics.quantiles(lat, n=100) if len(lat) > 1 else [lat[0]] * 99
            print(f"{label:<34}{len(lat):>8}{len(lat) / args.seconds:>9.1f}"
                  f"{1000 * q[49]:>9.1f}{1000 * q[94]:>9.1f}{1000 * q[98]:>9.1f}{errors:>8}")
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=60)


if __name__ == "__main__":
    main()
