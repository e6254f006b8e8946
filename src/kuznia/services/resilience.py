"""Resilience: the workspace's sites, regions and demand turned into the strike model's
arrays, simulated, summarised; and the choice of duplicate lines.

The model and its simulation are in ``kuznia.analytics.strikes`` (pure), the duplication
MILP in ``kuznia.planning.duplication``. Month 0 is the month of ``start`` (default today).
Regions' figures come from the ``regions`` table, or with ``from_history`` from the
``strikes`` table (``estimate_regions``), per region.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
from sqlalchemy import Connection, func, select

from kuznia.analytics.failures import binomial_interval
from kuznia.analytics.strikes import (
    CHUNK,
    MAX_THREADS,
    Regions,
    Sites,
    hhi,
    shortfall,
    simulate,
    time_to_survive,
    usable_cores,
)
from kuznia.errors import UsageError
from kuznia.i18n import N_, Plural, Text
from kuznia.services import params
from kuznia.services.store import Store
from kuznia.store.schema import demand, regions, sites, strikes, use_cube
from kuznia.store.tuples import tuples

Z90 = 1.6448536269514722
FRESH = 1_000_000  # chunk offset of the scenarios a duplication plan is judged on
MAX_MONTHS = 600  # fifty years: a horizon past this is a typing slip
MAX_WORKERS = 64
# a solve that gave no plan, in words
_SOLVER_STATUS = {"infeasible": N_("infeasible"), "unbounded": N_("unbounded")}


def _check_run(months: int, scenarios: int, seed: int, workers: int, option: str,
               n_products: int, n_sites: int, n_extra: int = 0) -> None:
    """Refuse arguments out of range, and a run whose arrays would not fit in memory:
    per scenario, month and product the output (float32, float64 copy) and the shortfall
    (float64); per chunk the strike masks and their float copies over the sites, times
    the chunks in flight at once (a thread per usable core, or the workers); with
    candidates, their availability (float32)."""
    params.whole(scenarios, option, minimum=2)
    params.seed(seed)
    params.whole(workers, "workers", minimum=1, maximum=MAX_WORKERS)
    needed = (scenarios * months * (n_products * 28 + n_extra * 8)
              + min(scenarios, CHUNK) * months * n_sites * 9
              * max(1, workers, min(usable_cores(), MAX_THREADS)))
    params.fits_in_memory(needed, Text(N_("%(scenarios)s scenarios of %(months)s months"),
                                       scenarios=scenarios, months=months), option)


def _month_index(start: dt.date, day: dt.date) -> int:
    return (day.year - start.year) * 12 + day.month - start.month


def _label(start: dt.date, m: int) -> str:
    y, mo = divmod(start.month - 1 + m, 12)
    return f"{start.year + y:04d}-{mo + 1:02d}"


@dataclass
class Network:
    """The arrays of the strike model, with the ids they stand for."""

    start: dt.date
    months: int
    region_ids: list[str]
    product_ids: list[str]
    site_ids: list[str]
    site_producer: list[str]
    site_status: list[str]
    regions: Regions
    sites: Sites
    demand: np.ndarray  # (P,), NaN: no demand given
    stock: np.ndarray  # (P,)
    figures_from: str  # "regions table" or "strikes history"
    history: dict[str, str] | None = None  # the months the strikes history covers

    def product_index(self, product: str) -> int:
        try:
            return self.product_ids.index(product)
        except ValueError:
            raise UsageError(N_("product %(product)s has neither sites nor demand in this "
                                "workspace"), product=repr(product)) from None

    def region_index(self, region: str, where: str) -> int:
        try:
            return self.region_ids.index(region)
        except ValueError:
            raise UsageError(N_("%(where)s: region %(region)s has no strike figures; import "
                                "regions (or use {from_history})"), params=("from_history",),
                             where=where, region=repr(region)) from None


def history_start(conn: Connection, as_of: dt.date) -> dt.date | None:
    """The workspace's first record on or before ``as_of``: the earliest use (from the kept
    cube) or strike, whichever came first; None when there is neither."""
    first_use = conn.execute(select(func.min(use_cube.c.first_on))
                             .where(use_cube.c.first_on <= as_of.isoformat())).scalar()
    first_strike = conn.execute(select(func.min(strikes.c.struck_on))
                                .where(strikes.c.struck_on <= as_of)).scalar()
    days = [d for d in (first_strike, first_use and dt.date.fromisoformat(str(first_use)[:10]))
            if d is not None]
    return min(days) if days else None


def estimate_regions(store: Store, as_of: dt.date | None = None,
                     history_from: dt.date | None = None) -> list[dict[str, Any]]:
    """Each region's figures estimated from the strikes history, with 90% intervals.

    Only strikes on or before ``as_of`` (default today) count. The history covers the
    calendar months from ``history_from`` (the start of the record the user states) or,
    without it, from the workspace's first record (its earliest use or strike) to
    ``as_of``: not from the first strike, which would leave out the quiet months before it
    and overstate the rate (by a third to double with one to three regions). With x of the
    T months having at least one strike: the monthly strike probability is the Jeffreys
    posterior mean (x + 1/2) / (T + 1), the chance of a strike next month given the
    history, with its 90% interval (never 0: a region not yet struck in a war is not
    safe, only less often struck than we can tell; x / T is unbiased and the mean tends to
    it as the history grows); the site-hit probability the mean share of the region's
    sites hit in a month with a strike; the damage fraction the mean recorded one; repair
    months the mean whole months from strike to repair (strikes not repaired by ``as_of``
    are left out of that mean). No history on or before ``as_of``: no rows.
    """
    as_of = as_of or dt.date.today()
    if history_from is not None and history_from > as_of:
        raise UsageError(N_("{history_from} %(start)s is after the end of the history "
                            "(%(end)s)"), params=("history_from",),
                         start=history_from.isoformat(), end=as_of.isoformat())
    with store.read() as conn:
        site_rows = list(tuples(conn.execute(select(sites.c.site_id, sites.c.region))))
        begin = history_from or history_start(conn, as_of)
        hits = [] if begin is None else list(tuples(conn.execute(
            select(strikes.c.site_id, strikes.c.struck_on, strikes.c.damage_fraction,
                   strikes.c.repaired_on)
            .where(strikes.c.struck_on >= begin, strikes.c.struck_on <= as_of))))
    if begin is None:
        return []
    region_of: dict[str, str] = dict(site_rows)
    n_sites: dict[str, int] = {}
    for _, r in site_rows:
        n_sites[r] = n_sites.get(r, 0) + 1
    span = _month_index(begin, as_of) + 1
    per: dict[str, dict[str, Any]] = {}
    for site_id, on, damage, repaired in hits:
        r = region_of[site_id]
        e = per.setdefault(r, {"months": {}, "damage": [], "repair": []})
        e["months"].setdefault(_month_index(begin, on), set()).add(site_id)
        e["damage"].append(damage)
        if repaired is not None and repaired <= as_of:
            e["repair"].append(max(1, -(-(repaired - on).days // 30)))
    window = {"observed_from": _label(begin, 0), "observed_to": _label(begin, span - 1),
              "history_from": "stated" if history_from else "first record"}
    out = []
    for r in sorted(n_sites):
        e = per.get(r, {"months": {}, "damage": [], "repair": []})
        struck = len(e["months"])
        lo, hi = binomial_interval([struck], [span])
        share = [len(s) / n_sites[r] for s in e["months"].values()]
        out.append({
            "region": r, "months_observed": span, "months_struck": struck,
            "monthly_strike_probability": (struck + 0.5) / (span + 1),
            "monthly_strike_probability_low": float(lo[0]),
            "monthly_strike_probability_high": float(hi[0]),
            "site_hit_probability": float(np.mean(share)) if share else 1.0,
            "damage_fraction": float(np.mean(e["damage"])) if e["damage"] else 1.0,
            "repair_months": int(round(np.mean(e["repair"]))) if e["repair"] else 1,
            "sites": n_sites[r], "strikes": len(e["damage"]), **window,
        })
    return out


def load_network(store: Store, months: int, start: dt.date | None = None,
                 from_history: bool = False, spillover: float = 0.0,
                 history_from: dt.date | None = None) -> Network:
    """Read sites, regions and demand into the model's arrays; with ``from_history`` the
    regions' figures come from the strikes on or before ``start`` (default today)."""
    params.whole(months, "months", minimum=1, maximum=MAX_MONTHS)
    if not 0 <= spillover <= 1:  # NaN fails this too
        raise UsageError(N_("{spillover} is a probability between 0 and 1"),
                         params=("spillover",))
    day = start or dt.date.today()
    start = day.replace(day=1)
    with store.read() as conn:
        site_rows = conn.execute(select(sites).order_by(sites.c.site_id)).all()
        region_rows = _region_rows(conn, store, from_history, day, history_from)
        demand_rows = {r.product_id: (r.monthly_demand, r.stock)
                       for r in conn.execute(select(demand))}
    if not site_rows:
        raise UsageError(N_("no sites in this workspace; import sites first"))
    region_ids = [r["region"] for r in region_rows]
    net_regions = _regions(region_rows, spillover)
    # a product with demand but no line counts too: all of its demand goes unmet
    product_ids = sorted({r.product_id for r in site_rows} | set(demand_rows))
    region_idx = {r: i for i, r in enumerate(region_ids)}
    missing = sorted({r.region for r in site_rows} - set(region_idx))
    if missing:
        if from_history:
            raise UsageError(Plural("no strike figures for region %(regions)s: import regions",
                                    "no strike figures for regions %(regions)s: import "
                                    "regions", len(missing), regions=", ".join(missing)))
        raise UsageError(Plural("no strike figures for region %(regions)s: import regions or "
                                "use {from_history}",
                                "no strike figures for regions %(regions)s: import regions "
                                "or use {from_history}", len(missing),
                                regions=", ".join(missing)), params=("from_history",))
    down = []
    for r in site_rows:
        if r.status == "closed":
            down.append(months)
        elif r.status == "damaged" and r.repair_until is not None:
            down.append(int(np.clip(_month_index(start, r.repair_until) + 1, 0, months)))
        else:
            down.append(0)
    net_sites = Sites(
        region=np.array([region_idx[r.region] for r in site_rows]),
        product=np.array([product_ids.index(r.product_id) for r in site_rows]),
        capacity=np.array([r.monthly_capacity for r in site_rows], dtype=float),
        down=np.array(down),
    )
    dem = np.array([demand_rows.get(p, (np.nan, 0.0))[0] for p in product_ids], dtype=float)
    stock = np.array([demand_rows.get(p, (np.nan, 0.0))[1] for p in product_ids], dtype=float)
    return Network(start, months, region_ids, product_ids, [r.site_id for r in site_rows],
                   [r.producer_id for r in site_rows], [r.status for r in site_rows],
                   net_regions, net_sites, dem, stock,
                   "strikes history" if from_history else "regions table",
                   {k: region_rows[0][k] for k in ("observed_from", "observed_to",
                                                   "history_from")}
                   if from_history else None)


