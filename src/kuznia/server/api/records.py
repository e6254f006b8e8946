"""Every table, listed (filters on its ids and dates, a page at a time) and read by key."""

import inspect
from typing import Annotated, Any

from fastapi import Query, Request
from fastapi.responses import JSONResponse

from kuznia.ingest.tables import SPECS
from kuznia.server.api import answers
from kuznia.server.api.base import (
    Day,
    Id,
    Routes,
    Who,
    kept_answer,
    store_of,
)
from kuznia.services import (
    records,
)
from kuznia.services.params import RECORDS_LIMIT

api = Routes("records")


def _table_routes(table: str) -> None:
    ids, dates = records.filter_columns(table)
    keys = records.key_columns(table)
    base = [inspect.Parameter("request", inspect.Parameter.POSITIONAL_OR_KEYWORD,
                              annotation=Request),
            inspect.Parameter("who", inspect.Parameter.POSITIONAL_OR_KEYWORD,
                              annotation=Who)]
    kw = inspect.Parameter.KEYWORD_ONLY
    query = [inspect.Parameter(i, kw, default=None, annotation=Id) for i in ids]
    for d in dates:
        query += [inspect.Parameter(f"{d}_from", kw, default=None, annotation=Day),
                  inspect.Parameter(f"{d}_to", kw, default=None, annotation=Day)]
    query += [inspect.Parameter("cursor", kw, default=None,
                                annotation=Annotated[str | None, Query(max_length=400)]),
              inspect.Parameter("limit", kw, default=RECORDS_LIMIT,
                                annotation=Annotated[int, Query(ge=1, le=records.MAX_LIMIT)])]

    def listing(request: Request, who: Who, **kwargs: Any) -> JSONResponse:
        filters = {i: kwargs[i] for i in ids if kwargs.get(i) is not None}
        ranges = {d: (kwargs[f"{d}_from"], kwargs[f"{d}_to"]) for d in dates}
        return kept_answer(request, lambda: records.list_records(
            store_of(request), table, scope=who.scope, filters=filters, dates=ranges,
            cursor=kwargs["cursor"], limit=kwargs["limit"]))

    listing.__signature__ = inspect.Signature(base + query)  # type: ignore[attr-defined]
    listing.__name__ = f"list_{table}"
    listing.__doc__ = (f"The {table} records in key order, filtered on their ids and dates, "
                       "a page at a time (``next_cursor``).")
    # GET /uses is the trace: the same rows, priced and scoped; GET /licences is each role's
    # own view of them (server/licences.py)
    if table not in ("uses", "licences"):
        api("GET", f"/{table}", f"read:{table}",
            response_model=answers.record_list(table))(listing)

    path_keys = [inspect.Parameter(k, inspect.Parameter.KEYWORD_ONLY, annotation=str)
                 for k in keys]

    def reading(request: Request, who: Who, **kwargs: Any) -> JSONResponse:
        return kept_answer(request, lambda: records.get_record(
            store_of(request), table, {k: kwargs[k] for k in keys}, scope=who.scope))

    reading.__signature__ = inspect.Signature(base + path_keys)  # type: ignore[attr-defined]
    reading.__name__ = f"get_{table}"
    reading.__doc__ = f"One {table} record by its key ({', '.join(keys)})."
    last = keys[-1]
    path = "/" + "/".join("{" + k + "}" for k in keys[:-1]) + ("/" if len(keys) > 1 else "")
    api("GET", f"/{table}{path}{{{last}:path}}", f"read:{table}",
        response_model=answers.RECORDS[table])(reading)


for _t in SPECS:
    _table_routes(_t)
