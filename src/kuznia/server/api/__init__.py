"""The JSON API, ``/api/v1``: one router per resource, each route declared with its access
action (``base.Routes``) and computed by the services in one snapshot of the store.

The questions take the CLI's options as query parameters under the services' names
(``date_from``, not ``--from``) and answer with the CLI's ``--json`` shape. Every table is
listed (``GET /{table}``, filters on its ids and dates, paged with a cursor) and read by
key (``GET /{table}/{key}``); each table with an import format takes uploads
(``POST /imports/{table}``). The action of each route is in its OpenAPI operation as
``x-access``, with the roles that may call it.

- ``session``: health, the caller, logging in and out;
- ``figures``: the figures (cost per effect, headline, failures, fixes, growth, board,
  scorecard, red flags) and the uses behind them;
- ``evidence``: the uses summed and exported, the flags exported, a flag's case;
- ``plans``, ``resilience``, ``audit``, ``accounts``, ``licences``, ``vault``, ``field``;
- ``imports`` (uploads and their jobs) and ``uses`` (one use at a time, the outbox);
- ``records``: every table listed and read by key, added last so that no table's
  ``/{table}/{key}`` route catches another's path;
- ``answers``: what each route answers, declared in its operation (the schema tests check
  every answer against it); ``base``: how a route is declared, and the kept answers.
"""

from fastapi import APIRouter
from fastapi.routing import APIRoute

from kuznia.server.api import (
    accounts,
    audit,
    evidence,
    field,
    figures,
    imports,
    licences,
    plans,
    records,
    resilience,
    session,
    uses,
    vault,
)

RESOURCES = (session, figures, uses, evidence, plans, resilience, audit, accounts, imports,
             field, licences, vault, records)  # records last: its paths take any table
router = APIRouter()
for _resource in RESOURCES:
    router.include_router(_resource.api.router)



def routes() -> list[APIRoute]:
    """Every route of the API, as its resource declared it."""
    return [r for resource in RESOURCES for r in resource.api.router.routes
            if isinstance(r, APIRoute)]


__all__ = ["RESOURCES", "router", "routes"]