def _region_rows(conn: Connection, store: Store, from_history: bool, as_of: dt.date,
                 history_from: dt.date | None) -> list[dict[str, Any]]:
    table = [dict(r._mapping) for r in conn.execute(select(regions).order_by(regions.c.region))]
    if not from_history:
        return table
    neighbours = {r["region"]: r["neighbours"] for r in table}
    est = estimate_regions(store, as_of, history_from)
    if not est:
        raise UsageError(N_("no uses or strikes recorded on or before %(day)s: "
                            "{from_history} has no history to estimate from"),
                         params=("from_history",), day=as_of.isoformat())
    return [{**e, "neighbours": neighbours.get(e["region"])} for e in est]


def _regions(rows: list[dict[str, Any]], spillover: float) -> Regions:
    ids = [r["region"] for r in rows]
    adjacency = np.zeros((len(ids), len(ids)), dtype=bool)
    for i, r in enumerate(rows):
        for nb in (r.get("neighbours") or "").split(";"):
            nb = nb.strip()
            if nb in ids and nb != r["region"]:
                adjacency[i, ids.index(nb)] = adjacency[ids.index(nb), i] = True
    return Regions(
        p=np.array([r["monthly_strike_probability"] for r in rows], dtype=float),
        hit=np.array([r["site_hit_probability"] for r in rows], dtype=float),
        damage=np.array([r["damage_fraction"] for r in rows], dtype=float),
        repair=np.array([max(1, int(r["repair_months"])) for r in rows], dtype=int),
        adjacency=adjacency if adjacency.any() else None,
        spillover=spillover,
    )


