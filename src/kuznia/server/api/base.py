"""What every route of ``/api/v1`` shares: how a route is declared with its access action
(``Routes``), the dependencies a route names in its signature (``Who``, the caller its
action let through; ``Workspace``, the store), and how an answer is computed in one
snapshot of the store and kept per version of the data.

A route's action is in its OpenAPI operation as ``x-access``, with the roles that may
call it. A query parameter the route does not declare is a 400 naming it (after the
access check), never ignored: an ignored filter answers another question than the one
asked (a producer's chart once drew every producer's figures so).

A figure (``Routes.figure``) is one function, called by its route and by the pages that
show it (``figure_body``): its URL is built from the route, and the answer is kept under
the route's question, so that a page and its chart cannot answer two questions.
"""

import datetime as dt
import inspect
from collections.abc import Callable
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from fastapi.security import APIKeyCookie, HTTPBearer

from kuznia.errors import UsageError
from kuznia.i18n import N_
from kuznia.server.auth import SESSION_COOKIE, Allow, Caller
from kuznia.server.cache import AnswerCache
from kuznia.server.problems import ERRORS
from kuznia.server.types import Day
from kuznia.services import access, audit
from kuznia.services.results import json_safe
from kuznia.services.store import Store

API = "/api/v1"
MAX_INT = 2**31 - 1

Id = Annotated[str | None, Query(max_length=200)]
__all__ = ["API", "MAX_INT", "Day", "Id", "Routes", "Who", "Workspace", "answer",
           "figure_body", "figure_url", "kept_answer", "kept_body", "only_own",
           "peek_body", "render_json", "store_of"]


def store_of(request: Request) -> Store:
    """The store the application serves."""
    return request.app.state.store  # type: ignore[no-any-return]


_ALLOW: dict[str, Allow] = {}


def allowed_caller(request: Request) -> Caller:
    """The caller of an API route, let through by the action the route declares
    (``x-access``): every route runs this check, whether or not it names ``Who``."""
    route = request.scope.get("route")
    extra = route.openapi_extra if isinstance(route, APIRoute) else None
    action = (extra or {}).get("x-access", {}).get("action")
    if action is None:  # cannot happen: every route is made with its action
        raise access.ForbiddenError(N_("this route declares no access rule"))
    allow = _ALLOW.get(action)
    if allow is None:
        allow = _ALLOW[action] = Allow(action)
    return allow(request)


Who = Annotated[Caller, Depends(allowed_caller)]

# How a caller says who it is, as the OpenAPI schema declares it (``allowed_caller`` reads
# the credentials itself: these only name them, and never refuse anything)
BEARER = HTTPBearer(auto_error=False, scheme_name="bearer",
                    description="An API token (``kuznia users token``): Authorization: "
                                "Bearer TOKEN")
SESSION = APIKeyCookie(name=SESSION_COOKIE, auto_error=False, scheme_name="session",
                       description="A browser session (POST /session); a write also "
                                   "needs its CSRF token in the X-CSRF-Token header")
Workspace = Annotated[Store, Depends(store_of)]


def known_query(request: Request, who: Who) -> None:
    """Refuse a query parameter the route does not declare (400 naming it)."""
    route = request.scope.get("route")
    names = _query_names(route) if isinstance(route, APIRoute) else set()
    unknown = sorted({k for k in request.query_params if k not in names})
    if unknown:
        if not names:
            raise UsageError(N_("%(param)s is not a parameter of this route (it takes no "
                                "query parameters); nothing was answered"),
                             params=tuple(unknown), param="{" + unknown[0] + "}")
        raise UsageError(N_("%(param)s is not a parameter of this route (it takes "
                            "%(names)s); nothing was answered"), params=tuple(unknown),
                         param="{" + unknown[0] + "}", names=", ".join(sorted(names)))


_QUERY_NAMES: dict[int, set[str]] = {}


def _query_names(route: APIRoute) -> set[str]:
    """The query parameters ``route`` declares (by the names a URL uses)."""
    names = _QUERY_NAMES.get(id(route))
    if names is None:
        names, todo = set(), [route.dependant]
        while todo:  # the route's own and its dependencies'
            dependant = todo.pop()
            names |= {q.alias for q in dependant.query_params}
            todo += dependant.dependencies
        _QUERY_NAMES[id(route)] = names
    return names


_FIGURES: dict[Callable[..., Any], APIRoute] = {}


class Routes:
    """The routes of one resource (``router``, under ``/api/v1``, tagged ``tag``)."""

    def __init__(self, tag: str):
        self.router = APIRouter(prefix=API, tags=[tag])

    def __call__(self, method: str, path: str, action: str, **kw: Any
                 ) -> Callable[[Callable], Callable]:
        """Add a route with its access action (``allowed_caller`` checks it before
        anything else runs). A route without an action cannot be made."""
        roles = sorted(r for r in access.ROLES if access.allowed(r, action)) \
            if action != "public" else ["anyone"]
        extra = {"x-access": {"action": action, "roles": roles}}

        credentials = [] if action == "public" else [Depends(BEARER), Depends(SESSION)]

        def add(fn: Callable) -> Callable:
            self.router.add_api_route(
                path, fn, methods=[method], openapi_extra=extra,
                dependencies=[*credentials, Depends(allowed_caller), Depends(known_query)],
                **{"response_class": JSONResponse, **kw,
                   "responses": {**ERRORS, **kw.get("responses", {})}})
            return fn

        return add

    def figure(self, path: str, action: str, **kw: Any) -> Callable[[Callable], Callable]:
        """A figure's route (``GET``, kept per version of the data): ``fn`` computes the
        figure from the route's own parameters and returns it (a result object), and is
        the one function both the route and the pages call (``figure_body``)."""

        def add(fn: Callable[..., Any]) -> Callable[..., Any]:
            sig = inspect.signature(fn, eval_str=True)

            def endpoint(**kwargs: Any) -> JSONResponse:
                return kept_answer(kwargs["request"], lambda: fn(**kwargs))

            endpoint.__signature__ = sig.replace(  # type: ignore[attr-defined]
                return_annotation=JSONResponse)
            for name in ("__name__", "__qualname__", "__doc__", "__module__"):
                setattr(endpoint, name, getattr(fn, name))
            self("GET", path, action, **kw)(endpoint)
            route = self.router.routes[-1]
            assert isinstance(route, APIRoute) and route.endpoint is endpoint
            _FIGURES[fn] = route
            return fn

        return add


