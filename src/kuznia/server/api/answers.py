"""What each route of ``/api/v1`` answers, declared for its OpenAPI operation (and so
checked against every answer by the schema tests): the envelopes here, their rows from
``services/rows.py`` (the typed rows the CLI's ``--json`` and the Python API give too).

A route still renders its answer itself (kept bytes, the services' ``to_dict``); these
models only say what that answer is. Keys are as the services write them; an answer may
carry more keys than a model names (a newer figure), never fewer or of another type.
"""

import datetime as dt
from typing import Any, get_type_hints

from pydantic import BaseModel, Field, create_model

from kuznia.ingest.tables import SPECS
from kuznia.services import records, rows

Object = dict[str, Any]
Objects = list[dict[str, Any]]


class Answer(BaseModel):
    """An answer's envelope."""


def download(*media: str, description: str) -> dict[int | str, dict[str, Any]]:
    """The ``responses`` of a route that answers a file of one of the ``media`` types."""
    binary = {"schema": {"type": "string", "format": "binary"}}
    return {200: {"content": {m: binary for m in media}, "description": description}}


def _model_of(declared: type) -> type[BaseModel]:
    """A typed row of ``services/rows.py`` (a TypedDict) as a model: the same keys, types
    and required keys (pydantic takes ``typing.TypedDict`` only from Python 3.12)."""
    hints = get_type_hints(declared)
    required: frozenset[str] = getattr(declared, "__required_keys__", frozenset())
    fields: dict[str, Any] = {k: (v, ... if k in required else None)
                              for k, v in hints.items()}
    return create_model(declared.__name__, __base__=Answer,
                        __doc__=declared.__doc__, **fields)


CostRow = _model_of(rows.CostRow)
UseRow = _model_of(rows.UseRow)
FailureRow = _model_of(rows.FailureRow)
FixRow = _model_of(rows.FixRow)
BoardBlock = _model_of(rows.BoardBlock)
AuditEvent = _model_of(rows.AuditEvent)
UserRow = _model_of(rows.UserRow)
LicenceRow = _model_of(rows.LicenceRow)


# --- the service itself ---------------------------------------------------------------------

class Standby(Answer):
    state: str | None
    sync_state: str | None
    replay_lag_seconds: float | None


class Replication(Answer):
    standbys: list[Standby] | None = None  # on a primary
    replay_lag_seconds: float | None = None  # on a standby: age of the last replayed write


class Health(Answer):
    status: str
    version: str
    schema_revision: str
    store: str
    writable: bool
    role: str | None
    replication: Replication | None


class Me(Answer):
    name: str
    role: str
    producer_id: str | None
    via: str
    csrf_token: str | None = None
    failed_sign_ins: int = 0
    locked_from: list[str] = []


# --- figures --------------------------------------------------------------------------------

class CostTable(Answer):
    by: list[str]
    currency: str
    rows: list[CostRow]  # type: ignore[valid-type]
    notes: list[str]


class Period(Answer):
    date_from: dt.date
    date_to: dt.date


class Headline(Answer):
    currency: str
    period: Period | None
    previous: Period | None
    asked: bool
    current: Object
    before: Object
    changes: dict[str, float | None]


class UseList(Answer):
    filters: Object
    total: int | None
    rows: list[UseRow]  # type: ignore[valid-type]
    next_cursor: str | None


class FailureTable(Answer):
    by: list[str]
    level: float
    rows: list[FailureRow]  # type: ignore[valid-type]


class FixTable(Answer):
    confidence: float
    reduction: float
    rate_unit: str
    rows: list[FixRow]  # type: ignore[valid-type]


class GrowthVersion(Answer):
    version: str
    introduced_on: dt.date | None
    uses: int
    failures: int
    reliability: float | None
    reliability_low: float | None
    reliability_high: float | None
    cumulative_uses: int


class Growth(Answer):
    product_id: str
    target: float
    level: float
    versions: list[GrowthVersion]
    fit: Object | None
    unfitted_reason: str | None
    uses_without_version: int


class Stack(Answer):
    producer_id: str | None
    product_id: str | None
    weight: float
    blocks: int


class Board(Answer):
    as_of: dt.date
    threshold_per_100: float
    blocks: list[BoardBlock]  # type: ignore[valid-type]
    stacks: list[Stack]


class Scorecard(Answer):
    producer_id: str
    products: list[str]
    level: float
    min_peers: int
    lines: Objects
    cost_per_effect: Objects
    months: Objects
    currency: str


class Flag(Answer):
    code: str
    severity: str
    producer_id: str | None
    product_id: str | None
    contract_id: str | None
    text: str
    key: str
    evidence: Object


class FlagList(Answer):
    as_of: dt.date
    counts: dict[str, int]
    flags: list[Flag]
    config: dict[str, Object]


class UseSummary(Answer):
    filters: Object
    uses: int
    units_used: int
    effects: int
    cost: float | None
    cost_per_effect: float | None
    cost_per_effect_low: float | None
    cost_per_effect_high: float | None
    uses_unpriced: int
    withheld: bool
    level: float
    currency: str


class Case(Answer):
    """A flag's triage: its status, who set it and when, its comments."""

    key: str
    status: str
    updated_at: str | None
    updated_by: str | None
    event_id: int | None
    comments: Objects