def _interval(samples: np.ndarray, floor: float | None = None) -> tuple[float, float, float]:
    """Mean and a 90% interval on the mean (normal approximation over scenarios)."""
    mean = float(samples.mean())
    half = Z90 * float(samples.std(ddof=1)) / np.sqrt(samples.size) if samples.size > 1 else 0.0
    lo = mean - half if floor is None else max(floor, mean - half)
    return mean, lo, mean + half


@dataclass
class Resilience:
    months: int
    scenarios: int
    seed: int
    start: str
    figures_from: str
    spillover: float
    history: dict[str, str] | None = None  # with the strikes history: the months it covers
    products: list[dict[str, Any]] = field(default_factory=list)
    sites: list[dict[str, Any]] = field(default_factory=list)
    fan: dict[str, dict[str, list[float]]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"months": self.months, "scenarios": self.scenarios, "seed": self.seed,
                "start": self.start, "figures_from": self.figures_from,
                "history": self.history,
                "spillover": self.spillover, "products": self.products, "sites": self.sites}


def run(store: Store, months: int = 12, scenarios: int = 10_000, seed: int = 0, *,
        start: dt.date | None = None, from_history: bool = False, spillover: float = 0.0,
        history_from: dt.date | None = None, workers: int = 1,
        progress: Callable[[int, int], None] | None = None) -> Resilience:
    """Simulate the network and summarise per product and per site."""
    params.whole(scenarios, "scenarios", minimum=2)
    net = load_network(store, months, start, from_history, spillover, history_from)
    _check_run(months, scenarios, seed, workers, "scenarios", len(net.product_ids),
               net.sites.size)
    sim = simulate(net.regions, net.sites, len(net.product_ids), months, scenarios, seed,
                   workers=workers, progress=progress)
    out = sim.output.astype(np.float64)
    has_demand = ~np.isnan(net.demand)
    short = shortfall(out, np.nan_to_num(net.demand), net.stock)
    q = np.quantile(out, [0.1, 0.5, 0.9], axis=0)  # (3, H, P)
    total = out.sum(axis=1)  # (N, P)
    tq = np.quantile(total, [0.1, 0.9], axis=0)
    res = Resilience(months, scenarios, seed, net.start.isoformat(), net.figures_from, spillover,
                     net.history)
    labels = [_label(net.start, m) for m in range(months)]
    for p, pid in enumerate(net.product_ids):
        mine = net.sites.product == p
        cap = net.sites.capacity[mine]
        by_region: dict[str, float] = {}
        for r, c, st in zip(net.sites.region[mine], cap,
                            np.array(net.site_status)[mine], strict=True):
            if st != "closed":
                by_region[net.region_ids[r]] = by_region.get(net.region_ids[r], 0.0) + c
        row: dict[str, Any] = {
            "product_id": pid,
            "sites": int(mine.sum()),
            "monthly_capacity": float(cap.sum()),
            "expected_output": float(total[:, p].mean()),
            "output_p10": float(tq[0, p]), "output_p90": float(tq[1, p]),
            "monthly_demand": None if not has_demand[p] else float(net.demand[p]),
            "stock": float(net.stock[p]),
            "hhi": hhi(np.array(list(by_region.values()))) if by_region else None,
            "capacity_by_region": {k: round(v / sum(by_region.values()), 4)
                                   for k, v in sorted(by_region.items())},
        }
        if has_demand[p]:
            mean, lo, hi = _interval(short[:, :, p].sum(axis=1), floor=0.0)
            row.update(expected_shortfall=mean, expected_shortfall_low=lo,
                       expected_shortfall_high=hi,
                       p_meet_demand_every_month=float((short[:, :, p] <= 1e-9).all(axis=1)
                                                       .mean()))
        else:
            row.update(expected_shortfall=None, p_meet_demand_every_month=None)
        row["by_month"] = [{
            "month": labels[m], "mean": float(out[:, m, p].mean()), "p10": float(q[0, m, p]),
            "p50": float(q[1, m, p]), "p90": float(q[2, m, p]),
            "p_meet_demand": float((short[:, m, p] <= 1e-9).mean()) if has_demand[p] else None,
            "expected_shortfall": float(short[:, m, p].mean()) if has_demand[p] else None,
        } for m in range(months)]
        res.products.append(row)
    res.sites = _site_rows(net)
    return res


