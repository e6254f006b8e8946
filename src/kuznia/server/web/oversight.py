"""The watchdog page: red flags with filters (their triage status among them), each
opening its page (the evidence, a price flag's peers plotted, the case's status and
comments); and the flags of one product or producer for their pages. The flags come
from the same service call as ``GET /api/v1/oversight/flags``, kept under that route's
question (``figure``)."""

from __future__ import annotations

import math
from typing import Annotated, Any

from fastapi import Form, Path, Query, Request
from fastapi.responses import HTMLResponse

from kuznia.i18n import N_, gettext
from kuznia.server.api import figures as api_figures
from kuznia.server.api.base import store_of
from kuznia.server.api.evidence import find_flag, flag_case
from kuznia.server.auth import Caller
from kuznia.server.types import Day
from kuznia.server.web import flag_words
from kuznia.server.web.base import Id, _qs, figure, may, page, render, section, slot
from kuznia.services import oversight, triage
from kuznia.words import say

Choice = Annotated[str | None, Query(max_length=40)]


def flags_of(request: Request, who: Caller, **params: Any) -> list[dict[str, Any]]:
    """The flags naming ``product`` or ``producer`` for a product or producer page; none
    when the caller may not read flags."""
    if not may(who, "oversight.read"):
        return []
    got, _ = _flags(request, who, params)
    return got["flags"]


def _flags(request: Request, who: Caller, params: dict[str, Any]) -> Any:
    """The kept answer of ``GET /api/v1/oversight/flags`` for ``params``, at the server's
    thresholds, and where it came from."""
    return figure(request, who, api_figures.oversight_flags, **params)



def status_words() -> dict[str, str]:
    """A flag's triage statuses in the page's words (the CSV export keeps English)."""
    return {s: say(s) for s in triage.STATUS_WORDS}


@page("/oversight", "pages.oversight")
def watchdog(request: Request, who: Caller, severity: Choice = None, code: Choice = None,
             status: Choice = None, producer: Id = None, product: Id = None,
             date_from: Day = None, date_to: Day = None) -> HTMLResponse:
    """The frame at once (what the page is, the filters); the flags in it when kept, else
    loading on their own (``watchdog_section``)."""
    filters = _filters(severity, code, status, producer, product, date_from, date_to)
    flags = slot(request, who, "/sections/oversight?" + _qs(filters),
                 N_("Looking for red flags…"), "_oversight_flags.html",
                 lambda: _watchdog_flags(request, who, filters, date_from, date_to))
    return render(request, who, "oversight.html", title=gettext("Watchdog: red flags"),
                  filters=filters, codes=sorted(oversight.CODES),
                  severities=oversight.SEVERITIES, statuses=status_words(),
                  flags=flags)


@page("/sections/oversight", "pages.oversight")
def watchdog_section(request: Request, who: Caller, severity: Choice = None,
                     code: Choice = None, status: Choice = None, producer: Id = None,
                     product: Id = None, date_from: Day = None, date_to: Day = None
                     ) -> HTMLResponse:
    """The watchdog's flags, loaded on their own."""
    filters = _filters(severity, code, status, producer, product, date_from, date_to)
    return section(request, who, "_oversight_flags.html", gettext("Watchdog: the flags"),
                   "/oversight?" + _qs(filters),
                   _watchdog_flags(request, who, filters, date_from, date_to))


def _filters(severity: str | None, code: str | None, status: str | None,
             producer: str | None, product: str | None, date_from: Any, date_to: Any
             ) -> dict[str, str]:
    return {"severity": severity or "", "code": code or "", "status": status or "",
            "producer": producer or "", "product": product or "",
            "date_from": date_from.isoformat() if date_from else "",
            "date_to": date_to.isoformat() if date_to else ""}


def _watchdog_flags(request: Request, who: Caller, filters: dict[str, str],
                    date_from: Any, date_to: Any) -> dict[str, Any]:
    params = {"producer": filters["producer"] or None, "product": filters["product"] or None,
              "date_from": date_from, "date_to": date_to}
    got, src = _flags(request, who, params)
    flags = triage.with_status(got["flags"], store_of(request))
    shown = [f for f in flags if (not filters["severity"] or f["severity"] == filters["severity"])
             and (not filters["code"] or f["code"] == filters["code"])
             and (not filters["status"] or f["status"] == filters["status"])]
    by_status = {s: sum(f["status"] == s for f in flags) for s in triage.STATUSES}
    export = {k: filters[k] for k in ("severity", "code", "status", "producer", "product")}
    return {"flags": shown, "total": len(got["flags"]), "counts": got["counts"],
            "as_of": got["as_of"], "api": src, "statuses": status_words(),
            "by_status": by_status, "export": export, "triaged": True}


