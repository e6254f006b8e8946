"""Commands that create a workspace and bring files into it."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

import kuznia
from kuznia import i18n
from kuznia.cli.common import (
    ActorOption,
    DbOption,
    JsonOption,
    count,
    day,
    err,
    handles_errors,
    help_with,
    helps,
    import_progress,
    money,
    out,
    parse_date,
    print_json,
    say_error,
)
from kuznia.errors import InputError, UsageError
from kuznia.i18n import N_, _, ngettext, number
from kuznia.ingest.tables import SPECS
from kuznia.sentences import say_sentence
from kuznia.services.params import RECORDS_LIMIT, USES_LIMIT
from kuznia.words import say


@handles_errors
@helps(N_("Create an empty workspace."))
def init(
    db: DbOption = None,
    currency: Annotated[str, typer.Option(help=N_("Workspace currency (ISO code)."))] = "USD",
    actor: ActorOption = None,
) -> None:
    with kuznia.init(db, currency, actor) as ws:
        out.print(_("created workspace %(db)s (currency %(currency)s)",
                    db=ws.store.display_url, currency=ws.currency))


@handles_errors
@helps(N_("Upgrade a workspace to this Kuznia's schema (back it up first: kuznia backup)."))
def migrate(db: DbOption = None) -> None:
    before, after = kuznia.migrate(db)
    if before is None:
        out.print(_("the workspace is at schema %(schema)s already; nothing to do",
                    schema=after))
    else:
        out.print(_("upgraded the workspace from schema %(before)s to %(after)s",
                    before=before, after=after))


@handles_errors
@helps(N_("Import a file into a table: all rows or none, unless --quarantine."))
def import_(
    table: Annotated[str, typer.Argument(help=help_with(N_("One of: %(choices)s."),
                                                        choices=", ".join(SPECS)))],
    file: Annotated[Path, typer.Argument(help=N_("A CSV (UTF-8) or XLSX file."))],
    update: Annotated[bool, typer.Option(
        help=N_("Replace stored rows whose key matches but content differs (recorded)."))] = False,
    quarantine: Annotated[Path | None, typer.Option(
        help=N_("Store the good rows and write the rejected ones, with reasons, to this CSV."))
    ] = None,
    max_problems: Annotated[int, typer.Option(help=N_("How many problems to list."))] = 20,
    db: DbOption = None,
    actor: ActorOption = None,
    json: JsonOption = False,
) -> None:
    with kuznia.open(db, actor) as ws:
        with import_progress(_("importing %(file)s", file=file.name),
                             disable=json) as progress:
            try:
                result = ws.import_file(table, file, update=update, quarantine=quarantine,
                                        max_problems=max_problems, progress=progress)
            except InputError as exc:
                say_error(exc)
                err.print(_("(use --quarantine OUT.csv to store the good rows and set the "
                            "rest aside)"))
                raise typer.Exit(exc.exit_code) from None
    if json:
        print_json(result.to_dict())
    else:
        counts = {"file": file, "added": number(result.added),
                  "updated": number(result.updated), "unchanged": number(result.unchanged),
                  "rejected": number(result.rejected)}
        out.print(_("%(file)s: %(added)s added, %(updated)s updated, %(unchanged)s unchanged, "
                    "%(rejected)s rejected (audit event %(event)s)", event=result.event_id,
                    **counts) if result.event_id is not None else
                  _("%(file)s: %(added)s added, %(updated)s updated, %(unchanged)s unchanged, "
                    "%(rejected)s rejected (nothing changed: no audit event)", **counts))
        for line in result.problems:
            err.print(_said_problem(line))
        if result.quarantine and result.rejected:
            out.print(_("rejected rows with reasons: %(file)s", file=result.quarantine))
    if result.rejected:
        raise typer.Exit(1)


_PROBLEM = re.compile(r"(?P<file>.+):(?P<line>\d+): column (?P<column>[^:]+): (?P<rest>.*)", re.S)


def _said_problem(line: str) -> str:
    """A problem of a quarantined row (``RowProblem``'s English line) in the language of
    the moment: the file, line and column as they are, what is wrong in words, the value
    it echoes as it is."""
    m = _PROBLEM.fullmatch(line)
    if m is None or i18n.current() == i18n.DEFAULT:
        return line
    rest, shown = m["rest"], ""
    said = say_sentence(rest)
    while said == rest and rest.endswith(")") and " (" in rest:  # the value, echoed
        rest, value = rest.rsplit(" (", 1)
        shown = f" ({value}{shown}"
        said = say_sentence(rest)
    if said == rest:
        rest, shown, said = m["rest"], "", m["rest"]
    return _("%(file)s:%(line)s: column %(column)s: %(problem)s", file=m["file"],
             line=m["line"], column=m["column"], problem=said) + shown


@handles_errors
@helps(N_("List the uses behind a figure, with what each cost and how it was priced."))
def uses(
    product: Annotated[str | None, typer.Option(help=N_("Product id."))] = None,
    producer: Annotated[str | None, typer.Option(
        help=N_("Producer id ('-' for uses that name none)."))] = None,
    version: Annotated[str | None, typer.Option(help=N_("Version ('-' for none)."))] = None,
    operator: Annotated[str | None, typer.Option(help=N_("Operator ('-' for none)."))] = None,
    failure_mode: Annotated[str | None, typer.Option(help=N_("Failure mode."))] = None,
    lot: Annotated[str | None, typer.Option(help=N_("Lot ('-' for none)."))] = None,
    month: Annotated[str | None, typer.Option(help=N_("YYYY-MM."))] = None,
    category: Annotated[str | None, typer.Option(
        help=N_("Only the uses of this category's products."))] = None,
    date_from: Annotated[str | None, typer.Option("--from", help=N_("First day, YYYY-MM-DD."))
                         ] = None,
    date_to: Annotated[str | None, typer.Option("--to", help=N_("Last day, YYYY-MM-DD."))] = None,
    condition: Annotated[str | None, typer.Option(
        help=N_("key=value: uses whose conditions hold it ('key=-' for none; several "
                "joined by ';')."))] = None,
    limit: Annotated[int, typer.Option(help=N_("At most this many rows (0: all)."))] = USES_LIMIT,
    db: DbOption = None,
    json: JsonOption = False,
) -> None:
    with kuznia.open(db) as ws:
        result = ws.uses(product=product, producer=producer, version=version,
                         operator=operator, failure_mode=failure_mode, lot=lot, month=month,
                         category=category, date_from=parse_date(date_from, "--from"),
                         date_to=parse_date(date_to, "--to"), condition=condition,
                         limit=limit or None)
    if json:
        print_json(result.to_dict())
        return
    heads = {"use_id": _("use"), "used_on": _("used on"), "operator": _("operator"),
             "product_id": _("product"), "version": _("version"),
             "producer_id": _("producer"), "lot": _("lot"), "units_used": _("units used"),
             "effects": _("effects"), "outcome": _("outcome"),
             "failure_mode": _("failure mode"), "cost": _("cost"),
             "price_basis": _("priced by"), "source_file": _("file")}
    total = result.total if result.total is not None else len(result.rows)
    t = Table(*heads.values(), title=ngettext("%(num)s use", "%(num)s uses", total,
                                              num=count(total)))
    for r in result.rows:
        t.add_row(*["" if r[c] is None else money(r[c]) if c == "cost"
                    else day(r[c]) if c == "used_on"
                    else count(r[c]) if c in ("units_used", "effects")
                    else _("lot") if c == "price_basis" and r[c] == "lot"
                    else say(r[c]) if c in ("outcome", "price_basis", "failure_mode")
                    else str(r[c]) for c in heads])
    out.print(t)
    if result.total is not None and result.total > len(result.rows):
        out.print(_("showing %(shown)s of %(total)s; --limit 0 shows all",
                    shown=count(len(result.rows)), total=count(result.total)))


@handles_errors
@helps(N_(
    "List a table's records in key order, filtered on their ids and dates: the records\n"
    "behind a red flag or a figure."))
def records_(
    table: Annotated[str, typer.Argument(help=N_("The table: contracts, deliveries, ..."))],
    where: Annotated[list[str] | None, typer.Option(
        help=N_("COLUMN=VALUE on an id column; repeat for more."))] = None,
    between: Annotated[list[str] | None, typer.Option(
        help=N_("COLUMN=FROM..TO on a date column (either end may be empty)."))] = None,
    limit: Annotated[int, typer.Option(help=N_("At most this many rows (1-1000)."))
               ] = RECORDS_LIMIT,
    cursor: Annotated[str | None, typer.Option(help=N_("Continue after a page (next_cursor)."))
                      ] = None,
    db: DbOption = None,
    json: JsonOption = False,
) -> None:
    from kuznia.services import records

    if table not in records.DATA_TABLES:
        raise UsageError(N_("{table} is one of %(tables)s"), params=("table",),
                         tables=", ".join(sorted(records.DATA_TABLES)))
    ids, date_cols = records.filter_columns(table)
    filters, dates = {}, {}
    for item in where or []:
        name, sep, value = item.partition("=")
        if not sep:
            raise UsageError(N_("{where} takes COLUMN=VALUE, not %(item)s"),
                             params=("where",), item=repr(item))
        if name not in ids:
            raise UsageError(N_("{where}: %(table)s has no id column %(name)s (it has "
                                "%(columns)s)"), params=("where",), table=table,
                             name=repr(name), columns=", ".join(ids))
        filters[name] = value
    for item in between or []:
        name, sep, span = item.partition("=")
        lo, dots, hi = span.partition("..")
        if not sep or not dots:
            raise UsageError(N_("{between} takes COLUMN=FROM..TO, not %(item)s"),
                             params=("between",), item=repr(item))
        if name not in date_cols:
            if date_cols:
                raise UsageError(N_("{between}: %(table)s has no date column %(name)s (it "
                                    "has %(columns)s)"), params=("between",), table=table,
                                 name=repr(name), columns=", ".join(date_cols))
            raise UsageError(N_("{between}: %(table)s has no date column %(name)s (it has "
                                "none)"), params=("between",), table=table, name=repr(name))
        first, last = parse_date(lo or None, "--between"), parse_date(hi or None, "--between")
        dates[name] = (first, last)
        if first and last and last < first:
            raise UsageError(N_("{between}: %(last)s is before %(first)s"),
                             params=("between",), last=hi, first=lo)
    with kuznia.open(db) as ws:
        page = records.list_records(ws.store, table, filters=filters, dates=dates,
                                    cursor=cursor, limit=limit)
    if json:
        print_json(page.to_dict())
        return
    # the columns by their names in the import format (what --where and --between take)
    title = ngettext("%(table)s: %(num)s row", "%(table)s: %(num)s rows", len(page.rows),
                     table=say(table), num=count(len(page.rows)))
    if not page.rows:  # a table of no columns prints nothing at all: say so in words
        out.print(title)
        return
    cols = list(page.rows[0])
    t = Table(*cols, title=title)
    for r in page.rows:  # figures in the language's way; ids and ISO days as typed
        t.add_row(*["" if r[c] is None else i18n.grouped(r[c])
                    if isinstance(r[c], int | float) and not isinstance(r[c], bool)
                    else str(r[c]) for c in cols])
    out.print(t)
    if page.next_cursor:
        out.print(_("more: --cursor %(cursor)s", cursor=page.next_cursor))