class FlagCase(Answer):
    flag: Flag
    case: Case
    prices: Object | None


# --- plans, resilience, repairs -------------------------------------------------------------

class Plan(Answer):
    status: str
    expected_effects: float
    expected_effects_low: float | None
    expected_effects_high: float | None
    total_cost: float
    lines: Objects
    baseline: Object
    binding: list[str]
    explanation: list[str]
    marginal_effects_per_unit_budget: float | None
    marginal_rate_holds_to_budget: float | None
    solver: Object
    inputs: Object
    left_out: list[str]
    risk: Object | None
    outcome: str


class SavedPlan(Plan):
    name: str
    event_id: int


class PlanRow(Answer):
    name: str
    created_at: str
    actor: str
    status: str
    budget: float
    expected_effects: float
    total_cost: float
    event_id: int


class PlanList(Answer):
    plans: list[PlanRow]


class StoredPlan(Answer):
    name: str
    created_at: str
    actor: str
    event_id: int
    inputs: Object
    status: str
    expected_effects: float
    total_cost: float
    lines: Objects


class PlanDiff(Answer):
    expected_effects: dict[str, float | None]
    total_cost: dict[str, float | None]
    inputs: Object
    lines: Objects


class Simulation(Answer):
    months: int
    scenarios: int
    seed: int
    start: dt.date
    figures_from: str
    history: dict[str, str] | None
    spillover: float
    products: Objects
    sites: Objects


class Regions(Answer):
    regions: Objects


class Interval(Answer):
    mean: float
    low: float
    high: float


class Greedy(Answer):
    chosen: list[str]
    cost: float
    expected_shortfall_after: float
    interval_after: Interval


class Duplication(Answer):
    chosen: list[str]
    cost: float
    budget: float
    status: str
    solver: str
    gap: float | None
    expected_shortfall_before: float
    expected_shortfall_after: float
    interval_before: Interval
    interval_after: Interval
    reduction: Interval
    greedy: Greedy
    saa_scenarios: int
    evaluation_scenarios: int
    weights: dict[str, float]
    candidates: Objects


class RepairPlan(Answer):
    as_of: dt.date
    items: int
    placed: int
    unreachable_items: int
    status: str
    mean_days: float | None
    clear_days: float | None
    abroad_mean_days: float | None
    abroad_clear_days: float | None
    abroad_note: str
    points: Objects
    assignments: Objects
    unreachable: Objects
    excluded: Objects


# --- the audit trail and accounts -----------------------------------------------------------

class EventList(Answer):
    events: list[AuditEvent]  # type: ignore[valid-type]


class RowHistory(Answer):
    changes: Objects


class ChainCheck(Answer):
    ok: bool
    checked: int
    head: str | None
    first_bad_event: int | None
    reason: str | None
    deep: bool
    rows_checked: int | None
    table: str | None
    key: str | None
    events_after_expected_head: int | None


class UserList(Answer):
    users: list[UserRow]  # type: ignore[valid-type]


class Added(Answer):
    name: str
    event_id: int


class Token(Answer):
    name: str
    token: str


class Revoked(Answer):
    name: str
    revoked: int


class Event(Answer):
    event_id: int


# --- imports, jobs and one use at a time ----------------------------------------------------

class Job(Answer):
    job_id: str
    kind: str
    table_name: str | None
    file_name: str | None
    actor: str
    status: str
    created_at: str
    finished_at: str | None
    rows_read: int | None
    rows_expected: int | None
    options: Object
    result: Object | None


class Imported(Answer):
    job_id: str
    # the import's counts (``import``), as ``kuznia import --json`` gives them
    import_: Object = Field(alias="import")


class Queued(Answer):
    job_id: str
    status: str
    href: str


class UseStored(Answer):
    use_id: str
    added: int
    event_id: int | None


class OutboxStatus(Answer):
    use_id: str
    status: str
    # a use stored some other way (not through the outbox) has none of these three
    received_at: str | None = None
    settled_at: str | None = None
    event_id: int | None = None
    problems: Objects
    detail: str
    href: str


class Catalogue(Answer):
    products: Objects


# --- licences and the vault -----------------------------------------------------------------

class LicenceList(Answer):
    on: dt.date
    licences: list[LicenceRow]  # type: ignore[valid-type]


class Document(Answer):
    doc_id: str
    title: str
    partner_id: str
    licence_id: str | None


class DocumentList(Answer):
    documents: list[Document]


class AccessLog(Answer):
    accesses: Objects


# --- every table ----------------------------------------------------------------------------

def _record(table: str) -> type[BaseModel]:
    """A stored row of ``table`` as the API gives it: every column but those the caller's
    scope hides (an operator, for a producer), so none is required."""
    fields: dict[str, Any] = {name: (kind | None, None)
                              for name, kind in records.column_kinds(table).items()}
    return create_model(f"{table.title().replace('_', '')}Record", __base__=Answer, **fields)


RECORDS: dict[str, type[BaseModel]] = {t: _record(t) for t in SPECS}


class Page(Answer):
    table: str
    next_cursor: str | None


def record_list(table: str) -> type[BaseModel]:
    """The page of ``table``'s records ``GET /{table}`` answers."""
    return create_model(f"{table.title().replace('_', '')}Page", __base__=Page,
                        rows=(list[RECORDS[table]], ...))  # type: ignore[valid-type]
