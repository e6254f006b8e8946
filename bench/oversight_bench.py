"""Red flags over a big workspace, beside one full scan of its uses table in the same run.

    python bench/oversight_bench.py --db postgresql+psycopg://postgres@127.0.0.1:5432/bench

The flags read the small tables whole, per-lot sums from the kept ``use_cube``, effects per
operator from the kept ``operator_cube``, and touch the uses only through the trace index
(uses of a lot in its delivery month before the delivery day; uses dated after today).
The baseline is one aggregate over every row of ``uses`` (count and sum of effects): what
any check that scanned the uses once would cost at the least. Both are timed warm (the
median of 5, after one untimed run) in one process.
"""

from __future__ import annotations

import argparse
import collections
import os
import platform

from _common import median_of


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", required=True, help="the workspace (a URL or a SQLite path)")
    args = ap.parse_args()
    import kuznia

    ws = kuznia.open(args.db)
    with ws.store.read() as conn:
        n = conn.exec_driver_sql("SELECT count(*) FROM uses").scalar()

    def scan() -> None:
        with ws.store.read() as conn:
            conn.exec_driver_sql("SELECT count(*), sum(effects) FROM uses").one()

    result = ws.flags()  # warm, and what it found
    flags = median_of(ws.flags)
    baseline = median_of(scan)
    counts = collections.Counter(f["code"] for f in result.flags)
    print(f"\nred flags over {n:,} uses ({ws.store.dialect}; {os.cpu_count()} cores, "
          f"{platform.machine()}), median of 5 warm runs, seconds")
    print(f"{'kuznia oversight flags (every check)':<46} {flags:>8.3f}")
    print(f"{'one full scan of uses (count, sum of effects)':<46} {baseline:>8.3f}"
          f"   ratio {flags / baseline:.2f}")
    print(f"{len(result.flags)} flags: {dict(sorted(counts.items()))}")


if __name__ == "__main__":
    main()