def _site_rows(net: Network) -> list[dict[str, Any]]:
    status = np.array(net.site_status)
    working = np.where(status == "operating", net.sites.capacity, 0.0)
    tts = time_to_survive(working, net.sites.product, net.demand, net.stock)
    rows = []
    for s, sid in enumerate(net.site_ids):
        r = net.sites.region[s]
        # a closed site never recovers: no figure (not the horizon),
        # and it is exposed whenever its product has demand
        closed = status[s] == "closed"
        ttr = (None if closed else int(net.sites.down[s]) if status[s] != "operating"
               else int(net.regions.repair[r]))
        p_hit = 1 - (1 - net.regions.effective_p()[r] * net.regions.hit[r]) ** net.months
        t = float(tts[s])
        rows.append({
            "site_id": sid, "product_id": net.product_ids[net.sites.product[s]],
            "producer_id": net.site_producer[s], "region": net.region_ids[r],
            "monthly_capacity": float(net.sites.capacity[s]), "status": str(status[s]),
            "ttr_months": ttr, "recovers": not closed,
            "tts_months": None if np.isnan(t) else (None if np.isinf(t) else round(t, 3)),
            "tts_unlimited": bool(np.isinf(t)),
            "exposed": bool(not np.isnan(t) and (closed or (ttr is not None and t < ttr))),
            "p_hit_in_horizon": float(p_hit),
        })
    return rows


