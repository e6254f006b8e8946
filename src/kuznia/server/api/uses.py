"""One use at a time (the field form's ``POST /uses``, kept in the outbox while an import
holds the write lock) and where a sent record stands."""

import io
from typing import Annotated, Any

from fastapi import Path, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, create_model

from kuznia.errors import ConflictError, InputError, NotFoundError
from kuznia.i18n import N_
from kuznia.ingest.tables import SPECS
from kuznia.server.api import answers
from kuznia.server.api.base import (
    Routes,
    Who,
    Workspace,
    store_of,
)
from kuznia.server.auth import Caller
from kuznia.server.types import STRICT_BODY
from kuznia.services import (
    use_outbox,
)
from kuznia.services.imports import import_file
from kuznia.services.results import json_safe
from kuznia.services.store import WriteBusy
from kuznia.services.table_writer import STORED_OTHERWISE

api = Routes("uses")


def _use_model() -> type[BaseModel]:
    fields: dict[str, Any] = {}
    for f in SPECS["uses"].fields:
        kind = str | int | None if f.kind in ("int", "number") else str | None
        fields[f.name] = (kind, Field(... if f.required else None,
                                      max_length=10_000 if kind is str | None else None))
    return create_model("UseRecord", __config__=STRICT_BODY, **fields)


UseRecord = _use_model()


@api("POST", "/uses", "write:uses", status_code=201, response_model=answers.UseStored,
     responses={200: {"model": answers.UseStored,
                      "description": "The same record was stored already"},
                202: {"model": answers.OutboxStatus,
                      "description": "Received while an import holds the write lock: kept "
                                     "in the outbox, stored when the import has finished; "
                                     "its status at Location (GET /uses/outbox/{use_id})"}})
def post_use(request: Request, who: Who, store: Workspace,
             body: UseRecord) -> JSONResponse:  # type: ignore[valid-type]
    """One use or mishap, with the same checks as a row of an import. Idempotent on
    ``use_id``: the same record twice is stored once (200 the second time); another
    record under a stored (or waiting) ``use_id`` is a 409. While an import holds the
    write lock the record is checked, kept in the outbox and answered 202 at once
    (``status`` waiting), never made to wait for the import (``services/use_outbox.py``).
    """
    row = body.model_dump()  # type: ignore[attr-defined]
    kept = use_outbox.find(store, str(row["use_id"]))
    if kept is not None and kept.status == use_outbox.WAITING \
            and use_outbox.canonical(kept.record) != use_outbox.canonical(row):
        raise ConflictError(N_("use_id %(use_id)s is waiting to be stored with other "
                               "content; nothing was changed"), use_id=repr(row["use_id"]))
    try:
        result = import_file(store, "uses", io.BytesIO(use_outbox.as_csv(row)),
                             actor=who.name, name=use_outbox.NAME,
                             lock_wait=use_outbox.LOCK_WAIT_SECONDS)
    except WriteBusy:  # an import holds the lock: check what can be checked, keep, answer
        return _outbox(request, who, row)
    except InputError as exc:
        if any(p.message == STORED_OTHERWISE for p in exc.problems):
            raise ConflictError(N_("use_id %(use_id)s is stored with other content; nothing "
                                   "was changed"), use_id=repr(row["use_id"])) from exc
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
        raise ConflictError(N_("use_id %(use_id)s is stored with other content; nothing was "
                               "changed"), use_id=repr(row["use_id"]))
    if stored == "same":  # nothing to write: no lock needed
        return JSONResponse({"use_id": row["use_id"], "added": 0, "event_id": None})
    receipt = use_outbox.receive(store, row, actor=who.name).to_dict()
    request.app.state.drainer.kick()
    return JSONResponse(json_safe(receipt), status_code=202,
                        headers={"Location": receipt["href"]})


@api("GET", "/uses/outbox/{use_id:path}", "write:uses", response_model=answers.OutboxStatus)
def use_outbox_status(request: Request, who: Who, store: Workspace,
                      use_id: Annotated[str, Path(max_length=64)]) -> JSONResponse:
    """Where a field record sent to ``POST /uses`` stands: ``status`` waiting (kept in the
    outbox until the import now running has finished), stored, or rejected (with its
    ``problems``, in an import's shape: correct the record and send it again). The
    sender's own records only; a use stored by any other way answers stored."""
    found = use_outbox.status(store, use_id, actor=who.name)
    if found is not None:
        return JSONResponse(json_safe(found))
    raise NotFoundError(N_("no field record %(use_id)s was received or stored"),
                        use_id=repr(use_id))
