"""The language of a page: the account's choice, else the browser's ``Accept-Language``,
else English; and the switch every page carries (a small form posting the choice).

A request's language is set before any route runs (``Language``, from the ``kuznia_lang``
cookie the switch and the login set, else ``Accept-Language``); ``render`` then speaks the
account's own stored choice when it has one. The switch keeps the choice in the account
(``users.lang``) for a session that sends its CSRF token, and in a cookie for everyone
(the login page, a browser with no session)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Form, Request
from fastapi.responses import RedirectResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from kuznia import i18n
from kuznia.errors import UsageError
from kuznia.i18n import N_
from kuznia.server.auth import Caller, same_origin
from kuznia.server.web.base import is_htmx, page
from kuznia.services import accounts

LANG_COOKIE = "kuznia_lang"
YEAR = 365 * 24 * 3600


def request_language(cookie: str | None, accept_language: str | None) -> str:
    """The cookie's language if it names one, else the browser's, else English."""
    if cookie:
        try:
            return i18n.check(cookie)
        except i18n.UnknownLanguageError:
            pass
    return i18n.best_match(accept_language) or i18n.DEFAULT


class Language:
    """ASGI middleware: every page request speaks its language from the start (the error
    pages, the messages routes build before rendering). The API is left in English: its
    codes, figures and messages are for programs."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith("/api/"):
            await self.app(scope, receive, send)  # the API speaks its machine English
            return
        from starlette.requests import HTTPConnection

        conn = HTTPConnection(scope)
        lang = request_language(conn.cookies.get(LANG_COOKIE),
                                conn.headers.get("accept-language"))
        with i18n.language(lang):
            await self.app(scope, receive, send)


def _local(target: str) -> str:
    """A path on this site to go back to (anything else: the start)."""
    return target if target.startswith("/") and not target.startswith(("//", "/\\")) \
        else "/"


@page("/language", "public", method="POST")
def choose_language(request: Request, who: Caller,
                    lang: Annotated[str, Form(max_length=8)],
                    next: Annotated[str, Form(max_length=2000)] = "/") -> Response:
    """Speak ``lang`` from now on: kept in the account (a session that sent its CSRF
    token) and in a cookie; back to the page the switch was on."""
    try:
        chosen = i18n.check(lang)
    except i18n.UnknownLanguageError as e:
        raise UsageError(N_("no such language %(lang)s: choose one of %(langs)s"),
                         lang=repr(e.lang), langs=", ".join(i18n.LANGS)) from None
    if who.account is None:
        same_origin(request)  # no session: at least a form from this site
    else:
        accounts.set_language(request.app.state.store, who.account.name, chosen)
    target = _local(next)
    response: Response = Response(status_code=204, headers={"HX-Redirect": target}) \
        if is_htmx(request) else RedirectResponse(target, status_code=303)
    response.set_cookie(LANG_COOKIE, chosen, samesite="lax", path="/", max_age=YEAR,
                        secure=request.app.state.https_only)
    return response

