"""What every page shares: the templates, the page router, the navigation each role gets,
its start page, and errors rendered as pages (a missing session goes to the login page)."""

from __future__ import annotations

import datetime as dt
import functools
import html as htmllib
import inspect
import json
import math
import re
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote, unquote, urlencode, urlsplit

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup
from starlette.routing import compile_path

from kuznia import __version__, i18n
from kuznia.i18n import N_, gettext
from kuznia.sentences import say_sentence
from kuznia.server.api.base import figure_body
from kuznia.server.auth import Allow, Caller, identify
from kuznia.server.problems import say_message
from kuznia.services import access
from kuznia.words import day, labels, say

pages = APIRouter(include_in_schema=False)
SCRIPTS = Path(__file__).parent.parent / "static"  # the pages' scripts (app.STATIC)
Id = Annotated[str | None, Query(max_length=200)]
Cursor = Annotated[str | None, Query(max_length=400)]

# (label, path, action); a producer's "Producer" entry is its own page
NAV = ((N_("Overview"), "/overview", "pages.overview"),
       (N_("Board"), "/board", "figures.read"),
       (N_("Uses"), "/uses", "figures.read"),
       (N_("Planner"), "/planner", "plans.read"),
       (N_("Resilience"), "/resilience", "resilience.read"),
       (N_("Imports"), "/imports", "pages.imports"),
       (N_("Field entry"), "/field", "write:uses"),
       (N_("Licences"), "/licences", "pages.licences"),
       (N_("Our licences"), "/partner", "pages.partner"),
       (N_("Watchdog"), "/oversight", "pages.oversight"),
       (N_("Partners' documents"), "/vault", "pages.vault"),
       (N_("Audit"), "/audit", "audit.read"),
       (N_("Accounts"), "/accounts", "accounts.manage"))
START = {"analyst": "/overview", "admin": "/accounts", "auditor": "/audit",
         "procurement": "/imports", "engineer": "/field", "partner": "/partner"}


def start_page(who: Caller) -> str:
    """Where an account lands after logging in."""
    assert who.account is not None
    if who.account.role == "producer":
        return f"/producers/{quote(who.account.producer_id or '', safe='')}"
    return START[who.account.role]


def nav_for(who: Caller) -> list[tuple[str, str]]:
    if who.account is None:
        return []
    role = who.account.role
    items = [(gettext(label), path) for label, path, action in NAV
             if access.allowed(role, action)]
    if role == "producer":
        items.insert(0, (gettext("My producer page"), start_page(who)))
    return items


MAX_DIGITS = 6  # no figure on a page carries more significant digits than this


def _compact(value: float) -> str:
    """A large figure in words: 12,345,678 as '12.3 million' (12,3 млн), on one line."""
    return i18n.compact(value)


def _num(value: Any, digits: int = 0) -> str:
    """A figure with separators and ``digits`` decimals, at most six significant digits:
    fewer decimals for a large figure, and from a million on in words (12.3 million)."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    if abs(value) >= 10 ** MAX_DIGITS - 0.5:
        return _compact(value)
    whole = len(str(int(abs(round(value))))) if abs(value) >= 1 else 0
    return i18n.number(value, max(0, min(digits, MAX_DIGITS - whole)))


def _pct(value: Any, digits: int = 1) -> str:
    return "–" if value is None else i18n.percent(value, digits)


def _fig(value: Any) -> str:
    """A figure from an answer as a person reads it: whole numbers with separators (from a
    million on in words), others to four significant digits (0.4058, 744.2); anything else
    as it is."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    if isinstance(value, int) or float(value).is_integer():
        return _num(value)
    if value and abs(value) < 1e-3:
        return i18n.significant(value, 2)
    return i18n.significant(value, 4) if abs(value) < 1e4 else _num(value)


def _parse_time(value: Any) -> dt.datetime | dt.date | None:
    if value is None or value == "":
        return None
    if isinstance(value, dt.date):
        return value
    try:
        text = str(value).replace("Z", "+00:00")
        return dt.datetime.fromisoformat(text) if "T" in text or " " in text \
            else dt.date.fromisoformat(text)
    except ValueError:
        return None


def _day(value: Any) -> str:
    """A date as a person reads it: 7 Dec 2026 (on one line)."""
    d = _parse_time(value)
    if d is None:
        return "" if value is None else str(value)
    return day(d)


