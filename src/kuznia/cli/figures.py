"""Commands that answer questions: cost per effect, the report, the demo."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

import kuznia
from kuznia.cli.common import (
    DbOption,
    JsonOption,
    count,
    err,
    handles_errors,
    help_with,
    helps,
    import_progress,
    money,
    num,
    out,
    parse_date,
    print_json,
)
from kuznia.i18n import N_, _
from kuznia.sentences import say_sentence
from kuznia.services.params import GROUP_KEYS

# a group's column, in words
GROUP_HEADS = {"product_id": N_("product"), "producer_id": N_("producer"),
               "version": N_("version"), "operator": N_("operator"), "month": N_("month")}

if TYPE_CHECKING:
    from kuznia.services.costs import CostTable


@handles_errors
@helps(N_("What one confirmed effect costs, per group, with a 90%% interval."))
def cost_per_effect(
    by: Annotated[str, typer.Option(
        help=help_with(N_("Group by any of %(keys)s, comma-separated."),
                       keys=", ".join(GROUP_KEYS)))] = "product",
    date_from: Annotated[str | None, typer.Option("--from", help=N_("First day, YYYY-MM-DD."))
                         ] = None,
    date_to: Annotated[str | None, typer.Option("--to", help=N_("Last day, YYYY-MM-DD."))] = None,
    product: Annotated[str | None, typer.Option(help=N_("Only this product's uses."))] = None,
    category: Annotated[str | None, typer.Option(
        help=N_("Only the uses of this category's products."))] = None,
    producer: Annotated[str | None, typer.Option(
        help=N_("This producer's own figures: its uses, priced from its own contracts only "
                "(what its account is shown)."))] = None,
    db: DbOption = None,
    json: JsonOption = False,
) -> None:
    with kuznia.open(db) as ws:
        table = ws.cost_per_effect(by, parse_date(date_from, "--from"),
                                   parse_date(date_to, "--to"), product=product,
                                   category=category, producer=producer)
    if json:
        print_json(table.to_dict())
    else:
        render_costs(table)


def render_costs(table: CostTable) -> None:
    keys = [GROUP_KEYS[b] for b in table.by]
    ranked = "rank_in_product" in (table.rows[0] if table.rows else {})
    t = Table(*[_(GROUP_HEADS[k]) if k in GROUP_HEADS else k for k in keys], _("uses"),
              _("effects"), _("effects/use"), _("cost (%(currency)s)",
                                                 currency=table.currency),
              _("cost per effect"), _("%(level)s interval", level="90%"),
              *([_("rank* (= tie)")] if ranked else []))
    for r in table.rows:
        if r["cost"] is None:
            figure, interval = _("price unknown"), ""
        elif r["cost_per_effect"] is None:
            figure = _("no effect yet")
            interval = f"> {money(r['cost_per_effect_low'])}"
        else:
            figure = money(r["cost_per_effect"])
            interval = f"{money(r['cost_per_effect_low'])} - {money(r['cost_per_effect_high'])}"
        t.add_row(
            *[str(r[k]) if r[k] is not None else _("(not given)") for k in keys],
            count(r["uses"]), count(r["effects"]), num(r["effects_per_use"], 2),
            money(r["cost"]), figure, interval,
            *([f"{r['rank_in_product'] or ''}{'=' if r.get('rank_tied') else ''}"]
              if ranked else []),
        )
    out.print(t)
    for note in table.notes:
        out.print(f"* {say_sentence(note)}", style="dim")


@handles_errors
@helps(N_("Write a self-contained HTML report (works offline) and a PNG of each chart."))
def report(
    out_dir: Annotated[Path, typer.Option("--out", help=N_("Folder for the report and charts."))
                       ] = Path("kuznia-report"),
    with_uses: Annotated[bool | None, typer.Option(
        "--with-uses/--without-uses",
        help=N_("Also write the uses behind each product and producer as CSV files that the "
                "report links to. Default: only when the workspace holds at most 1M uses."))
    ] = None,
    lang: Annotated[str | None, typer.Option(
        "--lang", help=N_("Language of the report: en or uk. Default: KUZNIA_LANG, else en."))
    ] = None,
    db: DbOption = None,
) -> None:
    with kuznia.open(db) as ws:
        path = ws.report(out_dir, with_uses, lang)
    out.print(str(path))


@handles_errors
@helps(N_("Build a synthetic workspace through the real import path, then write its report."))
def demo(
    n_uses: Annotated[int, typer.Option("--uses", help=N_("How many uses to generate."))
                      ] = 1_000_000,
    seed: Annotated[int, typer.Option(help=N_("Random seed: the same seed, the same data."))] = 7,
    data_dir: Annotated[Path, typer.Option("--data", help=N_("Folder for the generated files."))
                        ] = Path("kuznia-demo-data"),
    out_dir: Annotated[Path, typer.Option("--out", help=N_("Folder for the report."))
                       ] = Path("kuznia-report"),
    db: Annotated[str, typer.Option("--db", help=N_("Demo workspace (replaced if it is a demo)."))
                  ] = "kuznia-demo.db",
) -> None:
    from kuznia.demo import run_demo

    with import_progress(_("importing the demo files")) as progress:
        path = run_demo(db, n_uses=n_uses, seed=seed, data_dir=data_dir, out_dir=out_dir,
                        say=lambda msg: err.print(msg), progress=progress)
    out.print(str(path))
