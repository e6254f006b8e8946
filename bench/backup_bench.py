"""kuznia backup beside a full read of every table, its peak memory, and the restore.

    python bench/backup_bench.py --uses 200000 [--uses 50000 ...] \
        [--postgres postgresql+psycopg://postgres@127.0.0.1:5432/test]

For each size: a demo workspace (made once in bench/out/backup-N/), then, each in a fresh
process: the baseline (every table read whole in one snapshot through SQLAlchemy, in
batches, rows dropped: the least a backup must do), ``kuznia backup``, ``kuznia backup
--verify``, and ``kuznia restore`` into a new SQLite file (and into an empty PostgreSQL
schema with --postgres: the way a workspace moves). Like for like on the reading; the
backup adds encoding to JSON, deflating and hashing. Peak memory is the process's
maximum resident set: bounded if it does not grow with the uses.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import uuid

from _common import OUT, py, timed

READ_ALL = """
import sys, kuznia
from sqlalchemy import select
from kuznia.services.backup import tables_of, BATCH
with kuznia.open(sys.argv[1]) as ws, ws.store.snapshot() as conn:
    n = 0
    for t in tables_of(conn):
        for batch in conn.execute(select(t).execution_options(yield_per=BATCH)).partitions():
            n += len(batch)
print(n)
"""


def kuznia(*args: str) -> list[str]:
    return [sys.executable, "-m", "kuznia", *args]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--uses", type=int, action="append")
    ap.add_argument("--postgres", help="a PostgreSQL URL to restore into too (a new schema)")
    args = ap.parse_args()
    sizes = args.uses or [200_000]
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    print(f"{'uses':>10} {'step':<34} {'seconds':>8} {'peak MiB':>9} {'x read':>7}")
    for uses in sizes:
        folder = OUT / f"backup-{uses}"
        folder.mkdir(parents=True, exist_ok=True)
        db = folder / "kuznia-demo.db"
        if not db.exists():
            print(f"making a demo workspace of {uses:,} uses ...", flush=True)
            timed(kuznia("demo", "--uses", str(uses), "--db", str(db), "--data",
                         str(folder / "data"), "--out", str(folder / "report")), **quiet)
        backup = folder / "ws.kuznia-backup"
        restored = folder / "restored.db"
        for stale in (backup, restored):
            stale.unlink(missing_ok=True)
        read = timed(py(READ_ALL + "") + [str(db)], **quiet)
        steps = [("full read of every table (baseline)", read)]
        steps.append(("kuznia backup", timed(kuznia("backup", "--db", str(db), "--out",
                                                    str(backup)), **quiet)))
        steps.append(("kuznia backup --verify", timed(kuznia("backup", "--verify",
                                                             str(backup)), **quiet)))
        steps.append(("kuznia restore (SQLite, verify deep)",
                      timed(kuznia("restore", str(backup), "--db", str(restored)), **quiet)))
        if args.postgres:
            import sqlalchemy as sa

            schema = f"bench_{uuid.uuid4().hex[:8]}"
            admin = sa.create_engine(args.postgres)
            with admin.begin() as conn:
                conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
            sep = "&" if "?" in args.postgres else "?"
            url = f"{args.postgres}{sep}options=-csearch_path%3D{schema}"
            try:
                steps.append(("kuznia restore (PostgreSQL, COPY)",
                              timed(kuznia("restore", str(backup), "--db", url), **quiet)))
            finally:
                with admin.begin() as conn:
                    conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
                admin.dispose()
        for name, run in steps:
            print(f"{uses:>10,} {name:<34} {run.seconds:>8.2f} {run.peak_mib:>9.0f} "
                  f"{run.seconds / read.seconds:>7.2f}")
        print(f"{'':>10} backup file: {os.path.getsize(backup) / 2**20:.1f} MiB, workspace: "
              f"{os.path.getsize(db) / 2**20:.1f} MiB")


if __name__ == "__main__":
    main()
