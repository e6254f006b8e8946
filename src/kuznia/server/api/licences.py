"""The API's licence routes: ``GET /licences``, each role's own view of the licences (the
ministry's roles all of them, a partner those asked of it, a producer those naming it),
with their state, current stage and days waiting."""

from typing import Annotated

from fastapi import Query, Request

from kuznia.server.api import answers
from kuznia.server.api.base import (
    Day,
    Routes,
    Who,
    store_of,
)
from kuznia.services import licences

State = Annotated[str | None, Query(max_length=16, description=(
    "Only licences in this state: requested, in_review, granted, expired, denied, "
    "revoked"))]

api = Routes("licences")


@api.figure("/licences", "licences.read", response_model=answers.LicenceList)
def list_licences(request: Request, who: Who, status: State = None,
                  as_of: Day = None) -> licences.LicenceList:
    """Each licence the caller may see (the ministry: all; a partner: its own; a producer:
    those naming it, with no other producer shown) with its state on ``as_of`` (today),
    its current stage, the days it has waited, and what it names."""
    return licences.list_licences(store_of(request), scope=who.scope, status=status or None,
                                  on=as_of)
