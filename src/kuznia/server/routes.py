"""Every endpoint of ``/api/v1``. Each one parses, checks access (the action it declares
with ``api``), calls a service inside one snapshot of the store, and renders JSON.

The questions take the CLI's options as query parameters under the services' names
(``date_from``, not ``--from``) and answer with the CLI's ``--json`` shape. Every table is
listed (``GET /{table}``, filters on its ids and dates, paged with a cursor) and read by
key (``GET /{table}/{key}``); each table with an import format takes uploads
(``POST /imports/{table}``). The action of each route is in its OpenAPI operation as
``x-access``, with the roles that may call it.
"""

import datetime as dt
import inspect
import io
from collections.abc import Callable
from typing import Annotated, Any, Literal
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Body, Depends, File, Form, Path, Query, Request, UploadFile
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.routing import APIRoute
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, create_model

from kuznia import __version__
from kuznia.errors import (
    ConflictError,
    InputError,
    NotFoundError,
    TooManyAttemptsError,
    UsageError,
)
from kuznia.ingest.tables import SPECS
from kuznia.server import heavy
from kuznia.server import imports as uploads
from kuznia.server.addresses import client_address
from kuznia.server.auth import SESSION_COOKIE, Allow, Caller, same_origin
from kuznia.server.cache import AnswerCache
from kuznia.server.types import STRICT_BODY, Day, iso_day
from kuznia.services import (
    access,
    accounts,
    audit,
    costs,
    jobs,
    oversight,
    records,
    sessions,
    trace,
    use_outbox,
)
from kuznia.services import board as board_svc
from kuznia.services import failures as failures_svc
from kuznia.services import growth as growth_svc
from kuznia.services import headline as headline_svc
from kuznia.services import planning as planning_svc
from kuznia.services import repairs as repairs_svc
from kuznia.services import resilience as resilience_svc
from kuznia.services import scorecard as scorecard_svc
from kuznia.services.imports import import_file
from kuznia.services.params import AUDIT_LIMIT
from kuznia.services.results import json_safe
from kuznia.services.store import Store, WriteBusy
from kuznia.services.table_writer import STORED_OTHERWISE
from kuznia.store import engine as engines

router = APIRouter(prefix="/api/v1")
MAX_INT = 2**31 - 1


class Problem(BaseModel):
    """RFC 9457 problem details; ``params`` names the parameters an error is about,
    ``problems`` lists an input file's row problems, ``error_id`` names a 500 in the log."""

    model_config = ConfigDict(extra="allow")
    type: str
    title: str
    status: int
    detail: str
    instance: str | None = None


ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": Problem, "description": text, "content": {"application/problem+json": {}}}
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


def api(method: str, path: str, action: str, **kw: Any) -> Callable[[Callable], Callable]:
    """Add a route with its access action: the endpoint's ``who`` parameter is the caller
    that ``Allow(action)`` let through. A route without an action cannot be made. A query
    parameter the route does not declare is a 400 naming it (after the access check),
    never ignored: an ignored filter answers another question than the one asked."""
    roles = sorted(r for r in access.ROLES if access.allowed(r, action)) \
        if action != "public" else ["anyone"]
    allow = Allow(action)

    def known_query(request: Request, who: Annotated[Caller, Depends(allow)]) -> None:
        route = request.scope.get("route")
        names = _query_names(route) if isinstance(route, APIRoute) else set()
        unknown = sorted({k for k in request.query_params if k not in names})
        if unknown:
            takes = ", ".join(sorted(names)) or "no query parameters"
            raise UsageError(f"{{{unknown[0]}}} is not a parameter of this route (it takes "
                             f"{takes}); nothing was answered",
                             params=tuple(unknown))

    def add(fn: Callable) -> Callable:
        sig = inspect.signature(fn, eval_str=True)
        only = inspect.Parameter.KEYWORD_ONLY  # FastAPI calls with keywords only
        params = [p.replace(kind=only, default=Depends(allow)) if p.name == "who"
                  else p.replace(kind=only) for p in sig.parameters.values()]
        fn.__signature__ = sig.replace(parameters=params)  # type: ignore[attr-defined]
        extra = {"x-access": {"action": action, "roles": roles}}
        router.add_api_route(path, fn, methods=[method], openapi_extra=extra,
                             dependencies=[Depends(known_query)],
                             **{"response_class": JSONResponse, **kw,
                                "responses": {**ERRORS, **kw.get("responses", {})}})
        return fn

    return add


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


# --- figures: one function per figure, for its route and the pages ------------------------

_FIGURES: dict[Callable[..., Any], APIRoute] = {}


