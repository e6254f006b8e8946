"""The API's evidence routes: the uses behind a figure summed and exported whole (CSV or
XLSX, streamed), the red flags exported with their triage status, and one flag's case
(status, comments, the peers of a price flag) with its triage."""

import json
import tempfile
from pathlib import Path as FilePath
from typing import Annotated, Any, Literal

from fastapi import Path, Query, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from kuznia.errors import NotFoundError
from kuznia.i18n import N_
from kuznia.server.api import answers
from kuznia.server.api.base import (
    Day,
    Id,
    Routes,
    Who,
    figure_body,
    kept_answer,
    store_of,
)
from kuznia.server.api.figures import Condition, oversight_flags
from kuznia.server.auth import Caller
from kuznia.services import flag_evidence, spreadsheets, triage, use_table
from kuznia.services.results import json_safe

Month = Annotated[str | None, Query(max_length=7)]
FlagKey = Annotated[str, Path(max_length=64)]
Choice = Annotated[str | None, Query(max_length=40)]

api = Routes("evidence")


def _use_filters(**given: Any) -> dict[str, Any]:
    return {k: given[k] for k in use_table.FILTERS}


@api("GET", "/use-summary", "figures.read", response_model=answers.UseSummary)
def use_summary(request: Request, who: Who, product: Id = None, producer: Id = None,
                version: Id = None, operator: Id = None, failure_mode: Id = None,
                lot: Id = None, month: Month = None, category: Id = None,
                date_from: Day = None, date_to: Day = None,
                condition: Condition = None) -> Response:
    """The filtered uses in four figures: uses, confirmed effects, cost, and cost per
    effect with its 90% interval (the same sums as ``/cost-per-effect``)."""
    filters = _use_filters(**locals())
    return kept_answer(request, lambda: use_table.summary(store_of(request), filters,
                                                          scope=who.scope))


@api("GET", "/exports/uses", "figures.read", response_class=Response,
     responses=answers.download("text/csv", "application/vnd.openxmlformats-"
                                "officedocument.spreadsheetml.sheet",
                                description="Every matching use, newest first"))
def export_uses(request: Request, who: Who, format: Literal["csv", "xlsx"] = "csv",
                product: Id = None, producer: Id = None, version: Id = None,
                operator: Id = None, failure_mode: Id = None, lot: Id = None,
                month: Month = None, category: Id = None, date_from: Day = None,
                date_to: Day = None, condition: Condition = None) -> Response:
    """Every use matching the filters, newest first, with its price, cost and source
    file (what the caller may see of them), streamed: CSV as it is read (cells a
    spreadsheet would run as formulas neutralised), XLSX written to a temporary file
    first and then sent."""
    filters = _use_filters(**locals())
    rows = use_table.export_rows(store_of(request), filters, scope=who.scope)
    if format == "csv":
        return StreamingResponse(spreadsheets.csv_chunks(rows), media_type="text/csv",
                                 headers={"Content-Disposition":
                                          'attachment; filename="uses.csv"'})
    with tempfile.NamedTemporaryFile(suffix=".xlsx", delete=False) as f:
        path = FilePath(f.name)
    try:
        spreadsheets.write_xlsx(rows, path)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return StreamingResponse(
        spreadsheets.file_chunks(path),
        media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"Content-Disposition": 'attachment; filename="uses.xlsx"'})


def current_flags(request: Request, who: Caller) -> list[dict[str, Any]]:
    """Every flag the caller may see now, at the server's thresholds: the kept answer of
    ``GET /oversight/flags`` (the watchdog page's too)."""
    body, _ = figure_body(request, who, oversight_flags, {})
    assert body is not None
    return json.loads(body)["flags"]  # type: ignore[no-any-return]


def find_flag(request: Request, who: Caller, key: str) -> dict[str, Any]:
    for f in current_flags(request, who):
        if f["key"] == key:
            return f
    raise NotFoundError(N_("no red flag %(key)s stands now (new data may have cleared it)"),
                        key=repr(key))


def flag_case(request: Request, who: Caller, key: str) -> dict[str, Any]:
    """A flag, its case (status, comments) and, for a price flag, its peers."""
    flag = find_flag(request, who, key)
    store = store_of(request)
    return {"flag": flag, "case": triage.case_of(store, key),
            "prices": flag_evidence.price_evidence(store, flag,
                                                   request.app.state.oversight_config)}


@api("GET", "/exports/flags", "oversight.triage", response_class=Response,
     responses=answers.download("text/csv", description="The flags as CSV"))
def export_flags(request: Request, who: Who, severity: Choice = None, code: Choice = None,
                 status: Choice = None, producer: Id = None, product: Id = None
                 ) -> Response:
    """The red flags standing now, with their triage status, most severe first."""
    flags = triage.with_status(current_flags(request, who), store_of(request))
    flags = [f for f in flags if (not severity or f["severity"] == severity)
             and (not code or f["code"] == code) and (not status or f["status"] == status)
             and (not producer or f["producer_id"] == producer)
             and (not product or f["product_id"] == product)]
    return StreamingResponse(spreadsheets.csv_chunks(triage.flag_rows(flags)),
                             media_type="text/csv", headers={
                                 "Content-Disposition": 'attachment; filename="red-flags.csv"'})


@api("GET", "/oversight/flags/{key}", "oversight.triage", response_model=answers.FlagCase)
def get_flag(request: Request, who: Who, key: FlagKey) -> JSONResponse:
    """One flag standing now, with its case (status, who set it, comments) and, for a
    price flag, the peer contracts and the line it crossed."""
    with store_of(request).snapshot():
        return JSONResponse(json_safe(flag_case(request, who, key)))


class TriageBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    status: Literal[triage.STATUSES] | None = None  # type: ignore[valid-type]
    comment: str | None = Field(default=None, max_length=triage.MAX_COMMENT)


@api("POST", "/oversight/flags/{key}/triage", "oversight.triage.write",
     response_model=answers.Case)
def triage_flag(request: Request, who: Who, key: FlagKey, body: TriageBody
                ) -> JSONResponse:
    """Set a flag's status and/or add a comment (one audited write)."""
    flag = find_flag(request, who, key)
    case = triage.triage(store_of(request), flag, who.name, status=body.status,
                         comment=body.comment)
    return JSONResponse(json_safe(case))
