"""`kuznia resilience` (strikes, lost output, duplicate lines) and `kuznia repairs`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer
from rich.table import Table

import kuznia
from kuznia.cli.common import (
    DbOption,
    JsonOption,
    handles_errors,
    import_progress,
    money,
    out,
    parse_date,
    print_json,
)
from kuznia.errors import UsageError

app = typer.Typer(help="How exposed output is to strikes, and where to duplicate lines.",
                  no_args_is_help=True)
repairs_app = typer.Typer(help="Repair damaged items at home rather than abroad.",
                          no_args_is_help=True)

Months = Annotated[int, typer.Option(help="Horizon in months.")]
Seed = Annotated[int, typer.Option(help="Random seed: the same seed, the same scenarios.")]
Start = Annotated[str | None, typer.Option(help="First month (any day in it); default today.")]
History = Annotated[bool, typer.Option("--from-history", help=(
    "Estimate the regions' figures from the strikes table instead of the regions table."))]
HistoryFrom = Annotated[str | None, typer.Option("--history-from", help=(
    "First day the strikes history covers (strikes were recorded from then on); default "
    "the workspace's first record, its earliest use or strike."))]
Spill = Annotated[float, typer.Option(help=(
    "Chance that a strike in a region also reaches each neighbour that month (0: none)."))]
Workers = Annotated[int, typer.Option(help="Processes to use (2 uses both cores).")]


def _fmt(x: float | None, digits: int = 0) -> str:
    return "-" if x is None else f"{x:,.{digits}f}"


@app.command()
@handles_errors
def simulate(
    months: Months = 12,
    scenarios: Annotated[int, typer.Option(help="Scenarios to simulate.")] = 10_000,
    seed: Seed = 0,
    start: Start = None,
    from_history: History = False,
    history_from: HistoryFrom = None,
    spillover: Spill = 0.0,
    workers: Workers = 1,
    db: DbOption = None,
    json: JsonOption = False,
) -> None:
    """Output per product under random strikes: expected, P10/P50/P90, shortfall; TTR/TTS
    per site; concentration by region (HHI). Each region is struck in a month with its
    probability, independently of other months and regions; with --from-history the
    probabilities come from the strikes on or before --start."""
    with kuznia.open(db) as ws, import_progress("scenarios", disable=json) as bar:
        res = ws.resilience(months, scenarios, seed, start=parse_date(start, "--start"),
                            from_history=from_history, spillover=spillover, workers=workers,
                            history_from=parse_date(history_from, "--history-from"),
                            progress=bar)
    if json:
        print_json(res.to_dict())
        return
    t = Table("product", "sites", "capacity/mo", "expected output", "P10-P90", "demand/mo",
              "stock", "exp. shortfall (90%)", "P(meet all months)", "HHI")
    for p in res.products:
        short = ("-" if p["expected_shortfall"] is None else
                 f"{p['expected_shortfall']:,.0f} ({p['expected_shortfall_low']:,.0f}-"
                 f"{p['expected_shortfall_high']:,.0f})")
        t.add_row(p["product_id"], str(p["sites"]), _fmt(p["monthly_capacity"]),
                  _fmt(p["expected_output"]), f"{p['output_p10']:,.0f}-{p['output_p90']:,.0f}",
                  _fmt(p["monthly_demand"]), _fmt(p["stock"]), short,
                  _fmt(p["p_meet_demand_every_month"], 3), _fmt(p["hhi"], 2))
    out.print(t)
    exposed = [s for s in res.sites if s["exposed"]]
    out.print(f"{len(exposed)} of {len(res.sites)} sites recover more slowly than the rest "
              "of their product's network can cover (TTS < TTR; a closed site never "
              "recovers, so it counts wherever its product has demand):")
    t = Table("site", "product", "producer", "region", "TTR months", "TTS months",
              "P(hit in horizon)")
    def gap(s: dict[str, Any]) -> float:
        ttr = np.inf if s["ttr_months"] is None else s["ttr_months"]
        tts = np.inf if s["tts_unlimited"] else (s["tts_months"] or 0.0)
        return float(tts - ttr) if np.isfinite(ttr) else -np.inf

    for s in sorted(exposed, key=gap)[:20]:
        t.add_row(s["site_id"], s["product_id"], s["producer_id"], s["region"],
                  "never" if s["ttr_months"] is None else str(s["ttr_months"]),
                  "unlimited" if s["tts_unlimited"] else _fmt(s["tts_months"], 2),
                  f"{s['p_hit_in_horizon']:.2f}")
    out.print(t)
    out.print(f"{res.scenarios:,} scenarios, seed {res.seed}, from {res.start}, "
              f"figures from the {res.figures_from}"
              + ("" if not res.history else
                 f" of {res.history['observed_from']} to {res.history['observed_to']} (from "
                 + ("--history-from" if res.history["history_from"] == "stated"
                    else "the workspace's first record") + ")"))


def _weights(items: list[str] | None) -> dict[str, float]:
    got = {}
    for item in items or []:
        product, _, value = item.partition("=")
        try:
            got[product.strip()] = float(value)
        except ValueError:
            raise UsageError(f"--weight takes PRODUCT=NUMBER, not {item!r}") from None
    return got


@app.command()
@handles_errors
def duplicate(
    candidates: Annotated[Path, typer.Option(help=(
        "Candidate lines: candidate_id, product_id, producer_id, region, monthly_capacity, "
        "cost."))],
    budget: Annotated[float, typer.Option(help="Money for new lines.")],
    months: Months = 12,
    scenarios: Annotated[int, typer.Option(help="Fresh scenarios to judge the choice on.")
                         ] = 2_000,
    saa_scenarios: Annotated[int, typer.Option(help="Scenarios the MILP chooses on.")] = 300,
    seed: Seed = 0,
    weight: Annotated[list[str] | None, typer.Option(help=(
        "PRODUCT=W: weight of a product's shortfall (default 1); repeat."))] = None,
    start: Start = None,
    from_history: History = False,
    history_from: HistoryFrom = None,
    spillover: Spill = 0.0,
    workers: Workers = 1,
    time_limit: Annotated[float, typer.Option(help="Seconds for the solver.")] = 120.0,
    db: DbOption = None,
    json: JsonOption = False,
) -> None:
    """Choose duplicate lines within a budget to cut expected shortfall most (SAA MILP)."""
    with kuznia.open(db) as ws:
        d = ws.duplicate(candidates, budget, months=months, scenarios=scenarios,
                         saa_scenarios=saa_scenarios, seed=seed, weights=_weights(weight),
                         start=parse_date(start, "--start"), from_history=from_history,
                         history_from=parse_date(history_from, "--history-from"),
                         spillover=spillover, workers=workers, time_limit=time_limit)
    if json:
        print_json(d.to_dict())
        return
    out.print(f"chosen: {', '.join(d.chosen) or 'nothing'} for {money(d.cost)} of "
              f"{money(d.budget)} ({d.solver})")
    t = Table("", "expected shortfall", "90% interval")
    for name, (m, lo, hi) in (("before", d.before), ("after", d.after),
                              ("greedy rule, after", d.greedy_after),
                              ("reduction", d.reduction)):
        t.add_row(name, f"{m:,.0f}", f"{lo:,.0f}-{hi:,.0f}")
    out.print(t)
    out.print(f"greedy rule (most shortfall cut per unit of money first) picks "
              f"{', '.join(d.greedy) or 'nothing'} for {money(d.greedy_cost)}; judged on "
              f"{d.scenarios:,} fresh scenarios, chosen on {d.saa_scenarios:,}")


@app.command()
@handles_errors
def regions(
    as_of: Annotated[str | None, typer.Option("--as-of", help=(
        "End of the history: only strikes on or before it count; today."))] = None,
    history_from: HistoryFrom = None,
    db: DbOption = None,
    json: JsonOption = False,
) -> None:
    """Each region's strike figures estimated from the strikes history, with intervals.

    The monthly strike probability is the share of the history's calendar months with a
    strike (Jeffreys posterior mean, 90% interval), assuming months and regions independent
    and the rate steady over the history."""
    with kuznia.open(db) as ws:
        rows = ws.regions(parse_date(as_of, "--as-of"),
                          parse_date(history_from, "--history-from"))
    if json:
        print_json({"regions": rows})
        return
    if not rows:
        out.print("no uses or strikes recorded on or before that day: no history to "
                  "estimate from")
        return
    out.print(f"history {rows[0]['observed_from']} to {rows[0]['observed_to']} (from "
              + ("--history-from" if rows[0]["history_from"] == "stated"
                 else "the workspace's first record") + ")")
    t = Table("region", "sites", "strikes", "months struck / observed", "P(strike)/month",
              "90% interval", "site hit", "damage", "repair months")
    for r in rows:
        t.add_row(r["region"], str(r["sites"]), str(r["strikes"]),
                  f"{r['months_struck']} / {r['months_observed']}",
                  f"{r['monthly_strike_probability']:.3f}",
                  f"{r['monthly_strike_probability_low']:.3f}-"
                  f"{r['monthly_strike_probability_high']:.3f}",
                  f"{r['site_hit_probability']:.2f}", f"{r['damage_fraction']:.2f}",
                  str(r["repair_months"]))
    out.print(t)


@repairs_app.command("plan")
@handles_errors
def repairs_plan(
    backlog: Annotated[Path, typer.Option(help="item_id, product_id, region, damaged_on.")],
    repair_points: Annotated[Path, typer.Option(help=(
        "point_id, region, product_id, monthly_capacity, repair_days, from_region, "
        "transit_days; region 'abroad' marks a point abroad."))],
    as_of: Annotated[str | None, typer.Option("--as-of", help="Planning day; today.")] = None,
    db: DbOption = None,
    json: JsonOption = False,
) -> None:
    """Assign damaged items to repair points to get them back in service soonest."""
    with kuznia.open(db) as ws:
        r = ws.repairs_plan(backlog, repair_points, parse_date(as_of, "--as-of"))
    if json:
        print_json(r.to_dict())
        return
    t = Table("point", "product", "region", "capacity/mo", "items")
    for p in r.points:
        t.add_row(p["point_id"], p["product_id"], p["region"], _fmt(p["monthly_capacity"]),
                  str(p["items"]))
    out.print(t)
    out.print(f"{r.placed:,} of {r.items:,} items placed: mean {_fmt(r.mean_days, 1)} days "
              f"until back in service, backlog clear in {_fmt(r.clear_days)} days ({r.status})")
    if r.abroad_mean_days is not None:
        out.print(f"everything abroad: mean {_fmt(r.abroad_mean_days, 1)} days, clear in "
                  f"{_fmt(r.abroad_clear_days)} days")
    if r.abroad_note:
        out.print(r.abroad_note)
    for x in r.excluded:
        out.print(f"left out: repair point {x['point_id']} for {x['product_id']} "
                  f"({x['reason']})")
    for u in r.unreachable:
        out.print(f"no repair point reachable for {u['items']} {u['product_id']} "
                  f"in {u['region']} ({', '.join(u['item_ids'])}): not placed, not in the "
                  "figures", style="red")