def figure_api(path: str, action: str, **kw: Any) -> Callable[[Callable], Callable]:
    """A figure's route (``GET``, kept per version of the data): ``fn`` computes the
    figure from the route's own parameters, and is the one function both the route and
    the pages call (``figure_body``), so that a page and a chart's fetch of its route
    cannot answer two questions."""

    def add(fn: Callable[..., Any]) -> Callable[..., Any]:
        sig = inspect.signature(fn, eval_str=True)

        def endpoint(**kwargs: Any) -> JSONResponse:
            return kept_answer(kwargs["request"], lambda: fn(**kwargs))

        endpoint.__signature__ = sig.replace(  # type: ignore[attr-defined]
            return_annotation=JSONResponse)
        endpoint.__name__ = fn.__name__
        endpoint.__qualname__ = fn.__qualname__
        endpoint.__doc__ = fn.__doc__
        endpoint.__module__ = fn.__module__
        api("GET", path, action, **kw)(endpoint)
        route = router.routes[-1]
        assert isinstance(route, APIRoute) and route.endpoint is endpoint
        _FIGURES[fn] = route
        return fn

    return add


def figure_url(fn: Callable[..., Any], params: dict[str, Any]) -> tuple[str, dict[str, str]]:
    """The path and query of the question ``params`` asks ``fn``'s route, built from the
    route itself (its path and its parameters' names): a name the route does not take is
    a programming error, raised here rather than dropped by the route."""
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
    """The kept JSON body of ``fn``'s route asked ``params`` for this caller (made now if
    this version of the data has none; with ``peek``, None then), and the URL that asks
    the route the same question (what a page's chart fetches)."""
    path, query = figure_url(fn, params)

    def made() -> bytes:
        return bytes(_render(fn(request=request, who=who, **params), 200).body)

    body = peek_body(request, path, query.items(), made) if peek \
        else kept_body(request, path, query.items(), made)
    url = quote(path) + ("?" + urlencode(query) if query else "")
    return body, url


def store_of(request: Request) -> Store:
    return request.app.state.store  # type: ignore[no-any-return]


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
            return _render(make(), status)
    body = kept_body(request, request.url.path, request.query_params.multi_items(),
                     lambda: bytes(_render(make(), status).body))
    return _KeptJSON(body, status_code=status)


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


def _render(result: Any, status: int) -> JSONResponse:
    body = result.to_dict() if hasattr(result, "to_dict") else result
    return JSONResponse(json_safe(body), status_code=status)


def kept_answer(request: Request, make: Callable[[], Any]) -> JSONResponse:
    """``answer`` for a figure that is a function of the records only (kept per version)."""
    return answer(request, make, keep=True)


def only_own(who: Caller, producer: str | None) -> tuple[str | None, bool]:
    """The producer filter a caller's answer takes, and whether it can have rows at all (a
    producer asking for another producer gets nothing, as if there were nothing)."""
    scope = who.scope
    if scope.producer_id is None:
        return producer, True
    return scope.producer_id, producer in (None, scope.producer_id)


Id = Annotated[str | None, Query(max_length=200)]


# --- the service itself ------------------------------------------------------------------

class Standby(BaseModel):
    state: str | None
    sync_state: str | None
    replay_lag_seconds: float | None


class Replication(BaseModel):
    standbys: list[Standby] | None = None  # on a primary
    replay_lag_seconds: float | None = None  # on a standby: age of the last replayed write


class Health(BaseModel):
    status: str
    version: str
    schema_revision: str
    store: str
    writable: bool
    role: str | None
    replication: Replication | None


@api("GET", "/health", "public", response_model=Health)
def health(request: Request, who: Caller) -> JSONResponse:
    """The server is up and serves a workspace of this Kuznia's schema: which store,
    whether it takes writes, and the replication lag where PostgreSQL shows it."""
    from kuznia.services.health import store_health

    return JSONResponse({"status": "ok", "version": __version__,
                         "schema_revision": engines.HEAD,
                         **store_health(store_of(request))})


class Me(BaseModel):
    name: str
    role: str
    producer_id: str | None
    via: str
    csrf_token: str | None = None
    failed_sign_ins: int = 0
    locked_from: list[str] = []


