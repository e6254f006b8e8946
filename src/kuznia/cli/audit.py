"""Commands over the audit trail."""

from __future__ import annotations

import json as jsonlib
from typing import Annotated

import typer
from rich.table import Table

import kuznia
from kuznia.cli.common import DbOption, JsonOption, err, handles_errors, out, print_json
from kuznia.services.params import AUDIT_LIMIT

app = typer.Typer(help="The hash-chained audit trail of every write.", no_args_is_help=True)


@app.command("list")
@handles_errors
def list_(
    limit: Annotated[int, typer.Option(help="The newest N events (0: all).")] = AUDIT_LIMIT,
    db: DbOption = None,
    json: JsonOption = False,
) -> None:
    """Show audit events, oldest first, and the head hash to keep elsewhere."""
    with kuznia.open(db) as ws:
        events = ws.audit_events(limit or None)
    if json:
        print_json(events.to_dict())
        return
    t = Table("id", "at", "actor", "action", "table", "file", "sha256", "added", "updated",
              "unchanged", "rejected")
    for e in events:
        t.add_row(str(e["event_id"]), e["at"][:19], e["actor"], e["action"],
                  e["table_name"] or "", e["file_name"] or "", (e["file_sha256"] or "")[:12],
                  f"{e['rows_added']:,}", f"{e['rows_updated']:,}", f"{e['rows_unchanged']:,}",
                  f"{e['rows_rejected']:,}")
    out.print(t)
    if len(events):
        out.print(f"head hash: {events[-1]['hash']}")
        detail = jsonlib.loads(events[-1]["detail"])
        if detail:
            out.print(f"last event detail: {detail}", style="dim")


@app.command()
@handles_errors
def history(
    table: Annotated[str | None, typer.Option(help="Only changes to this table.")] = None,
    key: Annotated[str | None, typer.Option(
        help="Only the row with this key (a composite key joined by '/').")] = None,
    limit: Annotated[int, typer.Option(help="The newest N changes (0: all).")] = AUDIT_LIMIT,
    db: DbOption = None,
    json: JsonOption = False,
) -> None:
    """What imports with --update changed in stored rows: each value before and after,
    with the event, when, who and which file."""
    with kuznia.open(db) as ws:
        changes = ws.row_history(table, key, limit)
    if json:
        print_json(changes.to_dict())
        return
    t = Table("event", "at", "actor", "file", "table", "key", "column", "before", "after")
    for c in changes:
        head = (str(c["event_id"]), c["at"][:19], c["actor"], c["file_name"] or "",
                c["table"], c["key"])
        for i, ch in enumerate(c["changes"]):  # the change's own columns on its first line
            t.add_row(*(head if i == 0 else [""] * len(head)), ch["column"],
                      *("" if v is None else str(v) for v in (ch["old"], ch["new"])))
    if not len(changes):
        out.print("no stored row has been changed" + (f" in {table}" if table else "")
                  + (f" with key {key}" if key else ""))
        return
    out.print(t)


@app.command()
@handles_errors
def verify(
    deep: Annotated[bool, typer.Option(
        "--deep", help="Also recompute every table's digest from its rows, and rebuild the "
                       "kept aggregates, against what the chain recorded (reads every row).")
    ] = False,
    expect_head: Annotated[str | None, typer.Option(
        help="A head hash kept outside the store ('kuznia audit head'): fail if it is not "
             "in the chain (newer events were cut off or rewritten).")] = None,
    db: DbOption = None,
    json: JsonOption = False,
) -> None:
    """Walk the chain; exit 1 naming the first event edited, removed or reordered."""
    with kuznia.open(db) as ws:
        check = ws.verify_audit(deep=deep, expect_head=expect_head)
    if json:
        print_json(check.to_dict())
    elif check.ok:
        rows = f", {check.rows_checked:,} rows match it" if check.deep else ""
        after = "" if check.events_after_expected_head is None else \
            f"; the expected head is there, {check.events_after_expected_head} events after it"
        out.print(f"audit chain intact: {check.checked} events{rows}, head {check.head}{after}")
    else:
        where = f" at event {check.first_bad_event}" if check.first_bad_event else ""
        err.print(f"audit chain broken{where}: {check.reason}")
    if not check.ok:
        raise typer.Exit(1)


@app.command()
@handles_errors
def head(db: DbOption = None) -> None:
    """Print the newest event's hash, to keep outside the store (the last line)."""
    with kuznia.open(db) as ws:
        events = ws.audit_events(1).rows
    if not events:
        err.print("no audit events")
        raise typer.Exit(1)
    e = events[-1]
    err.print(f"event {e['event_id']} at {e['at']} by {e['actor']}: keep this hash, and check "
              "later with 'kuznia audit verify --expect-head HASH'")
    out.print(e["hash"])
