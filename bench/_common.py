"""Helpers for the benchmarks: run a step in its own process and read its time and peak RSS."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
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


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serving(db: str, workers: int, env: dict[str, str] | None = None) -> Iterator[str]:
    """A fresh ``kuznia serve`` on a loopback port until the block ends; its base URL.

    The server's log goes to a file, read here only for readiness: a pipe left unread fills
    and then blocks the server mid-run (the first version of the server bench did)."""
    import signal
    import tempfile

    port = free_port()
    log = tempfile.NamedTemporaryFile("w+", prefix="kuznia-serve-", suffix=".log")
    proc = subprocess.Popen([sys.executable, "-m", "kuznia", "serve", "--db", db,
                             "--port", str(port), "--workers", str(workers)],
                            stdout=log, stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, **(env or {})})
    try:
        with open(log.name) as lines:
            ready = 0
            while ready < workers:
                line = lines.readline()
                if not line:
                    if proc.poll() is not None:
                        sys.exit(f"kuznia serve stopped: see {log.name}")
                    time.sleep(0.1)
                ready += "Application startup complete" in line
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=60)
        log.close()