@api("GET", "/me", "whoami", response_model=Me)
def me(request: Request, who: Caller) -> JSONResponse:
    """The account this request comes from, and what its owner should know: the wrong
    passwords given for it since its last sign-in, and the addresses it is locked from."""
    assert who.account is not None
    troubles = accounts.sign_in_troubles(store_of(request), who.account.name).get(
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


@api("POST", "/session", "public", response_model=Me)
def login(request: Request, body: Login, who: Caller) -> JSONResponse:
    """Log in with a password: a server-side session in an HttpOnly, SameSite=Strict
    cookie; its CSRF token (in the answer) must come back with every write."""
    same_origin(request)
    store = store_of(request)
    address = client_address(request)
    now = request.app.state.clock()
    outcome = accounts.sign_in(store, body.name, body.password, address, now=now)
    if outcome.account is None:
        if outcome.refused == "bad_credentials":
            raise access.UnauthorizedError("wrong name or password")
        raise TooManyAttemptsError("too many failed logins: " + (
            "locked; an admin can lift it with 'kuznia users unlock'"
            if outcome.refused == "locked" else f"wait {outcome.retry_after} s"),
            retry_after=outcome.retry_after or None)
    value, session = sessions.open_session(store, outcome.account, now=now)
    response = JSONResponse({"name": session.account.name, "role": session.account.role,
                             "producer_id": session.account.producer_id, "via": "session",
                             "csrf_token": session.csrf_token})
    response.set_cookie(SESSION_COOKIE, value, httponly=True, samesite="strict",
                        secure=request.app.state.https_only, path="/",
                        max_age=int(sessions.ABSOLUTE.total_seconds()))
    return response


@api("DELETE", "/session", "whoami", status_code=204, response_class=Response)
def logout(request: Request, who: Caller) -> Response:
    """Log out: the session ends on the server (the cookie is then worth nothing)."""
    value = request.cookies.get(SESSION_COOKIE)
    if who.via == "session" and value:
        sessions.close_session(store_of(request), value)
    response = Response(status_code=204)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


# --- the questions -----------------------------------------------------------------------

By = Annotated[str, Query(max_length=200, description="Group keys, comma-separated.")]


@figure_api("/cost-per-effect", "costs.read")
def cost_per_effect(request: Request, who: Caller, by: By = "product",
                    date_from: Day = None, date_to: Day = None, product: Id = None,
                    category: Id = None, producer: Id = None) -> costs.CostTable:
    """Cost per confirmed effect per group, with 90% intervals; ``producer``: from that
    producer's uses only (a producer: its own, whatever it asks; another's is empty)."""
    scope = who.scope
    keys = costs.parse_by(by)
    if not scope.operators and "operator" in keys:
        raise access.ForbiddenError("this account may not see operators")
    heavy.check_keys(keys)
    producer, any_rows = only_own(who, producer)
    store = store_of(request)
    if not any_rows:
        return costs.CostTable(keys, store.setting("currency", "USD") or "USD", [],
                               ["no uses of this producer's for this account to see"])

    def make() -> costs.CostTable:
        return costs.cost_per_effect(store, by, date_from, date_to, producer=producer,
                                     product=product, category=category)

    if "operator" not in keys:  # from the kept aggregate: light
        return make()
    with heavy.one_at_a_time(request, "cost per effect by operator"):  # a scan of the uses
        return make()


@figure_api("/headline", "costs.read")
def headline(request: Request, who: Caller, date_from: Day = None, date_to: Day = None,
             product: Id = None, category: Id = None) -> headline_svc.Headline:
    """The overview's headline figures: spend, confirmed effects and cost per effect (with
    its 90% interval) over the period asked (else the latest 90 days of data), each beside
    the period before it of the same length (a producer: its own)."""
    return headline_svc.headline(store_of(request), date_from, date_to,
                                 producer=who.scope.producer_id, product=product,
                                 category=category)


Condition = Annotated[str | None, Query(
    max_length=400, description="key=value: uses whose conditions hold it (key=- for "
    "none); several joined by ';'.")]


@api("GET", "/uses", "figures.read")
def uses(request: Request, who: Caller, product: Id = None, producer: Id = None,
         version: Id = None, operator: Id = None, failure_mode: Id = None, lot: Id = None,
         month: Annotated[str | None, Query(max_length=7)] = None, category: Id = None,
         date_from: Day = None,
         date_to: Day = None, condition: Condition = None,
         limit: Annotated[int, Query(ge=1, le=1000)] = 100,
         cursor: Annotated[str | None, Query(max_length=400)] = None,
         total: bool = False) -> JSONResponse:
    """The uses behind a figure, oldest first, a page at a time (``next_cursor``);
    ``total`` also counts them all (it costs a scan of the group)."""
    return kept_answer(request, lambda: trace.list_uses(
        store_of(request), product=product, producer=producer, version=version,
        operator=operator, failure_mode=failure_mode, lot=lot, month=month,
        category=category, date_from=date_from, date_to=date_to, condition=condition,
        limit=limit, cursor=cursor, with_total=total, scope=who.scope))


@figure_api("/failures", "figures.read")
def failures(request: Request, who: Caller, product: Id = None, version: Id = None,
             producer: Id = None, by: Annotated[str | None, Query(max_length=200)] = None
             ) -> failures_svc.FailureTable:
    """The Pareto of failure modes (a producer: of its own uses)."""
    producer, any_rows = only_own(who, producer)
    if not any_rows:
        return failures_svc.FailureTable(failures_svc.parse_failure_by(by))
    return failures_svc.failures(store_of(request), product, version, producer, by)


@figure_api("/fixes", "figures.read")
def fixes(request: Request, who: Caller, product: Id = None, producer: Id = None,
          confidence: float = 0.95, reduction: float = 0.5) -> failures_svc.FixTable:
    """Every corrective action with its status from the uses."""
    _, any_rows = only_own(who, producer)
    if not any_rows:
        return failures_svc.FixTable(confidence=confidence, reduction=reduction)
    return failures_svc.fixes(store_of(request), product, producer, confidence, reduction,
                              scope=who.scope.producer_id)


@figure_api("/growth", "growth.read")
def growth(request: Request, who: Caller, product: Annotated[str, Query(max_length=200)],
           target: float = 0.95) -> growth_svc.Growth:
    """Reliability by version, the growth fit and a projection to ``target``."""
    return growth_svc.growth(store_of(request), product, target)


@figure_api("/board", "figures.read")
def board(request: Request, who: Caller, producer: Id = None, product: Id = None,
          as_of: Day = None, threshold: float = board_svc.THRESHOLD) -> board_svc.Board:
    """Unresolved problems as weighted, aging blocks, stacked per producer."""
    scope = who.scope
    b = board_svc.board(store_of(request), producer, product, as_of, threshold,
                        scope=scope.producer_id)
    b.blocks = scope.blocks(b.blocks)
    return b


@figure_api("/producers/{producer_id}/scorecard", "figures.read")
def scorecard(request: Request, who: Caller, producer_id: Annotated[str, Path(max_length=200)]
              ) -> scorecard_svc.Scorecard:
    """A producer's scorecard: on-time lots, accepted units, failures per 100 uses and
    cost per effect, with intervals, beside the median of the other producers of the same
    products (at least three of them), and by month. A producer: its own only (no cost
    per effect for a role without prices)."""
    scope = who.scope
    if scope.producer_id is not None and scope.producer_id != producer_id:
        raise NotFoundError(f"no producers record with producer_id {producer_id!r}")
    return scorecard_svc.scorecard(store_of(request), producer_id, with_costs=scope.prices)


# --- plans -------------------------------------------------------------------------------

class AllocateBody(BaseModel):
    model_config = STRICT_BODY
    budget: float
    max_producer_share: float | None = Field(None, ge=0, le=1)
    max_region_share: float | None = Field(None, ge=0, le=1)
    min_category_share: dict[str, Annotated[float, Field(ge=0, le=1)]] = {}
    require: dict[str, Annotated[int, Field(ge=0, le=MAX_INT)]] = {}
    risk: str = Field("mean", max_length=8)
    price_change: dict[str, Annotated[float, Field(gt=-1, le=100)]] = {}
    without_producers: list[Annotated[str, Field(max_length=200)]] = []
    time_limit: float = Field(60.0, gt=0, le=600)
    gap: float = Field(1e-3, ge=0, le=1)


def _allocate(store: Store, body: AllocateBody) -> planning_svc.PlanResult:
    return planning_svc.allocate(
        store, budget=body.budget, max_producer_share=body.max_producer_share,
        max_region_share=body.max_region_share,
        min_category_share=body.min_category_share or None,
        require=body.require or None, risk=body.risk, time_limit=body.time_limit,
        gap=body.gap, what_if=planning_svc.WhatIf(dict(body.price_change),
                                                  list(body.without_producers)))


@figure_api("/oversight/flags", "oversight.read")
def oversight_flags(request: Request, who: Caller, date_from: Day = None, date_to: Day = None,
                    producer: Id = None, product: Id = None) -> oversight.FlagList:
    """Red flags with their evidence, most severe first, at the thresholds the server was
    started with (``kuznia serve --oversight-config``; else the built-in ones). A producer
    gets only the flags about itself, other producers' figures only as aggregates, and
    none about operators."""
    return oversight.flags(store_of(request), date_from=date_from, date_to=date_to,
                           producer=producer, product=product, scope=who.scope,
                           config=request.app.state.oversight_config)


@api("POST", "/plans/allocate", "plans.run")
def allocate(request: Request, who: Caller, body: AllocateBody) -> JSONResponse:
    """The plan with the most expected effects within every limit (not saved)."""
    return answer(request, lambda: _allocate(store_of(request), body))


class SaveBody(AllocateBody):
    name: str = Field(min_length=1, max_length=128)


@api("POST", "/plans", "plans.run", status_code=201)
def save_plan(request: Request, who: Caller, body: SaveBody) -> JSONResponse:
    """Make the plan and keep it under ``name`` (an audited write naming the account)."""
    store = store_of(request)
    planning_svc.check_plan_name(body.name)  # before the solve, not after it
    with store.snapshot():
        plan = _allocate(store, body)
    event_id = planning_svc.save_plan(store, body.name, plan, who.name)
    return JSONResponse(json_safe({**plan.to_dict(), "name": body.name,
                                   "event_id": event_id}), status_code=201)


@api("GET", "/plans", "plans.read")
def list_plans(request: Request, who: Caller) -> JSONResponse:
    """The saved plans."""
    return kept_answer(request, lambda: planning_svc.list_plans(store_of(request)))


@api("GET", "/plans/{name}", "plans.read")
def show_plan(request: Request, who: Caller, name: str) -> JSONResponse:
    """A saved plan with its inputs."""
    return kept_answer(request, lambda: planning_svc.show_plan(store_of(request), name))


@api("GET", "/plans/{name}/diff/{other}", "plans.read")
def diff_plans(request: Request, who: Caller, name: str, other: str) -> JSONResponse:
    """What changed from plan ``name`` to plan ``other``."""
    return kept_answer(request, lambda: planning_svc.diff_plans(store_of(request), name, other))


# --- resilience and repairs ---------------------------------------------------------------

class SimulateBody(BaseModel):
    model_config = STRICT_BODY
    months: int = Field(12, ge=1, le=120)
    scenarios: int = Field(10_000, ge=2, le=1_000_000)
    seed: int = Field(0, ge=0, le=2**63 - 1)
    start: dt.date | None = None
    from_history: bool = False
    history_from: dt.date | None = None
    spillover: float = Field(0.0, ge=0, le=1)


@api("POST", "/resilience/simulate", "resilience.run")
def simulate(request: Request, who: Caller, body: SimulateBody) -> JSONResponse:
    """Simulate strikes on the sites: output per product and site, with intervals
    (scenarios x months at most ``MAX_SCENARIO_MONTHS``; one at a time: 503 meanwhile)."""
    heavy.check_size(body.scenarios, body.months)
    with heavy.one_at_a_time(request, "this simulation"):
        return answer(request, lambda: resilience_svc.run(
            store_of(request), body.months, body.scenarios, body.seed, start=body.start,
            from_history=body.from_history, spillover=body.spillover,
            history_from=body.history_from))


@api("GET", "/resilience/regions", "resilience.read")
def regions(request: Request, who: Caller, as_of: Day = None, history_from: Day = None
            ) -> JSONResponse:
    """Each region's strike figures estimated from the strikes on or before ``as_of``,
    over the months from ``history_from`` (default: the workspace's first record)."""
    return kept_answer(request, lambda: {"regions": resilience_svc.estimate_regions(
        store_of(request), as_of, history_from)})


@api("POST", "/resilience/duplicate", "resilience.run")
def duplicate(request: Request, who: Caller, candidates: Annotated[UploadFile, File()],
              budget: Annotated[float, Form()],
              months: Annotated[int, Form(ge=1, le=120)] = 12,
              scenarios: Annotated[int, Form(ge=2, le=1_000_000)] = 2_000,
              saa_scenarios: Annotated[int, Form(ge=2, le=100_000)] = 300,
              seed: Annotated[int, Form(ge=0, le=2**63 - 1)] = 0,
              time_limit: Annotated[float, Form(gt=0, le=600)] = 120.0) -> JSONResponse:
    """Choose duplicate lines within ``budget`` from a candidates upload."""
    name = uploads.display_name(candidates.filename)
    heavy.check_size(scenarios, months)
    with heavy.one_at_a_time(request, "this plan"):
        return answer(request, lambda: resilience_svc.duplicate(
            store_of(request), candidates.file, budget, months, scenarios, saa_scenarios,
            seed, time_limit=time_limit, candidates_name=name))


@api("POST", "/repairs/plan", "resilience.run")
def repairs_plan(request: Request, who: Caller, backlog: Annotated[UploadFile, File()],
                 repair_points: Annotated[UploadFile, File()],
                 as_of: Annotated[dt.date | None, BeforeValidator(iso_day), Form()] = None,
                 ) -> JSONResponse:
    """Repair assignments at home, against sending everything abroad."""
    return answer(request, lambda: repairs_svc.repairs_plan(
        store_of(request), backlog.file, repair_points.file, as_of,
        backlog_name=uploads.display_name(backlog.filename),
        points_name=uploads.display_name(repair_points.filename)))


# --- the audit trail ----------------------------------------------------------------------

@api("GET", "/audit", "audit.read")
def audit_list(request: Request, who: Caller,
               limit: Annotated[int, Query(ge=0, le=MAX_INT)] = AUDIT_LIMIT) -> JSONResponse:
    """The latest audit events, newest first (0: all)."""
    def make() -> audit.EventList:
        with store_of(request).read() as conn:
            return audit.EventList(audit.list_events(conn, limit))

    return answer(request, make)


@api("GET", "/audit/history", "audit.read")
def audit_history(request: Request, who: Caller,
                  table: Annotated[str | None, Query(max_length=64)] = None,
                  key: Annotated[str | None, Query(max_length=400)] = None,
                  limit: Annotated[int, Query(ge=0, le=MAX_INT)] = AUDIT_LIMIT
                  ) -> JSONResponse:
    """What imports with ``update`` changed in stored rows, oldest first: each value before
    and after, with the event, when, who and which file (0: every change)."""
    def make() -> audit.RowHistory:
        with store_of(request).read() as conn:
            return audit.RowHistory(audit.row_history(conn, table, key, limit or None))

    return answer(request, make)


@api("GET", "/audit/verify", "audit.read")
def audit_verify(request: Request, who: Caller, deep: bool = False,
                 expect_head: Annotated[str | None, Query(max_length=64)] = None
                 ) -> JSONResponse:
    """Check the hash chain; ``deep`` also checks every stored row against it (never
    kept: rows edited outside Kuznia leave the head as it was; one at a time: 503
    meanwhile)."""
    def make() -> audit.ChainCheck:
        with store_of(request).read() as conn:
            return audit.verify(conn, deep=deep, expect_head=expect_head)

    if not deep:
        return answer(request, make)
    with heavy.one_at_a_time(request, "this deep check"):
        return answer(request, make)


# --- accounts (admin) ----------------------------------------------------------------------

class NewUser(BaseModel):
    model_config = STRICT_BODY
    name: str = Field(max_length=64)
    role: Literal["admin", "analyst", "procurement", "engineer", "producer", "auditor",
                  "partner"]
    producer_id: str | None = Field(None, max_length=200)
    partner_id: str | None = Field(None, max_length=200)
    password: str | None = Field(None, max_length=1024)


@api("GET", "/users", "accounts.manage")
def list_users(request: Request, who: Caller) -> JSONResponse:
    """Every account with its role, scope, state and live tokens (never a secret)."""
    return answer(request, lambda: accounts.list_users(store_of(request)))


@api("POST", "/users", "accounts.manage", status_code=201)
def add_user(request: Request, who: Caller, body: NewUser) -> JSONResponse:
    """Add an account (audited, naming the admin)."""
    event_id = accounts.add_user(store_of(request), body.name, body.role, actor=who.name,
                                 producer=body.producer_id, password=body.password,
                                 partner=body.partner_id)
    return JSONResponse({"name": body.name, "event_id": event_id}, status_code=201)


class TokenBody(BaseModel):
    model_config = STRICT_BODY
    expires_days: int | None = Field(90, ge=1, le=accounts.MAX_TOKEN_DAYS)


@api("POST", "/users/{name}/tokens", "accounts.manage", status_code=201)
def issue_token(request: Request, who: Caller, name: str,
                body: Annotated[TokenBody | None, Body()] = None) -> JSONResponse:
    """A new API token for the account, shown this once (only its hash is kept)."""
    days = body.expires_days if body is not None else 90
    token = accounts.issue_token(store_of(request), name, actor=who.name, expires_days=days)
    return JSONResponse({"name": name, "token": token}, status_code=201)


@api("POST", "/users/{name}/disable", "accounts.manage")
def disable_user(request: Request, who: Caller, name: str) -> JSONResponse:
    """Disable the account: its tokens and sessions stop working at once."""
    event_id = accounts.disable_user(store_of(request), name, actor=who.name)
    return JSONResponse({"name": name, "event_id": event_id})


@api("POST", "/users/{name}/revoke-tokens", "accounts.manage")
def revoke_tokens(request: Request, who: Caller, name: str) -> JSONResponse:
    """Revoke every live token of the account."""
    n = accounts.revoke_tokens(store_of(request), name, actor=who.name)
    return JSONResponse({"name": name, "revoked": n})


class Unlock(BaseModel):
    model_config = STRICT_BODY
    name: str | None = Field(None, max_length=64)
    address: str | None = Field(None, max_length=64)


@api("POST", "/locks/lift", "accounts.manage")
def lift_lock(request: Request, who: Caller, body: Unlock) -> JSONResponse:
    """Lift the sign-in lock of an account or a client address."""
    event_id = accounts.lift_lock(store_of(request), actor=who.name, name=body.name,
                                  address=body.address)
    return JSONResponse({"event_id": event_id})


# --- jobs and imports -------------------------------------------------------------------

def _job_for(request: Request, who: Caller, job_id: str) -> dict[str, Any]:
    mine = None if who.role in ("admin", "auditor") else who.name
    return jobs.get(store_of(request), job_id, actor=mine)


@api("GET", "/jobs/{job_id}", "jobs.read")
def get_job(request: Request, who: Caller, job_id: Annotated[str, Path(max_length=64)]
            ) -> JSONResponse:
    """An import job: its state, rows read so far, and its outcome when done."""
    return JSONResponse(json_safe(_job_for(request, who, job_id)))


@api("GET", "/jobs/{job_id}/quarantine", "jobs.read", response_class=FileResponse)
def get_quarantine(request: Request, who: Caller, job_id: Annotated[str, Path(max_length=64)]
                   ) -> FileResponse:
    """The rows a quarantining import set aside, with the reasons (CSV)."""
    job = _job_for(request, who, job_id)
    path = uploads.quarantine_path(request.app.state.data_dir, job["job_id"])
    if job["status"] != "done" or not path.exists():
        raise NotFoundError(f"job {job_id!r} has no quarantine file")
    return FileResponse(path, media_type="text/csv",
                        filename=f"quarantine-{job['job_id']}.csv")


def _import_route(table: str) -> None:
    def endpoint(request: Request, who: Caller, file: Annotated[UploadFile, File()],
                 update: bool = False, quarantine: bool = False,
                 wait: bool | None = None) -> JSONResponse:
        job_id, run, waits = uploads.begin(request, who.name, table, file, update=update,
                                           quarantine=quarantine, wait=wait)
        if not waits:
            request.app.state.executor.submit(run)
            return JSONResponse({"job_id": job_id, "status": "queued",
                                 "href": f"/api/v1/jobs/{job_id}"}, status_code=202,
                                headers={"Location": f"/api/v1/jobs/{job_id}"})
        status, result = run()
        if status == "done":
            return JSONResponse(json_safe({"job_id": job_id, **result}))
        error = result["error"]
        return JSONResponse({**error, "job_id": job_id}, status_code=error.get("status", 500),
                            media_type="application/problem+json")

    endpoint.__name__ = f"import_{table}"
    endpoint.__doc__ = (f"Import a CSV or XLSX file into {table}: every row checked, all or "
                        "nothing (or the bad rows set aside with ``quarantine``), the same "
                        "file twice stores it once. Small files are imported while the "
                        "request waits; larger ones (or ``wait=false``) answer 202 with a "
                        "job to follow.")
    api("POST", f"/imports/{table}", f"write:{table}", responses={
        202: {"description": "A job to follow at its Location (GET /jobs/{job_id})"}})(endpoint)


for _t in SPECS:
    _import_route(_t)


def _use_model() -> type[BaseModel]:
    fields: dict[str, Any] = {}
    for f in SPECS["uses"].fields:
        kind = str | int | None if f.kind in ("int", "number") else str | None
        fields[f.name] = (kind, Field(... if f.required else None,
                                      max_length=10_000 if kind is str | None else None))
    return create_model("UseRecord", __config__=STRICT_BODY, **fields)


UseRecord = _use_model()


@api("POST", "/uses", "write:uses", status_code=201, responses={
    200: {"description": "The same record was stored already"},
    202: {"description": "Received while an import holds the write lock: kept in the "
                         "outbox, stored when the import has finished; its status at "
                         "Location (GET /uses/outbox/{use_id})"}})
def post_use(request: Request, who: Caller, body: UseRecord) -> JSONResponse:  # type: ignore[valid-type]
    """One use or mishap, with the same checks as a row of an import. Idempotent on
    ``use_id``: the same record twice is stored once (200 the second time); another
    record under a stored (or waiting) ``use_id`` is a 409. While an import holds the
    write lock the record is checked, kept in the outbox and answered 202 at once
    (``status`` waiting), never made to wait for the import (``services/use_outbox.py``).
    """
    row = body.model_dump()  # type: ignore[attr-defined]
    store = store_of(request)
    kept = use_outbox.find(store, str(row["use_id"]))
    if kept is not None and kept.status == use_outbox.WAITING \
            and use_outbox.canonical(kept.record) != use_outbox.canonical(row):
        raise ConflictError(f"use_id {row['use_id']!r} is waiting to be stored with other "
                            "content; nothing was changed")
    try:
        result = import_file(store, "uses", io.BytesIO(use_outbox.as_csv(row)),
                             actor=who.name, name=use_outbox.NAME,
                             lock_wait=use_outbox.LOCK_WAIT_SECONDS)
    except WriteBusy:  # an import holds the lock: check what can be checked, keep, answer
        return _outbox(request, who, row)
    except InputError as exc:
        if any(p.message == STORED_OTHERWISE for p in exc.problems):
            raise ConflictError(f"use_id {row['use_id']!r} is stored with other content; "
                                "nothing was changed") from exc
        raise
    if kept is not None and kept.status == use_outbox.WAITING:  # sent again, lock free
        use_outbox.settle(store, row, use_outbox.STORED, event_id=result.event_id)
    if result.added and (warmer := getattr(request.app.state, "warmer", None)) is not None:
        warmer.kick()
    return JSONResponse(json_safe({"use_id": row["use_id"], "added": result.added,
                                   "event_id": result.event_id}),
                        status_code=201 if result.added else 200)


def _outbox(request: Request, who: Caller, row: dict[str, Any]) -> JSONResponse:
    """A record met an import holding the lock: every check that needs no lock, at once
    and in an import's words (a bad record: 422), then kept in the outbox (202)."""
    store = store_of(request)
    stored = use_outbox.precheck(store, row)
    if stored == "other":
        raise ConflictError(f"use_id {row['use_id']!r} is stored with other content; "
                            "nothing was changed")
    if stored == "same":  # nothing to write: no lock needed
        return JSONResponse({"use_id": row["use_id"], "added": 0, "event_id": None})
    receipt = use_outbox.receive(store, row, actor=who.name).to_dict()
    request.app.state.drainer.kick()
    return JSONResponse(json_safe(receipt), status_code=202,
                        headers={"Location": receipt["href"]})


@api("GET", "/uses/outbox/{use_id:path}", "write:uses")
def use_outbox_status(request: Request, who: Caller,
                      use_id: Annotated[str, Path(max_length=64)]) -> JSONResponse:
    """Where a field record sent to ``POST /uses`` stands: ``status`` waiting (kept in the
    outbox until the import now running has finished), stored, or rejected (with its
    ``problems``, in an import's shape: correct the record and send it again). The
    sender's own records only; a use stored by any other way answers stored."""
    found = use_outbox.status(store_of(request), use_id, actor=who.name)
    if found is not None:
        return JSONResponse(json_safe(found))
    raise NotFoundError(f"no field record {use_id!r} was received or stored")


# --- every table, listed and read by key ----------------------------------------------------

def _table_routes(table: str) -> None:
    ids, dates = records.filter_columns(table)
    keys = records.key_columns(table)
    base = [inspect.Parameter("request", inspect.Parameter.POSITIONAL_OR_KEYWORD,
                              annotation=Request),
            inspect.Parameter("who", inspect.Parameter.POSITIONAL_OR_KEYWORD,
                              annotation=Caller)]
    kw = inspect.Parameter.KEYWORD_ONLY
    query = [inspect.Parameter(i, kw, default=None, annotation=Id) for i in ids]
    for d in dates:
        query += [inspect.Parameter(f"{d}_from", kw, default=None, annotation=Day),
                  inspect.Parameter(f"{d}_to", kw, default=None, annotation=Day)]
    query += [inspect.Parameter("cursor", kw, default=None,
                                annotation=Annotated[str | None, Query(max_length=400)]),
              inspect.Parameter("limit", kw, default=100,
                                annotation=Annotated[int, Query(ge=1, le=records.MAX_LIMIT)])]

    def listing(request: Request, who: Caller, **kwargs: Any) -> JSONResponse:
        filters = {i: kwargs[i] for i in ids if kwargs.get(i) is not None}
        ranges = {d: (kwargs[f"{d}_from"], kwargs[f"{d}_to"]) for d in dates}
        return kept_answer(request, lambda: records.list_records(
            store_of(request), table, scope=who.scope, filters=filters, dates=ranges,
            cursor=kwargs["cursor"], limit=kwargs["limit"]))

    listing.__signature__ = inspect.Signature(base + query)  # type: ignore[attr-defined]
    listing.__name__ = f"list_{table}"
    listing.__doc__ = (f"The {table} records in key order, filtered on their ids and dates, "
                       "a page at a time (``next_cursor``).")
    # GET /uses is the trace: the same rows, priced and scoped; GET /licences is each role's
    # own view of them (server/licences.py)
    if table not in ("uses", "licences"):
        api("GET", f"/{table}", f"read:{table}")(listing)

    path_keys = [inspect.Parameter(k, inspect.Parameter.KEYWORD_ONLY, annotation=str)
                 for k in keys]

    def reading(request: Request, who: Caller, **kwargs: Any) -> JSONResponse:
        return kept_answer(request, lambda: records.get_record(
            store_of(request), table, {k: kwargs[k] for k in keys}, scope=who.scope))

    reading.__signature__ = inspect.Signature(base + path_keys)  # type: ignore[attr-defined]
    reading.__name__ = f"get_{table}"
    reading.__doc__ = f"One {table} record by its key ({', '.join(keys)})."
    last = keys[-1]
    path = "/" + "/".join("{" + k + "}" for k in keys[:-1]) + ("/" if len(keys) > 1 else "")
    api("GET", f"/{table}{path}{{{last}:path}}", f"read:{table}")(reading)


for _t in SPECS:
    _table_routes(_t)


# The evidence routes (exports, summaries, a flag's case), the field form's catalogue, the
# licences' and the vault's routes, after every name they use here.
from kuznia.server import api_evidence, api_field, api_licences, api_vault  # noqa: E402, F401
