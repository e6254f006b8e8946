"""A page of uses behind a figure, beside the plain query a user would write for it.

    python bench/uses_page_bench.py --db URL_OR_FILE

Kuznia's ``uses`` (the page, each use priced with its basis and source file, and the
total) against ``SELECT * FROM uses WHERE ... ORDER BY used_on, use_id LIMIT n`` on the
same store: no prices, no total. The same uses come out (checked here). Median of 5
warm runs each, in one process.
"""

from __future__ import annotations

import argparse
import statistics
import time

from sqlalchemy import select, text

import kuznia
from kuznia.store.schema import uses


def median(fn) -> float:  # type: ignore[no-untyped-def]
    runs = []
    for _ in range(5):
        t = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - t)
    return statistics.median(runs)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--db", required=True)
    args = ap.parse_args()
    ws = kuznia.open(args.db)
    with ws.store.read() as conn:
        product, producer = conn.execute(text(
            "SELECT product_id, producer_id FROM use_cube GROUP BY product_id, producer_id "
            "ORDER BY sum(uses) DESC LIMIT 1")).one()
    questions = {
        f"{product} from {producer}, 100": ({"product": product, "producer": producer}, 100),
        f"{product}, 100": ({"product": product}, 100),
        "every use, 10": ({}, 10),
    }
    print(f"{'page':<32} {'kuznia uses s':>13} {'plain query s':>13} {'ratio':>6}")
    for label, (kw, n) in questions.items():
        conds = [uses.c[f"{k}_id"] == v for k, v in kw.items()]
        plain = (select(uses.c.use_id).where(*conds)
                 .order_by(uses.c.used_on, uses.c.use_id).limit(n))

        def ours(kw=kw, n=n) -> list[str]:  # type: ignore[no-untyped-def]
            return [r["use_id"] for r in ws.uses(**kw, limit=n).rows]

        def theirs(plain=plain) -> list[str]:  # type: ignore[no-untyped-def]
            with ws.store.read() as conn:
                return [r[0] for r in conn.execute(plain)]

        assert ours() == theirs(), label
        a, b = median(ours), median(theirs)
        print(f"{label:<32} {a:>13.3f} {b:>13.3f} {a / b:>6.2f}")


if __name__ == "__main__":
    main()
