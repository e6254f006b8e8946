"""The strike simulation at the issue's size, against a straightforward SimPy model.

    python bench/resilience_bench.py                 # 10,000 scenarios x 12 months x 2,000 sites

A random network (25 regions, 2,000 sites, 40 products, the demo's ranges of figures).
Kuznia runs all scenarios (one process, then two). SimPy runs the same model as events:
one process per region drawing its strikes each month and damaging its sites, one per
month closing the books; it is run on ``--simpy-scenarios`` scenarios and its time scaled
to the full count (it is far too slow to run them all), and its mean output is compared
with Kuznia's to show both simulate the same model. Target: under 2 s.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from kuznia.analytics.strikes import Regions, Sites, simulate


def network(seed: int, n_regions: int, n_sites: int, n_products: int) -> tuple[Regions, Sites]:
    rng = np.random.default_rng(seed)
    third = n_regions // 3
    p = np.concatenate([rng.uniform(0.15, 0.35, third), rng.uniform(0.04, 0.12, third),
                        rng.uniform(0.005, 0.03, n_regions - 2 * third)])
    regions = Regions(p, rng.uniform(0.2, 0.7, n_regions), rng.uniform(0.3, 1.0, n_regions),
                      rng.integers(1, 7, n_regions))
    sites = Sites(rng.integers(0, n_regions, n_sites), rng.integers(0, n_products, n_sites),
                  rng.uniform(10, 1000, n_sites), np.zeros(n_sites, dtype=int))
    return regions, sites


def simpy_run(regions: Regions, sites: Sites, n_products: int, months: int, scenarios: int,
              seed: int) -> np.ndarray:
    import simpy

    rng = np.random.default_rng(seed)
    by_region = [np.flatnonzero(sites.region == r) for r in range(regions.p.size)]
    out = np.zeros((scenarios, months, n_products))
    for n in range(scenarios):
        env = simpy.Environment()
        down_until = np.zeros(sites.size)  # month (exclusive) until which a site is damaged

        def region(env, r, down_until=down_until):  # type: ignore[no-untyped-def]
            while env.now < months:
                if rng.random() < regions.p[r]:
                    for s in by_region[r]:
                        if rng.random() < regions.hit[r]:
                            down_until[s] = max(down_until[s], env.now + regions.repair[r])
                yield env.timeout(1)

        def books(env, n=n, down_until=down_until):  # type: ignore[no-untyped-def]
            while env.now < months:
                yield env.timeout(0.5)  # after the month's strikes
                m = int(env.now)
                for s in range(sites.size):
                    share = 1 - regions.damage[sites.region[s]] if down_until[s] > m else 1.0
                    out[n, m, sites.product[s]] += sites.capacity[s] * share
                yield env.timeout(0.5)

        for r in range(regions.p.size):
            env.process(region(env, r))
        env.process(books(env))
        env.run(until=months)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--scenarios", type=int, default=10_000)
    ap.add_argument("--months", type=int, default=12)
    ap.add_argument("--sites", type=int, default=2_000)
    ap.add_argument("--regions", type=int, default=25)
    ap.add_argument("--products", type=int, default=40)
    ap.add_argument("--simpy-scenarios", type=int, default=50)
    args = ap.parse_args()
    regions, sites = network(1, args.regions, args.sites, args.products)
    simulate(regions, sites, args.products, args.months, 500, seed=0)  # warm up
    runs = {}
    for workers in (1, 2):
        t = time.perf_counter()
        res = simulate(regions, sites, args.products, args.months, args.scenarios, seed=0,
                       workers=workers)
        runs[workers] = time.perf_counter() - t
    t = time.perf_counter()
    ref = simpy_run(regions, sites, args.products, args.months, args.simpy_scenarios, seed=0)
    per = (time.perf_counter() - t) / args.simpy_scenarios
    simpy_full = per * args.scenarios
    k_mean = res.output.sum(axis=(1, 2)).mean()
    s_tot = ref.sum(axis=(1, 2))
    s_half = 1.96 * s_tot.std(ddof=1) / np.sqrt(s_tot.size)
    size = f"{args.scenarios:,} scenarios x {args.months} months x {args.sites:,} sites"
    print(f"\n{size}, {args.regions} regions, {args.products} products; seconds")
    for w, label in ((1, "kuznia, 1 process"), (2, "kuznia, 2 processes")):
        print(f"{label:<44} {runs[w]:>10.3f}   ratio to SimPy {runs[w] / simpy_full:.5f}")
    print(f"{'SimPy events (scaled from ' + str(args.simpy_scenarios) + ' scenarios)':<44} "
          f"{simpy_full:>10.1f}")
    print(f"mean total output: kuznia {k_mean:,.0f}, SimPy {s_tot.mean():,.0f} "
          f"(+-{s_half:,.0f} at 95%, {args.simpy_scenarios} scenarios)")


if __name__ == "__main__":
    main()
