"""Licences asked of foreign partners: which are live on a day, and for whom.

A licence is *live* on a day when it was granted on or before that day, has not expired
(``expires_on`` empty, or that day or later) and is not revoked or denied. "Expired" is
not a status of its own: it follows from ``expires_on``. Everything that depends on a
licence (the repair and allocation planners, the vault) asks this module, with the day it
acts on, so that access is decided from the licence's state that day.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import Connection, select

from kuznia.errors import UsageError
from kuznia.i18n import N_
from kuznia.services.access import EVERYTHING, Scope
from kuznia.services.results import Tabular
from kuznia.services.store import Store
from kuznia.store.schema import (
    licence_producers,
    licence_stages,
    licences,
    offers,
    partners,
    products,
)

LIVE_STATUSES = ("granted",)  # requested, in_review: pending; denied, revoked: never live
PENDING_STATUSES = ("requested", "in_review")


@dataclass(frozen=True)
class LiveLicence:
    """A licence in force on a day, with the producers it names."""

    licence_id: str
    partner_id: str
    kind: str
    product_id: str
    producers: tuple[str, ...]
    granted_on: dt.date
    expires_on: dt.date | None
    max_units: int | None
    status: str

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["producers"] = list(self.producers)
        d["granted_on"] = self.granted_on.isoformat()
        d["expires_on"] = self.expires_on.isoformat() if self.expires_on else None
        return d


def is_live(status: str, granted_on: dt.date | None, expires_on: dt.date | None,
            on: dt.date) -> bool:
    """Whether a licence in this state is in force on ``on``.

    >>> d = dt.date
    >>> is_live("granted", d(2026, 1, 1), d(2026, 6, 30), d(2026, 6, 30))
    True
    >>> is_live("granted", d(2026, 1, 1), d(2026, 6, 30), d(2026, 7, 1))
    False
    >>> is_live("revoked", d(2026, 1, 1), None, d(2026, 2, 1))
    False
    >>> is_live("granted", d(2026, 3, 1), None, d(2026, 2, 1))
    False
    """
    return (status in LIVE_STATUSES and granted_on is not None and granted_on <= on
            and (expires_on is None or expires_on >= on))


def _date(value: Any) -> dt.date | None:
    if value is None or isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value)[:10])


def live_licences(conn: Connection, *, producer_id: str | None = None,
                  partner_id: str | None = None, product_id: str | None = None,
                  on: dt.date) -> list[LiveLicence]:
    """The licences live on ``on`` (granted on or before it, not expired, not revoked or
    denied), with their producers, in licence order; narrowed to those naming
    ``producer_id``, granted by ``partner_id``, or for ``product_id`` when given."""
    q = select(licences).where(licences.c.status.in_(LIVE_STATUSES),
                               licences.c.granted_on.is_not(None),
                               licences.c.granted_on <= on,
                               licences.c.expires_on.is_(None) | (licences.c.expires_on >= on))
    if partner_id is not None:
        q = q.where(licences.c.partner_id == partner_id)
    if product_id is not None:
        q = q.where(licences.c.product_id == product_id)
    if producer_id is not None:
        q = q.where(licences.c.licence_id.in_(
            select(licence_producers.c.licence_id)
            .where(licence_producers.c.producer_id == producer_id)))
    out = []
    for r in conn.execute(q.order_by(licences.c.licence_id)):
        granted = _date(r.granted_on)
        assert granted is not None
        out.append(LiveLicence(r.licence_id, r.partner_id, r.kind, r.product_id,
                               tuple(p for p in r.producers.split(";") if p), granted,
                               _date(r.expires_on), r.max_units, r.status))
    return out


def live_ids(conn: Connection, on: dt.date) -> set[str]:
    """The ids of every licence live on ``on`` (what the planners filter by)."""
    return {lic.licence_id for lic in live_licences(conn, on=on)}


# --- the pipeline: every licence with where it waits ---------------------------------------

STATES = ("requested", "in_review", "granted", "expired", "denied", "revoked")


def state_of(status: str, expires_on: dt.date | None, on: dt.date) -> str:
    """The status, or "expired" for a granted licence past its ``expires_on``.

    >>> state_of("granted", dt.date(2026, 1, 31), dt.date(2026, 2, 1))
    'expired'
    >>> state_of("revoked", dt.date(2026, 1, 31), dt.date(2026, 2, 1))
    'revoked'
    """
    return "expired" if status == "granted" and expires_on is not None \
        and expires_on < on else status


@dataclass
class LicenceList(Tabular):
    """Each licence with its state on ``on``, where it waits, and what it names."""

    on: str
    rows: list[dict[str, Any]]
    rows_key = "licences"

    def to_dict(self) -> dict[str, Any]:
        return {"on": self.on, "licences": self.rows}


def _scope_filter(q: Any, scope: Scope) -> Any:
    if scope.partner_id is not None:
        return q.where(licences.c.partner_id == scope.partner_id)
    if scope.producer_id is not None:
        return q.where(licences.c.licence_id.in_(
            select(licence_producers.c.licence_id)
            .where(licence_producers.c.producer_id == scope.producer_id)))
    return q


def list_licences(store: Store, *, scope: Scope = EVERYTHING, status: str | None = None,
                  on: dt.date | None = None) -> LicenceList:
    """Every licence the scope may see (the ministry all, a partner those asked of it, a
    producer those naming it), with its state on ``on`` (today), its current stage (the
    one not yet left, else the last entered) and the days it has waited there, and what
    it names. A producer sees itself among the producers, never another producer."""
    on = on or dt.date.today()
    if status is not None and status not in STATES:
        raise UsageError(N_("{status} is one of %(states)s, not %(status)s"),
                         params=("status",), states=", ".join(STATES), status=repr(status))
    q = _scope_filter(
        select(licences, partners.c.name.label("partner_name"),
               products.c.name.label("product_name"))
        .join(partners, partners.c.partner_id == licences.c.partner_id)
        .join(products, products.c.product_id == licences.c.product_id), scope)
    with store.read() as conn:
        found = conn.execute(q.order_by(licences.c.licence_id)).all()
        ids = [r.licence_id for r in found]
        stages: dict[str, list[Any]] = {}
        for st in conn.execute(select(licence_stages)
                               .where(licence_stages.c.licence_id.in_(ids))
                               .order_by(licence_stages.c.licence_id,
                                         licence_stages.c.entered_on, licence_stages.c.stage)):
            stages.setdefault(st.licence_id, []).append(st)
    rows = []
    for r in found:
        expires = _date(r.expires_on)
        state = state_of(r.status, expires, on)
        if status is not None and state != status:
            continue
        named = [p for p in r.producers.split(";") if p]
        if scope.producer_id is not None:
            named = [p for p in named if p == scope.producer_id]
        rows.append({
            "licence_id": r.licence_id, "partner_id": r.partner_id,
            "partner_name": r.partner_name, "kind": r.kind, "product_id": r.product_id,
            "product_name": r.product_name, "producers": named,
            "requested_on": _date(r.requested_on), "granted_on": _date(r.granted_on),
            "expires_on": expires, "max_units": r.max_units, "status": r.status,
            "state": state, "expired": state == "expired",
            "live": is_live(r.status, _date(r.granted_on), expires, on),
            **_waiting(r, stages.get(r.licence_id, []), on),
        })
    return LicenceList(on.isoformat(), rows)


def _waiting(r: Any, stages: list[Any], on: dt.date) -> dict[str, Any]:
    """The current stage and how long the request has waited: in that stage while it is
    open, and in all since it was asked for while the licence is pending."""
    open_ = [s for s in stages if s.left_on is None]
    current = open_[-1] if open_ else (stages[-1] if stages else None)
    pending = r.status in PENDING_STATUSES
    entered = _date(current.entered_on) if current is not None else None
    return {
        "stage": current.stage if current is not None else None,
        "authority": current.authority if current is not None else None,
        "stage_entered_on": entered,
        "stage_open": bool(open_),
        "days_in_stage": (on - entered).days if open_ and entered else None,
        "days_waiting": (on - _date(r.requested_on)).days if pending else None,  # type: ignore[operator]
        "stages": [{"stage": s.stage, "authority": s.authority,
                    "entered_on": _date(s.entered_on), "left_on": _date(s.left_on),
                    "outcome": s.outcome,
                    "days": ((_date(s.left_on) or on) - _date(s.entered_on)).days}  # type: ignore[operator]
                   for s in stages],
    }


def unlocks(store: Store) -> dict[str, dict[str, int]]:
    """Per licence, the stored offers that need it and their capacity in units: what the
    allocation planner leaves out while the licence is not live."""
    out: dict[str, dict[str, int]] = {}
    with store.read() as conn:
        for r in conn.execute(select(offers.c.licence_id, offers.c.capacity)
                              .where(offers.c.licence_id.is_not(None))):
            e = out.setdefault(r.licence_id, {"offers": 0, "capacity": 0})
            e["offers"] += 1
            e["capacity"] += int(r.capacity)
    return out
