"""Cold read commands beside the floor their libraries set, in one run.

    python bench/quick_start_bench.py [--db bench/out/quick/kuznia-demo.db] [--repeats 5]

Each figure is a fresh process (the page cache warm), median of ``--repeats``: the read
commands as a user runs them on the demo workspace (made by ``kuznia demo`` on first run),
and beside them what importing the libraries alone costs: the interpreter, SQLAlchemy and
NumPy (every command reads the store and computes), SciPy's special functions (the
quantiles of every interval), Polars (the board's and the fixes' frames), and the command
line itself (``import kuznia.cli``: Typer, Click, Rich and Kuznia's modules).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

from _common import OUT

KUZNIA = str(Path(sys.executable).with_name("kuznia"))
FLOORS = {
    "python -c pass": "pass",
    "import sqlalchemy, numpy": "import sqlalchemy, numpy",
    "  + scipy.special": "import sqlalchemy, numpy, scipy.special",
    "  + scipy.special, polars": "import sqlalchemy, numpy, scipy.special, polars",
    "import kuznia.cli": "import kuznia.cli",
}
COMMANDS = ("cost-per-effect --json", "board --json", "fixes --json", "uses --json --limit 10",
            "--help")


def cold(cmd: list[str], repeats: int) -> float:
    runs = []
    for _ in range(repeats):
        t = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        runs.append(time.perf_counter() - t)
    return statistics.median(runs)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--db", type=Path, default=OUT / "quick" / "kuznia-demo.db")
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    if not args.db.exists():
        args.db.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run([KUZNIA, "demo", "--db", str(args.db), "--out",
                        str(args.db.parent / "report")], check=True, cwd=args.db.parent,
                       stdout=subprocess.DEVNULL)
    print(f"cold, median of {args.repeats} fresh processes, seconds")
    for label, code in FLOORS.items():
        print(f"  floor  {label:<34} {cold([sys.executable, '-c', code], args.repeats):6.3f}")
    for command in COMMANDS:
        db = [] if command == "--help" else ["--db", str(args.db)]
        t = cold([KUZNIA, *command.split(), *db], args.repeats)
        print(f"  kuznia {command:<34} {t:6.3f}")


if __name__ == "__main__":
    main()