@page("/oversight/flags/{key}", "pages.oversight")
def flag_page(request: Request, who: Caller, key: Annotated[str, Path(max_length=64)]
              ) -> HTMLResponse:
    """One flag as a case: what it says, the records behind it (for a price flag its
    peers, plotted with the line it crossed), its status and comments."""
    with store_of(request).snapshot():
        got = flag_case(request, who, key)
    plot = strip_plot(got["prices"]) if got["prices"] else None
    return render(request, who, "flag.html", title=gettext("Red flag: %(flag)s",
                                                   flag=say(got['flag']['code'])),
                  measured=flag_words.sentence(got["flag"]),
                  measured_numbers=flag_words.numbers(got["flag"]), f=got["flag"],
                  case=got["case"], prices=got["prices"],
                  plot=plot, statuses=status_words(),
                  may_triage=may(who, "oversight.triage.write"), audit=may(who, "audit.read"))


@page("/oversight/flags/{key}/triage", "oversight.triage.write", method="POST")
def flag_triage(request: Request, who: Caller, key: Annotated[str, Path(max_length=64)],
                status: Annotated[str, Form(max_length=16)] = "",
                comment: Annotated[str, Form(max_length=triage.MAX_COMMENT)] = ""
                ) -> HTMLResponse:
    flag = find_flag(request, who, key)
    case = triage.triage(store_of(request), flag, who.name, status=status or None,
                         comment=comment or None)
    return render(request, who, "_case.html", f=flag, case=case,
                  statuses=status_words(), may_triage=True,
                  audit=may(who, "audit.read"), saved=True)


def strip_plot(prices: dict[str, Any], width: int = 420, height: int = 170
               ) -> dict[str, Any]:
    """Where each contract's unit price sits on a strip (SVG coordinates, drawn by the
    template): the peers spread over the strip's height so equal prices stay apart,
    the flagged contract on the middle line, the threshold and the peers' median as
    lines, and the axis's ticks."""
    left, right, top, bottom = 24, 24, 34, 44
    own = prices["contract"]
    values = [p["unit_price_ws"] for p in prices["peers"]] + [own["unit_price_ws"]]
    marks = [v for v in (prices["threshold"], prices["median"]) if v is not None]
    lo, hi = min(values + marks), max(values + marks)
    ticks = _ticks(lo, hi)
    lo, hi = min(lo, ticks[0]), max(hi, ticks[-1])
    span = hi - lo or 1.0

    def x(v: float) -> float:
        return round(left + (v - lo) / span * (width - left - right), 1)

    mid = top + (height - top - bottom) / 2
    band = (height - top - bottom) / 2 - 6
    points = []
    for i, p in enumerate(prices["peers"]):
        offset = ((i * 0.618034) % 1.0) * 2 - 1  # spread evenly, the same every time
        points.append({"x": x(p["unit_price_ws"]), "y": round(mid + offset * band, 1),
                       "label": f"{p['contract_id']}: {p['unit_price_ws']:,.4g}"})
    return {"width": width, "height": height, "points": points, "base": height - bottom,
            "own": {"x": x(own["unit_price_ws"]), "y": mid,
                    "label": f"{own['contract_id']}: {own['unit_price_ws']:,.4g}"},
            "threshold": None if prices["threshold"] is None else x(prices["threshold"]),
            "median": None if prices["median"] is None else x(prices["median"]),
            "ticks": [{"x": x(t), "label": f"{t:,.6g}"} for t in ticks], "top": top}


def _ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    """About ``n`` round values covering ``lo``-``hi`` (1, 2 or 5 times a power of ten
    apart).

    >>> _ticks(93, 412)
    [0.0, 100.0, 200.0, 300.0, 400.0, 500.0]
    """
    if hi <= lo:
        hi = lo + 1.0
    raw = (hi - lo) / n
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    first = math.floor(lo / step) * step
    out = []
    v = first
    while v < hi + step * 0.999:
        out.append(float(round(v, 10)))
        v += step
    return out
