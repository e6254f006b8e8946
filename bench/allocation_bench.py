"""The allocation MILP at scale: Kuznia (model built from arrays, solved by HiGHS) against
the same model written in PuLP and solved by CBC, side by side on random instances.

    python bench/allocation_bench.py [--products 200] [--producers 500] [--per-product 100]

Every kind of limit is on: budget, a producer cap, a region cap, category minimums,
required units, minimum orders and lot sizes. Both solvers stop at a 0.1% gap.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from kuznia.planning.allocation import (
    Limits,
    Offers,
    budget_rate,
    build,
    effects_interval,
    greedy,
    solve,
)
from kuznia.planning.explain import binding, violations


def instance(products: int, producers: int, per_product: int, seed: int = 1) -> tuple[Offers,
                                                                                     Limits]:
    rng = np.random.default_rng(seed)
    region_of = rng.integers(0, 24, producers)
    category_of = rng.integers(0, 8, products)
    prod, maker = [], []
    for p in range(products):
        for m in rng.choice(producers, per_product, replace=False):
            prod.append(p)
            maker.append(m)
    prod, maker = np.array(prod), np.array(maker)
    n = len(prod)
    base = rng.lognormal(7, 1.5, products)
    price = base[prod] * rng.lognormal(0, 0.2, n)
    lot = np.where(price < 2000, rng.choice([1, 10, 50], n), 1)
    cap = (rng.integers(10, 2000, n) // lot + 1) * lot
    offers = Offers(
        product_id=np.array([f"X{p:03d}" for p in prod]),
        producer_id=np.array([f"P{m:04d}" for m in maker]),
        region=np.array([f"R{r:02d}" for r in region_of[maker]]),
        category=np.array([f"c{c}" for c in category_of[prod]]),
        unit_price=price, capacity=cap.astype(np.int64),
        min_order=np.where(rng.random(n) < 0.3, lot * 2, 0).astype(np.int64),
        lot_size=lot.astype(np.int64),
        effects_per_unit=(epu := rng.gamma(2.0, 0.5, products)[prod]
                          * rng.lognormal(0, 0.3, n) / 10),
        # rates known as if from about 50 effects each: the interval has work to do
        rate_draws=rng.gamma(50.0, 1.0, (1000, n)) / (50.0 / epu), rate_column=np.arange(n),
    )
    spend_all = float(offers.unit_price @ offers.capacity)
    limits = Limits(budget=0.05 * spend_all, max_producer_share=0.4, max_region_share=0.1,
                    min_category_share={"c0": 0.1, "c1": 0.1},
                    require={f"X{p:03d}": 50 for p in range(5)}, time_limit=300, mip_gap=1e-3)
    return offers, limits


def pulp_model(offers: Offers, limits: Limits):  # type: ignore[no-untyped-def]
    import pulp

    n = len(offers)
    m = pulp.LpProblem("allocation", pulp.LpMaximize)
    k = [pulp.LpVariable(f"k{i}", 0, int(offers.max_lots[i]), cat="Integer") for i in range(n)]
    L = offers.lot_size
    x = [L[i] * k[i] for i in range(n)]
    m += pulp.lpSum(offers.effects_per_unit[i] * L[i] * k[i] for i in range(n))
    spend = pulp.lpSum(offers.unit_price[i] * L[i] * k[i] for i in range(n))
    m += spend <= limits.budget
    for i in np.flatnonzero(offers.min_order > 0):
        y = pulp.LpVariable(f"y{i}", cat="Binary")
        m += x[i] >= int(offers.min_order[i]) * y
        m += x[i] <= int(offers.max_lots[i] * L[i]) * y
    totals = {}
    for pid in np.unique(offers.product_id):
        t = pulp.LpVariable(f"T_{pid}", 0)
        members = np.flatnonzero(offers.product_id == pid)
        m += pulp.lpSum(x[i] for i in members) == t
        totals[pid] = t
        if pid in limits.require:
            m += t >= limits.require[pid]
        for i in members:
            m += x[i] <= limits.max_producer_share * t
    s = pulp.LpVariable("S", 0)
    m += spend == s
    for region in np.unique(offers.region):
        members = np.flatnonzero(offers.region == region)
        m += pulp.lpSum(offers.unit_price[i] * x[i] for i in members) <= \
            limits.max_region_share * s
    for cat, share in limits.min_category_share.items():
        members = np.flatnonzero(offers.category == cat)
        m += pulp.lpSum(offers.unit_price[i] * x[i] for i in members) >= share * limits.budget
    return m, k


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--products", type=int, default=200)
    ap.add_argument("--producers", type=int, default=500)
    ap.add_argument("--per-product", type=int, default=100)
    ap.add_argument("--cbc-time-limit", type=float, default=300)
    args = ap.parse_args()
    offers, limits = instance(args.products, args.producers, args.per_product)
    print(f"{len(offers):,} offers, {args.products} products, {args.producers} producers")

    t = time.perf_counter()
    build(offers, limits)
    build_s = time.perf_counter() - t
    t = time.perf_counter()
    result = solve(offers, limits)
    total_s = time.perf_counter() - t
    assert not violations(offers, limits, result.quantity)
    t = time.perf_counter()
    greedy(offers, limits)
    effects_interval(offers, result.quantity)
    binding(offers, limits, result.quantity)
    budget_rate(offers, limits)
    extras_s = time.perf_counter() - t
    print(f"kuznia/HiGHS: build {build_s:.3f} s, solve {result.solve_seconds:.2f} s, whole plan "
          f"{total_s:.2f} s, {result.status}, gap {result.gap:.4%}, "
          f"effects {result.expected_effects:,.1f}")
    print(f"  + greedy baseline, effects interval, binding limits, what more budget buys: "
          f"{extras_s:.2f} s (the CLI's answer: {total_s + extras_s:.2f} s)")

    import pulp

    t = time.perf_counter()
    model, k = pulp_model(offers, limits)
    pulp_build = time.perf_counter() - t
    t = time.perf_counter()
    model.solve(pulp.PULP_CBC_CMD(msg=False, gapRel=limits.mip_gap,
                                  timeLimit=args.cbc_time_limit))
    pulp_solve = time.perf_counter() - t
    q = np.array([int(round(v.value() or 0)) for v in k]) * offers.lot_size
    print(f"PuLP/CBC:     build {pulp_build:.3f} s, solve {pulp_solve:.2f} s, whole plan "
          f"{pulp_build + pulp_solve:.2f} s, {pulp.LpStatus[model.status]}, "
          f"effects {float(q @ offers.effects_per_unit):,.1f}, "
          f"limits broken: {len(violations(offers, limits, q))}")
    print(f"ratio (kuznia / PuLP+CBC), whole plan: {total_s / (pulp_build + pulp_solve):.3f}; "
          f"build share of kuznia's time: {build_s / total_s:.1%}")


if __name__ == "__main__":
    main()
