"""failures, fixes and board over a big workspace, against the rescan of uses they avoid.

    kuznia demo --uses 10000000 --db bench/out/demo10m.db     # once (about 3 minutes)
    python bench/loop_bench.py --db bench/out/demo10m.db

The three answer from the kept ``failure_cube`` (plus corrective actions, contracts and
deliveries); the baseline is the one GROUP BY over ``uses`` that the cube replaces, run in
the same database. Target (issue 3): each under a second at 10M uses. Each command is
timed in-process (median of runs) and once cold, as a fresh process, the way a user runs it.
"""

from __future__ import annotations

import argparse
import sys

from _common import median_of, py, timed


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", required=True, help="a demo workspace (kuznia demo --db ...)")
    args = ap.parse_args()
    import kuznia

    ws = kuznia.open(args.db)
    with ws.store.read() as conn:
        n_uses = conn.exec_driver_sql("SELECT sum(uses) FROM use_cube").scalar_one()
        cube_rows = conn.exec_driver_sql("SELECT count(*) FROM failure_cube").scalar_one()

    def rescan() -> None:
        with ws.store.read() as conn:
            conn.exec_driver_sql(
                "SELECT product_id, version, failure_mode, count(*) FROM uses "
                "GROUP BY product_id, version, failure_mode").all()

    base = median_of(rescan, repeat=3)
    rows = [
        ("failures --by version", median_of(lambda: ws.failures(by="version"))),
        ("failures --by condition:ew", median_of(lambda: ws.failures(by="condition:ew"))),
        ("fixes", median_of(lambda: ws.fixes())),
        ("board", median_of(lambda: ws.board())),
    ]
    print(f"\n{int(n_uses):,} uses, {cube_rows:,} failure-cube rows; median seconds in-process")
    print(f"{'baseline: GROUP BY over uses (what the cube avoids)':<52} {base:>8.3f}")
    for name, sec in rows:
        print(f"{'kuznia ' + name:<52} {sec:>8.3f}   ratio to baseline {sec / base:.4f}")
    print("\ncold, a fresh process per command (imports included):")
    for cmd in (["failures", "--by", "version", "--json"], ["fixes", "--json"],
                ["board", "--json"]):
        code = ("import sys; from kuznia.cli import app; "
                f"sys.argv = ['kuznia', *{cmd!r}, '--db', {args.db!r}]; app()")
        run = timed(py(code), stdout=open("/dev/null", "w"))  # noqa: SIM115
        print(f"{'kuznia ' + ' '.join(cmd):<52} {run.seconds:>8.3f}")


if __name__ == "__main__":
    sys.exit(main())