def figure_url(fn: Callable[..., Any], params: dict[str, Any]) -> tuple[str, dict[str, str]]:
    """The path and query of the question ``params`` asks ``fn``'s route, built from the
    route itself (its path and its parameters' names): a name the route does not take is
    a programming error, raised here rather than refused by the route."""
    route = _FIGURES[fn]
    path_names = {p.alias for p in route.dependant.path_params}
    unknown = sorted(set(params) - path_names - _query_names(route))
    if unknown:
        raise TypeError(f"{route.path} takes no parameter {', '.join(unknown)}")
    path = route.url_path_for(route.name, **{k: str(params[k]) for k in path_names})
    query = {k: v.isoformat() if isinstance(v, dt.date) else str(v)
             for k, v in params.items()
             if k not in path_names and v is not None and v != ""}
    return str(path), query


def figure_body(request: Request, who: Caller, fn: Callable[..., Any],
                params: dict[str, Any], *, peek: bool = False
                ) -> tuple[bytes | None, str]:
    """The kept JSON body of ``fn``'s route asked ``params`` by ``who`` (made now if this
    version of the data has none; with ``peek``, None then), and the URL that asks the
    route the same question (what a page's chart fetches)."""
    path, query = figure_url(fn, params)
    wants_store = "store" in inspect.signature(fn).parameters

    def made() -> bytes:
        extra = {"store": store_of(request)} if wants_store else {}
        return bytes(render_json(fn(request=request, who=who, **extra, **params)).body)

    body = peek_body(request, path, query.items(), made) if peek \
        else kept_body(request, path, query.items(), made)
    return body, quote(path) + ("?" + urlencode(query) if query else "")


# --- answers ----------------------------------------------------------------------------

def render_json(result: Any, status: int = 200) -> JSONResponse:
    """A result object (its ``to_dict``) or plain data as strict JSON."""
    body = result.to_dict() if hasattr(result, "to_dict") else result
    return JSONResponse(json_safe(body), status_code=status)


def answer(request: Request, make: Callable[[], Any], status: int = 200,
           keep: bool = False) -> JSONResponse:
    """Compute in one snapshot of the store, render as strict JSON.

    ``keep``: the answer is a function of the records only (no job, no session): it is
    kept per version of the data (``kuznia.server.cache``) and served again while that
    version stands.
    """
    store = store_of(request)
    if not keep:
        with store.snapshot():
            return render_json(make(), status)
    body = kept_body(request, request.url.path, request.query_params.multi_items(),
                     lambda: bytes(render_json(make(), status).body))
    return _KeptJSON(body, status_code=status)


def kept_answer(request: Request, make: Callable[[], Any]) -> JSONResponse:
    """``answer`` for a figure that is a function of the records only (kept per version)."""
    return answer(request, make, keep=True)


class _KeptJSON(JSONResponse):
    """A JSON answer whose body is already rendered (kept bytes)."""

    def render(self, content: Any) -> bytes:
        return bytes(content)


def kept_body(request: Request, path: str, query: Any, make: Callable[[], bytes]) -> bytes:
    """The kept JSON body of the question (``path``, ``query`` items) for this request's
    caller, made by ``make`` in one snapshot when this version of the data has none: the
    API's routes and the pages that show the same figure share it."""
    body = peek_body(request, path, query, make)
    if body is None:
        cache: AnswerCache = request.app.state.answers
        question = _question(request, path, query)
        # the head again, in the snapshot the answer is computed from
        with store_of(request).snapshot() as conn:
            body = cache.get_or_make((*question, audit.head(conn)), make)
    assert body is not None
    return body


def _question(request: Request, path: str, query: Any) -> tuple:
    return (path, tuple(sorted((str(k), str(v)) for k, v in query)),
            request.state.caller.scope, dt.date.today())


def peek_body(request: Request, path: str, query: Any, make: Callable[[], bytes]
              ) -> bytes | None:
    """The kept body of the question if this version of the data has it, else None (one
    indexed query; nothing computed). The question is remembered for the warmer either
    way, so a page that only looked still has its figures remade after the next write."""
    cache: AnswerCache = request.app.state.answers
    question = _question(request, path, query)
    if (warmer := getattr(request.app.state, "warmer", None)) is not None:
        warmer.asked(question, make)  # made again after the next write (server/warm.py)
    with store_of(request).read() as conn:
        return cache.get((*question, audit.head(conn)))


def only_own(who: Caller, producer: str | None) -> tuple[str | None, bool]:
    """The producer filter a caller's answer takes, and whether it can have rows at all (a
    producer asking for another producer gets nothing, as if there were nothing)."""
    scope = who.scope
    if scope.producer_id is None:
        return producer, True
    return scope.producer_id, producer in (None, scope.producer_id)
