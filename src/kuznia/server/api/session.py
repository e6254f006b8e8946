"""The service itself and who calls it: health, the caller's account, logging in and out
(a session in a cookie)."""


from fastapi import Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from kuznia import __version__
from kuznia.errors import TooManyAttemptsError
from kuznia.i18n import N_
from kuznia.server.addresses import client_address
from kuznia.server.api import answers
from kuznia.server.api.base import (
    Routes,
    Who,
    Workspace,
)
from kuznia.server.auth import SESSION_COOKIE, same_origin
from kuznia.server.types import STRICT_BODY
from kuznia.services import (
    access,
    accounts,
    sessions,
)
from kuznia.services import health as health_svc

api = Routes("session")


@api("GET", "/health", "public", response_model=answers.Health)
def health(request: Request, who: Who, store: Workspace) -> JSONResponse:
    """The server is up and serves a workspace of this Kuznia's schema: which store,
    whether it takes writes, and the replication lag where PostgreSQL shows it."""
    return JSONResponse({"status": "ok", "version": __version__,
                         "schema_revision": health_svc.SCHEMA_REVISION,
                         **health_svc.store_health(store)})


@api("GET", "/me", "whoami", response_model=answers.Me)
def me(request: Request, who: Who, store: Workspace) -> JSONResponse:
    """The account this request comes from, and what its owner should know: the wrong
    passwords given for it since its last sign-in, and the addresses it is locked from."""
    assert who.account is not None
    troubles = accounts.sign_in_troubles(store, who.account.name).get(
        who.account.name, {})
    return JSONResponse({"name": who.account.name, "role": who.account.role,
                         "producer_id": who.account.producer_id, "via": who.via,
                         "csrf_token": who.csrf_token,
                         "failed_sign_ins": troubles.get("failed_sign_ins", 0),
                         "locked_from": sorted(troubles.get("locked_from", []))})


class Login(BaseModel):
    model_config = STRICT_BODY
    name: str = Field(max_length=64)
    password: str = Field(max_length=1024)


@api("POST", "/session", "public", response_model=answers.Me)
def login(request: Request, body: Login, who: Who, store: Workspace) -> JSONResponse:
    """Log in with a password: a server-side session in an HttpOnly, SameSite=Strict
    cookie; its CSRF token (in the answer) must come back with every write."""
    same_origin(request)
    address = client_address(request)
    now = request.app.state.clock()
    outcome = accounts.sign_in(store, body.name, body.password, address, now=now)
    if outcome.account is None:
        if outcome.refused == "bad_credentials":
            raise access.UnauthorizedError(N_("wrong name or password"))
        if outcome.refused == "locked":
            raise TooManyAttemptsError(N_("too many failed logins: locked; an admin can lift "
                                          "it with 'kuznia users unlock'"),
                                       retry_after=outcome.retry_after or None)
        raise TooManyAttemptsError(N_("too many failed logins: wait %(seconds)s s"),
                                   retry_after=outcome.retry_after or None,
                                   seconds=str(outcome.retry_after))
    value, session = sessions.open_session(store, outcome.account, now=now)
    response = JSONResponse({"name": session.account.name, "role": session.account.role,
                             "producer_id": session.account.producer_id, "via": "session",
                             "csrf_token": session.csrf_token})
    response.set_cookie(SESSION_COOKIE, value, httponly=True, samesite="strict",
                        secure=request.app.state.https_only, path="/",
                        max_age=int(sessions.ABSOLUTE.total_seconds()))
    return response


@api("DELETE", "/session", "whoami", status_code=204, response_class=Response)
def logout(request: Request, who: Who, store: Workspace) -> Response:
    """Log out: the session ends on the server (the cookie is then worth nothing)."""
    value = request.cookies.get(SESSION_COOKIE)
    if who.via == "session" and value:
        sessions.close_session(store, value)
    response = Response(status_code=204)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response
