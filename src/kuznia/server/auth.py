"""Who a request comes from, and whether the route's action is allowed for them.

Every route declares an action (``api.base.Routes``); ``Allow(action)`` is its check:

- ``Authorization: Bearer TOKEN`` names an API token; a bad, expired or revoked token, or
  a disabled account, is a 401 whatever the reason.
- Otherwise the ``kuznia_session`` cookie names a browser session; a write (any method
  but GET, HEAD and OPTIONS) must also carry the session's CSRF token in the
  ``X-CSRF-Token`` header, or it is a 403.
- No credentials: 401, except for ``public`` actions, which also ignore a session cookie
  that names no live session (the login page must open for a browser whose session
  ended) and take no session's CSRF token (logging in has its own check, ``same_origin``).
- A role that may not do the action: 403 (``kuznia.services.access``).
"""

import hmac
from dataclasses import dataclass
from urllib.parse import urlsplit

from fastapi import Request

from kuznia.i18n import N_, Text
from kuznia.services import sessions
from kuznia.services.access import ForbiddenError, Scope, UnauthorizedError, allowed
from kuznia.services.accounts import Account, authenticate_token
from kuznia.words import LABELS

SESSION_COOKIE = "kuznia_session"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


@dataclass(frozen=True)
class Caller:
    """The account behind a request (None on a public route without credentials)."""

    account: Account | None
    via: str  # "token", "session" or "none"
    csrf_token: str | None = None

    @property
    def name(self) -> str:
        return self.account.name if self.account else "anonymous"

    @property
    def role(self) -> str:
        return self.account.role if self.account else "anonymous"

    @property
    def scope(self) -> Scope:
        assert self.account is not None
        return Scope.of(self.account.role, self.account.producer_id, self.account.partner_id)


def identify(request: Request, public: bool = False) -> Caller:
    """The caller a request's credentials name; ``public``: a stale or CSRF-less session
    counts as none."""
    store = request.app.state.store
    header = request.headers.get("authorization")
    if header is not None:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise UnauthorizedError(N_("the Authorization header takes 'Bearer TOKEN'"))
        with store.read() as conn:
            account = authenticate_token(conn, token.strip())
        if account is None:
            raise UnauthorizedError(N_("this token is not valid (unknown, expired or "
                                       "revoked, or its account is disabled)"))
        return Caller(account, "token")
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        session = sessions.find_session(store, cookie, now=request.app.state.clock())
        if session is None:
            if public:
                return Caller(None, "none")
            raise UnauthorizedError(N_("the session has ended; log in again"))
        if request.method not in SAFE_METHODS:
            sent = request.headers.get(CSRF_HEADER, "")
            if not hmac.compare_digest(sent.encode(), session.csrf_token.encode()):
                if public:
                    return Caller(None, "none")
                raise ForbiddenError(N_("a write from a browser session needs the "
                                        "session's CSRF token in the X-CSRF-Token header"))
        return Caller(session.account, "session", session.csrf_token)
    return Caller(None, "none")


class Allow:
    """The dependency that lets a request through to a route with ``action``."""

    def __init__(self, action: str):
        self.action = action

    def __call__(self, request: Request) -> Caller:
        caller = identify(request, public=self.action == "public")
        if self.action == "public":
            return caller
        if caller.account is None:
            raise UnauthorizedError(N_("this needs an API token (Authorization: Bearer "
                                       "TOKEN) or a session (log in)"))
        request.state.caller = caller  # a refusal's page still shows the caller's menu
        if not allowed(caller.account.role, self.action):
            raise ForbiddenError(N_("the %(role)s role may not do this"),
                                 role=Text(LABELS.get(caller.account.role,
                                                      caller.account.role)))
        return caller


def same_origin(request: Request) -> None:
    """Refuse a sign-in sent from another site (login CSRF: a page elsewhere signing the
    browser in as the attacker's account). Browsers say where a request comes from in
    ``Sec-Fetch-Site`` and ``Origin``; either naming another origin is a 403. A request
    without them (a script, a command line) is not a browser's and passes; the page's
    own form carries a login token besides (``web/admin.py``). ``Origin: null`` is what
    a browser sends for our own form under ``Referrer-Policy: no-referrer``, so it is
    not taken as foreign here (the login token covers that case)."""
    fetch_site = request.headers.get("sec-fetch-site")
    if fetch_site is not None and fetch_site not in ("same-origin", "none"):
        raise ForbiddenError(N_("a sign-in must come from this site's own login page"))
    origin = request.headers.get("origin")
    if origin and origin != "null":
        mine = urlsplit(str(request.base_url))
        theirs = urlsplit(origin)
        if (theirs.scheme, theirs.netloc) != (mine.scheme, mine.netloc):
            raise ForbiddenError(N_("a sign-in must come from this site's own login page"))