@dataclass
class Duplication:
    chosen: list[str]
    cost: float
    budget: float
    status: str  # optimal, or feasible: the best found within the time limit
    solver: str  # the outcome in words ("best found within the time limit, gap 0.4%")
    gap: float | None
    saa_scenarios: int
    scenarios: int
    before: tuple[float, float, float]
    after: tuple[float, float, float]
    reduction: tuple[float, float, float]
    greedy: list[str]
    greedy_cost: float
    greedy_after: tuple[float, float, float]
    candidates: list[dict[str, Any]]
    weights: dict[str, float]

    def to_dict(self) -> dict[str, Any]:
        def iv(t: tuple[float, float, float]) -> dict[str, float]:
            return {"mean": t[0], "low": t[1], "high": t[2]}

        return {
            "chosen": self.chosen, "cost": self.cost, "budget": self.budget,
            "status": self.status, "solver": self.solver, "gap": self.gap,
            "expected_shortfall_before": self.before[0],
            "expected_shortfall_after": self.after[0],
            "interval_before": iv(self.before), "interval_after": iv(self.after),
            "reduction": iv(self.reduction),
            "greedy": {"chosen": self.greedy, "cost": self.greedy_cost,
                       "expected_shortfall_after": self.greedy_after[0],
                       "interval_after": iv(self.greedy_after)},
            "saa_scenarios": self.saa_scenarios, "evaluation_scenarios": self.scenarios,
            "weights": self.weights, "candidates": self.candidates,
        }


