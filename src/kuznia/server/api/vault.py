"""The vault's routes: the documents' titles each account may see, a stamped copy for the
producers a live licence names (streamed from a temporary file, removed once sent), and
the access log (a partner its own).

A document the caller may not see, and a copy it may not have, answer 404, as if there
were no such document (a refused copy is logged with its reason)."""

import tempfile
from pathlib import Path as FilePath
from typing import Annotated

from fastapi import Path, Query, Request
from fastapi.responses import FileResponse, Response
from starlette.background import BackgroundTask

from kuznia.errors import NotFoundError
from kuznia.i18n import N_
from kuznia.server.api import answers
from kuznia.server.api.base import (
    Routes,
    Who,
    render_json,
    store_of,
)
from kuznia.server.auth import Caller
from kuznia.services import vault

DocId = Annotated[str, Path(max_length=64)]
MEDIA = {"pdf": "application/pdf", "zip": "application/zip"}

api = Routes("vault")


def visible_documents(request: Request, who: Caller) -> vault.DocumentList:
    """The documents' titles the caller may see: a partner its own, a producer those a
    licence live today gives it, an admin or auditor all."""
    store = store_of(request)
    scope = who.scope
    if scope.partner_id is not None:
        return vault.documents(store, partner=scope.partner_id)
    if scope.producer_id is not None:
        return vault.documents(store, producer=scope.producer_id)
    return vault.documents(store)


@api("GET", "/vault/documents", "vault.documents", response_model=answers.DocumentList)
def vault_documents(request: Request, who: Who) -> Response:
    """The vault's documents (titles, never content) the caller may see."""
    return render_json(visible_documents(request, who))


@api("GET", "/vault/documents/{doc_id}", "vault.documents", response_model=answers.Document)
def vault_document(request: Request, who: Who, doc_id: DocId) -> Response:
    """One document's title and licence; another partner's (or one no live licence gives
    a producer) is a 404."""
    for row in visible_documents(request, who):
        if row["doc_id"] == doc_id:
            return render_json(row)
    raise NotFoundError(N_("no document %(doc)s"), doc=repr(doc_id))


@api("GET", "/vault/documents/{doc_id}/content", "vault.content",
     response_class=FileResponse,
     responses=answers.download(*MEDIA.values(), description="A copy marked for the caller"))
def vault_content(request: Request, who: Who, doc_id: DocId) -> Response:
    """A copy marked for the caller (a stamped PDF, or a ZIP with a notice), if a live
    licence names the caller's producer; else 404, and the refusal logged."""
    folder = request.app.state.data_dir  # the server's own folder, not the workspace's
    folder.mkdir(parents=True, exist_ok=True)
    handle = tempfile.NamedTemporaryFile(prefix="kuznia-copy-", dir=folder, delete=False)
    handle.close()
    out = FilePath(handle.name)
    try:
        copy = vault.issue_copy(store_of(request), doc_id, account=who.name, out=out)
    except BaseException:
        out.unlink(missing_ok=True)
        raise
    return FileResponse(out, media_type=MEDIA[copy.form], filename=copy.file_name,
                        headers={"X-Kuznia-Copy-Id": copy.copy_id,
                                 "X-Kuznia-Copy-Sha256": copy.sha256},
                        background=BackgroundTask(out.unlink, missing_ok=True))


@api("GET", "/vault/log", "vault.log", response_model=answers.AccessLog)
def vault_log(request: Request, who: Who,
              partner: Annotated[str | None, Query(max_length=64)] = None) -> Response:
    """Every access and refusal (a partner: to its own documents), oldest first."""
    own = who.scope.partner_id
    if own is not None:
        if partner not in (None, own):
            return render_json(vault.AccessLog([]))
        partner = own
    return render_json(vault.access_log(store_of(request), partner=partner))
