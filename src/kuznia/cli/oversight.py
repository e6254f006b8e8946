"""Oversight: red flags with their evidence, and the open-contracting export."""

from __future__ import annotations

import json as jsonlib
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
    out,
    parse_date,
    print_json,
    say_flag,
)
from kuznia.i18n import N_, _, ngettext
from kuznia.outputs import check_output, protected_paths, write_bytes
from kuznia.services.results import json_safe
from kuznia.words import say

app = typer.Typer(help=N_("Red flags on prices, deliveries, amendments, records and effect "
                          "claims."), no_args_is_help=True)
export_app = typer.Typer(help=N_("Publish what may be published, in a standard format."),
                         no_args_is_help=True)

FromOption = Annotated[str | None, typer.Option("--from", help=N_("First day, YYYY-MM-DD."))]
ToOption = Annotated[str | None, typer.Option("--to", help=N_("Last day, YYYY-MM-DD."))]


@app.command("flags")
@handles_errors
@helps(N_(
    "What looks wrong, most severe first, each with its evidence and the command that\n"
    "lists the records behind it."))
def flags(
    date_from: FromOption = None,
    date_to: ToOption = None,
    producer: Annotated[str | None, typer.Option(help=N_("Only the flags naming this producer."))
                        ] = None,
    product: Annotated[str | None, typer.Option(help=N_("Only the flags naming this product."))
                       ] = None,
    config: Annotated[Path | None, typer.Option(
        help=N_("A TOML file replacing thresholds (see docs/oversight.toml)."))] = None,
    db: DbOption = None,
    json: JsonOption = False,
) -> None:
    with kuznia.open(db) as ws:
        result = ws.flags(parse_date(date_from, "--from"), parse_date(date_to, "--to"),
                          producer=producer, product=product, config=config)
    if json:
        print_json(result.to_dict())
        return
    t = Table(_("severity"), _("red flag"), _("what"), _("records behind it"))
    for f in result.flags:
        t.add_row(say(f["severity"]), say(f["code"]), say_flag(f["text"]),
                  f["evidence"]["command"])
    out.print(t)
    c = result.counts
    out.print(ngettext("%(num)s red flag: %(high)s high, %(medium)s medium, %(low)s low (as "
                       "of %(day)s)", "%(num)s red flags: %(high)s high, %(medium)s medium, "
                       "%(low)s low (as of %(day)s)", sum(c.values()),
                       num=count(sum(c.values())), high=count(c["high"]),
                       medium=count(c["medium"]), low=count(c["low"]),
                       day=day(result.as_of)))


@export_app.command("ocds")
@handles_errors
@helps(N_("The contracts as an Open Contracting Data Standard 1.1 release package."))
def export_ocds(
    out_file: Annotated[Path, typer.Option("--out", help=N_("The JSON file to write."))],
    redact: Annotated[bool, typer.Option(
        "--redact", help=N_("Leave out lots, operators and everything of uses."))] = False,
    date_from: FromOption = None,
    date_to: ToOption = None,
    publisher: Annotated[str, typer.Option(help=N_("The publisher's (buyer's) name."))
                         ] = "Ministry of Defence Industry",
    prefix: Annotated[str, typer.Option(
        "--ocid-prefix", help=N_("The ocid prefix, to which each contract id is added."))
    ] = "ocds-kuznia-",
    db: DbOption = None,
) -> None:
    with kuznia.open(db) as ws:
        check_output(out_file, "out_file", protected=protected_paths(ws.store.sqlite_file))
        pkg = ws.ocds(redact=redact, date_from=parse_date(date_from, "--from"),
                      date_to=parse_date(date_to, "--to"), publisher=publisher,
                      prefix=prefix)
    write_bytes(out_file, (jsonlib.dumps(json_safe(pkg), indent=1, ensure_ascii=False,
                                         allow_nan=False) + "\n").encode())
    n = len(pkg["releases"])
    if redact:
        out.print(ngettext("wrote %(num)s release to %(file)s (redacted)",
                           "wrote %(num)s releases to %(file)s (redacted)", n,
                           num=count(n), file=out_file))
    else:
        out.print(ngettext("wrote %(num)s release to %(file)s",
                           "wrote %(num)s releases to %(file)s", n, num=count(n),
                           file=out_file))
