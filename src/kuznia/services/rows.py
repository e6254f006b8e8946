"""The rows of the answers, with declared types: one contract for the CLI's ``--json``, the
Python API and the web API's schema (``server/api/answers.py`` makes its models from them).

``tests/test_rows.py`` checks every row of every answer against its declaration, so the
two cannot drift: a key added to a row without a declaration fails it. (No postponed
annotations here: ``NotRequired`` must be seen when the class is made.)
"""


import datetime as dt
from typing import Any, NotRequired, TypedDict


class CostRow(TypedDict):
    """One group of ``cost_per_effect``: the group's keys as grouped, then its figures."""

    product_id: NotRequired[str]
    producer_id: NotRequired[str | None]
    version: NotRequired[str | None]
    operator: NotRequired[str | None]
    month: NotRequired[str]
    uses: int
    units_used: int
    effects: int
    cost: float | None
    uses_unpriced: int
    units_lot_price: int
    units_producer_price: int
    n_effect: int
    n_no_effect: int
    n_failure: int
    n_aborted: int
    effects_per_use: float | None
    # how many times more effects per use vary than Poisson counts (1: as Poisson), with
    # the small-sample inflation the interval uses
    dispersion: float
    cost_per_effect: float | None
    cost_per_effect_low: float | None
    cost_per_effect_high: float | None
    trace_filters: dict[str, str]
    trace: str
    effects_per_use_shrunk: NotRequired[float | None]
    cost_per_effect_shrunk: NotRequired[float | None]
    rank_in_product: NotRequired[int | None]
    rank_tied: NotRequired[bool | None]  # shares its rank: not worse beyond chance
    p_best: NotRequired[float | None]  # probability of being the product's cheapest


class UseRow(TypedDict):
    """One use behind a figure, with what it cost and how it was priced."""

    use_id: str
    used_on: str
    operator: str | None
    product_id: str
    version: str | None
    producer_id: str | None
    lot: str | None
    units_used: int
    effects: int
    outcome: str
    failure_mode: str | None
    conditions: str | None
    notes: str | None
    event_id: int
    unit_price: float | None
    cost: float | None
    price_basis: str
    source_file: str | None


class FailureRow(TypedDict):
    """One failure mode in a Pareto, per group asked for."""

    product_id: str
    failure_mode: str
    version: NotRequired[str]
    conditions: NotRequired[dict[str, str]]  # with by condition:KEY, {KEY: value}
    severity: int | None  # None: the mode is not in failure_modes yet
    failures: int
    uses: int
    rate_per_100: float
    rate_per_100_low: float
    rate_per_100_high: float
    lot_dispersion: float  # the mode's dispersion between lots (1: binomial)
    share: float
    cumulative_share: float
    first_seen: str
    trace_filters: dict[str, str]
    trace: str


class FixRow(TypedDict):
    """A corrective action with its status from the uses."""

    action_id: str
    product_id: str
    producer_id: str | None
    failure_mode: str
    severity: int
    fixed_in_version: str
    opened_on: str
    status: str
    failures_before: int
    uses_before: int
    rate_before: float | None
    failures_after: int
    uses_after: int
    rate_after: float | None
    uses_needed: int | None
    # failures' dispersion between lots (1: as Poisson), the verdict's cluster allowance
    lot_dispersion: float
    p_value: float | None
    p_not_effective: float | None
    note: str | None
    trace_filters: dict[str, str]
    trace: str


class BoardBlock(TypedDict):
    """An unresolved problem on the board."""

    kind: str
    ref: str
    producer_id: str | None
    product_id: str | None
    opened_on: str
    age_days: int
    weight: float
    base_weight: float
    detail: str
    clears: str  # what would take the block off the board


class AuditEvent(TypedDict):
    """One event of the hash-chained audit trail."""

    event_id: int
    at: str
    actor: str
    action: str
    table_name: str | None
    file_name: str | None
    file_sha256: str | None
    rows_added: int
    rows_updated: int
    rows_unchanged: int
    rows_rejected: int
    detail: str
    prev_hash: str
    hash: str


class UserRow(TypedDict):
    """An account as listed (never a secret)."""

    name: str
    role: str
    producer_id: str | None
    partner_id: str | None  # a partner's account: the partner it speaks for
    disabled: bool
    created_at: str
    password: bool
    live_tokens: int
    failed_sign_ins: int  # wrong passwords given for it since the last success, any address
    locked_from: list[str]  # addresses its sign-in is locked from (not others)


class LicenceRow(TypedDict):
    """A licence as ``kuznia licences`` and ``GET /licences`` list it."""

    licence_id: str
    partner_id: str
    partner_name: str
    kind: str  # production, repair, maintenance, technical_assistance
    product_id: str
    product_name: str
    producers: list[str]  # a producer's own view names itself only
    requested_on: dt.date
    granted_on: dt.date | None
    expires_on: dt.date | None
    max_units: int | None
    status: str  # as imported: requested, in_review, granted, denied, revoked
    state: str  # the status, or expired for a granted licence past expires_on
    expired: bool
    live: bool  # granted, not expired, on the day asked about
    stage: str | None  # the stage not yet left, else the last entered
    authority: str | None
    stage_entered_on: dt.date | None
    stage_open: bool
    days_in_stage: int | None  # while the stage is open
    days_waiting: int | None  # since requested_on, while pending
    stages: list[dict[str, Any]]
