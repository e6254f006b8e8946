"""The strike model, simulated in NumPy: pure functions over arrays, no database inside.

The model (the defaults of ``kuznia resilience``):

- each month each region is struck with its probability ``p``, independently across months
  and regions; with ``spillover = q > 0`` a region is also struck, with probability ``q``,
  in a month when a neighbour has a (primary) strike: one strike reaching next door;
- a strike damages each site of the region with the site-hit probability ``h``;
- a damaged site loses ``d`` (the damage fraction) of its capacity for ``k`` (repair
  months) months, the strike's month included; overlapping damage does not add up past
  ``d``;
- a site already ``damaged`` produces nothing until its ``repair_until`` month, a ``closed``
  one nothing at all;
- each product's output is the sum of its sites'; stock carries over, demand not met in a
  month is lost (not back-ordered).

Closed form, used by the tests: a site with no damage at the start is down in month m
(0-based) when a damaging strike fell in the last min(k, m + 1) months, so its expected
availability is ``1 - d * (1 - (1 - p h) ** min(k, m + 1))``.

Scenarios run in chunks of ``CHUNK``. Every chunk draws from its own generators, seeded
by (seed, chunk, stream): the same seed gives the same scenarios whatever the number of
workers, and extra sites (duplication candidates) draw from a stream of their own, so
adding them leaves the other sites' draws alone (common random numbers).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

CHUNK = 500
STRIKES, SITE_HITS, EXTRA_HITS = 0, 1, 2


@dataclass(frozen=True)
class Regions:
    p: np.ndarray  # monthly strike probability (R,)
    hit: np.ndarray  # site-hit probability (R,)
    damage: np.ndarray  # damage fraction (R,)
    repair: np.ndarray  # repair months, >= 1 (R,)
    adjacency: np.ndarray | None = None  # (R, R) bool, symmetric; None: no neighbours
    spillover: float = 0.0

    def effective_p(self) -> np.ndarray:
        """The chance a region is struck in a month, spillover included."""
        if self.adjacency is None or self.spillover <= 0:
            return self.p
        quiet = np.prod(np.where(self.adjacency, 1 - self.p[None, :], 1.0), axis=1)
        return np.asarray(1 - (1 - self.p) * (1 - self.spillover * (1 - quiet)))


@dataclass(frozen=True)
class Sites:
    region: np.ndarray  # region index (S,)
    product: np.ndarray  # product index (S,)
    capacity: np.ndarray  # units a month (S,)
    down: np.ndarray  # months from the start with no output (damaged, closed) (S,)

    @property
    def size(self) -> int:
        return int(self.region.size)


def _hits(strike: np.ndarray, sites: Sites, regions: Regions, rng: np.random.Generator
          ) -> np.ndarray:
    """(n, H, S) bool: the site was damaged by a strike that month.

    Sites come sorted by region (``by_repair_months``), so each region's sites are one
    slice: only the struck (scenario, month) cells of a region are written, and uniforms
    are drawn only for them. Strikes are rare, so this is most of the simulation's speed.
    """
    n, months, _ = strike.shape
    hit = np.zeros((n, months, sites.size), dtype=bool)
    bounds = np.flatnonzero(np.diff(sites.region)) + 1
    for a, b in zip(np.r_[0, bounds], np.r_[bounds, sites.size], strict=True):
        if a == b:
            continue
        r = sites.region[a]
        ni, mi = np.nonzero(strike[:, :, r])
        if ni.size == 0:
            continue
        h = regions.hit[r]
        if h >= 1:
            hit[ni, mi, a:b] = True
        else:
            hit[ni, mi, a:b] = rng.random((ni.size, b - a), dtype=np.float32) < h
    return hit


def _active(hit: np.ndarray, sites: Sites, regions: Regions) -> np.ndarray:
    """(n, H, S) bool: the site is down (part or whole) that month, from strikes only.

    A strike in month m keeps the site down in months m .. m + k - 1: an OR of the hits
    shifted by 0 .. k - 1 months, done per distinct k on the sites that have it.
    """
    k = regions.repair[sites.region]
    active = hit.copy()
    ordered = bool(np.all(k[:-1] <= k[1:]))  # sites sorted by k: the columns are a slice
    for lag in range(1, int(k.max()) if k.size else 1):
        if ordered:
            start = int(np.searchsorted(k, lag, side="right"))
            active[:, lag:, start:] |= hit[:, :-lag, start:]
        else:
            cols = np.flatnonzero(k > lag)
            active[:, lag:, cols] |= hit[:, :-lag, cols]
    return active


def by_repair_months(sites: Sites, regions: Regions) -> tuple[Sites, np.ndarray]:
    """The sites sorted by their region's repair months, then region (so that shifts and
    region blocks are slices), and the order that did it."""
    order = np.lexsort((sites.region, regions.repair[sites.region]))
    return Sites(sites.region[order], sites.product[order], sites.capacity[order],
                 sites.down[order]), order


def _availability(hit: np.ndarray, sites: Sites, regions: Regions) -> np.ndarray:
    """(n, H, S) float32 share of capacity available, from the hits and the start state."""
    months = hit.shape[1]
    avail = 1.0 - _active(hit, sites, regions) * regions.damage[sites.region].astype(np.float32)
    up = np.arange(months)[:, None] >= sites.down[None, :]
    return np.asarray((avail * up).astype(np.float32, copy=False))


def strikes(regions: Regions, n: int, months: int, rng: np.random.Generator) -> np.ndarray:
    """(n, H, R) bool: which regions are struck each month of each scenario."""
    shape = (n, months, regions.p.size)
    primary = rng.random(shape, dtype=np.float32) < regions.p.astype(np.float32)
    if regions.adjacency is None or regions.spillover <= 0:
        return primary
    near = (primary.astype(np.float32) @ regions.adjacency.astype(np.float32)) > 0
    spill = rng.random(shape, dtype=np.float32) < regions.spillover
    return primary | (near & spill)


@dataclass
class ChunkResult:
    output: np.ndarray  # (n, H, P) float32
    extra: np.ndarray | None  # (n, H, E) float32 capacity available at extra sites


def run_chunk(regions: Regions, sites: Sites, n_products: int, months: int, n: int,
              seed: int, chunk: int, extra: Sites | None = None) -> ChunkResult:
    """Simulate ``n`` scenarios of chunk number ``chunk``; output summed per product."""
    sites, _ = by_repair_months(sites, regions)
    strike = strikes(regions, n, months, np.random.default_rng([seed, chunk, STRIKES]))
    hit = _hits(strike, sites, regions, np.random.default_rng([seed, chunk, SITE_HITS]))
    active = _active(hit, sites, regions)
    up = np.arange(months)[:, None] >= sites.down[None, :]  # (H, S)
    if not up.all():
        active &= up
    # output = what the sites make when up, less what the strikes take
    full = np.zeros((sites.size, n_products), dtype=np.float32)
    full[np.arange(sites.size), sites.product] = sites.capacity
    lost = full * regions.damage[sites.region].astype(np.float32)[:, None]
    base = up.astype(np.float32) @ full  # (H, P)
    taken = (active.reshape(n * months, sites.size).view(np.uint8).astype(np.float32)
             @ lost).reshape(n, months, n_products)
    output = base[None, :, :] - taken
    extra_out = None
    if extra is not None and extra.size:
        e_sorted, order = by_repair_months(extra, regions)
        e_avail = _availability(_hits(strike, e_sorted, regions,
                                      np.random.default_rng([seed, chunk, EXTRA_HITS])),
                                e_sorted, regions)
        extra_out = np.empty_like(e_avail)
        extra_out[:, :, order] = e_avail * e_sorted.capacity.astype(np.float32)
    return ChunkResult(output, extra_out)


BLAS_THREADS = 1  # see ``simulate``
MAX_THREADS = 4


def usable_cores() -> int:
    """The cores this process may run on (its affinity, which a container's CPU set
    narrows), not the machine's count."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _blas_limit(threads: int | None) -> contextlib.AbstractContextManager[object]:
    if threads is None:
        return contextlib.nullcontext()
    from threadpoolctl import threadpool_limits

    limit: contextlib.AbstractContextManager[object] = threadpool_limits(limits=threads,
                                                                         user_api="blas")
    return limit


