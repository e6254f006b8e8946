"""The strike simulation's thread settings, idle and with one core kept busy by another
process: Kuznia's default (a thread per usable core over the chunks, BLAS capped at one
thread), one thread with BLAS capped (the default before), one thread with BLAS's own
threads (one per core).

    python bench/blas_threads_bench.py [--repeats 3]

The network is ``resilience_bench.py``'s (10,000 scenarios x 12 months x 2,000 sites).
"Busy" starts a process that spins on one core for as long as the measurements take (it
stops itself after ``--busy-seconds``, and is ended when they are done). Each figure is
the median of ``--repeats`` runs, all in this one process, side by side.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import statistics
import time

from resilience_bench import network

from kuznia.analytics.strikes import simulate


def spin(seconds: float) -> None:
    end = time.monotonic() + seconds
    x = 0
    while time.monotonic() < end:
        x += 1


SETTINGS = {  # label: simulate's keyword arguments
    "default (threads over chunks, BLAS 1)": {},
    "one thread, BLAS capped at 1": {"threads": 1, "blas_threads": 1},
    "one thread, BLAS's own threads": {"threads": 1, "blas_threads": None},
}


def timed(regions, sites, args, kw) -> float:  # type: ignore[no-untyped-def]
    runs = []
    for _ in range(args.repeats):
        t = time.perf_counter()
        simulate(regions, sites, args.products, args.months, args.scenarios, seed=0, **kw)
        runs.append(time.perf_counter() - t)
    return statistics.median(runs)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--scenarios", type=int, default=10_000)
    ap.add_argument("--months", type=int, default=12)
    ap.add_argument("--sites", type=int, default=2_000)
    ap.add_argument("--products", type=int, default=40)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--busy-seconds", type=float, default=300.0)
    args = ap.parse_args()
    regions, sites = network(1, 25, args.sites, args.products)
    simulate(regions, sites, args.products, args.months, 500, seed=0)  # warm up
    results = {}
    for load in ("idle", "one core busy"):
        busy = None
        if load != "idle":
            busy = mp.Process(target=spin, args=(args.busy_seconds,), daemon=True)
            busy.start()
        try:
            for label, kw in SETTINGS.items():
                results[(load, label)] = timed(regions, sites, args, kw)
        finally:
            if busy is not None:
                busy.terminate()
                busy.join()
    print(f"\n{args.scenarios:,} scenarios x {args.months} months x {args.sites:,} sites; "
          f"median of {args.repeats}, seconds")
    for load in ("idle", "one core busy"):
        base = results[(load, "one thread, BLAS capped at 1")]
        for label in SETTINGS:
            t = results[(load, label)]
            print(f"{load:<14} {label:<40} {t:>7.3f}   ratio to one thread, BLAS 1 "
                  f"{t / base:.2f}")


if __name__ == "__main__":
    main()