def duplicate(store: Store, candidates_path: str | Path | BinaryIO, budget: float,
              months: int = 12,
              scenarios: int = 2_000, saa_scenarios: int = 300, seed: int = 0, *,
              weights: dict[str, float] | None = None, start: dt.date | None = None,
              from_history: bool = False, spillover: float = 0.0,
              history_from: dt.date | None = None, workers: int = 1,
              time_limit: float = 120.0, candidates_name: str | None = None
              ) -> Duplication:
    """Choose duplicate lines within ``budget`` (SAA MILP), judged on fresh scenarios."""
    from kuznia.planning.duplication import choose, greedy, weighted_shortfall
    from kuznia.services.imports import read_checked

    params.finite(budget, "budget", minimum=0)
    params.finite(time_limit, "time_limit", above=0)
    for product, weight in (weights or {}).items():
        params.finite(weight, "weights", minimum=0, item=product)
    params.whole(saa_scenarios, "saa_scenarios", minimum=2)
    params.whole(scenarios, "scenarios", minimum=2)
    frame = read_checked(store, "candidates", candidates_path, name=candidates_name)
    net = load_network(store, months, start, from_history, spillover, history_from)
    if frame.is_empty():
        raise UsageError(N_("%(file)s: no candidates"),
                         file=str(candidates_name or candidates_path))
    if np.isnan(net.demand).all():
        raise UsageError(N_("no demand in this workspace: import demand to plan duplicates"))
    rows = frame.to_dicts()
    _check_run(months, max(scenarios, saa_scenarios), seed, workers, "scenarios",
               len(net.product_ids), net.sites.size, len(rows))
    where = candidates_name or str(candidates_path)
    cand = Sites(
        region=np.array([net.region_index(r["region"], f"{where}: {r['candidate_id']}")
                         for r in rows]),
        product=np.array([net.product_index(r["product_id"]) for r in rows]),
        capacity=np.array([r["monthly_capacity"] for r in rows], dtype=float),
        down=np.zeros(len(rows), dtype=int),
    )
    cost = np.array([r["cost"] for r in rows], dtype=float)
    weights = weights or {}
    unknown = sorted(set(weights) - set(net.product_ids))
    if unknown:
        raise UsageError(Plural("{weights} names a product without sites: %(products)s",
                                "{weights} names products without sites: %(products)s",
                                len(unknown), products=", ".join(unknown)),
                         params=("weights",))
    w = np.array([weights.get(p, 1.0) for p in net.product_ids])
    w = np.where(np.isnan(net.demand), 0.0, w)
    dem = np.nan_to_num(net.demand)
    n_p = len(net.product_ids)
    # products with candidates enter the MILP; the rest add a constant
    used = np.unique(cand.product)
    remap = {p: i for i, p in enumerate(used)}
    saa = simulate(net.regions, net.sites, n_p, months, saa_scenarios, seed, extra=cand,
                   workers=workers)
    sub = np.array([remap[p] for p in cand.product])
    assert saa.extra is not None  # simulated with the candidates
    choice = choose(saa.output[:, :, used], saa.extra, sub, cost, budget, dem[used],
                    net.stock[used], w[used], time_limit=time_limit)
    if not choice.solver.is_ok:
        if choice.status == "no_solution":
            raise UsageError(N_("the duplication model could not be solved (no solution "
                                "found within %(limit)s); raise {time_limit}"),
                             params=("time_limit",),
                             limit=Text(choice.solver.stopped_by or N_("the limits")))
        raise UsageError(N_("the duplication model could not be solved (%(status)s)"),
                         status=Text(_SOLVER_STATUS.get(str(choice.status),
                                                        str(choice.status))))
    picked_greedy = greedy(saa.output[:, :, used], saa.extra, sub, cost, budget, dem[used],
                           net.stock[used], w[used])
    fresh = simulate(net.regions, net.sites, n_p, months, scenarios, seed, extra=cand,
                     workers=workers, first_chunk=FRESH)
    all_p = cand.product

    assert fresh.extra is not None

    def judged(chosen: np.ndarray) -> np.ndarray:
        assert fresh.extra is not None
        return weighted_shortfall(fresh.output, fresh.extra, all_p, chosen, dem, net.stock, w)

    none = np.zeros(cost.size, dtype=bool)
    before = judged(none)
    after = judged(choice.chosen)
    after_greedy = judged(picked_greedy)
    ids = [r["candidate_id"] for r in rows]
    return Duplication(
        chosen=[ids[i] for i in np.flatnonzero(choice.chosen)],
        cost=float(cost[choice.chosen].sum()), budget=float(budget),
        status=str(choice.status), solver=choice.solver.words, gap=choice.solver.gap,
        saa_scenarios=saa_scenarios, scenarios=scenarios,
        before=_interval(before, 0.0), after=_interval(after, 0.0),
        reduction=_interval(before - after),
        greedy=[ids[i] for i in np.flatnonzero(picked_greedy)],
        greedy_cost=float(cost[picked_greedy].sum()),
        greedy_after=_interval(after_greedy, 0.0),
        candidates=[{**{k: (v.isoformat() if isinstance(v, dt.date) else v)
                        for k, v in r.items()}, "chosen": bool(choice.chosen[i])}
                    for i, r in enumerate(rows)],
        weights={p: float(x) for p, x in zip(net.product_ids, w, strict=True)},
    )
