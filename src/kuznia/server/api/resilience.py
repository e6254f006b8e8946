"""Resilience and repairs: strikes simulated on the sites, the regions' strike figures,
duplicate lines chosen within a budget, repair assignments."""

import datetime as dt
from typing import Annotated

from fastapi import File, Form, Request, UploadFile
from fastapi.responses import JSONResponse
from pydantic import BaseModel, BeforeValidator, Field

from kuznia.i18n import N_
from kuznia.server import heavy, uploads
from kuznia.server.api import answers
from kuznia.server.api.base import (
    Day,
    Routes,
    Who,
    Workspace,
    answer,
    kept_answer,
)
from kuznia.server.types import STRICT_BODY, iso_day
from kuznia.services import repairs as repairs_svc
from kuznia.services import resilience as resilience_svc

api = Routes("resilience")


class SimulateBody(BaseModel):
    model_config = STRICT_BODY
    months: int = Field(12, ge=1, le=120)
    scenarios: int = Field(10_000, ge=2, le=1_000_000)
    seed: int = Field(0, ge=0, le=2**63 - 1)
    start: dt.date | None = None
    from_history: bool = False
    history_from: dt.date | None = None
    spillover: float = Field(0.0, ge=0, le=1)


@api("POST", "/resilience/simulate", "resilience.run", response_model=answers.Simulation)
def simulate(request: Request, who: Who, store: Workspace, body: SimulateBody) -> JSONResponse:
    """Simulate strikes on the sites: output per product and site, with intervals
    (scenarios x months at most ``MAX_SCENARIO_MONTHS``; one at a time: 503 meanwhile)."""
    heavy.check_size(body.scenarios, body.months)
    with heavy.one_at_a_time(request, N_("this simulation")):
        return answer(request, lambda: resilience_svc.run(
            store, body.months, body.scenarios, body.seed, start=body.start,
            from_history=body.from_history, spillover=body.spillover,
            history_from=body.history_from))


@api("GET", "/resilience/regions", "resilience.read", response_model=answers.Regions)
def regions(request: Request, who: Who, store: Workspace,
            as_of: Day = None, history_from: Day = None
            ) -> JSONResponse:
    """Each region's strike figures estimated from the strikes on or before ``as_of``,
    over the months from ``history_from`` (default: the workspace's first record)."""
    return kept_answer(request, lambda: {"regions": resilience_svc.estimate_regions(
        store, as_of, history_from)})


@api("POST", "/resilience/duplicate", "resilience.run",
     response_model=answers.Duplication)
def duplicate(request: Request, who: Who, store: Workspace,
              candidates: Annotated[UploadFile, File()],
              budget: Annotated[float, Form()],
              months: Annotated[int, Form(ge=1, le=120)] = 12,
              scenarios: Annotated[int, Form(ge=2, le=1_000_000)] = 2_000,
              saa_scenarios: Annotated[int, Form(ge=2, le=100_000)] = 300,
              seed: Annotated[int, Form(ge=0, le=2**63 - 1)] = 0,
              time_limit: Annotated[float, Form(gt=0, le=600)] = 120.0) -> JSONResponse:
    """Choose duplicate lines within ``budget`` from a candidates upload."""
    name = uploads.display_name(candidates.filename)
    heavy.check_size(scenarios, months)
    with heavy.one_at_a_time(request, N_("this plan")):
        return answer(request, lambda: resilience_svc.duplicate(
            store, candidates.file, budget, months, scenarios, saa_scenarios,
            seed, time_limit=time_limit, candidates_name=name))


@api("POST", "/repairs/plan", "resilience.run", response_model=answers.RepairPlan)
def repairs_plan(request: Request, who: Who, store: Workspace,
                 backlog: Annotated[UploadFile, File()],
                 repair_points: Annotated[UploadFile, File()],
                 as_of: Annotated[dt.date | None, BeforeValidator(iso_day), Form()] = None,
                 ) -> JSONResponse:
    """Repair assignments at home, against sending everything abroad."""
    return answer(request, lambda: repairs_svc.repairs_plan(
        store, backlog.file, repair_points.file, as_of,
        backlog_name=uploads.display_name(backlog.filename),
        points_name=uploads.display_name(repair_points.filename)))
