"""Logging in and out, the audit trail, and accounts (admin)."""

from __future__ import annotations

import datetime as dt
import hmac
import secrets
from typing import Annotated

from fastapi import Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from kuznia.i18n import N_, gettext
from kuznia.server.addresses import client_address
from kuznia.server.api.base import store_of
from kuznia.server.auth import SESSION_COOKIE, Caller, same_origin
from kuznia.server.web.base import page, render, start_page
from kuznia.services import accounts, audit, audit_check, sessions
from kuznia.services.access import ROLES, ForbiddenError
from kuznia.words import say

Name = Annotated[str, Form(max_length=64)]


def _local(target: str | None) -> str | None:
    """A page to return to after logging in: a path on this server, nothing else."""
    if target and target.startswith("/") and not target.startswith("//") \
            and "\\" not in target and not target.startswith("/api/"):
        return target
    return None


LOGIN_COOKIE = "kuznia_login"


def _login_page(request: Request, next: str | None, error: str | None = None,
                name: str = "", status: int = 200) -> Response:
    """The login form, with a fresh login token: the form sends it back, and so does the
    browser in a SameSite=Strict cookie, which a page on another site cannot make it
    send (login CSRF: signing the browser in as someone else)."""
    token = secrets.token_urlsafe(24)
    response = render(request, None, "login.html", title=gettext("Log in"), next=_local(next) or "",
                      error=error, name=name, login_token=token, status=status)
    response.set_cookie(LOGIN_COOKIE, token, httponly=True, samesite="strict",
                        secure=request.app.state.https_only, path="/login", max_age=3600)
    return response


@page("/login", "public")
def login_form(request: Request, who: Caller,
               next: Annotated[str | None, Query(max_length=2000)] = None) -> Response:
    if who.account is not None:
        return RedirectResponse(_local(next) or start_page(who), status_code=303)
    return _login_page(request, next)


@page("/login", "public", method="POST")
def login(request: Request, who: Caller, name: Name,
          password: Annotated[str, Form(max_length=1024)],
          next: Annotated[str, Form(max_length=2000)] = "",
          login_token: Annotated[str, Form(max_length=100)] = "") -> Response:
    same_origin(request)
    kept = request.cookies.get(LOGIN_COOKIE, "")
    if not kept or not hmac.compare_digest(kept.encode(), login_token.encode()):
        return _login_page(request, next, gettext("This login form has expired or came from "
                                                  "another page; log in again here."),
                           name, status=403)
    store = store_of(request)
    address = client_address(request)
    now = request.app.state.clock()
    outcome = accounts.sign_in(store, name, password, address, now=now)
    if outcome.account is None:
        error = (gettext("Wrong name or password.") if outcome.refused == "bad_credentials"
                 else gettext("Too many failed logins: the account is locked; an admin can "
                              "lift it.") if outcome.refused == "locked"
                 else gettext("Too many failed logins: wait %(seconds)s s.",
                              seconds=outcome.retry_after))
        return _login_page(request, next, error, name,
                           status=401 if outcome.refused == "bad_credentials" else 429)
    value, session = sessions.open_session(store, outcome.account, now=now)
    target = _local(next) or start_page(Caller(session.account, "session"))
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(SESSION_COOKIE, value, httponly=True, samesite="strict",
                        secure=request.app.state.https_only, path="/",
                        max_age=int(sessions.ABSOLUTE.total_seconds()))
    response.delete_cookie(LOGIN_COOKIE, path="/login")
    return response


@page("/logout", "whoami", method="POST")
def logout(request: Request, who: Caller) -> Response:
    value = request.cookies.get(SESSION_COOKIE)
    if who.via == "session" and value:
        sessions.close_session(store_of(request), value)
    response = Response(status_code=204, headers={"HX-Redirect": "/login"})
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@page("/audit", "audit.read")
def audit_page(request: Request, who: Caller,
               actor: Annotated[str | None, Query(max_length=64)] = None,
               table: Annotated[str | None, Query(max_length=64)] = None,
               date_from: Annotated[dt.date | None, Query()] = None,
               date_to: Annotated[dt.date | None, Query()] = None,
               before: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
               verify: bool = False) -> HTMLResponse:
    store = store_of(request)
    limit = 50
    with store.snapshot() as conn:
        events = audit.find_events(conn, actor=actor or None, table=table or None,
                                   date_from=date_from, date_to=date_to, before=before,
                                   limit=limit + 1)
        check = audit_check.verify(conn).to_dict() if verify else None
    more = len(events) > limit
    events = events[:limit]
    filters = {"actor": actor or "", "table": table or "",
               "date_from": date_from.isoformat() if date_from else "",
               "date_to": date_to.isoformat() if date_to else ""}
    return render(request, who, "audit.html", title=gettext("Audit trail"), events=events,
                  filters=filters, check=check,
                  next_before=events[-1]["event_id"] if more else None)


@page("/accounts", "accounts.manage")
def accounts_page(request: Request, who: Caller) -> HTMLResponse:
    users = accounts.list_users(store_of(request)).to_dict()
    return render(request, who, "accounts.html", title=gettext("Accounts"), users=users,
                  roles=ROLES, token=None, message=None)


def _after(request: Request, who: Caller, message: str, token: str | None = None
           ) -> HTMLResponse:
    users = accounts.list_users(store_of(request)).to_dict()
    return render(request, who, "_accounts.html", users=users, roles=ROLES, token=token,
                  message=message)


@page("/accounts/add", "accounts.manage", method="POST")
def accounts_add(request: Request, who: Caller, name: Name,
                 role: Annotated[str, Form(max_length=32)],
                 producer_id: Annotated[str, Form(max_length=200)] = "",
                 partner_id: Annotated[str, Form(max_length=200)] = "",
                 password: Annotated[str, Form(max_length=1024)] = "") -> HTMLResponse:
    if role not in ROLES:
        raise ForbiddenError(N_("no role %(role)s"), role=repr(role))
    accounts.add_user(store_of(request), name, role, actor=who.name,
                      producer=producer_id or None, password=password or None,
                      partner=partner_id or None)
    return _after(request, who, gettext("Added %(name)s (%(role)s).", name=name, role=say(role)))


@page("/accounts/{name}/disable", "accounts.manage", method="POST")
def accounts_disable(request: Request, who: Caller, name: str) -> HTMLResponse:
    accounts.disable_user(store_of(request), name, actor=who.name)
    return _after(request, who, gettext(
        "Disabled %(name)s: its tokens and sessions stop at once.", name=name))


@page("/accounts/{name}/token", "accounts.manage", method="POST")
def accounts_token(request: Request, who: Caller, name: str) -> HTMLResponse:
    token = accounts.issue_token(store_of(request), name, actor=who.name, expires_days=90)
    said = gettext("A new token for %(name)s, valid 90 days; it is shown once.", name=name)
    return _after(request, who, said, token=token)


@page("/accounts/{name}/unlock", "accounts.manage", method="POST")
def accounts_unlock(request: Request, who: Caller, name: str) -> HTMLResponse:
    accounts.lift_lock(store_of(request), actor=who.name, name=name)
    return _after(request, who, gettext("Lifted the sign-in lock of %(name)s.", name=name))
