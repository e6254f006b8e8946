"""Errors as RFC 9457 problem details (``application/problem+json``): the body every
error of the API leaves as, the one a job keeps as its outcome, and the schema the API
publishes for them.

An error from ``kuznia.errors`` carries its HTTP status; an unexpected exception is a
500 whose body names an id the log has with the traceback (no traceback ever reaches a
client), except a store that cannot be reached or takes no writes, which is a 503 with
``Retry-After``.
"""

import logging
import secrets
from dataclasses import asdict
from http import HTTPStatus
from typing import Any, TypeVar

from fastapi import Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict

from kuznia.errors import InputError, KuzniaError, UnavailableError, from_environment
from kuznia.i18n import N_, Plural, Text, text_data, text_of
from kuznia.services.results import json_safe

PROBLEM = "application/problem+json"
log = logging.getLogger("kuznia.server")


class Problem(BaseModel):
    """RFC 9457 problem details; ``params`` names the parameters an error is about,
    ``problems`` lists an input file's row problems, ``error_id`` names a 500 in the log."""

    model_config = ConfigDict(extra="allow")
    type: str
    title: str
    status: int
    detail: str
    instance: str | None = None


# the error answers every API operation declares (its schema: ``Problem``)
ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": Problem, "description": text, "content": {PROBLEM: {}}}
    for code, text in ((400, "A parameter or the body is wrong"),
                       (401, "No credentials, or credentials that are not good"),
                       (403, "The account's role may not do this"),
                       (404, "No such record (or not the caller's to see)"),
                       (409, "A conflict with what is stored, or the store is busy"),
                       (413, "A JSON body over 1 MiB"),
                       (422, "An input file's rows have problems; nothing was stored"),
                       (429, "Too many failed logins: wait, or ask an admin"),
                       (500, "An internal error, logged with the id the answer names"),
                       (503, "The store cannot be reached or takes no writes just now (a "
                             "failover under way?): send again after Retry-After"))}


def problem(status: int, detail: str, request: Request | None = None,
            **extra: Any) -> JSONResponse:
    """A problem details answer of ``status`` saying ``detail`` (and ``extra`` members)."""
    try:
        title = HTTPStatus(status).phrase
    except ValueError:
        title = "Error"
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail,
            **({"instance": request.url.path} if request is not None else {}), **extra}
    headers = {"WWW-Authenticate": 'Bearer realm="kuznia"'} if status == 401 else None
    return JSONResponse(json_safe(body), status_code=status, media_type=PROBLEM,
                        headers=headers)


def kuznia_problem(exc: KuzniaError, request: Request | None = None) -> JSONResponse:
    """An error meant for a user as problem details: the parameters it is about by their
    API names (``params``), an input file's row problems as data."""
    extra: dict[str, Any] = {}
    if exc.params:
        extra["params"] = list(exc.params)
    if isinstance(exc, InputError):
        extra.update(file=exc.file, problems=[asdict(p) for p in exc.problems],
                     problems_total=exc.total, rows_rejected=exc.rows_rejected)
        detail = (f"{exc.file}: {exc.total:,} problems; nothing from this file was stored")
    else:
        detail = exc.render()  # parameters by their API names, which are the services'
    return retry_after(problem(exc.http_status, detail, request, **extra), exc)


R = TypeVar("R", bound=Response)


def retry_after(response: R, exc: KuzniaError) -> R:
    """``response`` with the ``Retry-After`` the error names, if it names one."""
    retry = getattr(exc, "retry_after", None)
    if retry:
        response.headers["Retry-After"] = str(retry)
    return response


