"""Allocation plans: made (not saved), made and saved under a name, listed, shown and
compared."""

from typing import Annotated

from fastapi import Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from kuznia.server.api import answers
from kuznia.server.api.base import (
    MAX_INT,
    Routes,
    Who,
    Workspace,
    answer,
    kept_answer,
)
from kuznia.server.types import STRICT_BODY
from kuznia.services import planning as planning_svc
from kuznia.services.results import json_safe
from kuznia.services.store import Store

api = Routes("plans")


class AllocateBody(BaseModel):
    model_config = STRICT_BODY
    budget: float
    max_producer_share: float | None = Field(None, ge=0, le=1)
    max_region_share: float | None = Field(None, ge=0, le=1)
    min_category_share: dict[str, Annotated[float, Field(ge=0, le=1)]] = {}
    require: dict[str, Annotated[int, Field(ge=0, le=MAX_INT)]] = {}
    risk: str = Field("mean", max_length=8)
    price_change: dict[str, Annotated[float, Field(gt=-1, le=100)]] = {}
    without_producers: list[Annotated[str, Field(max_length=200)]] = []
    time_limit: float = Field(60.0, gt=0, le=600)
    gap: float = Field(1e-3, ge=0, le=1)


def _allocate(store: Store, body: AllocateBody) -> planning_svc.PlanResult:
    return planning_svc.allocate(
        store, budget=body.budget, max_producer_share=body.max_producer_share,
        max_region_share=body.max_region_share,
        min_category_share=body.min_category_share or None,
        require=body.require or None, risk=body.risk, time_limit=body.time_limit,
        gap=body.gap, what_if=planning_svc.WhatIf(dict(body.price_change),
                                                  list(body.without_producers)))


@api("POST", "/plans/allocate", "plans.run", response_model=answers.Plan)
def allocate(request: Request, who: Who, store: Workspace, body: AllocateBody) -> JSONResponse:
    """The plan with the most expected effects within every limit (not saved)."""
    return answer(request, lambda: _allocate(store, body))


class SaveBody(AllocateBody):
    name: str = Field(min_length=1, max_length=128)


@api("POST", "/plans", "plans.run", status_code=201, response_model=answers.SavedPlan)
def save_plan(request: Request, who: Who, store: Workspace, body: SaveBody) -> JSONResponse:
    """Make the plan and keep it under ``name`` (an audited write naming the account)."""
    planning_svc.check_plan_name(body.name)  # before the solve, not after it
    with store.snapshot():
        plan = _allocate(store, body)
    event_id = planning_svc.save_plan(store, body.name, plan, who.name)
    return JSONResponse(json_safe({**plan.to_dict(), "name": body.name,
                                   "event_id": event_id}), status_code=201)


@api("GET", "/plans", "plans.read", response_model=answers.PlanList)
def list_plans(request: Request, who: Who, store: Workspace) -> JSONResponse:
    """The saved plans."""
    return kept_answer(request, lambda: planning_svc.list_plans(store))


@api("GET", "/plans/{name}", "plans.read", response_model=answers.StoredPlan)
def show_plan(request: Request, who: Who, store: Workspace, name: str) -> JSONResponse:
    """A saved plan with its inputs."""
    return kept_answer(request, lambda: planning_svc.show_plan(store, name))


@api("GET", "/plans/{name}/diff/{other}", "plans.read", response_model=answers.PlanDiff)
def diff_plans(request: Request, who: Who, store: Workspace, name: str, other: str) -> JSONResponse:
    """What changed from plan ``name`` to plan ``other``."""
    return kept_answer(request, lambda: planning_svc.diff_plans(store, name, other))
