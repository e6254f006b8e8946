"""Cost per effect over dates off month boundaries: whole months from the kept aggregate
and the days at the ends from the uses, beside the same figures summed from the uses alone.

    python bench/cpe_dates_bench.py --db URL_OR_FILE

Like for like: the same question, the same rows out (checked here), two ways of summing.
Median of 3 warm runs each, in one process. Use a big workspace (``kuznia demo --uses
10000000 --db ...``, or the one ``import_bench.py --postgres`` leaves in the schema
``kuznia_bench``: add ``?options=-csearch_path%3Dkuznia_bench`` to the URL).
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import statistics
import time

import kuznia

D = dt.date
QUESTIONS = {
    "from a day past a month's start, by product": dict(date_from=D(2020, 1, 2)),
    "a week, by product": dict(date_from=D(2026, 3, 2), date_to=D(2026, 3, 8)),
    "mid-July to mid-February, by product and producer": dict(
        by="product,producer", date_from=D(2025, 7, 15), date_to=D(2026, 2, 10)),
    "(month-aligned, by product: the cube alone)": dict(date_from=D(2020, 1, 1)),
}


def timed(ws: kuznia.Workspace, kw: dict) -> tuple[float, object]:  # type: ignore[type-arg]
    runs, out = [], None
    for _ in range(3):
        t = time.perf_counter()
        out = ws.cost_per_effect(**kw)
        runs.append(time.perf_counter() - t)
    return statistics.median(runs), out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--db", required=True)
    args = ap.parse_args()
    ws = kuznia.open(args.db)
    print(f"{'question':<52} {'kept+ends s':>11} {'uses s':>8} {'ratio':>6}  source")
    for label, kw in QUESTIONS.items():
        fast, a = timed(ws, kw)
        slow, b = timed(ws, {**kw, "from_uses": True})
        rows_a, rows_b = a.rows, b.rows  # type: ignore[attr-defined]
        assert [(r["uses"], r["effects"]) for r in rows_a] == \
            [(r["uses"], r["effects"]) for r in rows_b], label
        # money sums in another order: equal to rounding
        assert all(math.isclose(x["cost"] or 0, y["cost"] or 0, rel_tol=1e-9)
                   for x, y in zip(rows_a, rows_b, strict=True)), label
        print(f"{label:<52} {fast:>11.3f} {slow:>8.3f} {fast / slow:>6.2f}  "
              f"{a.source}")  # type: ignore[attr-defined]


if __name__ == "__main__":
    main()
