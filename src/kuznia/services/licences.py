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

from kuznia.store.schema import licence_producers, licences

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
