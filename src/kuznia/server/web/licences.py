"""The licence pipeline (for the ministry's roles) and a partner's own page, both from the
same service call as ``GET /api/v1/licences``, kept under that route's question
(``figure``)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Query, Request
from fastapi.responses import HTMLResponse

from kuznia.i18n import gettext
from kuznia.server.api import licences as api_licences
from kuznia.server.api.base import store_of
from kuznia.server.auth import Caller
from kuznia.server.web.base import figure, may, page, render
from kuznia.server.web.vault import access_log_of
from kuznia.services import licences

State = Annotated[str | None, Query(max_length=16)]


def _licences(request: Request, who: Caller, status: str | None) -> tuple[dict[str, Any], str]:
    return figure(request, who, api_licences.list_licences, status=status or None)


@page("/licences", "pages.licences")
def pipeline(request: Request, who: Caller, status: State = None) -> HTMLResponse:
    """Every licence with its stages and days waiting; what each unlocks among the stored
    offers (for the roles that may read offers)."""
    if status and status not in licences.STATES:
        status = None
    every, _ = _licences(request, who, None)
    got, src = _licences(request, who, status) if status else (every, _)
    counts = {s: sum(r["state"] == s for r in every["licences"]) for s in licences.STATES}
    unlocks = licences.unlocks(store_of(request)) if may(who, "read:offers") else None
    return render(request, who, "licences.html", title=gettext("Licences"), rows=got["licences"],
                  on=got["on"], api=src, states=licences.STATES, chosen=status or "",
                  counts=counts, unlocks=unlocks)


@page("/partner", "pages.partner")
def partner_page(request: Request, who: Caller) -> HTMLResponse:
    """A partner's own page: its licences (and, with the vault, who took its documents)."""
    got, src = _licences(request, who, None)
    return render(request, who, "partner.html", title=gettext("Your licences"),
                  rows=got["licences"],
                  on=got["on"], api=src,
                  vault_log=access_log_of(request, who.scope.partner_id or ""))
