"""`kuznia plan`: the allocation planner and saved plans."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

import kuznia
from kuznia.cli.common import (
    ActorOption,
    DbOption,
    JsonOption,
    count,
    day,
    handles_errors,
    help_with,
    helps,
    money,
    num,
    out,
    print_json,
)
from kuznia.errors import UsageError
from kuznia.i18n import N_, _
from kuznia.sentences import say_sentence
from kuznia.words import say

if TYPE_CHECKING:
    from kuznia.services import planning

app = typer.Typer(help=N_("Split a budget over offers for the most confirmed effects."),
                  no_args_is_help=True)


@app.command()
@handles_errors
@helps(N_("Find the plan with the most expected effects within every limit."))
def allocate(
    budget: Annotated[float, typer.Option(help=N_("Money to spend, in the workspace currency."))],
    offers: Annotated[Path | None, typer.Option(
        help=N_("Offers file (CSV/XLSX, the offers import format). Default: the offers table."))
    ] = None,
    max_producer_share: Annotated[str | None, typer.Option(
        help=N_("No offer may exceed this share of its product's units (0.4 or 40%)."))] = None,
    max_region_share: Annotated[str | None, typer.Option(
        help=N_("No region (by the producer's) may take more than this share of the spend."))
    ] = None,
    min_category_share: Annotated[list[str] | None, typer.Option(
        help=N_("CATEGORY=SHARE: at least this share of the budget to a category (repeatable)."))
    ] = None,
    require: Annotated[list[str] | None, typer.Option(
        help=N_("PRODUCT=UNITS: buy at least this many (repeatable)."))] = None,
    risk: Annotated[str, typer.Option(
        help=N_("Rates from the uses at their mean, or a lower quantile such as q10."))] = "mean",
    price_change: Annotated[list[str] | None, typer.Option(
        help=help_with(N_(
            "What if: PRODUCT=+20%% changes its offers' prices (repeatable).")))] = None,
    without_producer: Annotated[list[str] | None, typer.Option(
        help=N_("What if: leave this producer's offers out (repeatable)."))] = None,
    time_limit: Annotated[float, typer.Option(help=N_("Solver time limit, seconds."))] = 60.0,
    gap: Annotated[float, typer.Option(help=N_("Relative optimality gap to stop at."))] = 1e-3,
    save: Annotated[str | None, typer.Option(help=N_("Keep the plan under this name."))] = None,
    db: DbOption = None,
    actor: ActorOption = None,
    json: JsonOption = False,
) -> None:
    from kuznia.services import planning

    shares = planning.parse_pairs(min_category_share or [], "--min-category-share")
    needs = planning.parse_pairs(require or [], "--require")
    try:
        required = {k: int(v) for k, v in needs.items()}
    except ValueError:
        raise UsageError(N_("--require takes PRODUCT=UNITS with a whole number")) from None
    what_if = planning.WhatIf(
        price_change={k: planning.parse_change(v, "--price-change")
                      for k, v in planning.parse_pairs(price_change or [],
                                                       "--price-change").items()},
        without_producers=list(without_producer or []))
    if save is not None:  # before the solve, not after it
        from kuznia.services import planning as planning_svc

        planning_svc.check_plan_name(save)
    with kuznia.open(db, actor) as ws:
        plan = ws.allocate(
            budget, offers_file=offers,
            max_producer_share=None if max_producer_share is None
            else planning.parse_share(max_producer_share, "--max-producer-share"),
            max_region_share=None if max_region_share is None
            else planning.parse_share(max_region_share, "--max-region-share"),
            min_category_share={k: planning.parse_share(v, "--min-category-share")
                                for k, v in shares.items()},
            require=required, risk=risk, what_if=what_if, time_limit=time_limit, gap=gap)
        if save:
            ws.save_plan(save, plan)
    if json:
        print_json(plan.to_dict())
    else:
        _render(plan, save)
    if plan.status not in ("optimal", "feasible"):
        raise typer.Exit(1)


def _render(plan: planning.PlanResult, saved: str | None) -> None:
    words = say(plan.words) if plan.words == plan.status else say_sentence(plan.words)
    if plan.rows:
        t = Table(_("product"), _("producer"), _("region"), _("quantity"), _("capacity"),
                  _("cost"), _("expected effects"), title=_("plan: %(outcome)s",
                                                           outcome=words))
        for r in plan.rows:
            t.add_row(r["product_id"], r["producer_id"], r["region"], count(r["quantity"]),
                      count(r["capacity"]), money(r["cost"]), num(r["expected_effects"], 1))
        out.print(t)
        out.print(_("total: %(effects)s expected effects (90%%: %(low)s - %(high)s) for "
                    "%(cost)s", effects=num(plan.expected_effects),
                    low=num(plan.expected_effects_low), high=num(plan.expected_effects_high),
                    cost=money(plan.total_cost)))
        out.print(_("greedy rule: %(effects)s for %(cost)s",
                    effects=num(plan.baseline["expected_effects"]),
                    cost=money(plan.baseline["total_cost"])))
    elif plan.status in ("optimal", "feasible"):  # the best plan buys nothing: said first
        out.print(words if plan.words.startswith("nothing bought")
                  else _("nothing bought (%(outcome)s)", outcome=words))
    else:
        out.print(_("no plan: %(outcome)s", outcome=words))
    for line in plan.explanation:
        if line == plan.words:
            continue
        out.print(f"* {say_sentence(line)}")
    for line in plan.binding:
        out.print(_("- binds: %(limit)s", limit=say_sentence(line)))
    if saved:
        out.print(_("saved as %(name)s", name=repr(saved)))


@app.command("list")
@handles_errors
@helps(N_("Saved plans, oldest first."))
def list_(db: DbOption = None, json: JsonOption = False) -> None:
    with kuznia.open(db) as ws:
        plans = ws.plans()
    if json:
        print_json(plans.to_dict())
        return
    t = Table(_("name"), _("created"), _("by"), _("outcome"), _("budget"),
              _("expected effects"), _("cost"))
    for p in plans.rows:
        t.add_row(p["name"], day(p["created_at"]), p["actor"], say(p["status"]),
                  money(p["budget"]), num(p["expected_effects"]), money(p["total_cost"]))
    out.print(t)


@app.command()
@handles_errors
@helps(N_("A saved plan with the inputs it was made from."))
def show(name: Annotated[str, typer.Argument(help=N_("A saved plan."))],
         db: DbOption = None, json: JsonOption = False) -> None:
    from kuznia.services import planning

    with kuznia.open(db) as ws:
        plan = ws.plan(name)
    if json:
        print_json(plan)
        return
    inputs = {k: v for k, v in plan["inputs"].items() if k != "offers" and v not in (None, {}, [])}
    out.print(_("%(name)s: %(outcome)s, saved %(at)s by %(who)s (audit event %(event)s)",
                name=plan["name"], outcome=say(plan["status"]),
                at=day(plan["created_at"]), who=plan["actor"], event=plan["event_id"]))
    out.print(_("inputs (as given): %(inputs)s", inputs=inputs))
    _render(planning.PlanResult(**{k: plan[k] for k in (
        "status", "expected_effects", "expected_effects_low", "expected_effects_high",
        "total_cost", "baseline", "binding", "explanation",
        "marginal_effects_per_unit_budget", "solver")}, rows=plan["lines"],
        inputs=plan["inputs"], left_out=plan.get("left_out", []),
        # plans saved before the rate's range was kept have none
        marginal_rate_holds_to_budget=plan.get("marginal_rate_holds_to_budget"),
        risk=plan.get("risk"), outcome=plan.get("outcome", "")), None)


@app.command()
@handles_errors
@helps(N_("What changed between two saved plans: inputs, totals, lines."))
def diff(a: Annotated[str, typer.Argument(help=N_("The earlier plan."))],
         b: Annotated[str, typer.Argument(help=N_("The later plan."))],
         db: DbOption = None, json: JsonOption = False) -> None:
    with kuznia.open(db) as ws:
        d = ws.plan_diff(a, b)
    if json:
        print_json(d)
        return
    for k, v in d["inputs"].items():
        before, after = ((_offers_from(v["from"]), _offers_from(v["to"]))
                         if k == "offers_source" else (v["from"], v["to"]))
        out.print(_("input %(input)s: %(before)s -> %(after)s", input=k, before=before,
                    after=after))
    e, c = d["expected_effects"], d["total_cost"]
    out.print(_("expected effects: %(before)s -> %(after)s; cost: %(cost_before)s -> "
                "%(cost_after)s", before=num(e["from"]), after=num(e["to"]),
                cost_before=money(c["from"]), cost_after=money(c["to"])))
    t = Table(_("product"), _("producer"), a, b, _("change"))
    for r in d["lines"]:
        t.add_row(r["product_id"], r["producer_id"], count(r["quantity_from"]),
                  count(r["quantity_to"]),
                  ("+" if r["change"] > 0 else "") + count(r["change"]))
    out.print(t)


def _offers_from(source: object) -> object:
    """Where a plan's offers came from (its ``offers_source`` input), in words."""
    if isinstance(source, dict) and "file" in source:
        return _("the file %(file)s", file=source["file"])
    if isinstance(source, dict) and "table" in source:
        return _("the offers stored in the workspace")
    return source
