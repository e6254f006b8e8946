"""The FastAPI application: routes, error rendering, security headers, the docs page.

``create_app(store)`` serves one workspace. Errors come from ``kuznia.errors`` (each
class carries its HTTP status) and leave as RFC 9457 problem details; an unexpected
exception is a 500 whose body names an id that the log has with the traceback, and no
traceback ever reaches a client.
"""

import hashlib
import json
import logging
import mimetypes
import tempfile
import threading
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import anyio.to_thread
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, HTMLResponse, Response
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kuznia import __version__, i18n
from kuznia.errors import InputError, KuzniaError, UnavailableError, from_environment
from kuznia.i18n import N_, Text, gettext
from kuznia.server import api, uploads, web
from kuznia.server.addresses import parse_proxies
from kuznia.server.cache import AnswerCache
from kuznia.server.outbox import Drainer
from kuznia.server.problems import (
    INTERNAL,
    internal_problem,
    invalid_text,
    kuznia_problem,
    problem,
    retry_after,
)
from kuznia.server.warm import Warmer
from kuznia.server.web.lang import LANG_COOKIE, Language, request_language
from kuznia.services import jobs, sessions
from kuznia.services import oversight_config as flags_config
from kuznia.services.store import Store, open_store
from kuznia.settings import Settings

# Threads that run requests at once, per process (the PostgreSQL pool keeps as many).
REQUEST_THREADS = 8
log = logging.getLogger("kuznia.server")
STATIC = Path(__file__).parent / "static"
mimetypes.add_type("application/manifest+json", ".webmanifest")  # the field form's
API = "/api/v1"

# No inline script anywhere; the docs page's styles need inline style attributes
# (Swagger UI sets them), so only that page allows them.
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; "
       "form-action 'self'; frame-ancestors 'none'")
DOCS_CSP = CSP.replace("style-src 'self'", "style-src 'self' 'unsafe-inline'")
HEADERS = [(b"x-content-type-options", b"nosniff"), (b"x-frame-options", b"DENY"),
           (b"referrer-policy", b"no-referrer"),
           (b"cross-origin-opener-policy", b"same-origin"),
           (b"permissions-policy", b"camera=(), microphone=(), geolocation=()")]


class SecurityHeaders:
    """Every response, errors included, carries the security headers; API answers are
    never cached (they hold data only their caller may see)."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        csp = DOCS_CSP if path == f"{API}/docs" else CSP

        started = False

        async def with_headers(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = [(k, v) for k, v in message.get("headers", [])
                           if k.lower() != b"content-security-policy"]
                headers += HEADERS + [(b"content-security-policy", csp.encode())]
                if not path.startswith("/static/") and path != "/sw.js":
                    headers.append((b"cache-control", b"no-store"))
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, with_headers)
        except Exception as exc:  # a 500 carries the headers too, and no traceback
            if started:
                raise
            await internal_response(exc, Request(scope))(scope, receive, with_headers)


MAX_JSON = 1 << 20  # a JSON body larger than this is refused (uploads are multipart)


MAX_JSON_DEPTH = 32  # no body of the API nests deeper than a few levels


def _json_problem(value: Any) -> str | None:
    """What in a parsed JSON body no record may hold, in words; None when nothing. Walked
    with a stack of its own, so a deep body cannot exhaust Python's."""
    stack = [(value, 1)]
    while stack:
        v, depth = stack.pop()
        if depth > MAX_JSON_DEPTH:
            return f"nests deeper than {MAX_JSON_DEPTH} levels"
        if isinstance(v, dict):
            stack.extend((k, depth) for k in v)
            stack.extend((x, depth + 1) for x in v.values())
        elif isinstance(v, list):
            stack.extend((x, depth + 1) for x in v)
        elif isinstance(v, str):
            if "\x00" in v:
                return "holds a NUL character, which no record may hold"
            try:
                v.encode("utf-8")
            except UnicodeEncodeError:
                return "holds a lone surrogate (half of a \\u pair), which is not text"
    return None