def _when(value: Any) -> str:
    """A moment as a person reads it: 7 Dec 2026, 01:38 UTC."""
    d = _parse_time(value)
    if not isinstance(d, dt.datetime):
        return _day(value)
    if d.tzinfo is not None:
        d = d.astimezone(dt.UTC)
    return f"{_day(d.date())}, {d:%H:%M} UTC"


def _month(value: Any) -> str:
    """A month key (2025-03) as 'Mar 2025'."""
    try:
        d = dt.date.fromisoformat(f"{value}-01")
    except (TypeError, ValueError):
        return "" if value is None else str(value)
    return i18n.month(d)


def _first_up(text: Any) -> str:
    """'reconnaissance UAV' as 'Reconnaissance UAV' (capitalize would lower the rest)."""
    text = str(text)
    return text[:1].upper() + text[1:]


def _qs(params: dict[str, Any]) -> str:
    """A query string of the parameters that are set (for links to filtered lists)."""
    return urlencode({k: v for k, v in params.items() if v not in (None, "")})


def _path(value: Any) -> str:
    """An id as one path segment (a slash or a question mark in it stays in the segment)."""
    return quote(str(value), safe="")


env = Environment(loader=PackageLoader("kuznia.server", "templates"),
                  autoescape=select_autoescape(default=True, default_for_string=True),
                  undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                  extensions=["jinja2.ext.i18n"])
i18n.install(env)
env.filters.update(num=_num, pct=_pct, qs=_qs, seg=_path, fig=_fig, say=say, day=_day,
                   when=_when, month=_month, first_up=_first_up)
env.globals.update(version=__version__, words=labels)


def job_error(result: dict[str, Any]) -> str:
    """A failed job's error in the language of the moment: its message as the job kept it
    (the catalogue's id and values, ``problems.message_of``), else its English detail
    looked up in the catalogue (a message the jobs service keeps), else said by its shape
    (``kuznia.sentences``)."""
    said = result.get("said")
    if isinstance(said, dict) and said.get("message"):
        try:
            return say_message(said)
        except (KeyError, TypeError, ValueError):  # a row kept otherwise: its words below
            pass
    error = result.get("error") or {}
    text = str(error.get("detail") or error.get("message") or "")
    found = i18n.raw_gettext(text) if text else text
    return found if found != text else say_sentence(text)


env.globals.update(job_error=job_error)


@functools.cache
def script_messages(script: str, lang: str) -> tuple[dict[str, str], dict[str, dict[str, str]]]:
    """A page script's messages (read from ``static/<script>`` by Babel's own extractor,
    as ``pybabel extract`` reads them) in ``lang``: each message's translation, and each
    plural's form per CLDR category (``one``, ``few``, ``many``, ``other``: the script
    picks one with ``Intl.PluralRules``). The page carries them, so the script speaks
    the page's language offline too."""
    from babel import Locale
    from babel.messages.extract import extract

    with open(SCRIPTS / script, "rb") as f:
        found = [m[1] for m in extract("javascript", f, keywords={
            "_": None, "N_": None, "ngettext": (1, 2)})]
    rule = Locale.parse(lang).plural_form
    samples: dict[str, int] = {}
    for n in range(0, 200):  # whole counts: each CLDR category a count falls in
        samples.setdefault(rule(n), n)
    samples.setdefault("other", 5)
    catalogue = i18n.translations(lang)
    messages: dict[str, str] = {}
    plurals: dict[str, dict[str, str]] = {}
    for m in found:
        if isinstance(m, tuple):
            one, many = m[0], m[1]
            plurals[one] = {cat: catalogue.ngettext(one, many, n)  # type: ignore[arg-type]
                            for cat, n in samples.items()}
        elif m:
            messages[m] = catalogue.gettext(m)
    return messages, plurals


def page_messages() -> dict[str, Any]:
    """The pages' script's (``kuznia.js``: charts) messages in the page's language."""
    messages, plurals = script_messages("kuznia.js", i18n.current())
    return {"messages": messages, "plurals": plurals}


env.globals.update(script_words=page_messages)


def page_language(request: Request, who: Caller | None) -> str:
    """The language a page speaks: the account's choice, else the request's (the
    ``kuznia_lang`` cookie, else ``Accept-Language``, else English: ``web.lang``)."""
    if who is not None and who.account is not None and who.account.lang:
        return who.account.lang
    return i18n.current()