def _chunk_job(args: tuple[Any, ...]) -> ChunkResult:
    *job, threads = args
    with _blas_limit(threads):
        return run_chunk(*job)


def simulate(regions: Regions, sites: Sites, n_products: int, months: int, scenarios: int,
             seed: int = 0, *, extra: Sites | None = None, workers: int = 1,
             threads: int | None = None,
             first_chunk: int = 0,
             progress: Callable[[int, int], None] | None = None,
             blas_threads: int | None = BLAS_THREADS) -> ChunkResult:
    """All scenarios, in chunks: on ``threads`` threads of this process (default: one per
    usable core, at most ``MAX_THREADS``), or on ``workers`` processes when more than 1.

    ``first_chunk`` shifts the chunk numbers, so that a second call with another offset
    draws fresh scenarios (e.g. to evaluate a plan chosen on the first).

    Each chunk's result is the same whatever the threads: a chunk runs on one thread, with
    BLAS capped at ``blas_threads`` (1) for its matrix products, and the chunks are put
    together in their order. Threads over chunks rather than BLAS's own threads, measured
    on 2 cores (``bench/blas_threads_bench.py``): NumPy lets go of the GIL in the heavy
    steps, so two chunks run side by side on an idle machine; with another process
    holding a core, a thread waiting for the GIL sleeps, where OpenBLAS's extra threads
    spin against that process; and BLAS's threads change the float32 sums' rounding
    (results then depend on the thread count). ``blas_threads=None`` leaves BLAS its own
    default, one thread per core.
    """
    sizes = [min(CHUNK, scenarios - i) for i in range(0, scenarios, CHUNK)]
    jobs = [(regions, sites, n_products, months, size, seed, first_chunk + i, extra,
             blas_threads) for i, size in enumerate(sizes)]
    if threads is None:
        threads = min(usable_cores(), MAX_THREADS)
    if threads < 1:
        raise ValueError("threads must be at least 1")
    parts: list[ChunkResult] = []
    with contextlib.ExitStack() as stack:
        runner: Callable = map  # type: ignore[type-arg]
        if workers > 1 and len(jobs) > 1:
            from concurrent.futures import ProcessPoolExecutor

            runner = stack.enter_context(ProcessPoolExecutor(max_workers=workers)).map
        elif threads > 1 and len(jobs) > 1:
            from concurrent.futures import ThreadPoolExecutor

            # the cap is process-wide: set once around the pool, not per chunk (two
            # threads setting and restoring it would undo each other)
            stack.enter_context(_blas_limit(blas_threads))
            jobs = [(*job[:-1], None) for job in jobs]
            runner = stack.enter_context(ThreadPoolExecutor(
                max_workers=min(threads, len(jobs)), thread_name_prefix="kuznia-sim")).map
        for part in runner(_chunk_job, jobs):
            parts.append(part)
            if progress:
                progress(sum(p.output.shape[0] for p in parts), scenarios)
    output = np.concatenate([p.output for p in parts])
    ext = None if extra is None or not extra.size else np.concatenate([p.extra for p in parts])
    return ChunkResult(output, ext)