class RefuseNul:
    """No text that a database cannot hold reaches a service: a NUL character in the
    path, a query parameter or a JSON body is a 400 naming where it is (PostgreSQL text
    cannot hold one, and would fail the query as an internal error). A JSON body is read
    whole (it is small; uploads are multipart) and handed on unchanged."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        where = None
        if "\x00" in scope.get("path", ""):
            where = "the path"
        else:
            for key, value in parse_qsl(scope.get("query_string", b"").decode("latin-1"),
                                        keep_blank_values=True):
                if "\x00" in key or "\x00" in value:
                    where = f"the query parameter {key.replace(chr(0), '')!r}"
                    break
        content_type = request.headers.get("content-type", "")
        if where is None and content_type.startswith("application/json"):
            body = b""
            more = True
            while more:
                message = await receive()
                body += message.get("body", b"")
                more = message.get("more_body", False)
                if len(body) > MAX_JSON:
                    await problem(413, f"a JSON body may hold at most {MAX_JSON:,} bytes",
                                  request)(scope, receive, send)
                    return
            try:
                found = _json_problem(json.loads(body or b"null"))
            except RecursionError:
                found = f"nests deeper than {MAX_JSON_DEPTH} levels"
            except (ValueError, UnicodeDecodeError):
                found = None  # the route's own parsing says what is wrong with it
            if found is not None:
                await problem(400, f"the JSON body {found}", request, params=["body"])(
                    scope, receive, send)
                return
            sent = False

            async def replay() -> Message:
                nonlocal sent
                if not sent:
                    sent = True
                    return {"type": "http.request", "body": body, "more_body": False}
                return await receive()

            if where is None:
                await self.app(scope, replay, send)
                return
        if where is not None:
            await problem(400, f"{where} holds a NUL character, which no record may hold",
                          request)(scope, receive, send)
            return
        await self.app(scope, receive, send)


_UNION_TAGS = {"str", "int", "float", "bool", "date", "none", "list", "dict"}


def _param_of(loc: tuple[Any, ...]) -> str:
    """The field a validation error is about: its location past ``body`` or ``query``,
    without the member of a union that pydantic tried (``effects.int`` is ``effects``)."""
    parts = [str(x) for x in loc[1:]]
    while len(parts) > 1 and (parts[-1] in _UNION_TAGS or "[" in parts[-1]):
        parts.pop()
    return ".".join(parts) or "body"


def is_page(request: Request) -> bool:
    """Whether the request is for a page (HTML) rather than the API or a static file."""
    path = request.url.path
    return not (path.startswith(API + "/") or path == API or path.startswith("/static/"))


def _said_invalid(errors: Any) -> str:
    """The values a page's route refused, each with what is wrong in the language of the
    moment (``problems.invalid_text``; pydantic's English for a kind it does not know)."""
    said: dict[str, None] = {}
    for e in errors:
        text = invalid_text(e)
        param = _param_of(e.get("loc", ()))
        said[f"{field_word(param)}: {text.say() if text else e.get('msg', '')}"] = None
    return "; ".join(said)


# a page's query parameters by the words its forms label them with (a refused value is
# named as the person saw its field, not by the parameter's code)
FIELD_WORDS = {"date_from": N_("From"), "date_to": N_("To"), "producer": N_("Producer"),
               "product": N_("Product"), "category": N_("Category"), "month": N_("Month"),
               "limit": N_("Rows shown"), "version": N_("Version"), "operator": N_("Operator")}


# what a page says for a refusal the web framework makes itself (its English phrase else)
HTTP_WORDS = {404: N_("no such page"),
              405: N_("this address does not take that kind of request: follow a link or "
                      "a button of the pages instead"),
              413: N_("the request is too large"),
              415: N_("the request's content is not of a kind this address takes")}


def field_word(param: str) -> str:
    """A parameter of a page by its field's label, quoted ("“From”"), else as it is."""
    if param not in FIELD_WORDS:
        return param
    return gettext("“%(field)s”", field=gettext(FIELD_WORDS[param]))


def internal_response(exc: BaseException, request: Request) -> Response:
    """A 500 (or a 503 when the store is away): problem details for the API; for a
    browser, a page with its navigation and a way back, naming the id the log has the
    traceback under."""
    response = internal_problem(exc, request)
    if not is_page(request):
        return response
    try:  # a 500, or a 503 when the store is away (with its Retry-After)
        body = json.loads(bytes(response.body))
        known = from_environment(exc)  # a 503 when the store is away; else a 500's id
        said = known.say if isinstance(known, UnavailableError) else \
            (lambda: Text(INTERNAL, error_id=body["error_id"]).say()) if "error_id" in body \
            else body["detail"]
        # the handler of any exception runs outside the Language middleware: its language
        with i18n.language(request_language(request.cookies.get(LANG_COOKIE),
                                            request.headers.get("accept-language"))):
            page = web.render_error(request, response.status_code, said)
        if "Retry-After" in response.headers:
            page.headers["Retry-After"] = response.headers["Retry-After"]
        return page
    except Exception:  # noqa: BLE001 - the page itself failed: the plain answer then
        log.exception("the error page could not be rendered")
        return response


def _docs_page() -> str:
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Kuznia API {__version__}</title>
<link rel="stylesheet" href="/static/swagger-ui/swagger-ui.css"></head>
<body><div id="swagger-ui"></div>
<script src="/static/swagger-ui/swagger-ui-bundle.js"></script>
<script src="/static/kuznia-docs.js"></script>
</body></html>"""


def create_app(store: Store, *, data_dir: str | Path | None = None,
               https_only: bool = False, close_store: bool = False,
               oversight_config: dict[str, dict[str, Any]] | None = None,
               warm: bool = False, trusted_proxies: Iterable[str] = (),
               clock: sessions.Clock | None = None) -> FastAPI:
    """The application serving ``store``; ``data_dir`` keeps uploads and quarantine files
    (shared by the worker processes of one machine); ``oversight_config`` the red flags'
    thresholds for every caller (``oversight_config.load``; default: the built-in ones);
    ``warm``: remake the answers asked lately after every write (``server/warm.py``;
    ``kuznia serve`` does, tests that count computations do not); ``trusted_proxies`` the
    addresses whose ``X-Forwarded-For`` is believed (none: the peer's own address is the
    client's); ``clock`` the sessions' notion of now (tests move it forward instead of
    waiting)."""
    proxies = parse_proxies(trusted_proxies)  # a bad one stops here, named
    if data_dir is None or str(data_dir) == "":
        tag = hashlib.sha256(store.url.encode()).hexdigest()[:16]
        data_dir = Path(tempfile.gettempdir()) / "kuznia-server" / tag
    data = Path(data_dir)
    (data / "uploads").mkdir(parents=True, exist_ok=True, mode=0o700)
    (data / "quarantine").mkdir(parents=True, exist_ok=True, mode=0o700)

    @asynccontextmanager
    async def lifespan(app: FastAPI):  # type: ignore[no-untyped-def]
        # Routes are plain functions run on threads. Two cores gain nothing from 40 threads
        # (anyio's default) but GIL contention and more connections than the pool keeps:
        # REQUEST_THREADS threads, each with a pooled connection (store.engine).
        anyio.to_thread.current_default_thread_limiter().total_tokens = REQUEST_THREADS
        # The analytics import SciPy when first used (the CLI starts faster so); a server
        # loads it before it says it is ready, or its first figure takes a second longer
        # and stalls every request on the same worker meanwhile.
        import scipy.optimize
        import scipy.special
        import scipy.stats  # noqa: F401
        jobs.reap(store)  # jobs cut off by a restart: failed, nothing half-stored
        uploads.clean_uploads(store, data)  # and their uploads: nothing else will read them
        stop = threading.Event()

        def beat() -> None:
            while not stop.wait(jobs.HEARTBEAT_SECONDS):
                try:
                    jobs.heartbeat(store)
                except Exception:  # noqa: BLE001 - a missed beat is retried
                    log.warning("job heartbeat failed", exc_info=True)
                try:
                    app.state.drainer.kick_if_waiting()
                except Exception:  # noqa: BLE001 - the records wait for the next beat
                    log.warning("outbox check failed", exc_info=True)

        app.state.drainer.kick_if_waiting()  # records a stop (or a kill) left waiting
        beater = threading.Thread(target=beat, name="kuznia-heartbeat", daemon=True)
        beater.start()
        if app.state.warmer is not None:
            app.state.warmer.start()
        try:
            yield
        finally:
            # Stopping (SIGTERM): take no more jobs, cancel the queued ones (their rows
            # and uploads), and let the running one give up at its next batch (an import
            # is one transaction: nothing of it stays); then close.
            stop.set()
            if app.state.warmer is not None:
                app.state.warmer.stop()
            # the queue is emptied before the running job is told to stop: told first, it
            # could give up and let the worker start the next queued job before the cancel
            app.state.executor.shutdown(wait=False, cancel_futures=True)
            app.state.stopping.set()
            try:
                for job_id in jobs.cancel_queued(store):
                    uploads.remove_upload(data, job_id)
            except Exception:  # noqa: BLE001 - reaped as cut off at the next start
                log.warning("could not mark the queued jobs as cancelled", exc_info=True)
            app.state.executor.shutdown(wait=True)
            if close_store:
                store.close()

    app = FastAPI(title="Kuznia", version=__version__, lifespan=lifespan,
                  openapi_url=f"{API}/openapi.json", docs_url=None, redoc_url=None,
                  description="Follow the data from every use of a fielded product back "
                              "to its contract, producer and line. Every route names the "
                              "roles that may call it (x-access).")
    app.state.store = store
    app.state.data_dir = data
    app.state.https_only = https_only
    app.state.trusted_proxies = proxies
    app.state.oversight_config = oversight_config or flags_config.load(None)
    app.state.answers = AnswerCache()
    app.state.warmer = Warmer(store, app.state.answers) if warm else None
    app.state.clock = clock or sessions.system_clock
    app.state.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="kuznia-job")
    app.state.stopping = threading.Event()  # set when the server stops: jobs give up
    app.state.drainer = Drainer(store, app.state.executor, app.state.warmer)
    app.state.heavy_lock = threading.Lock()  # kuznia.server.heavy: one heavy question at once

    @app.exception_handler(KuzniaError)
    async def on_kuznia(request: Request, exc: KuzniaError) -> Response:
        if is_page(request):
            problems = [asdict(p) for p in exc.problems] if isinstance(exc, InputError) \
                else None
            return retry_after(web.render_error(request, exc.http_status,
                                                 lambda: exc.say(field_word), problems), exc)
        return kuznia_problem(exc, request)

    @app.exception_handler(RequestValidationError)
    async def on_invalid(request: Request, exc: RequestValidationError) -> Response:
        errors = [{"param": _param_of(e.get("loc", ())), "in": str(e.get("loc", ("?",))[0]),
                   "message": e.get("msg", "")} for e in exc.errors()]
        errors = list({(e["param"], e["message"]): e for e in errors}.values())
        detail = "; ".join(f"{e['param']}: {e['message']}" for e in errors)
        if is_page(request):
            return web.render_error(request, 400, lambda: _said_invalid(exc.errors()))
        return problem(400, detail, request, params=list(dict.fromkeys(e["param"] for e in errors)),
                       errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def on_http(request: Request, exc: StarletteHTTPException) -> Response:
        detail = exc.detail if isinstance(exc.detail, str) else "no such route"
        if exc.status_code == 404:
            detail = f"no route {request.url.path}"
        if is_page(request):
            said = HTTP_WORDS.get(exc.status_code)
            return web.render_error(request, exc.status_code,
                                    (lambda: gettext(said)) if said else detail)
        response = problem(exc.status_code, detail, request)
        for k, v in (exc.headers or {}).items():
            response.headers[k] = v
        return response

    @app.exception_handler(Exception)
    async def on_internal(request: Request, exc: Exception) -> Response:
        return internal_response(exc, request)

    app.include_router(api.router)
    app.include_router(web.pages)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/sw.js", include_in_schema=False)
    def service_worker() -> FileResponse:
        """The field page's service worker, served from the root so that its scope is
        the whole site (a worker under /static/ could not see /field)."""
        return FileResponse(STATIC / "sw.js", media_type="text/javascript",
                            headers={"Cache-Control": "no-cache"})

    @app.get(f"{API}/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return HTMLResponse(_docs_page())

    app.add_middleware(Language)  # the request's language, before any route runs
    app.add_middleware(RefuseNul)
    app.add_middleware(SecurityHeaders)  # added last: outermost, so every answer has them
    return app


def route_table(app: FastAPI) -> list[Any]:
    """Every API route the application serves (its own and the included router's)."""
    own = [r for r in app.routes if isinstance(r, APIRoute)]
    return own + api.routes()


def from_env() -> FastAPI:
    """The application for the workspace the environment names (``KUZNIA_DB``,
    ``KUZNIA_DATA_DIR``, ``KUZNIA_HTTPS_ONLY``, ``KUZNIA_OVERSIGHT_CONFIG``,
    ``KUZNIA_TRUSTED_PROXIES``): what each
    worker process of ``kuznia serve --workers N`` builds. The schema must be current: the
    server never migrates under its users."""
    settings = Settings.from_env()
    thresholds = flags_config.load(settings.oversight_config or None)
    return create_app(open_store(settings.db), data_dir=settings.data_dir or None,
                      https_only=settings.https_only, close_store=True,
                      oversight_config=thresholds, warm=settings.warm,
                      trusted_proxies=[settings.trusted_proxies])
