"""The allocation planner as a service: offers in, a plan out, saved plans to compare.

Offers come from a file (checked like an import, not stored) or from the ``offers`` table.
Where an offer has no ``effects_per_unit``, the rate is estimated from the workspace's uses
of that product and producer, per unit used, partially pooled with the product's other
producers and allowing for the product's dispersion (``planning.rates``): its posterior
mean is what the plan maximises, and the joint draws behind it give the plan's interval
and, with ``risk`` such as ``q10``, the tail the plan is chosen for.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
from sqlalchemy import func, select

from kuznia.errors import ConflictError, InputError, NotFoundError, RowProblem, UsageError
from kuznia.i18n import N_, Plural, Text
from kuznia.planning.allocation import (
    BudgetRate,
    Limits,
    Offers,
    Risk,
    budget_rate,
    effects_interval,
    greedy,
    solve,
)
from kuznia.planning.explain import binding, infeasible_reasons, violations, why_nothing
from kuznia.planning.rates import rate_draws
from kuznia.services import audit, params
from kuznia.services.imports import read_checked
from kuznia.services.licences import live_ids
from kuznia.services.results import Tabular, json_safe
from kuznia.services.store import Store
from kuznia.store import schema as s
from kuznia.store.tuples import tuples

OFFER_COLUMNS = ["product_id", "producer_id", "unit_price", "capacity", "min_order",
                 "lot_size", "effects_per_unit"]
STORED_COLUMNS = [*OFFER_COLUMNS, "licence_id"]


@dataclass
class WhatIf:
    price_change: dict[str, float] = field(default_factory=dict)  # product -> +0.20
    without_producers: list[str] = field(default_factory=list)


def parse_share(text: str, option: str) -> float:
    """'0.4', '40%' -> 0.4."""
    try:
        value = float(text[:-1]) / 100 if text.endswith("%") else float(text)
    except ValueError:
        raise UsageError(N_("%(option)s takes a share such as 0.4 or 40%%, not %(text)s"),
                         option=option, text=repr(text)) from None
    if not 0 <= value <= 1:  # NaN fails this too
        raise UsageError(N_("%(option)s must be between 0 and 1 (or 0%% and 100%%), not "
                            "%(text)s"), option=option, text=repr(text))
    return value


def parse_pairs(items: list[str], option: str) -> dict[str, str]:
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key or not value:
            raise UsageError(N_("%(option)s takes NAME=VALUE, not %(item)s"), option=option,
                             item=repr(item))
        out[key.strip()] = value.strip()
    return out


def parse_change(text: str, option: str) -> float:
    """'+20%' -> 0.2; '-5%' -> -0.05."""
    m = re.fullmatch(r"([+-]?\d+(?:\.\d+)?)%", text.strip())
    if not m:
        raise UsageError(N_("%(option)s takes a change such as +20%% or -5%%, not %(text)s"),
                         option=option, text=repr(text))
    change = float(m.group(1)) / 100
    if change <= -1:
        raise UsageError(N_("%(option)s cannot cut a price by 100%% or more, not %(text)s"),
                         option=option, text=repr(text))
    if change > 100:
        raise UsageError(N_("%(option)s must be at most +10000%%, not %(text)s"), option=option,
                         text=repr(text))
    return change


def _risk_quantile(risk: str) -> float | None:
    if risk == "mean":
        return None
    m = re.fullmatch(r"q(\d{1,2})", risk)
    if not m or not 1 <= int(m.group(1)) <= 50:
        raise UsageError(N_("{risk} takes mean or a lower quantile q1..q50, not %(risk)s"),
                         params=("risk",), risk=repr(risk))
    return int(m.group(1)) / 100


def _stored_offers(store: Store) -> pl.DataFrame:
    with store.read() as conn:
        rows = conn.execute(select(*[s.offers.c[c] for c in STORED_COLUMNS])).all()
    return pl.DataFrame([tuple(r) for r in rows], orient="row", schema={
        "product_id": pl.String, "producer_id": pl.String, "unit_price": pl.Float64,
        "capacity": pl.Int64, "min_order": pl.Int64, "lot_size": pl.Int64,
        "effects_per_unit": pl.Float64, "licence_id": pl.String})


def _offer_origins(store: Store) -> dict[tuple[str, str], str]:
    """Each stored offer's origin in words: sent through the producers' portal (by which
    account, when) or imported (by whom, from which file)."""
    from kuznia.services.portal import origin_words, origins

    with store.read() as conn:
        rows = conn.execute(select(s.offers.c.product_id, s.offers.c.producer_id,
                                   s.offers.c.event_id)).all()
        found = origins(conn, [r.event_id for r in rows])
    return {(str(p), str(q)): origin_words(found.get(int(e))) for p, q, e in tuples(rows)}


def _with_rates(store: Store, frame: pl.DataFrame, risk: str, name: str
                ) -> tuple[pl.DataFrame, np.ndarray]:
    """Fill effects_per_unit from the uses where not given: the posterior mean of joint
    draws of every product and producer's rate (``planning.rates``), returned beside the
    frame (draws x pairs; ``rate_column`` names each offer's column, -1 where given)."""
    cube = s.use_cube.c
    with store.read() as conn:
        sums = conn.execute(
            select(cube.product_id, cube.producer_id, func.sum(cube.effects),
                   func.sum(cube.effects_sq), func.sum(cube.uses), func.sum(cube.units_used))
            .group_by(cube.product_id, cube.producer_id)).all()
        lookups: dict[str, dict[Any, Any]] = {
            "region": dict(conn.execute(select(s.producers.c.producer_id,
                                               s.producers.c.region)).all()),
            "category": dict(conn.execute(select(s.products.c.product_id,
                                                 s.products.c.category)).all()),
        }
    sum_cols = ("effects", "effects_sq", "uses", "units")
    seen = pl.DataFrame([tuple(r) for r in sums], orient="row", schema={
        "product_id": pl.String, "producer_id": pl.String,
        **{c: pl.Float64 for c in sum_cols}})
    pairs = (pl.concat([seen, frame.select("product_id", "producer_id",
                                           *[pl.lit(0.0).alias(c) for c in sum_cols])])
             .group_by("product_id", "producer_id").agg(pl.col(*sum_cols).sum())
             .sort("product_id", "producer_id"))
    effects, effects_sq, uses, units = (pairs[c].to_numpy() for c in sum_cols)
    draws = rate_draws(effects, effects_sq, uses, units, pairs["product_id"].to_numpy())
    with np.errstate(invalid="ignore"):
        mean = draws.mean(axis=0)
    pairs = pairs.with_columns(pl.Series("mean", mean).fill_nan(None),
                               pl.Series("column", np.arange(pairs.height), dtype=pl.Int64))
    out = frame.join(pairs.select("product_id", "producer_id", "mean", "column"),
                     on=["product_id", "producer_id"], how="left")
    given = pl.col("effects_per_unit").is_not_null()
    out = out.with_columns(
        pl.when(given).then(pl.col("effects_per_unit")).otherwise(pl.col("mean"))
        .alias("mean_rate"),
        pl.when(given).then(pl.col("effects_per_unit")).otherwise(pl.col("mean"))
        .alias("effects_per_unit"),
        pl.when(given).then(-1).otherwise(pl.col("column")).alias("rate_column"),
        pl.when(given).then(pl.lit("given")).otherwise(pl.lit(f"uses ({risk})"))
        .alias("rate_source"),
        pl.col("producer_id").replace_strict(lookups["region"], default="").alias("region"),
        pl.col("product_id").replace_strict(lookups["category"], default="").alias("category"),
    )
    unknown = pl.col("effects_per_unit").is_null() | pl.col("effects_per_unit").is_nan()
    if out.filter(~unknown).is_empty():  # nothing could be planned at all
        problems = [RowProblem(name, 0, "effects_per_unit",
                               "not given, and no use of this product to estimate it from",
                               f"{r['product_id']}/{r['producer_id']}")
                    for r in out.head(20).iter_rows(named=True)]
        raise InputError(name, problems, out.height, out.height)
    return out.drop("mean", "column"), draws


RISK_DRAWS = 200  # of the joint draws, the first 200 make the plan's tail (MILP rows)


def _to_offers(frame: pl.DataFrame, draws: np.ndarray) -> Offers:
    def col(name: str, dtype: Any) -> np.ndarray:
        return frame[name].to_numpy().astype(dtype)

    return Offers(
        product_id=col("product_id", str), producer_id=col("producer_id", str),
        region=col("region", str), category=col("category", str),
        unit_price=col("unit_price", float), capacity=col("capacity", np.int64),
        min_order=col("min_order", np.int64), lot_size=col("lot_size", np.int64),
        effects_per_unit=col("effects_per_unit", float), rate_draws=draws,
        rate_column=frame["rate_column"].fill_null(-1).to_numpy().astype(np.int64))


@dataclass
class PlanResult(Tabular):
    """A plan with its inputs, ready for JSON, saving and comparison."""

    status: str
    expected_effects: float
    expected_effects_low: float | None
    expected_effects_high: float | None
    total_cost: float
    rows: list[dict[str, Any]]  # the plan's lines
    baseline: dict[str, Any]
    binding: list[str]
    explanation: list[str]
    marginal_effects_per_unit_budget: float | None
    # the budget up to which that rate holds (None: any budget, or no rate)
    marginal_rate_holds_to_budget: float | None
    solver: dict[str, Any]
    inputs: dict[str, Any]
    left_out: list[str] = field(default_factory=list)  # offers with no rate to plan with
    # with --risk qNN: the plan's own tail over joint draws of the rates, beside the tail of
    # the plan chosen for the expected rates (level, draws, tail_mean, quantile,
    # mean_plan_tail_mean, mean_plan_expected_effects)
    risk: dict[str, Any] | None = None
    # the outcome in words: "optimal", "best found within the time limit, gap 0.4%",
    # "nothing bought: ..." (plans saved before it was kept have none)
    outcome: str = ""

    @property
    def words(self) -> str:
        return self.outcome or self.status

    @property
    def lines(self) -> list[dict[str, Any]]:
        return self.rows

    def to_dict(self, with_offers: bool = False) -> dict[str, Any]:
        """JSON-ready; the offers as used stay in the saved plan, here only their count."""
        d = asdict(self)
        d["lines"] = d.pop("rows")
        if not with_offers:
            d["inputs"] = {**d["inputs"], "offers": len(d["inputs"]["offers"])}
        return d


def allocate(
    store: Store,
    *,
    budget: float,
    offers_file: str | Path | None = None,
    max_producer_share: float | None = None,
    max_region_share: float | None = None,
    min_category_share: dict[str, float] | None = None,
    require: dict[str, int] | None = None,
    risk: str = "mean",
    what_if: WhatIf | None = None,
    time_limit: float = 60.0,
    gap: float = 1e-3,
    on: dt.date | None = None,
    assume_live: frozenset[str] | set[str] = frozenset(),
) -> PlanResult:
    """The plan with the most expected effects within every limit, beside the greedy rule.
    An offer that names a licence is left out unless the licence is live ``on`` the
    planning day (today), or is in ``assume_live`` (what a pending licence would unlock)."""
    params.finite(budget, "budget", minimum=0, maximum=1e15)
    params.finite(time_limit, "time_limit", above=0)
    params.finite(gap, "gap", minimum=0, maximum=1)
    for pid, units in (require or {}).items():
        params.whole(units, "require", minimum=0, maximum=2_147_483_647, item=pid)
    what_if = what_if or WhatIf()
    if offers_file is not None:
        frame = read_checked(store, "offers", offers_file).select(STORED_COLUMNS)
        source = {"file": str(offers_file)}
        name = str(offers_file)
    else:
        frame = _stored_offers(store)
        source = {"table": "offers"}
        name = "offers table"
    said_name: str | Text = name if offers_file is not None else Text(N_("offers table"))
    if frame.is_empty():
        raise UsageError(N_("no offers: give {offers_file} or import them with "
                            "'kuznia import offers FILE'"), params=("offers_file",))
    for pid, change in what_if.price_change.items():
        if pid not in set(frame["product_id"].to_list()):
            raise UsageError(N_("{price_change} names %(product)s, which no offer is for"),
                             params=("price_change",), product=pid)
        frame = frame.with_columns(
            pl.when(pl.col("product_id") == pid).then(pl.col("unit_price") * (1 + change))
            .otherwise(pl.col("unit_price")).alias("unit_price"))
    if what_if.without_producers:
        known = set(frame["producer_id"].to_list())
        unknown = sorted(set(what_if.without_producers) - known)
        if unknown:
            raise UsageError(N_("{without_producers} names %(producers)s, which no offer is "
                                "from"), params=("without_producers",),
                             producers=", ".join(unknown))
        frame = frame.filter(~pl.col("producer_id").is_in(what_if.without_producers))
    on = on or dt.date.today()
    with store.read() as conn:
        live = live_ids(conn, on) | set(assume_live)
    unlicensed = frame.filter(pl.col("licence_id").is_not_null()
                              & ~pl.col("licence_id").is_in(sorted(live)))
    frame = frame.filter(pl.col("licence_id").is_null()
                         | pl.col("licence_id").is_in(sorted(live))).drop("licence_id")
    not_live = [f"{r['product_id']}/{r['producer_id']} (licence {r['licence_id']})"
                for r in unlicensed.iter_rows(named=True)]
    if frame.is_empty():
        raise UsageError(N_("%(source)s: every offer needs a licence that is not live on "
                            "%(day)s (%(offers)s); nothing can be bought"),
                         source=said_name, day=on.isoformat(), offers=", ".join(not_live[:5]))
    frame, draws = _with_rates(store, frame, risk, name)
    frame = frame.sort("product_id", "producer_id")
    no_rate = frame.filter(pl.col("effects_per_unit").is_null()
                           | pl.col("effects_per_unit").is_nan())
    left_out = [f"{r['product_id']}/{r['producer_id']}" for r in no_rate.iter_rows(named=True)]
    frame = frame.join(no_rate.select("product_id", "producer_id"),
                       on=["product_id", "producer_id"], how="anti")
    if frame.is_empty() or frame["capacity"].sum() == 0:
        if left_out:
            raise UsageError(Plural(
                "%(source)s: no offer with any capacity left; nothing can be bought "
                "(%(num)s offer has no rate)",
                "%(source)s: no offer with any capacity left; nothing can be bought "
                "(%(num)s offers have no rate)", len(left_out), source=said_name))
        raise UsageError(N_("%(source)s: no offer with any capacity; nothing can be bought"),
                         source=said_name)
    offers = _to_offers(frame, draws)
    mean_rate = frame["mean_rate"].to_numpy().astype(float)  # what we expect, whatever --risk
    limits = Limits(budget=budget, max_producer_share=max_producer_share,
                    max_region_share=max_region_share,
                    min_category_share=dict(min_category_share or {}),
                    require=dict(require or {}), time_limit=time_limit, mip_gap=gap)
    risk_plan = None
    if _risk_quantile(risk) is not None:  # the plan's own lower tail over joint draws
        offers = replace(offers, effects_per_unit=mean_rate)
        risk_plan = Risk(offers.draws_of(np.arange(len(offers)), RISK_DRAWS),
                         _risk_quantile(risk) or 0.1)
    result = solve(offers, limits, risk_plan)
    base = greedy(offers, limits)
    inputs = {
        "budget": budget, "max_producer_share": max_producer_share,
        "max_region_share": max_region_share, "min_category_share": limits.min_category_share,
        "require": limits.require, "risk": risk, "price_change": what_if.price_change,
        "without_producers": what_if.without_producers, "offers_source": source,
        "time_limit": time_limit, "gap": gap, "on": on.isoformat(),
        "assumed_live": sorted(assume_live), "not_licensed": not_live,
        "offers": frame.select(*OFFER_COLUMNS, "region", "category", "rate_source",
                               "mean_rate").to_dicts(),
    }
    note_left_out = [
        f"{len(left_out)} offers left out: no effects_per_unit given and no use of the "
        f"product to estimate it from ({', '.join(left_out[:5])}"
        f"{', ...' if len(left_out) > 5 else ''})"] if left_out else []
    if not_live:
        note_left_out.append(
            f"{len(not_live)} offers left out: the licence they need is not live on "
            f"{on.isoformat()} ({', '.join(not_live[:5])}{', ...' if len(not_live) > 5 else ''})")
    baseline: dict[str, Any] = {
        "expected_effects": float(base.quantity @ mean_rate), "total_cost": base.total_cost,
        "breaks": violations(offers, limits, base.quantity),
    }
    solver = {"name": "HiGHS", "outcome": result.words, "gap": result.gap,
              "build_seconds": result.build_seconds, "solve_seconds": result.solve_seconds}
    if not result.status.has_plan:
        why = infeasible_reasons(offers, limits) if result.status == "infeasible" else [
            f"the solver stopped before finding any plan ({result.words}); raise the "
            "time limit"]
        return PlanResult(str(result.status), 0.0, None, None, 0.0, [], baseline, [],
                          why + note_left_out, None, None, solver, inputs, left_out,
                          outcome=result.words)
    outcome = result.words
    if not result.quantity.any():  # the best plan buys nothing: say so, and why
        outcome = ("nothing bought: " + why_nothing(offers, limits)
                   if result.status == "optimal" else
                   "nothing bought: no plan better than nothing found within "
                   f"{(result.solver and result.solver.stopped_by) or 'the limits'}; "
                   "raise the time limit")
        return PlanResult(str(result.status), 0.0, 0.0, 0.0, 0.0, [], baseline, [],
                          [outcome, *note_left_out], None, None, solver, inputs, left_out,
                          outcome=outcome)
    low, high = effects_interval(offers, result.quantity)
    expected = float(result.quantity @ mean_rate)
    lines = [
        {"product_id": str(offers.product_id[i]), "producer_id": str(offers.producer_id[i]),
         "region": str(offers.region[i]), "category": str(offers.category[i]),
         "quantity": int(result.quantity[i]),
         "cost": float(result.quantity[i] * offers.unit_price[i]),
         "expected_effects": float(result.quantity[i] * mean_rate[i]),
         "effects_per_unit": float(mean_rate[i]),
         "capacity": int(offers.capacity[i])}
        for i in np.flatnonzero(result.quantity)
    ]
    if offers_file is None:  # where each offer came from: the portal or an import
        origin = _offer_origins(store)
        for line in lines:
            line["offer_from"] = origin.get((str(line["product_id"]),
                                             str(line["producer_id"])))
    gain = expected - baseline["expected_effects"]
    more = budget_rate(offers, limits)
    explanation = [
        f"{expected:,.0f} expected effects (90%: {low:,.0f} - {high:,.0f}) for "
        f"{result.total_cost:,.0f}; the greedy rule gets {baseline['expected_effects']:,.0f} "
        f"for {base.total_cost:,.0f} ({gain:+,.0f})"
        + (" and breaks " + "; ".join(baseline["breaks"][:3]) if baseline["breaks"] else ""),
    ]
    risk_summary = None
    if risk_plan is not None and result.risk_value is not None:
        q = risk_plan.level
        totals = risk_plan.draws @ result.quantity
        at_mean = solve(offers, limits)  # the plan for the expected rates, on the same draws
        mean_tail = (None if not at_mean.status.has_plan else
                     float(np.sort(risk_plan.draws @ at_mean.quantity)[
                         :max(1, int(round(q * len(totals))))].mean()))
        risk_summary = {"level": q, "draws": len(totals), "tail_mean": result.risk_value,
                        "quantile": float(np.quantile(totals, q)),
                        "mean_plan_tail_mean": mean_tail,
                        "mean_plan_expected_effects": (at_mean.expected_effects
                                                       if at_mean.status.has_plan else None)}
        explanation.append(
            f"chosen for its own worst {q:.0%}: over {len(totals):,} draws of all the rates "
            f"at once, its worst {q:.0%} average {result.risk_value:,.0f} effects (its "
            f"{q:.0%} quantile: {np.quantile(totals, q):,.0f})"
            + (f"; the plan for the expected rates averages {mean_tail:,.0f} there"
               if mean_tail is not None else "")
            + "; the figures above are at the expected rates")
    if result.status != "optimal":
        explanation.insert(0, f"{result.words}: the best plan found before the solver "
                              "stopped, not proven the best; a longer time limit may find "
                              "a better one")
    explanation += note_left_out
    if more is not None:
        explanation.append(_more_budget(budget, more))
    return PlanResult(str(result.status), expected, low, high,
                      result.total_cost, lines, baseline, binding(offers, limits,
                                                                  result.quantity),
                      explanation, None if more is None else more.rate,
                      None if more is None or not np.isfinite(more.holds_to) else more.holds_to,
                      solver, inputs, left_out, risk_summary, outcome)


def _more_budget(budget: float, more: BudgetRate) -> str:
    """What more budget buys, quoted only over the range where the rate holds: a round step
    of about a tenth to a hundredth of the budget, or the whole range if it is shorter."""
    if more.rate < 0:
        return ("more budget lowers the expected effects: the minimum category shares grow "
                "with the budget and move money to offers that buy fewer effects "
                f"({more.rate * 1000:,.3f} per further 1,000, LP relaxation)")
    if more.rate == 0:
        return ("more budget buys nothing: the limits or the offers' capacity bind before "
                "the money runs out")
    step = 10.0 ** np.floor(np.log10(budget / 10)) if budget >= 10 else 1.0
    room = more.holds_to - budget
    tail = "(LP relaxation: the integer plan gains in whole lots)"
    if not np.isfinite(room):
        return (f"each further {step:,.0f} of budget buys about {more.rate * step:,.2f} more "
                f"expected effects, for any budget {tail}")
    if room < step:
        return (f"the next {room:,.0f} of budget buys about {more.rate * room:,.2f} more "
                f"expected effects; past a budget of {more.holds_to:,.0f} more buys less "
                f"{tail}")
    return (f"each further {step:,.0f} of budget buys about {more.rate * step:,.2f} more "
            f"expected effects, up to a budget of {more.holds_to:,.0f}; past it more buys "
            f"less {tail}")


# --- saved plans -------------------------------------------------------------------------

MAX_PLAN_NAME = 128


def check_plan_name(name: str) -> str:
    """``name`` if it can name a saved plan: 1 to 128 characters, no '/' (the server's
    address of a plan is /plans/NAME), no control character, no space at either end."""
    if (not name or len(name) > MAX_PLAN_NAME or name != name.strip() or "/" in name
            or any(ord(c) < 32 or ord(c) == 127 for c in name)):
        raise UsageError(N_("a plan's name takes 1 to %(most)s characters, with no '/', no "
                            "control character and no space at either end; not %(name)s"),
                         most=str(MAX_PLAN_NAME),
                         name=f"{name[:40]!r}{'...' if len(name) > 40 else ''}")
    return name


def save_plan(store: Store, name: str, plan: PlanResult, actor: str) -> int:
    """Keep a plan under ``name`` (one audited write); names are never overwritten."""
    check_plan_name(name)
    with store.write() as conn:
        if conn.execute(select(s.plans.c.name).where(s.plans.c.name == name)).first():
            raise ConflictError(N_("a plan named %(name)s already exists; choose another name"),
                                name=repr(name))
        event_id = audit.next_event_id(conn)
        result = {k: v for k, v in plan.to_dict().items() if k != "inputs"}
        conn.execute(s.plans.insert(), {
            "name": name, "kind": "allocation",
            "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "actor": actor, "inputs": json.dumps(json_safe(plan.inputs), allow_nan=False),
            "result": json.dumps(json_safe(result), allow_nan=False), "event_id": event_id})
        audit.append(conn, event_id, actor=actor, action="save_plan", table_name="plans",
                     rows_added=1, detail={"name": name, "status": plan.status,
                                           "expected_effects": plan.expected_effects,
                                           "digests": {"plans": audit.plans_digest(conn)
                                                       .to_dict()}})
    return event_id


@dataclass
class PlanList(Tabular):
    rows: list[dict[str, Any]]
    rows_key = "plans"


def list_plans(store: Store) -> PlanList:
    with store.read() as conn:
        stored = conn.execute(select(s.plans).order_by(s.plans.c.created_at)).all()
    rows = []
    for r in stored:
        result, inputs = json.loads(r.result), json.loads(r.inputs)
        rows.append({"name": r.name, "created_at": r.created_at, "actor": r.actor,
                     "status": result["status"], "budget": inputs["budget"],
                     "expected_effects": result["expected_effects"],
                     "total_cost": result["total_cost"], "event_id": r.event_id})
    return PlanList(rows)


def show_plan(store: Store, name: str) -> dict[str, Any]:
    with store.read() as conn:
        r = conn.execute(select(s.plans).where(s.plans.c.name == name)).first()
    if r is None:
        raise NotFoundError(N_("no plan named %(name)s; the list of plans shows the saved ones"),
                            name=repr(name))
    return {"name": r.name, "created_at": r.created_at, "actor": r.actor,
            "event_id": r.event_id, "inputs": json.loads(r.inputs), **json.loads(r.result)}


def diff_plans(store: Store, a: str, b: str) -> dict[str, Any]:
    """What changed from plan ``a`` to plan ``b``: inputs, totals, and each line."""
    pa, pb = show_plan(store, a), show_plan(store, b)
    skip = {"offers"}
    inputs = {k: {"from": pa["inputs"].get(k), "to": pb["inputs"].get(k)}
              for k in sorted(set(pa["inputs"]) | set(pb["inputs"]))
              if k not in skip and pa["inputs"].get(k) != pb["inputs"].get(k)}

    def by_key(plan: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
        return {(x["product_id"], x["producer_id"]): x for x in plan["lines"]}

    la, lb = by_key(pa), by_key(pb)
    lines = []
    for key in sorted(set(la) | set(lb)):
        qa = la.get(key, {}).get("quantity", 0)
        qb = lb.get(key, {}).get("quantity", 0)
        if qa != qb:
            lines.append({"product_id": key[0], "producer_id": key[1], "quantity_from": qa,
                          "quantity_to": qb, "change": qb - qa})
    return {
        "from": a, "to": b, "inputs": inputs, "lines": lines,
        "expected_effects": {"from": pa["expected_effects"], "to": pb["expected_effects"]},
        "total_cost": {"from": pa["total_cost"], "to": pb["total_cost"]},
    }