def internal_problem(exc: BaseException, request: Request | None = None) -> JSONResponse:
    """A 500 naming an id the log has with the traceback; but a store that cannot be
    reached or takes no writes (a failover under way) is a 503 with ``Retry-After``: the
    request may be sent again, and the pool reconnects to whichever host is primary."""
    known = from_environment(exc)
    if isinstance(known, UnavailableError):
        log.warning("answered 503 on %s: %s", request.url.path if request is not None
                    else "?", known)
        return kuznia_problem(known, request)
    error_id = secrets.token_hex(6)
    log.error("internal error %s on %s", error_id,
              request.url.path if request is not None else "?", exc_info=exc)
    return problem(500, str(Text(INTERNAL, error_id=error_id)), request, error_id=error_id)


# --- an error's message kept with a job, to be said on a page in its language ------------

INTERNAL = N_("an internal error; it is logged as %(error_id)s")


def message_of(exc: KuzniaError) -> dict[str, Any]:
    """The message of ``exc`` as data a job keeps beside its problem details (whose
    ``detail`` stays English, the API's): the catalogue's message id, its values and the
    parameters it names (``i18n.text_data``), so that a page says it in its own language
    (``say_message``)."""
    if isinstance(exc, InputError):
        return text_data(exc.summary())
    return {**text_data(exc.text), "params": list(exc.params)}


def internal_message(error_id: str) -> dict[str, Any]:
    """The message of an internal error a job met, as ``message_of`` keeps one."""
    return text_data(Text(INTERNAL, error_id=error_id))


def say_message(data: dict[str, Any]) -> str:
    """A message kept by ``message_of``, in the language of the moment (a parameter by
    its name, as the API names it)."""
    said = text_of(data).say()
    for p in data.get("params") or []:
        said = said.replace("{" + p + "}", p)
    return said


# --- a parameter's value refused by its type, said on a page in its language -------------

_DATE = N_("takes a date (YYYY-MM-DD), not %(value)s")
_INVALID = {
    "missing": N_("is required"),
    "int_parsing": N_("takes a whole number, not %(value)s"),
    "int_type": N_("takes a whole number, not %(value)s"),
    "int_from_float": N_("takes a whole number, not %(value)s"),
    "float_parsing": N_("takes a number, not %(value)s"),
    "float_type": N_("takes a number, not %(value)s"),
    "finite_number": N_("takes a finite number, not %(value)s"),
    "bool_parsing": N_("takes true or false, not %(value)s"),
    "bool_type": N_("takes true or false, not %(value)s"),
    "date_parsing": _DATE, "date_from_datetime_parsing": _DATE, "date_type": _DATE,
    "date_from_datetime_inexact": _DATE,
    "greater_than_equal": N_("must be at least %(bound)s, not %(value)s"),
    "greater_than": N_("must be more than %(bound)s, not %(value)s"),
    "less_than_equal": N_("must be at most %(bound)s, not %(value)s"),
    "less_than": N_("must be less than %(bound)s, not %(value)s"),
    "literal_error": N_("takes %(expected)s, not %(value)s"),
    "enum": N_("takes %(expected)s, not %(value)s"),
}
_BOUNDS = ("ge", "gt", "le", "lt")


def invalid_text(error: dict[str, Any]) -> Text | None:
    """What is wrong with one value a route's types refused (an error of pydantic's), as
    a message of the catalogue; None for a kind it does not know (its English is shown).
    A validator's own ``ValueError`` carrying a ``text`` (``server.types``) says that."""
    ctx = error.get("ctx") or {}
    kind = error.get("type", "")
    text = getattr(ctx.get("error"), "text", None)
    if kind == "value_error" and isinstance(text, Text):
        return text
    if kind in ("string_too_long", "too_long") and "max_length" in ctx:
        return Plural("takes at most %(num)s character", "takes at most %(num)s characters",
                      int(ctx["max_length"]))
    message = _INVALID.get(kind)
    if message is None:
        return None
    shown = error.get("input")
    bound = next((ctx[b] for b in _BOUNDS if b in ctx), "")
    return Text(message, value=repr(shown)[:60], bound=str(bound),
                expected=str(ctx.get("expected", "")))
