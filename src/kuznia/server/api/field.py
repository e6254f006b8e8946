"""The field form's API: the catalogue its pick-lists are made of (products, versions,
lots, failure modes), scoped to what the caller may record, with an ETag so that a phone
asking again on every start costs a 304 while nothing changed."""

import hashlib

from fastapi import Request
from fastapi.responses import Response

from kuznia.server.api import answers
from kuznia.server.api.base import (
    Routes,
    Who,
    kept_body,
    render_json,
    store_of,
)
from kuznia.services import field as field_svc

api = Routes("field")


def etag_of(body: bytes) -> str:
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


@api("GET", "/field/catalogue", "write:uses", response_model=answers.Catalogue,
     responses={304: {"description": "Not changed since the ETag in If-None-Match"}})
def field_catalogue(request: Request, who: Who) -> Response:
    """What the field form offers to pick from, for the products the caller may record
    uses of: each product's versions (newest first), most recent lots and failure modes.
    Send the last answer's ETag in ``If-None-Match`` to get a 304 while it is unchanged."""
    body = kept_body(request, request.url.path, [], lambda: bytes(render_json(
        field_svc.catalogue(store_of(request), who.scope)).body))
    tag = etag_of(body)
    asked = [t.strip() for t in request.headers.get("if-none-match", "").split(",")]
    if tag in asked or "*" in asked:
        return Response(status_code=304, headers={"ETag": tag})
    return Response(body, media_type="application/json", headers={"ETag": tag})
