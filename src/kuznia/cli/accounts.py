"""`kuznia users`: accounts for the server, each change an audited write."""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.table import Table

import kuznia
from kuznia.cli.common import (
    ActorOption,
    DbOption,
    JsonOption,
    day,
    err,
    handles_errors,
    help_with,
    helps,
    out,
    print_json,
)
from kuznia.i18n import N_, _, ngettext
from kuznia.services.access import ROLES
from kuznia.words import say

app = typer.Typer(help=N_("Accounts for the server: roles, producer scopes, API tokens."),
                  no_args_is_help=True)


def _accounts():  # type: ignore[no-untyped-def]
    """The accounts service, imported when a command runs (it brings the audit trail's
    libraries; the command line starts without them)."""
    from kuznia.services import accounts

    return accounts


@app.command("add")
@handles_errors
@helps(N_("Add an account."))
def add(
    name: Annotated[str, typer.Argument(help=N_("The account's name (no spaces)."))],
    role: Annotated[str, typer.Option(help=help_with(N_("One of: %(choices)s."),
                                                    choices=", ".join(ROLES)))],
    producer: Annotated[str | None, typer.Option(
        help=N_("The producer id a producer account sees (producer role only)."))] = None,
    partner: Annotated[str | None, typer.Option(
        help=N_("The partner id a partner account speaks for (partner role only)."))] = None,
    password_stdin: Annotated[bool, typer.Option(
        "--password-stdin", help=N_("Read a password (at least 12 characters) from standard "
                                    "input; without it the account signs in with tokens only."))
    ] = False,
    db: DbOption = None,
    actor: ActorOption = None,
) -> None:
    password = sys.stdin.readline().rstrip("\r\n") if password_stdin else None
    with kuznia.open(db, actor) as ws:
        event = _accounts().add_user(ws.store, name, role, actor=ws.actor, producer=producer,
                                  password=password, partner=partner)
    if producer or partner:
        out.print(_("added %(name)s (%(role)s, %(scope)s); audit event %(event)s", name=name,
                    role=say(role), event=event,
                    scope=_("producer %(id)s", id=producer) if producer
                    else _("partner %(id)s", id=partner)))
    else:
        out.print(_("added %(name)s (%(role)s); audit event %(event)s", name=name,
                    role=say(role), event=event))


@app.command("token")
@handles_errors
@helps(N_("Issue an API token; it is printed once, as the last line, and only its hash kept."))
def token(
    name: Annotated[str, typer.Argument(help=N_("The account."))],
    expires_days: Annotated[int, typer.Option(help=N_("Days until the token stops working."))
                            ] = 90,
    db: DbOption = None,
    actor: ActorOption = None,
) -> None:
    with kuznia.open(db, actor) as ws:
        value = _accounts().issue_token(ws.store, name, actor=ws.actor,
                                     expires_days=expires_days)
    err.print(ngettext("a new token for %(name)s, valid %(num)s day; it is not shown again",
                       "a new token for %(name)s, valid %(num)s days; it is not shown again",
                       expires_days, name=name))
    out.print(value)


@app.command("list")
@handles_errors
@helps(N_("Every account: role, producer or partner scope, state, live tokens (never a secret)."))
def list_(db: DbOption = None, json: JsonOption = False) -> None:
    with kuznia.open(db) as ws:
        users = _accounts().list_users(ws.store)
    if json:
        print_json(users.to_dict())
        return
    t = Table(_("name"), _("role"), _("scope"), _("password"), _("live tokens"), _("state"),
              _("created"), _("failed sign-ins"))
    for u in users:
        locked = _("; locked from %(where)s", where=", ".join(u["locked_from"])) \
            if u["locked_from"] else ""
        t.add_row(u["name"], say(u["role"]), u["producer_id"] or u["partner_id"] or "",
                  _("yes") if u["password"] else "",
                  str(u["live_tokens"]), _("disabled") if u["disabled"] else _("enabled"),
                  day(u["created_at"]), f"{u['failed_sign_ins'] or ''}{locked}")
    out.print(t)


@app.command("disable")
@handles_errors
@helps(N_("Disable an account: its password and tokens stop working; nothing is deleted."))
def disable(name: Annotated[str, typer.Argument(help=N_("The account."))],
            db: DbOption = None, actor: ActorOption = None) -> None:
    with kuznia.open(db, actor) as ws:
        event = _accounts().disable_user(ws.store, name, actor=ws.actor)
    out.print(_("disabled %(name)s; audit event %(event)s", name=name, event=event))


@app.command("revoke-tokens")
@handles_errors
@helps(N_("Revoke every live API token of an account."))
def revoke(name: Annotated[str, typer.Argument(help=N_("The account."))],
           db: DbOption = None, actor: ActorOption = None) -> None:
    with kuznia.open(db, actor) as ws:
        n = _accounts().revoke_tokens(ws.store, name, actor=ws.actor)
    out.print(ngettext("revoked %(num)s token of %(name)s", "revoked %(num)s tokens of %(name)s",
                       n, name=name))


@app.command("unlock")
@handles_errors
@helps(N_("Lift the sign-in lock of an account (or of a client address), and its count."))
def unlock(
    name: Annotated[str | None, typer.Argument(help=N_("The account to unlock."))] = None,
    address: Annotated[str | None, typer.Option(
        help=N_("Unlock a client address instead of an account."))] = None,
    db: DbOption = None,
    actor: ActorOption = None,
) -> None:
    with kuznia.open(db, actor) as ws:
        event = _accounts().lift_lock(ws.store, actor=ws.actor, name=name, address=address)
    out.print(_("lifted the lock of %(who)s; audit event %(event)s", who=name or address,
                event=event))
