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
    count,
    day,
    handles_errors,
    helps,
    import_progress,
    money,
    num,
    out,
    parse_date,
    print_json,
)
from kuznia.errors import UsageError
from kuznia.i18n import N_, _, ngettext
from kuznia.sentences import say_sentence

app = typer.Typer(help=N_("How exposed output is to strikes, and where to duplicate lines."),
                  no_args_is_help=True)
repairs_app = typer.Typer(help=N_("Repair damaged items at home rather than abroad."),
                          no_args_is_help=True)

Months = Annotated[int, typer.Option(help=N_("Horizon in months."))]
Seed = Annotated[int, typer.Option(help=N_("Random seed: the same seed, the same scenarios."))]
Start = Annotated[str | None, typer.Option(help=N_("First month (any day in it); default today."))]
History = Annotated[bool, typer.Option("--from-history", help=N_(
    "Estimate the regions' figures from the strikes table instead of the regions table."))]
HistoryFrom = Annotated[str | None, typer.Option("--history-from", help=N_(
    "First day the strikes history covers (strikes were recorded from then on); default "
    "the workspace's first record, its earliest use or strike."))]
Spill = Annotated[float, typer.Option(help=N_(
    "Chance that a strike in a region also reaches each neighbour that month (0: none)."))]
Workers = Annotated[int, typer.Option(help=N_("Processes to use (2 uses both cores)."))]


def _fmt(x: float | None, digits: int = 0) -> str:
    return num(x, digits)


def _month(value: object) -> str:
    """A month (YYYY-MM) or a day, as a person reads it in the language."""
    import datetime as dt

    from kuznia import i18n

    text = str(value)
    if len(text) == 7:
        try:
            return i18n.month(dt.date.fromisoformat(text + "-01"))
        except ValueError:
            return text
    return day(text)


@app.command()
@handles_errors
@helps(N_(
    "Output per product under random strikes: expected, P10/P50/P90, shortfall; TTR/TTS\n"
    "per site; concentration by region (HHI). Each region is struck in a month with its\n"
    "probability, independently of other months and regions; with --from-history the\n"
    "probabilities come from the strikes on or before --start."))
def simulate(
    months: Months = 12,
    scenarios: Annotated[int, typer.Option(help=N_("Scenarios to simulate."))] = 10_000,
    seed: Seed = 0,
    start: Start = None,
    from_history: History = False,
    history_from: HistoryFrom = None,
    spillover: Spill = 0.0,
    workers: Workers = 1,
    db: DbOption = None,
    json: JsonOption = False,
) -> None:
    with kuznia.open(db) as ws, import_progress(_("scenarios"), disable=json) as bar:
        res = ws.resilience(months, scenarios, seed, start=parse_date(start, "--start"),
                            from_history=from_history, spillover=spillover, workers=workers,
                            history_from=parse_date(history_from, "--history-from"),
                            progress=bar)
    if json:
        print_json(res.to_dict())
        return
    t = Table(_("product"), _("sites"), _("capacity a month"), _("expected output"),
              "P10-P90", _("demand a month"), _("stock"), _("expected shortfall (90%)"),
              _("chance of meeting every month"), "HHI")
    for p in res.products:
        short = ("-" if p["expected_shortfall"] is None else
                 f"{_fmt(p['expected_shortfall'])} ({_fmt(p['expected_shortfall_low'])}-"
                 f"{_fmt(p['expected_shortfall_high'])})")
        t.add_row(p["product_id"], count(p["sites"]), _fmt(p["monthly_capacity"]),
                  _fmt(p["expected_output"]),
                  f"{_fmt(p['output_p10'])}-{_fmt(p['output_p90'])}",
                  _fmt(p["monthly_demand"]), _fmt(p["stock"]), short,
                  _fmt(p["p_meet_demand_every_month"], 3), _fmt(p["hhi"], 2))
    out.print(t)
    exposed = [s for s in res.sites if s["exposed"]]
    out.print(ngettext("%(num)s of %(sites)s site recovers more slowly than the rest of its "
                       "product's network can cover (TTS < TTR; a closed site never "
                       "recovers, so it counts wherever its product has demand):",
                       "%(num)s of %(sites)s sites recover more slowly than the rest of "
                       "their product's network can cover (TTS < TTR; a closed site never "
                       "recovers, so it counts wherever its product has demand):",
                       len(res.sites), num=count(len(exposed)), sites=count(len(res.sites))))
    t = Table(_("site"), _("product"), _("producer"), _("region"), _("TTR, months"),
              _("TTS, months"), _("chance of a hit in the horizon"))
    def gap(s: dict[str, Any]) -> float:
        ttr = np.inf if s["ttr_months"] is None else s["ttr_months"]
        tts = np.inf if s["tts_unlimited"] else (s["tts_months"] or 0.0)
        return float(tts - ttr) if np.isfinite(ttr) else -np.inf

    for s in sorted(exposed, key=gap)[:20]:
        t.add_row(s["site_id"], s["product_id"], s["producer_id"], s["region"],
                  _("never") if s["ttr_months"] is None else count(s["ttr_months"]),
                  _("unlimited") if s["tts_unlimited"] else _fmt(s["tts_months"], 2),
                  _fmt(s["p_hit_in_horizon"], 2))
    out.print(t)
    said = ngettext("%(num)s scenario, seed %(seed)s, from %(start)s, figures from the "
                    "%(source)s", "%(num)s scenarios, seed %(seed)s, from %(start)s, figures "
                    "from the %(source)s", res.scenarios, num=count(res.scenarios),
                    seed=str(res.seed), start=_month(res.start),
                    source=say_sentence(res.figures_from))
    if res.history:
        said += _history(res.history)
    out.print(said)


