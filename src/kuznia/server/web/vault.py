"""The vault's page for the producers a live licence names: the documents it gives them,
each with a link that downloads a copy marked for the account (the API's content route,
which logs every copy and refusal). The access log block on a partner's own page is
``_partner_access_log.html``, filled by ``access_log_of``."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse

from kuznia.i18n import gettext
from kuznia.server.api.base import store_of
from kuznia.server.api.vault import visible_documents
from kuznia.server.auth import Caller
from kuznia.server.web.base import page, render
from kuznia.services import vault


@page("/vault", "pages.vault")
def vault_page(request: Request, who: Caller) -> HTMLResponse:
    docs = visible_documents(request, who).rows
    return render(request, who, "vault.html", title=gettext("The partners' documents"), docs=docs)


def access_log_of(request: Request, partner_id: str, limit: int = 200
                  ) -> list[dict[str, Any]]:
    """The newest accesses to a partner's documents, newest first, for its own page."""
    rows = vault.access_log(store_of(request), partner=partner_id, limit=limit).rows
    return rows[::-1]
