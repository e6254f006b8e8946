"""The audit trail: the latest events, what imports changed in stored rows, and the hash
chain checked."""

from typing import Annotated

from fastapi import Query, Request
from fastapi.responses import JSONResponse

from kuznia.i18n import N_
from kuznia.server import heavy
from kuznia.server.api import answers
from kuznia.server.api.base import (
    MAX_INT,
    Routes,
    Who,
    Workspace,
    answer,
)
from kuznia.services import (
    audit,
    audit_check,
)
from kuznia.services.params import AUDIT_LIMIT

api = Routes("audit")


@api("GET", "/audit", "audit.read", response_model=answers.EventList)
def audit_list(request: Request, who: Who, store: Workspace,
               limit: Annotated[int, Query(ge=0, le=MAX_INT)] = AUDIT_LIMIT) -> JSONResponse:
    """The latest audit events, newest first (0: all)."""
    def make() -> audit.EventList:
        with store.read() as conn:
            return audit.EventList(audit.list_events(conn, limit))

    return answer(request, make)


@api("GET", "/audit/history", "audit.read", response_model=answers.RowHistory)
def audit_history(request: Request, who: Who, store: Workspace,
                  table: Annotated[str | None, Query(max_length=64)] = None,
                  key: Annotated[str | None, Query(max_length=400)] = None,
                  limit: Annotated[int, Query(ge=0, le=MAX_INT)] = AUDIT_LIMIT
                  ) -> JSONResponse:
    """What imports with ``update`` changed in stored rows, oldest first: each value before
    and after, with the event, when, who and which file (0: every change)."""
    def make() -> audit.RowHistory:
        with store.read() as conn:
            return audit.RowHistory(audit.row_history(conn, table, key, limit or None))

    return answer(request, make)


@api("GET", "/audit/verify", "audit.read", response_model=answers.ChainCheck)
def audit_verify(request: Request, who: Who, store: Workspace, deep: bool = False,
                 expect_head: Annotated[str | None, Query(max_length=64)] = None
                 ) -> JSONResponse:
    """Check the hash chain; ``deep`` also checks every stored row against it (never
    kept: rows edited outside Kuznia leave the head as it was; one at a time: 503
    meanwhile)."""
    def make() -> audit_check.ChainCheck:
        with store.read() as conn:
            return audit_check.verify(conn, deep=deep, expect_head=expect_head)

    if not deep:
        return answer(request, make)
    with heavy.one_at_a_time(request, N_("this deep check")):
        return answer(request, make)
