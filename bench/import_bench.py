"""Import speed: Kuznia (validating every row) against a bare load of the same CSV.

    python bench/import_bench.py --uses 1000000 [--postgres URL]

Baselines, run side by side on the same file:
- SQLite: the ``sqlite3`` shell's ``.import`` into a bare table (no types, no checks);
- PostgreSQL: ``COPY`` (psql ``\\copy``) into a bare table of text columns.
Each step runs in its own process; peak memory is that process's maximum resident set.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

from _common import OUT, demo_files, py, timed

REFERENCE = ["rates", "producers", "products", "versions", "contracts", "deliveries"]


def kuznia_import(db: str, folder: Path, trace_index: bool = True) -> tuple[float, float]:
    """Reference tables first (not timed), then uses, in a fresh process. Without
    ``trace_index`` the uses table's trace index (``ix_uses_trace``, which lets a page of
    uses behind a figure skip the scan) is dropped first: its cost to the import."""
    setup = (f"import kuznia; ws = kuznia.init({db!r}); "
             + "; ".join(f"ws.import_file({t!r}, {str(folder / (t + '.csv'))!r})"
                         for t in REFERENCE))
    if not trace_index:
        setup += ("; c = ws.store.engine.connect(); "
                  "c.exec_driver_sql('DROP INDEX ix_uses_trace'); c.commit()")
    timed(py(setup))
    run = timed(py(f"import kuznia; r = kuznia.open({db!r}).import_file('uses', "
                   f"{str(folder / 'uses.csv')!r}); assert r.rejected == 0"))
    return run.seconds, run.peak_mib


def sqlite_baseline(folder: Path, work: Path) -> float:
    db = work / "bare.db"
    db.unlink(missing_ok=True)
    return timed(["sqlite3", str(db), ".mode csv", f".import {folder / 'uses.csv'} uses"]).seconds


def pg_baseline(url: str, folder: Path) -> float:
    libpq = url.replace("postgresql+psycopg://", "postgresql://")
    header = (folder / "uses.csv").open().readline().strip().split(",")
    cols = ", ".join(f"{c} text" for c in header)
    timed(["psql", libpq, "-q", "-c", f"DROP TABLE IF EXISTS bare_uses; "
                                      f"CREATE TABLE bare_uses ({cols})"])
    run = timed(["psql", libpq, "-q", "-c",
                 f"\\copy bare_uses FROM '{folder / 'uses.csv'}' WITH (FORMAT csv, HEADER)"])
    timed(["psql", libpq, "-q", "-c", "DROP TABLE bare_uses"])
    return run.seconds


def pg_schema_url(url: str, schema: str) -> str:
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
    engine.dispose()
    sep = "&" if "?" in url else "?"
    return f"{url}{sep}options=-csearch_path%3D{schema}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--uses", type=int, default=1_000_000)
    ap.add_argument("--postgres", help="postgresql+psycopg:// URL of a server to bench too")
    ap.add_argument("--trace-index-cost", action="store_true",
                    help="Also import without ix_uses_trace, to show what it costs.")
    args = ap.parse_args()
    folder = demo_files(args.uses)
    work = OUT / "import"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    n = args.uses
    results = {}

    base = sqlite_baseline(folder, work)
    secs, peak = kuznia_import(str(work / "k.db"), folder)
    results["sqlite"] = {"uses": n, "kuznia_s": secs, "baseline_s": base, "peak_mib": peak}
    if args.trace_index_cost:
        secs, peak = kuznia_import(str(work / "k-noindex.db"), folder, trace_index=False)
        results["sqlite, no trace index"] = {"uses": n, "kuznia_s": secs, "baseline_s": base,
                                             "peak_mib": peak}
    if args.postgres:
        base = pg_baseline(args.postgres, folder)
        url = pg_schema_url(args.postgres, "kuznia_bench")
        secs, peak = kuznia_import(url, folder)
        results["postgresql"] = {"uses": n, "kuznia_s": secs, "baseline_s": base,
                                 "peak_mib": peak}
        if args.trace_index_cost:
            url = pg_schema_url(args.postgres, "kuznia_bench")
            secs, peak = kuznia_import(url, folder, trace_index=False)
            results["postgresql, no trace index"] = {
                "uses": n, "kuznia_s": secs, "baseline_s": base, "peak_mib": peak}

    print(f"\nimport of {n:,} uses (demo CSV, {(folder / 'uses.csv').stat().st_size / 2**20:,.0f}"
          " MiB)")
    print(f"{'store':<28} {'kuznia s':>9} {'rows/s':>10} {'baseline s':>11} {'ratio':>6} "
          f"{'peak MiB':>9}")
    for store, r in results.items():
        print(f"{store:<28} {r['kuznia_s']:>9.1f} {n / r['kuznia_s']:>10,.0f} "
              f"{r['baseline_s']:>11.1f} {r['kuznia_s'] / r['baseline_s']:>6.2f} "
              f"{r['peak_mib']:>9.0f}")
    (OUT / f"import-{n}.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    sys.exit(main())
