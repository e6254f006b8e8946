"""The producers' portal on the pages: the threads on a producer's board blocks (answers,
replies, PDF attachments), and the offers a producer sends (a form, or the same file
``kuznia import offers`` takes). A producer writes only under its own producer page: any
other producer id answers 404, as if it did not exist."""

from __future__ import annotations

import hashlib
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import File, Form, Path, Request, UploadFile
from fastapi.responses import HTMLResponse, Response

from kuznia.errors import NotFoundError, UsageError
from kuznia.i18n import N_
from kuznia.server import uploads
from kuznia.server.api.base import store_of
from kuznia.server.auth import Caller
from kuznia.server.web.base import env, may, page, render
from kuznia.services import portal
from kuznia.services import scorecard as scorecard_svc

Text = Annotated[str, Form(max_length=portal.MAX_BODY + 100)]
Key = Annotated[str, Form(max_length=400)]
ProducerId = Annotated[str, Path(max_length=200)]


def thread_dom_id(producer: str, kind: str, ref: str) -> str:
    """A thread's element id: a hash (ids and refs may hold any character)."""
    return "t-" + hashlib.sha256(f"{producer}\x1f{kind}\x1f{ref}".encode()).hexdigest()[:12]


env.globals["thread_dom_id"] = thread_dom_id


def _own(who: Caller, producer_id: str) -> None:
    """A producer acts only under its own page; another's is as if it did not exist."""
    if who.scope.producer_id is not None and who.scope.producer_id != producer_id:
        raise NotFoundError(N_("no producers record with producer_id %(producer)s"),
                            producer=repr(producer_id))


def with_threads(request: Request, who: Caller, blocks: list[dict[str, Any]],
                 producer: str | None) -> list[dict[str, Any]]:
    """The blocks, each with its threads: on a producer's page the thread of that
    producer (empty, to answer, if none yet; with how many messages are new since this
    account's last visit, which this records); on the board those with messages."""
    store = store_of(request)
    if producer is not None:
        _own(who, producer)
    found = portal.threads(store, producer)
    new = portal.new_since_last_visit(store, who.name, producer) if producer else {}
    out = []
    for b in blocks:
        b = dict(b)
        if producer is not None:
            keys = [(producer, b["kind"], b["ref"])]
        else:
            keys = [k for k in found if k[1] == b["kind"] and k[2] == b["ref"]
                    and (b["producer_id"] is None or k[0] == b["producer_id"])]
        b["threads"] = [{"producer_id": k[0], "kind": k[1], "ref": k[2],
                         "messages": found.get(k, []), "new": new.get((k[1], k[2]), 0),
                         "dom_id": thread_dom_id(*k)}
                        for k in keys if producer is not None or found.get(k)]
        out.append(b)
    return out


def thread_context(who: Caller) -> dict[str, Any]:
    return {"may_answer": may(who, "portal.answer"), "may_reply": may(who, "portal.reply"),
            "audit": may(who, "audit.read")}


def _thread(request: Request, who: Caller, producer: str, kind: str, ref: str
            ) -> HTMLResponse:
    messages = portal.threads(store_of(request), producer).get((producer, kind, ref), [])
    t = {"producer_id": producer, "kind": kind, "ref": ref, "messages": messages, "new": 0,
         "dom_id": thread_dom_id(producer, kind, ref)}
    return render(request, who, "_thread.html", t=t, saved=True, **thread_context(who))


@page("/producers/{producer_id}/blocks/answer", "portal.answer", method="POST")
def answer_block(request: Request, who: Caller, producer_id: ProducerId, kind: Key, ref: Key,
                 body: Text, attachment: Annotated[UploadFile | None, File()] = None
                 ) -> HTMLResponse:
    _own(who, producer_id)
    pdf = None
    if attachment is not None and attachment.filename:
        data = attachment.file.read(portal.MAX_PDF + 1)
        pdf = (attachment.filename, data)
    portal.answer(store_of(request), actor=who.name, producer=producer_id, kind=kind,
                  ref=ref, body=body, attachment=pdf)
    return _thread(request, who, producer_id, kind, ref)


