"""Import speed: Kuznia (validating every row) against a bare load of the same CSV.

    python bench/import_bench.py --uses 1000000 [--postgres URL]

Baselines, run side by side on the same file:
- SQLite: the ``sqlite3`` shell's ``.import`` into a bare table (no types, no checks);
- PostgreSQL: ``COPY`` (psql ``\\copy``) into a bare table of text columns.
Each step runs in its own process; peak memory is that process's maximum resident set.

With ``--floor`` (PostgreSQL), also what storing the rows costs with no check at all,
step by step, each timed by psql (``\\timing``): ``COPY`` of the file into a
temporary table of text columns, then one ``INSERT ... SELECT`` typing its rows into a
table shaped like ``uses`` (the same column types and an event id) with no index, with
its primary key, and with its primary key and trace index, as Kuznia's ``uses`` has
them. The last is the least any import that keeps ``uses`` as it is could take, however
it checked the rows (in Python or in SQL, from a staging table or not).
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


FLOOR_STEPS = {
    "no index": [],
    "primary key": ["ALTER TABLE floor_uses ADD PRIMARY KEY (use_id)"],
    "primary key and trace index": [
        "ALTER TABLE floor_uses ADD PRIMARY KEY (use_id)",
        "CREATE INDEX ON floor_uses (product_id, producer_id, used_on, use_id)"],
}


def pg_floor(url: str, folder: Path) -> dict[str, float]:
    """Server-side seconds of each step of ``--floor`` (see the module doc)."""
    import re
    import subprocess

    libpq = url.replace("postgresql+psycopg://", "postgresql://")
    header = (folder / "uses.csv").open().readline().strip().split(",")
    typed = {"used_on": "date", "units_used": "integer", "effects": "integer",
             "outcome": "varchar(16)", "failure_mode": "text", "conditions": "text",
             "notes": "text"}
    table = ", ".join(f"{c} {typed.get(c, 'varchar(64)')}" for c in header)
    select = ", ".join(f"{c}::{typed.get(c, 'varchar(64)')}" for c in header)
    out: dict[str, float] = {}
    for label, indexes in FLOOR_STEPS.items():
        script = "\n".join([
            "\\timing on",
            f"CREATE TEMP TABLE staged ({', '.join(f'{c} text' for c in header)});",
            f"\\copy staged FROM '{folder / 'uses.csv'}' WITH (FORMAT csv, HEADER)",
            "DROP TABLE IF EXISTS floor_uses;",
            f"CREATE TABLE floor_uses ({table}, event_id integer NOT NULL);",
            *[f"{ddl};" for ddl in indexes],
            f"INSERT INTO floor_uses SELECT {select}, 1 FROM staged;",
            "DROP TABLE floor_uses;", ""])
        res = subprocess.run(["psql", libpq, "-q", "-v", "ON_ERROR_STOP=1"], input=script,
                             capture_output=True, text=True, check=True)
        times = [float(t) / 1000 for t in re.findall(r"Time: ([0-9.]+) ms", res.stdout)]
        out["COPY to a temporary text table"] = min(
            out.get("COPY to a temporary text table", 1e9), times[1])
        out[f"INSERT typed, {label}"] = times[-2]
    return out


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
    ap.add_argument("--floor", action="store_true",
                    help="Also time storing the rows with no checks (PostgreSQL; see above).")
    ap.add_argument("--no-sqlite", action="store_true", help="Bench PostgreSQL only.")
    ap.add_argument("--trace-index-cost", action="store_true",
                    help="Also import without ix_uses_trace, to show what it costs.")
    args = ap.parse_args()
    folder = demo_files(args.uses)
    work = OUT / "import"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    n = args.uses
    results = {}

    if not args.no_sqlite:
        base = sqlite_baseline(folder, work)
        secs, peak = kuznia_import(str(work / "k.db"), folder)
        results["sqlite"] = {"uses": n, "kuznia_s": secs, "baseline_s": base,
                             "peak_mib": peak}
    if args.trace_index_cost and not args.no_sqlite:
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
    if args.postgres and args.floor:
        floor = pg_floor(args.postgres, folder)
        bare = results["postgresql"]["baseline_s"]
        print(f"\nPostgreSQL, storing the rows with no checks (psql's timing; ratio to the "
              f"bare COPY's {bare:.1f} s, and Kuznia's import to each)")
        for label, secs in floor.items():
            print(f"  {label:<48} {secs:>7.1f} s  {secs / bare:>5.2f}  "
                  f"Kuznia/it {results['postgresql']['kuznia_s'] / secs:>5.2f}")
        results["postgresql floor"] = floor
    (OUT / f"import-{n}.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    sys.exit(main())
