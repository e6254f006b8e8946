"""One contract on one page: who, what, its value, its deliveries and lots with their uses,
and what ``import --update`` changed in it (from the audit trail's row updates), each
with the audit event that wrote it. Within a producer's scope only its own contracts; any
other is "not found", word for word as a contract that does not exist.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from kuznia.services import audit, records
from kuznia.services.access import EVERYTHING, Scope
from kuznia.services.store import Store
from kuznia.store.schema import deliveries, producers, products, row_updates, use_cube
from kuznia.store.tuples import tuples


def contract_file(store: Store, contract_id: str, *, scope: Scope = EVERYTHING
                  ) -> dict[str, Any]:
    """The contract ``contract_id`` with its names, value, deliveries, lots and history."""
    with store.snapshot() as conn:
        row = records.get_record(store, "contracts", {"contract_id": contract_id},
                                 scope=scope)
        producer = conn.execute(select(producers.c.name, producers.c.kind)
                                .where(producers.c.producer_id == row["producer_id"])).first()
        product = conn.execute(select(products.c.name, products.c.category)
                               .where(products.c.product_id == row["product_id"])).first()
        dels = [dict(r._mapping) for r in conn.execute(
            select(deliveries.c.delivery_id, deliveries.c.delivered_on, deliveries.c.quantity,
                   deliveries.c.accepted_quantity, deliveries.c.lot, deliveries.c.event_id)
            .where(deliveries.c.contract_id == contract_id)
            .order_by(deliveries.c.delivered_on, deliveries.c.delivery_id))]
        lots = [d["lot"] for d in dels if d["lot"]]
        used: dict[str, tuple[int, int, int]] = {}
        if lots:
            cube = use_cube.c
            for i in range(0, len(lots), 500):  # bounded bind parameters per statement
                used.update((lot, (int(n), int(u), int(e))) for lot, n, u, e in tuples(conn.execute(
                    select(cube.lot, func.sum(cube.uses), func.sum(cube.units_used),
                           func.sum(cube.effects))
                    .where(cube.lot.in_(lots[i:i + 500])).group_by(cube.lot))))
        history = audit.row_history(conn, "contracts", contract_id, limit=None)
        delivery_history = []
        ids = [d["delivery_id"] for d in dels]
        for i in range(0, len(ids), 500):
            keys: set[str] = set(conn.execute(select(row_updates.c.row_key).distinct().where(
                row_updates.c.table_name == "deliveries",
                row_updates.c.row_key.in_(ids[i:i + 500]))).scalars())
            for key in sorted(keys):
                delivery_history += audit.row_history(conn, "deliveries", key, limit=None)
    for d in dels:
        d["delivered_on"] = d["delivered_on"].isoformat()
        n, units, effects = used.get(d["lot"], (0, 0, 0)) if d["lot"] else (0, 0, 0)
        d.update({"uses": n, "units_used": units, "effects": effects})
    delivered = sum(d["quantity"] for d in dels)
    accepted = sum(d["accepted_quantity"] for d in dels)
    events = sorted({row["event_id"], *(d["event_id"] for d in dels),
                     *(h["event_id"] for h in history + delivery_history)})
    return {
        "contract": row,
        "producer_name": producer.name if producer else None,
        "producer_kind": producer.kind if producer else None,
        "product_name": product.name if product else None,
        "product_category": product.category if product else None,
        "value": row["quantity"] * row["unit_price"],
        "value_ws": row["quantity"] * row["unit_price_ws"],
        "currency": row["currency"],
        "workspace_currency": store.setting("currency", "USD") or "USD",
        "deliveries": dels,
        "delivered": delivered,
        "accepted": accepted,
        "uses": sum(d["uses"] for d in dels),
        "history": history,
        "delivery_history": sorted(delivery_history, key=lambda h: h["update_id"]),
        "events": events,
    }