def _history(h: dict[str, Any]) -> str:
    """Where a strikes history runs, and from where its start was taken."""
    if h["history_from"] == "stated":
        return _(" of %(first)s to %(last)s (from --history-from)",
                 first=_month(h["observed_from"]), last=_month(h["observed_to"]))
    return _(" of %(first)s to %(last)s (from the workspace's first record)",
             first=_month(h["observed_from"]), last=_month(h["observed_to"]))


def _weights(items: list[str] | None) -> dict[str, float]:
    got = {}
    for item in items or []:
        product, _, value = item.partition("=")
        try:
            got[product.strip()] = float(value)
        except ValueError:
            raise UsageError(N_("--weight takes PRODUCT=NUMBER, not %(item)s"),
                             item=repr(item)) from None
    return got


@app.command()
@handles_errors
@helps(N_("Choose duplicate lines within a budget to cut expected shortfall most (SAA MILP)."))
def duplicate(
    candidates: Annotated[Path, typer.Option(help=N_(
        "Candidate lines: candidate_id, product_id, producer_id, region, monthly_capacity, "
        "cost."))],
    budget: Annotated[float, typer.Option(help=N_("Money for new lines."))],
    months: Months = 12,
    scenarios: Annotated[int, typer.Option(help=N_("Fresh scenarios to judge the choice on."))
                         ] = 2_000,
    saa_scenarios: Annotated[int, typer.Option(help=N_("Scenarios the MILP chooses on."))] = 300,
    seed: Seed = 0,
    weight: Annotated[list[str] | None, typer.Option(help=N_(
        "PRODUCT=W: weight of a product's shortfall (default 1); repeat."))] = None,
    start: Start = None,
    from_history: History = False,
    history_from: HistoryFrom = None,
    spillover: Spill = 0.0,
    workers: Workers = 1,
    time_limit: Annotated[float, typer.Option(help=N_("Seconds for the solver."))] = 120.0,
    db: DbOption = None,
    json: JsonOption = False,
) -> None:
    with kuznia.open(db) as ws:
        d = ws.duplicate(candidates, budget, months=months, scenarios=scenarios,
                         saa_scenarios=saa_scenarios, seed=seed, weights=_weights(weight),
                         start=parse_date(start, "--start"), from_history=from_history,
                         history_from=parse_date(history_from, "--history-from"),
                         spillover=spillover, workers=workers, time_limit=time_limit)
    if json:
        print_json(d.to_dict())
        return
    out.print(_("chosen: %(lines)s for %(cost)s of %(budget)s (%(outcome)s)",
                lines=", ".join(d.chosen) or _("nothing"), cost=money(d.cost),
                budget=money(d.budget), outcome=_solver_words(d.solver)))
    t = Table("", _("expected shortfall"), _("%(level)s interval", level="90%"))
    for name, (m, lo, hi) in ((_("before"), d.before), (_("after"), d.after),
                              (_("greedy rule, after"), d.greedy_after),
                              (_("reduction"), d.reduction)):
        t.add_row(name, _fmt(m), f"{_fmt(lo)}-{_fmt(hi)}")
    out.print(t)
    out.print(ngettext("greedy rule (most shortfall cut per unit of money first) picks "
                       "%(lines)s for %(cost)s; judged on %(num)s fresh scenario, chosen on "
                       "%(saa)s", "greedy rule (most shortfall cut per unit of money first) "
                       "picks %(lines)s for %(cost)s; judged on %(num)s fresh scenarios, "
                       "chosen on %(saa)s", d.scenarios, num=count(d.scenarios),
                       lines=", ".join(d.greedy) or _("nothing"), cost=money(d.greedy_cost),
                       saa=count(d.saa_scenarios)))


def _solver_words(words: str) -> str:
    from kuznia.words import LABELS, say

    return say(words) if words in LABELS else say_sentence(words)