def shortfall(output: np.ndarray, demand: np.ndarray, stock: np.ndarray) -> np.ndarray:
    """(n, H, P) unmet demand per month: stock carries over, unmet demand is lost."""
    n, months, _ = output.shape
    short = np.empty_like(output, dtype=np.float64)
    inv = np.broadcast_to(stock.astype(np.float64), (n, stock.size)).copy()
    for m in range(months):
        have = inv + output[:, m, :]
        short[:, m, :] = np.maximum(0.0, demand - have)
        inv = np.maximum(0.0, have - demand)
    return short


def hhi(shares: np.ndarray) -> float:
    """Herfindahl-Hirschman index of shares that sum to 1 (1: all in one place)."""
    s = np.asarray(shares, dtype=float)
    total = s.sum()
    return float(np.sum((s / total) ** 2)) if total > 0 else float("nan")


def time_to_survive(capacity: np.ndarray, product: np.ndarray, demand: np.ndarray,
                    stock: np.ndarray) -> np.ndarray:
    """Months each site's product can meet demand with the site down (Simchi-Levi's TTS).

    With one product per line and no rerouting, the stress test's LP has a closed form: the
    other sites make C' a month, so stock lasts stock / (demand - C') months when C' falls
    short of demand, and forever (inf) otherwise. NaN where the product has no demand.
    """
    total = np.bincount(product, weights=capacity, minlength=demand.size)
    others = total[product] - capacity
    gap = demand[product] - others
    with np.errstate(divide="ignore", invalid="ignore"):
        tts = np.where(gap > 0, stock[product] / gap, np.inf)
    return np.where(np.isnan(demand[product]), np.nan, tts)
