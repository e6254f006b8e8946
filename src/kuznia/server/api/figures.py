"""The questions: the figures pages draw and the CLI prints (cost per effect, the headline,
failures, fixes, growth, the board, a producer's scorecard, the red flags), each one
function its route and its pages call (``Routes.figure``), and the uses behind a figure."""

from typing import Annotated

from fastapi import Path, Query, Request
from fastapi.responses import JSONResponse

from kuznia.errors import NotFoundError
from kuznia.i18n import N_
from kuznia.server import heavy
from kuznia.server.api import answers
from kuznia.server.api.base import (
    Day,
    Id,
    Routes,
    Who,
    Workspace,
    kept_answer,
    only_own,
)
from kuznia.services import (
    access,
    costs,
    oversight,
    trace,
)
from kuznia.services import board as board_svc
from kuznia.services import failures as failures_svc
from kuznia.services import growth as growth_svc
from kuznia.services import headline as headline_svc
from kuznia.services import scorecard as scorecard_svc
from kuznia.services.params import USES_LIMIT

api = Routes("figures")


By = Annotated[str, Query(max_length=200, description="Group keys, comma-separated.")]


@api.figure("/cost-per-effect", "costs.read", response_model=answers.CostTable)
def cost_per_effect(request: Request, who: Who, store: Workspace, by: By = "product",
                    date_from: Day = None, date_to: Day = None, product: Id = None,
                    category: Id = None, producer: Id = None) -> costs.CostTable:
    """Cost per confirmed effect per group, with 90% intervals; ``producer``: from that
    producer's uses only (a producer: its own, whatever it asks; another's is empty)."""
    scope = who.scope
    keys = costs.parse_by(by)
    if not scope.operators and "operator" in keys:
        raise access.ForbiddenError(N_("this account may not see operators"))
    heavy.check_keys(keys)
    producer, any_rows = only_own(who, producer)
    if not any_rows:
        return costs.CostTable(keys, store.setting("currency", "USD") or "USD", [],
                               ["no uses of this producer's for this account to see"])

    def make() -> costs.CostTable:
        return costs.cost_per_effect(store, by, date_from, date_to, producer=producer,
                                     product=product, category=category)

    if "operator" not in keys:  # from the kept aggregate: light
        return make()
    with heavy.one_at_a_time(request, N_("cost per effect by operator")):  # a scan of the uses
        return make()


@api.figure("/headline", "costs.read", response_model=answers.Headline)
def headline(request: Request, who: Who, store: Workspace,
             date_from: Day = None, date_to: Day = None,
             product: Id = None, category: Id = None) -> headline_svc.Headline:
    """The overview's headline figures: spend, confirmed effects and cost per effect (with
    its 90% interval) over the period asked (else the latest 90 days of data), each beside
    the period before it of the same length (a producer: its own)."""
    return headline_svc.headline(store, date_from, date_to,
                                 producer=who.scope.producer_id, product=product,
                                 category=category)


Condition = Annotated[str | None, Query(
    max_length=400, description="key=value: uses whose conditions hold it (key=- for "
    "none); several joined by ';'.")]


@api("GET", "/uses", "figures.read", response_model=answers.UseList)
def uses(request: Request, who: Who, store: Workspace, product: Id = None, producer: Id = None,
         version: Id = None, operator: Id = None, failure_mode: Id = None, lot: Id = None,
         month: Annotated[str | None, Query(max_length=7)] = None, category: Id = None,
         date_from: Day = None,
         date_to: Day = None, condition: Condition = None,
         limit: Annotated[int, Query(ge=1, le=1000)] = USES_LIMIT,
         cursor: Annotated[str | None, Query(max_length=400)] = None,
         total: bool = False) -> JSONResponse:
    """The uses behind a figure, oldest first, a page at a time (``next_cursor``);
    ``total`` also counts them all (it costs a scan of the group)."""
    return kept_answer(request, lambda: trace.list_uses(
        store, product=product, producer=producer, version=version,
        operator=operator, failure_mode=failure_mode, lot=lot, month=month,
        category=category, date_from=date_from, date_to=date_to, condition=condition,
        limit=limit, cursor=cursor, with_total=total, scope=who.scope))


@api.figure("/failures", "figures.read", response_model=answers.FailureTable)
def failures(request: Request, who: Who, store: Workspace, product: Id = None, version: Id = None,
             producer: Id = None, by: Annotated[str | None, Query(max_length=200)] = None
             ) -> failures_svc.FailureTable:
    """The Pareto of failure modes (a producer: of its own uses)."""
    producer, any_rows = only_own(who, producer)
    if not any_rows:
        return failures_svc.FailureTable(failures_svc.parse_failure_by(by))
    return failures_svc.failures(store, product, version, producer, by)


@api.figure("/fixes", "figures.read", response_model=answers.FixTable)
def fixes(request: Request, who: Who, store: Workspace, product: Id = None, producer: Id = None,
          confidence: float = 0.95, reduction: float = 0.5) -> failures_svc.FixTable:
    """Every corrective action with its status from the uses."""
    _, any_rows = only_own(who, producer)
    if not any_rows:
        return failures_svc.FixTable(confidence=confidence, reduction=reduction)
    return failures_svc.fixes(store, product, producer, confidence, reduction,
                              scope=who.scope.producer_id)


@api.figure("/growth", "growth.read", response_model=answers.Growth)
def growth(request: Request, who: Who, store: Workspace,
           product: Annotated[str, Query(max_length=200)],
           target: float = 0.95) -> growth_svc.Growth:
    """Reliability by version, the growth fit and a projection to ``target``."""
    return growth_svc.growth(store, product, target)


@api.figure("/board", "figures.read", response_model=answers.Board)
def board(request: Request, who: Who, store: Workspace, producer: Id = None, product: Id = None,
          as_of: Day = None, threshold: float = board_svc.THRESHOLD) -> board_svc.Board:
    """Unresolved problems as weighted, aging blocks, stacked per producer."""
    scope = who.scope
    b = board_svc.board(store, producer, product, as_of, threshold,
                        scope=scope.producer_id)
    b.blocks = scope.blocks(b.blocks)
    return b


@api.figure("/producers/{producer_id}/scorecard", "figures.read",
            response_model=answers.Scorecard)
def scorecard(request: Request, who: Who, store: Workspace,
              producer_id: Annotated[str, Path(max_length=200)]
              ) -> scorecard_svc.Scorecard:
    """A producer's scorecard: on-time lots, accepted units, failures per 100 uses and
    cost per effect, with intervals, beside the median of the other producers of the same
    products (at least three of them), and by month. A producer: its own only (no cost
    per effect for a role without prices)."""
    scope = who.scope
    if scope.producer_id is not None and scope.producer_id != producer_id:
        raise NotFoundError(N_("no producers record with producer_id %(producer)s"),
                            producer=repr(producer_id))
    return scorecard_svc.scorecard(store, producer_id, with_costs=scope.prices)


@api.figure("/oversight/flags", "oversight.read", response_model=answers.FlagList)
def oversight_flags(request: Request, who: Who, store: Workspace,
                    date_from: Day = None, date_to: Day = None,
                    producer: Id = None, product: Id = None) -> oversight.FlagList:
    """Red flags with their evidence, most severe first, at the thresholds the server was
    started with (``kuznia serve --oversight-config``; else the built-in ones). A producer
    gets only the flags about itself, other producers' figures only as aggregates, and
    none about operators."""
    return oversight.flags(store, date_from=date_from, date_to=date_to,
                           producer=producer, product=product, scope=who.scope,
                           config=request.app.state.oversight_config)
