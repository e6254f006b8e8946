"""What the field form offers to pick from: the products an account may record uses of,
each with its versions, its most recent lots and its catalogued failure modes.

The form keeps this on the device (so its pick-lists work offline) and asks again when
online, with the answer's ETag: an unchanged catalogue costs one indexed query. A
producer-scoped caller sees only the products it is bound to by its contracts and only
its own lots; today only staff accounts record uses (``access.WRITERS``), so that rule
is what a future scoped writer would get, never a wider one.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import select

from kuznia.services.access import Scope
from kuznia.services.store import Store
from kuznia.store.schema import contracts, deliveries, failure_modes, products, versions

LOTS_PER_PRODUCT = 100  # the most recent lots of a product; an older one is typed or scanned


def catalogue(store: Store, scope: Scope) -> dict[str, Any]:
    """The products ``scope`` may record uses of, by id, with their versions (newest
    first), lots (newest first, at most ``LOTS_PER_PRODUCT``; ``lots_complete`` says
    whether that is all of them) and failure modes (most severe first)."""
    own = scope.producer_id
    with store.read() as conn:
        lot_query = (select(deliveries.c.lot, deliveries.c.delivered_on,
                            contracts.c.product_id)
                     .join(contracts, contracts.c.contract_id == deliveries.c.contract_id)
                     .where(deliveries.c.lot.is_not(None)))
        if own is not None:
            lot_query = lot_query.where(contracts.c.producer_id == own)
        lots: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for row in conn.execute(lot_query.order_by(contracts.c.product_id,
                                                   deliveries.c.delivered_on.desc(),
                                                   deliveries.c.lot)):
            lots[row.product_id].append({"id": row.lot, "delivered_on": row.delivered_on})
        product_query = select(products.c.product_id, products.c.name)
        if own is not None:
            product_query = product_query.where(products.c.product_id.in_(
                select(contracts.c.product_id).where(contracts.c.producer_id == own)))
        shown = conn.execute(product_query.order_by(products.c.product_id)).all()
        ids = [p.product_id for p in shown]
        kept: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for row in conn.execute(select(versions.c.product_id, versions.c.version,
                                       versions.c.introduced_on)
                                .where(versions.c.product_id.in_(ids))
                                .order_by(versions.c.product_id,
                                          versions.c.introduced_on.desc(),
                                          versions.c.version)):
            kept[row.product_id].append({"id": row.version,
                                         "introduced_on": row.introduced_on})
        modes: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for row in conn.execute(select(failure_modes.c.product_id,
                                       failure_modes.c.failure_mode,
                                       failure_modes.c.description, failure_modes.c.severity)
                                .where(failure_modes.c.product_id.in_(ids))
                                .order_by(failure_modes.c.product_id,
                                          failure_modes.c.severity.desc(),
                                          failure_modes.c.failure_mode)):
            modes[row.product_id].append({"id": row.failure_mode,
                                          "description": row.description,
                                          "severity": row.severity})
    return {"products": [
        {"id": p.product_id, "name": p.name, "versions": kept[p.product_id],
         "lots": lots[p.product_id][:LOTS_PER_PRODUCT],
         "lots_complete": len(lots[p.product_id]) <= LOTS_PER_PRODUCT,
         "failure_modes": modes[p.product_id]}
        for p in shown]}