def render(request: Request, who: Caller | None, template: str, status: int = 200,
           **context: Any) -> HTMLResponse:
    """The page (or, for an htmx request of a fragment template, the fragment), with only
    the links its caller may follow (``only_links_it_may_open``)."""
    with i18n.language(page_language(request, who)):
        html = env.get_template(template).render(
            request=request, who=who, nav=nav_for(who) if who else [],
            csrf=(who.csrf_token if who else None) or "", path=request.url.path, **context)
    if who is not None and who.account is not None:
        html = only_links_it_may_open(html, who)
    return HTMLResponse(html, status_code=status)


# --- links a caller may follow ----------------------------------------------------------

# (path pattern, action) of every page, in the order they were added (as routing matches)
_PAGES: list[tuple[re.Pattern[str], str]] = []
_ANCHOR = re.compile(r"<a\b([^>]*)>(.*?)</a>", re.S)
_HREF = re.compile(r'\shref="([^"]*)"')
_DATA_HREF = re.compile(r'\sdata-href="([^"]*)"')


def may_open(who: Caller, href: str) -> bool:
    """Whether ``who`` may open the page ``href`` names: the access rule of the page's
    route (the same ``Allow`` the route checks), a record's table, and a producer's own
    producer page only (another's answers 404). A link elsewhere (static files, the API,
    the same page's query) is left alone; a path no page serves is not openable."""
    if who.account is None:
        return False
    parts = urlsplit(href)
    if parts.scheme or parts.netloc or not parts.path.startswith("/") \
            or parts.path.startswith(("/static/", "/api/")):
        return True
    for pattern, action in _PAGES:
        match = pattern.fullmatch(parts.path)
        if match is None:
            continue
        if action == "public":
            return True
        role = who.account.role
        if not access.allowed(role, action):
            return False
        found = match.groupdict()
        if "table" in found and not access.may_read_table(role, unquote(found["table"])):
            return False
        if role == "producer" and "producer_id" in found:
            return unquote(found["producer_id"]) == who.account.producer_id
        return True
    return False


def only_links_it_may_open(html: str, who: Caller) -> str:
    """The page with every link its caller may not follow made plain text (and a chart's
    click-through dropped), so that no role meets a 403 or 404 from a link it was shown.
    One rule over every template, from the routes' own access actions."""
    def anchor(m: re.Match[str]) -> str:
        href = _HREF.search(m.group(1))
        if href is None or may_open(who, htmllib.unescape(href.group(1))):
            return m.group(0)
        return f"<span>{m.group(2)}</span>"

    def chart_link(m: re.Match[str]) -> str:
        target = htmllib.unescape(m.group(1)).replace("{key}", "_")
        if who.role == "producer" and target.startswith("/producers/"):
            return ""  # a chart's keys may be other producers'
        return m.group(0) if may_open(who, target) else ""

    return _DATA_HREF.sub(chart_link, _ANCHOR.sub(anchor, html))


def is_htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


def render_error(request: Request, status: int, detail: str | Callable[[], str],
                 problems: list[dict[str, Any]] | None = None) -> Response:
    """An error on a page: no session sends the browser to the login page (and back
    after it); anything else is a page (or an htmx fragment) saying what is wrong
    (``detail``, or a function saying it in the language of the moment: an error's
    ``say``)."""
    if status == 401:
        back = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        target = "/login?" + urlencode({"next": back}) if request.method == "GET" \
            else "/login"
        if is_htmx(request):
            return Response(status_code=204, headers={"HX-Redirect": target})
        return RedirectResponse(target, status_code=303)
    template = "_error.html" if is_htmx(request) else "error.html"
    who = getattr(request.state, "caller", None)
    if who is None:  # refused before any route ran (no such page): still the caller's menu
        try:
            who = identify(request, public=True)
        except Exception:  # noqa: BLE001 - an error page shows even when this fails
            who = None
    home = start_page(who) if who is not None and who.account is not None else "/login"
    with i18n.language(page_language(request, who)):
        title = gettext(ERROR_TITLES[status]) if status in ERROR_TITLES \
            else gettext("Error %(status)s", status=status)
        if callable(detail):
            detail = detail()
    return render(request, who, template, status=status, status_code=status,
                  detail=detail, problems=problems or [], title=title, home=home)