@page("/producers/{producer_id}/blocks/reply", "portal.reply", method="POST")
def reply_block(request: Request, who: Caller, producer_id: ProducerId, kind: Key, ref: Key,
                body: Text) -> HTMLResponse:
    portal.reply(store_of(request), actor=who.name, producer=producer_id, kind=kind, ref=ref,
                 body=body)
    return _thread(request, who, producer_id, kind, ref)


@page("/portal/attachments/{message_id}", "portal.read")
def attachment_file(request: Request, who: Caller,
                    message_id: Annotated[int, Path(ge=1, le=2**31)]) -> Response:
    """The PDF, as a download (never shown inline: a PDF from outside is not ours to
    render in the app's origin)."""
    name, data = portal.attachment(store_of(request), message_id, who.scope.producer_id)
    ascii_name = name.encode("ascii", "replace").decode().replace("?", "_")
    return Response(data, media_type=portal.PDF_TYPE, headers={
        "Content-Disposition": f"attachment; filename=\"{ascii_name}\"; "
                               f"filename*=UTF-8''{quote(name, safe='')}",
        "Cache-Control": "private, no-store"})  # nosniff and the CSP: app.SecurityHeaders


# --- offers ---------------------------------------------------------------------------------

def offers_context(request: Request, who: Caller, producer_id: str) -> dict[str, Any]:
    store = store_of(request)
    with store.read() as conn:
        products = scorecard_svc.products_of(conn, producer_id)
    offers = portal.offers_of(store, producer_id)
    for o in offers:
        o["origin_words"] = portal.origin_words(o["origin"])
    return {"offers": offers, "offer_products": products,
            "may_offer": may(who, "portal.offers"), "producer_id": producer_id}


def _offers(request: Request, who: Caller, producer_id: str, result: Any) -> HTMLResponse:
    return render(request, who, "_offers.html", result=result.to_dict(),
                  **offers_context(request, who, producer_id))


@page("/producers/{producer_id}/offers", "portal.offers", method="POST")
def send_offer(request: Request, who: Caller, producer_id: ProducerId,
               product_id: Annotated[str, Form(max_length=200)],
               unit_price: Annotated[str, Form(max_length=40)],
               capacity: Annotated[str, Form(max_length=40)],
               min_order: Annotated[str, Form(max_length=40)] = "",
               lot_size: Annotated[str, Form(max_length=40)] = "") -> HTMLResponse:
    _own(who, producer_id)
    data = portal.offer_csv({"product_id": product_id, "unit_price": unit_price,
                             "capacity": capacity, "min_order": min_order,
                             "lot_size": lot_size}, producer_id)
    result = portal.submit_offers(store_of(request), data, actor=who.name,
                                  producer=producer_id, name="offer form", via="form")
    return _offers(request, who, producer_id, result)


@page("/producers/{producer_id}/offers/upload", "portal.offers", method="POST")
def upload_offers(request: Request, who: Caller, producer_id: ProducerId,
                  file: Annotated[UploadFile, File()]) -> HTMLResponse:
    _own(who, producer_id)
    data = file.file.read(MAX_OFFERS_FILE + 1)
    if len(data) > MAX_OFFERS_FILE:
        raise UsageError(N_("the {file} is larger than %(mb)s MB; offers are a few rows per "
                            "product"), params=("file",), mb=MAX_OFFERS_FILE // 1024 ** 2)
    name = uploads.display_name(file.filename)
    result = portal.submit_offers(store_of(request), data, actor=who.name,
                                  producer=producer_id, name=name, via="upload")
    return _offers(request, who, producer_id, result)


MAX_OFFERS_FILE = 5 * 1024 * 1024
