"""`kuznia vault`: partners' documents, sealed at rest, handed out marked for their
recipient to the producers a live licence names; every access and refusal logged."""

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
    out,
    print_json,
)
from kuznia.i18n import N_, _, ngettext
from kuznia.sentences import say_sentence
from kuznia.words import say

app = typer.Typer(help=N_("The partners' vault: documents under a licence, sealed at rest, "
                          "copies marked for their recipient."), no_args_is_help=True)


def _vault():  # type: ignore[no-untyped-def]
    from kuznia.services import vault

    return vault


@app.command("add")
@handles_errors
@helps(N_("Store a document under a licence, encrypted; prints its id as the last line."))
def add(
    file: Annotated[Path, typer.Argument(help=N_("The document: PDF, plain text, an image "
                                                 "(PNG, JPEG, TIFF) or an Office file."))],
    licence: Annotated[str, typer.Option("--licence", help=N_("The licence it is stored under "
                                                              "(its partner owns it)."))],
    title: Annotated[str | None, typer.Option(help=N_("Its title (default: the file's name)."))
                     ] = None,
    db: DbOption = None,
    actor: Annotated[str | None, typer.Option(
        "--as", help=N_("Who is acting, for the audit trail. Default: the OS user."))] = None,
) -> None:
    with kuznia.open(db, actor) as ws:
        doc = _vault().add_document(ws.store, file, licence_id=licence, actor=ws.actor,
                                    title=title)
    out.print(_("stored %(title)s (%(bytes)s, sealed in %(chunks)s) under licence %(licence)s "
                "of partner %(partner)s", title=repr(doc["title"]),
                bytes=ngettext("%(num)s byte", "%(num)s bytes", doc["size"],
                               num=count(doc["size"])),
                chunks=ngettext("%(num)s chunk", "%(num)s chunks", doc["chunks"],
                                num=count(doc["chunks"])),
                licence=licence, partner=doc["partner_id"]))
    out.print(doc["doc_id"])


@app.command("get")
@handles_errors
@helps(N_("A copy marked for the account: a stamped PDF, or a ZIP with a notice."))
def get(
    doc: Annotated[str, typer.Argument(help=N_("The document's id."))],
    out_file: Annotated[Path, typer.Option("--out", help=N_("Where to write the copy."))],
    account: Annotated[str, typer.Option("--as", help=N_("The account the copy is for (a "
                                                         "producer's a live licence names)."))],
    db: DbOption = None,
) -> None:
    from kuznia.outputs import check_output, protected_paths

    with kuznia.open(db, account) as ws:
        check_output(out_file, "out_file", protected=protected_paths(ws.store.sqlite_file))
        copy = _vault().issue_copy(ws.store, doc, account=account, out=out_file)
    if copy.form == "pdf":
        out.print(_("wrote a stamped PDF for %(account)s to %(file)s: copy %(copy)s, SHA-256 "
                    "%(sha)s", account=copy.account, file=out_file, copy=copy.copy_id,
                    sha=copy.sha256))
    else:
        out.print(_("wrote a ZIP with its notice for %(account)s to %(file)s: copy %(copy)s, "
                    "SHA-256 %(sha)s", account=copy.account, file=out_file, copy=copy.copy_id,
                    sha=copy.sha256))


@app.command("trace")
@handles_errors
@helps(N_("Name the account, time and copy id a copy was issued to."))
def trace(
    file: Annotated[Path, typer.Argument(help=N_("A copy found somewhere."))],
    db: DbOption = None,
    json: JsonOption = False,
) -> None:
    with kuznia.open(db) as ws:
        found = _vault().trace(ws.store, file)
    if json:
        print_json(found)
        return
    out.print(_("issued to %(account)s at %(at)s: copy %(copy)s of document %(doc)s under "
                "licence %(licence)s (found by %(how)s)", account=found["account"],
                at=day(found["issued_at"]), copy=found["copy_id"], doc=found["doc_id"],
                licence=found["licence_id"], how=say_sentence(str(found["found_by"]))))


@app.command("log")
@handles_errors
@helps(N_("Every access and refusal: account, time, document, licence and outcome."))
def log(
    partner: Annotated[str | None, typer.Option(help=N_("Only this partner's documents."))
                       ] = None,
    db: DbOption = None,
    json: JsonOption = False,
) -> None:
    with kuznia.open(db) as ws:
        rows = _vault().access_log(ws.store, partner=partner)
    if json:
        print_json(rows.to_dict())
        return
    t = Table(_("when"), _("account"), _("document"), _("licence"), _("outcome"), _("why"),
              _("copy"))
    for r in rows:
        t.add_row(day(r["at"]), r["account"], r["title"] or r["doc_id"] or "",
                  r["licence_id"] or "", say(r["outcome"]), say_sentence(r["reason"] or ""),
                  r["copy_id"] or "")
    out.print(t)


@app.command("list")
@handles_errors
@helps(N_("The documents' titles and licences (never their content)."))
def list_(
    partner: Annotated[str | None, typer.Option(help=N_("Only this partner's documents."))
                       ] = None,
    db: DbOption = None,
    json: JsonOption = False,
) -> None:
    with kuznia.open(db) as ws:
        rows = _vault().documents(ws.store, partner=partner)
    if json:
        print_json(rows.to_dict())
        return
    t = Table(_("document"), _("title"), _("partner"), _("licence"), _("bytes"), _("stored"),
              _("readable"))
    for r in rows:
        t.add_row(r["doc_id"], r["title"], r["partner_id"], r["licence_id"],
                  count(r["size"]), day(r["added_at"]),
                  _("yes") if r["readable"] else _("no: key destroyed"))
    out.print(t)


@app.command("shred")
@handles_errors
@helps(N_("Destroy a partner's data key: its documents can then be read by no one."))
def shred(
    partner: Annotated[str, typer.Option(help=N_("The partner whose key is destroyed."))],
    account: Annotated[str, typer.Option("--as", help=N_("An admin account."))],
    db: DbOption = None,
) -> None:
    with kuznia.open(db, account) as ws:
        done = _vault().shred(ws.store, partner, actor=account)
    n = done["documents"]
    out.print(ngettext("shredded the key of partner %(partner)s: its %(num)s document can be "
                       "read by no one (audit event %(event)s)", "shredded the key of partner "
                       "%(partner)s: its %(num)s documents can be read by no one (audit event "
                       "%(event)s)", n, partner=partner, num=count(n), event=done["event_id"]))
