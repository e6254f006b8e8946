"""`kuznia licences`: the licence pipeline, and what each pending licence would unlock."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

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
    num,
    out,
    parse_date,
    print_json,
)
from kuznia.i18n import N_, _, ngettext
from kuznia.sentences import say_sentence
from kuznia.words import say

app = typer.Typer(help=N_("Licences asked of partners: where each waits, and what it unlocks."),
                  invoke_without_command=True)

OnOption = Annotated[str | None, typer.Option(
    "--as-of", help=N_("The day the licences are judged on (live, expired, days waiting); "
                       "today."))]


@app.callback()
@handles_errors
def licences(
    ctx: typer.Context,
    status: Annotated[str | None, typer.Option(help=N_(
        "Only licences in this state: requested, in_review, granted, expired, denied, "
        "revoked (expired: granted, past its expires_on)."))] = None,
    as_of: OnOption = None,
    db: DbOption = None,
    json: JsonOption = False,
) -> None:
    """Each licence with its state, current stage, days waiting, and what it names."""
    if ctx.invoked_subcommand is not None:
        return
    from kuznia.services.licences import list_licences

    with kuznia.open(db) as ws:
        found = list_licences(ws.store, status=status, on=parse_date(as_of, "--as-of"))
    if json:
        print_json(found.to_dict())
        return
    t = Table(_("licence"), _("partner"), _("for"), _("product"), _("producers"), _("state"),
              _("stage"), _("days in stage"), _("days waiting"))
    for r in found:
        t.add_row(r["licence_id"], r["partner_name"], say(r["kind"]),
                  r["product_id"], ", ".join(r["producers"]), say(r["state"]),
                  r["stage"] or "-", num(r["days_in_stage"]), num(r["days_waiting"]))
    out.print(t)
    out.print(ngettext("%(num)s licence on %(day)s", "%(num)s licences on %(day)s",
                       len(found.rows), num=count(len(found.rows)), day=day(found.on)))


@app.command("value")
@handles_errors
@helps(N_("What each pending licence unlocks: days of repair saved, effects gained, in order."))
def value(
    backlog: Annotated[Path, typer.Option(help=N_("item_id, product_id, region, damaged_on."))],
    repair_points: Annotated[Path, typer.Option(help=N_(
        "point_id, region, product_id, monthly_capacity, repair_days, from_region, "
        "transit_days, [licence_id]; region 'abroad' marks a point abroad."))],
    budget: Annotated[float | None, typer.Option(help=N_(
        "Also run the allocation planner at this budget: effects gained per licence."))
    ] = None,
    offers: Annotated[Path | None, typer.Option(help=N_(
        "Offers file for the allocation planner; default the offers table."))] = None,
    as_of: OnOption = None,
    db: DbOption = None,
    json: JsonOption = False,
) -> None:
    from kuznia.services.licence_value import licence_value

    with kuznia.open(db) as ws:
        r = licence_value(ws.store, backlog=backlog, repair_points=repair_points,
                          budget=budget, offers_file=offers,
                          on=parse_date(as_of, "--as-of"))
    if json:
        print_json(r.to_dict())
        return
    t = Table(_("licence"), _("state"), _("product"), _("repair points"), _("offers"),
              _("days saved"), _("items gained"), _("effects gained"))
    for row in r:
        t.add_row(row["licence_id"], say(row["status"]), row["product_id"],
                  count(len(row["points"])), count(len(row["offers"])),
                  num(row["days_saved"]), count(row["items_gained"]),
                  num(row["effects_gained"], 1))
    out.print(t)
    for line in r.explanation:
        out.print(say_sentence(line))
