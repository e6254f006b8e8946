"""cost-per-effect --by product,producer,month over a big workspace, against group-bys of
the same CSV in DuckDB and pandas.

    python bench/cpe_bench.py --uses 10000000     # after import_bench.py made the workspace

Kuznia answers from the aggregate kept at import, so its time does not grow with the uses;
DuckDB scans the CSV, pandas groups a frame already in memory (its read is not counted).
"""

from __future__ import annotations

import argparse

from _common import OUT, demo_files, median_of


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--uses", type=int, default=1_000_000)
    ap.add_argument("--db", help="workspace (default: the one import_bench.py made)")
    args = ap.parse_args()
    import kuznia

    folder = demo_files(args.uses)
    db = args.db or str(OUT / "import" / "k.db")
    ws = kuznia.open(db)
    total = ws.cost_per_effect("product").rows
    assert sum(r["uses"] for r in total) == args.uses, "workspace does not hold these uses"
    k = median_of(lambda: ws.cost_per_effect("product,producer,month"))
    table = ws.cost_per_effect("product,producer,month")
    groups = len(table.rows)
    busiest = max(table.rows, key=lambda r: r["uses"])
    trace = median_of(lambda: ws.uses(product=busiest["product_id"],
                                    producer=busiest["producer_id"],
                                    month=busiest["month"], limit=50), repeat=3)

    import duckdb

    csv = str(folder / "uses.csv")
    q = (f"SELECT product_id, producer_id, strftime(used_on, '%Y-%m') AS month, count(*), "
         f"sum(units_used), sum(effects) FROM read_csv_auto('{csv}') GROUP BY ALL")
    d = median_of(lambda: duckdb.sql(q).fetchall(), repeat=3)

    import pandas as pd

    frame = pd.read_csv(csv, usecols=["used_on", "product_id", "producer_id", "units_used",
                                      "effects"])
    frame["month"] = frame["used_on"].str.slice(0, 7)
    p = median_of(lambda: frame.groupby(["product_id", "producer_id", "month"], dropna=False)
                .agg(uses=("effects", "size"), units=("units_used", "sum"),
                     effects=("effects", "sum")), repeat=3)

    print(f"\ncost-per-effect --by product,producer,month over {args.uses:,} uses "
          f"({groups:,} groups), median seconds")
    print(f"{'kuznia (kept aggregate, prices, intervals, ranks)':<52} {k:>8.3f}")
    print(f"{'duckdb group-by scanning the CSV':<52} {d:>8.3f}   ratio {k / d:.2f}")
    print(f"{'pandas group-by of a frame in memory':<52} {p:>8.3f}   ratio {k / p:.2f}")
    print(f"{'kuznia uses (the records behind the biggest figure)':<52} {trace:>8.3f}"
          f"   ({busiest['uses']:,} uses, first 50 listed)")


if __name__ == "__main__":
    main()