ERROR_TITLES = {400: N_("Something in the request is wrong"),
                403: N_("Not open to your role"), 404: N_("Not found"),
                409: N_("Busy or in conflict"), 413: N_("Too large"),
                422: N_("The file has problems"), 429: N_("Too many attempts"),
                500: N_("Something went wrong on the server")}


def anyone(request: Request) -> Caller:
    """The caller of a public page: an ended session counts as no session (the login page
    must open for it, not send the browser back to itself)."""
    try:
        return identify(request)
    except access.UnauthorizedError:
        return Caller(None, "none")


def page(path: str, action: str, method: str = "GET") -> Callable[[Callable], Callable]:
    """Add a page with its access action: the function's ``who`` parameter is the caller
    ``Allow(action)`` let through (the same rule as the API's route for the same data)."""
    who_is = anyone if action == "public" else Allow(action)

    def add(fn: Callable) -> Callable:
        sig = inspect.signature(fn)
        only = inspect.Parameter.KEYWORD_ONLY
        params = [p.replace(kind=only, default=Depends(who_is)) if p.name == "who"
                  else p.replace(kind=only) for p in sig.parameters.values()]
        fn.__signature__ = sig.replace(parameters=params)  # type: ignore[attr-defined]
        pages.add_api_route(path, fn, methods=[method], response_class=HTMLResponse)
        if method == "GET":
            _PAGES.append((compile_path(path)[0], action))
        return fn

    return add


def may(who: Caller, action: str) -> bool:
    return who.account is not None and access.allowed(who.account.role, action)


# --- sections that load on their own ------------------------------------------------------
#
# A heavy section of a page (a board, a producer's quality, a product's failures) is shown
# in the page at once when every figure it needs is kept for this version of the data;
# otherwise the page comes back at once with a placeholder in its place, and htmx asks the
# section's own route (``/sections/...``, the same access rule and scope as the page) as
# soon as the frame is in. Opened without htmx, that route is a page of its own (a browser
# with no script follows the placeholder's link).

PEEK: ContextVar[bool] = ContextVar("kuznia_peek", default=False)


class NotKept(Exception):
    """A figure a section needs is not kept for this version of the data (raised while
    the page only looks, ``PEEK``)."""


def figure(request: Request, who: Caller, fn: Callable[..., Any], **params: Any
           ) -> tuple[dict[str, Any], str]:
    """The answer of the API route whose figure ``fn`` computes, asked ``params`` by
    ``who`` (kept per version of the data), and the URL that asks the route the same
    question (the page's chart fetches it): one function, one set of parameters, for the
    route and the page. While the page only looks (``PEEK``), a figure not kept leaves its
    section to load on its own."""
    body, url = figure_body(request, who, fn, params, peek=PEEK.get())
    if body is None:
        raise NotKept(url)
    return json.loads(body), url


@dataclass
class Slot:
    url: str
    waiting: str
    html: Markup | None = None


def fragment(request: Request, who: Caller, template: str, **context: Any) -> Markup:
    """A section's HTML (links are filtered by the page or response it goes into)."""
    with i18n.language(page_language(request, who)):
        return Markup(env.get_template(template).render(request=request, who=who,
                                                        path=request.url.path, **context))


def slot(request: Request, who: Caller, url: str, waiting: str, template: str,
         make: Callable[[], dict[str, Any]]) -> Slot:
    """The section for the page: made now from kept figures only, else a placeholder
    saying ``waiting`` that loads ``url``."""
    token = PEEK.set(True)
    waiting = gettext(waiting)
    try:
        context = make()
    except NotKept:
        return Slot(url, waiting)
    finally:
        PEEK.reset(token)
    return Slot(url, waiting, fragment(request, who, template, **context))


def section(request: Request, who: Caller, template: str, title: str, back: str,
            context: dict[str, Any]) -> HTMLResponse:
    """A section's own route: for htmx the section in place of its placeholder, else a
    page with the section and a link back to the whole page."""
    body = fragment(request, who, template, **context)
    if is_htmx(request):
        html = f'<div class="slot">{body}</div>'
        return HTMLResponse(only_links_it_may_open(html, who) if who.account else html)
    return render(request, who, "section.html", title=title, body=body, back=back)