@app.command()
@handles_errors
@helps(N_(
    "Each region's strike figures estimated from the strikes history, with intervals.\n"
    "\n"
    "The monthly strike probability is the share of the history's calendar months with a\n"
    "strike (Jeffreys posterior mean, 90%% interval), assuming months and regions independent\n"
    "and the rate steady over the history."))
def regions(
    as_of: Annotated[str | None, typer.Option("--as-of", help=N_(
        "End of the history: only strikes on or before it count; today."))] = None,
    history_from: HistoryFrom = None,
    db: DbOption = None,
    json: JsonOption = False,
) -> None:
    with kuznia.open(db) as ws:
        rows = ws.regions(parse_date(as_of, "--as-of"),
                          parse_date(history_from, "--history-from"))
    if json:
        print_json({"regions": rows})
        return
    if not rows:
        out.print(_("no uses or strikes recorded on or before that day: no history to "
                    "estimate from"))
        return
    h = rows[0]
    if h["history_from"] == "stated":
        out.print(_("history %(first)s to %(last)s (from --history-from)",
                    first=_month(h["observed_from"]), last=_month(h["observed_to"])))
    else:
        out.print(_("history %(first)s to %(last)s (from the workspace's first record)",
                    first=_month(h["observed_from"]), last=_month(h["observed_to"])))
    t = Table(_("region"), _("sites"), _("strikes"), _("months struck / observed"),
              _("chance of a strike a month"), _("%(level)s interval", level="90%"), _("site hit"),
              _("damage"), _("repair months"))
    for r in rows:
        t.add_row(r["region"], count(r["sites"]), count(r["strikes"]),
                  f"{count(r['months_struck'])} / {count(r['months_observed'])}",
                  _fmt(r["monthly_strike_probability"], 3),
                  f"{_fmt(r['monthly_strike_probability_low'], 3)}-"
                  f"{_fmt(r['monthly_strike_probability_high'], 3)}",
                  _fmt(r["site_hit_probability"], 2), _fmt(r["damage_fraction"], 2),
                  count(r["repair_months"]))
    out.print(t)


@repairs_app.command("plan")
@handles_errors
@helps(N_("Assign damaged items to repair points to get them back in service soonest."))
def repairs_plan(
    backlog: Annotated[Path, typer.Option(help=N_("item_id, product_id, region, damaged_on."))],
    repair_points: Annotated[Path, typer.Option(help=N_(
        "point_id, region, product_id, monthly_capacity, repair_days, from_region, "
        "transit_days; region 'abroad' marks a point abroad."))],
    as_of: Annotated[str | None, typer.Option("--as-of", help=N_("Planning day; today."))] = None,
    db: DbOption = None,
    json: JsonOption = False,
) -> None:
    with kuznia.open(db) as ws:
        r = ws.repairs_plan(backlog, repair_points, parse_date(as_of, "--as-of"))
    if json:
        print_json(r.to_dict())
        return
    t = Table(_("repair point"), _("product"), _("region"), _("capacity a month"),
              _("items"))
    for p in r.points:
        t.add_row(p["point_id"], p["product_id"], p["region"], _fmt(p["monthly_capacity"]),
                  count(p["items"]))
    out.print(t)
    out.print(ngettext("%(placed)s of %(num)s item placed: on average %(mean)s days until "
                       "back in service, backlog clear in %(clear)s days (%(outcome)s)",
                       "%(placed)s of %(num)s items placed: on average %(mean)s days until "
                       "back in service, backlog clear in %(clear)s days (%(outcome)s)",
                       r.items, num=count(r.items), placed=count(r.placed),
                       mean=_fmt(r.mean_days, 1), clear=_fmt(r.clear_days),
                       outcome=_solver_words(r.status)))
    if r.abroad_mean_days is not None:
        out.print(_("everything abroad: on average %(mean)s days, clear in %(clear)s days",
                    mean=_fmt(r.abroad_mean_days, 1), clear=_fmt(r.abroad_clear_days)))
    if r.abroad_note:
        out.print(say_sentence(r.abroad_note))
    for x in r.excluded:
        out.print(_("left out: repair point %(point)s for %(product)s (%(reason)s)",
                    point=x["point_id"], product=x["product_id"],
                    reason=say_sentence(x["reason"])))
    for u in r.unreachable:
        out.print(ngettext("no repair point reachable for %(num)s %(product)s in %(region)s "
                           "(%(items)s): not placed, not in the figures",
                           "no repair point reachable for %(num)s %(product)s in %(region)s "
                           "(%(items)s): not placed, not in the figures",
                           u["items"], num=count(u["items"]), product=u["product_id"],
                           region=u["region"], items=", ".join(u["item_ids"])), style="red")
