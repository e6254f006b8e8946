"""The watchdog page: red flags with filters, each opening its evidence; and the flags of
one product or producer for their pages. The flags come from the same service call as
``GET /api/v1/oversight/flags``, kept under that route's question (``figure``)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Query, Request
from fastapi.responses import HTMLResponse

from kuznia.server.auth import Caller
from kuznia.server.routes import store_of
from kuznia.server.web.base import may, page, render
from kuznia.server.web.figures import Day, Id, figure
from kuznia.services import oversight

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
    return figure(request, "/oversight/flags", params, lambda: oversight.flags(
        store_of(request), scope=who.scope, config=request.app.state.oversight_config,
        **params))


@page("/oversight", "pages.oversight")
def watchdog(request: Request, who: Caller, severity: Choice = None, code: Choice = None,
             producer: Id = None, product: Id = None, date_from: Day = None,
             date_to: Day = None) -> HTMLResponse:
    params = {"producer": producer or None, "product": product or None,
              "date_from": date_from, "date_to": date_to}
    got, src = _flags(request, who, params)
    shown = [f for f in got["flags"] if (not severity or f["severity"] == severity)
             and (not code or f["code"] == code)]
    filters = {"severity": severity or "", "code": code or "", "producer": producer or "",
               "product": product or "",
               "date_from": date_from.isoformat() if date_from else "",
               "date_to": date_to.isoformat() if date_to else ""}
    return render(request, who, "oversight.html", title="Watchdog: red flags", flags=shown,
                  total=len(got["flags"]), counts=got["counts"], as_of=got["as_of"],
                  filters=filters, codes=sorted(oversight.CODES),
                  severities=oversight.SEVERITIES, api=src)
