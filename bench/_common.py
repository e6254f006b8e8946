"""Helpers for the benchmarks: run a step in its own process and read its time and peak RSS."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE / "out"


@dataclass
class Run:
    seconds: float
    peak_mib: float


def timed(cmd: list[str], **kw: object) -> Run:
    """Run ``cmd`` to completion; wall time and the child's own peak resident memory."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, **kw)  # type: ignore[arg-type]
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        raise SystemExit(f"failed ({proc.returncode}): {' '.join(cmd)}")
    return Run(seconds, usage.ru_maxrss / 1024)


def py(code: str) -> list[str]:
    return [sys.executable, "-c", code]


def demo_files(uses: int) -> Path:
    """Generated demo CSVs for ``uses`` uses (made once, then reused)."""
    folder = OUT / f"data-{uses}"
    if not (folder / "uses.csv").exists():
        print(f"generating {uses:,} uses into {folder} ...", flush=True)
        from kuznia.demo import DemoSize, generate

        generate(folder, DemoSize(uses=uses))
    return folder


def median_of(fn, repeat: int = 5) -> float:  # type: ignore[no-untyped-def]
    """Median wall time of ``repeat`` calls of ``fn``."""
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)
