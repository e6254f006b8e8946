"""Commands over the audit trail."""

from __future__ import annotations

import json as jsonlib
from typing import Annotated

import typer
from rich.table import Table

import kuznia
from kuznia.cli.common import (
    DbOption,
    JsonOption,
    count,
    day,
    err,
    handles_errors,
    helps,
    out,
    print_json,
)
from kuznia.i18n import N_, _, ngettext
from kuznia.sentences import say_chain_reason
from kuznia.services.params import AUDIT_LIMIT
from kuznia.words import say

app = typer.Typer(help=N_("The hash-chained audit trail of every write."), no_args_is_help=True)


@app.command("list")
@handles_errors
@helps(N_("Show audit events, oldest first, and the head hash to keep elsewhere."))
def list_(
    limit: Annotated[int, typer.Option(help=N_("The newest N events (0: all)."))] = AUDIT_LIMIT,
    db: DbOption = None,
    json: JsonOption = False,
) -> None:
    with kuznia.open(db) as ws:
        events = ws.audit_events(limit or None)
    if json:
        print_json(events.to_dict())
        return
    t = Table(_("event"), _("at"), _("who"), _("action"), _("table"), _("file"), "SHA-256",
              _("added"), _("updated"), _("unchanged"), _("rejected"))
    for e in events:
        t.add_row(str(e["event_id"]), day(e["at"]), e["actor"], say(e["action"]),
                  say(e["table_name"]), e["file_name"] or "", (e["file_sha256"] or "")[:12],
                  count(e["rows_added"]), count(e["rows_updated"]),
                  count(e["rows_unchanged"]), count(e["rows_rejected"]))
    out.print(t)
    if len(events):
        out.print(_("head hash: %(hash)s", hash=events[-1]["hash"]))
        detail = jsonlib.loads(events[-1]["detail"])
        if detail:  # the event's record as stored (machine words: JSON)
            out.print(_("last event's detail (as recorded): %(detail)s",
                        detail=jsonlib.dumps(detail, ensure_ascii=False)), style="dim")


@app.command()
@handles_errors
@helps(N_(
    "What imports with --update changed in stored rows: each value before and after,\n"
    "with the event, when, who and which file."))
def history(
    table: Annotated[str | None, typer.Option(help=N_("Only changes to this table."))] = None,
    key: Annotated[str | None, typer.Option(
        help=N_("Only the row with this key (a composite key joined by '/')."))] = None,
    limit: Annotated[int, typer.Option(help=N_("The newest N changes (0: all)."))] = AUDIT_LIMIT,
    db: DbOption = None,
    json: JsonOption = False,
) -> None:
    with kuznia.open(db) as ws:
        changes = ws.row_history(table, key, limit)
    if json:
        print_json(changes.to_dict())
        return
    t = Table(_("event"), _("at"), _("who"), _("file"), _("table"), _("key"), _("column"),
              _("before"), _("after"))
    for c in changes:
        head = (str(c["event_id"]), day(c["at"]), c["actor"], c["file_name"] or "",
                say(c["table"]), c["key"])
        for i, ch in enumerate(c["changes"]):  # the change's own columns on its first line
            t.add_row(*(head if i == 0 else [""] * len(head)), ch["column"],
                      *("" if v is None else str(v) for v in (ch["old"], ch["new"])))
    if not len(changes):
        if table and key:
            out.print(_("no stored row of %(table)s with key %(key)s has been changed",
                        table=say(table), key=key))
        elif table:
            out.print(_("no stored row of %(table)s has been changed", table=say(table)))
        elif key:
            out.print(_("no stored row with key %(key)s has been changed", key=key))
        else:
            out.print(_("no stored row has been changed"))
        return
    out.print(t)


@app.command()
@handles_errors
@helps(N_("Walk the chain; exit 1 naming the first event edited, removed or reordered."))
def verify(
    deep: Annotated[bool, typer.Option(
        "--deep", help=N_("Also recompute every table's digest from its rows, and rebuild the "
                          "kept aggregates, against what the chain recorded (reads every row)."))
    ] = False,
    expect_head: Annotated[str | None, typer.Option(
        help=N_("A head hash kept outside the store ('kuznia audit head'): fail if it is not "
                "in the chain (newer events were cut off or rewritten)."))] = None,
    db: DbOption = None,
    json: JsonOption = False,
) -> None:
    with kuznia.open(db) as ws:
        check = ws.verify_audit(deep=deep, expect_head=expect_head)
    if json:
        print_json(check.to_dict())
    elif check.ok:
        said = ngettext("audit chain intact: %(num)s event, head %(head)s",
                        "audit chain intact: %(num)s events, head %(head)s", check.checked,
                        num=count(check.checked), head=check.head)
        if check.deep:
            said += ngettext("; %(num)s row matches it", "; %(num)s rows match it",
                             check.rows_checked or 0, num=count(check.rows_checked))
        if check.events_after_expected_head is not None:
            said += ngettext("; the expected head is there, %(num)s event after it",
                             "; the expected head is there, %(num)s events after it",
                             check.events_after_expected_head,
                             num=count(check.events_after_expected_head))
        out.print(said)
    elif check.first_bad_event:
        err.print(_("audit chain broken at event %(event)s: %(reason)s",
                    event=check.first_bad_event, reason=say_chain_reason(check.reason)))
    else:
        err.print(_("audit chain broken: %(reason)s",
                    reason=say_chain_reason(check.reason, check.table, check.key)))
    if not check.ok:
        raise typer.Exit(1)


@app.command()
@handles_errors
@helps(N_("Print the newest event's hash, to keep outside the store (the last line)."))
def head(db: DbOption = None) -> None:
    with kuznia.open(db) as ws:
        events = ws.audit_events(1).rows
    if not events:
        err.print(_("no audit events"))
        raise typer.Exit(1)
    e = events[-1]
    err.print(_("event %(event)s at %(at)s by %(who)s: keep this hash, and check later with "
                "'kuznia audit verify --expect-head HASH'", event=e["event_id"],
                at=day(e["at"]), who=e["actor"]))
    out.print(e["hash"])
