"""The contracts as an Open Contracting Data Standard 1.1 release package.

One release per contract (``ocid`` = prefix + contract id; ``id`` = the contract id and the
import event that last wrote it, so a changed contract gets a new release), tagged
``award`` and ``contract``, and ``implementation`` once something was delivered:

- ``parties``: the buyer (the workspace's publisher) and the supplier (the producer), with
  their roles; the supplier's region is never published (where lines stand is a target);
- ``awards`` and ``contracts``, each with one item: the product (described by its name,
  classified by its category in the scheme ``x_kuznia_category``), ``quantity``, and
  ``unit.value``: the unit price in the contract's own currency;
- ``contracts[].implementation.transactions``: one per delivery, its accepted units at the
  unit price, from the buyer to the supplier.

Without ``redact`` each transaction also names its lot and what the lot's uses came to
(``x_kuznia_lot``, ``x_kuznia_uses``: uses and effects, from the kept cube). With it, no
lot, operator or anything of uses appears anywhere, and the publisher's ``notes`` say the
package is redacted. Operators are never exported.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import func, select

from kuznia.errors import UsageError
from kuznia.i18n import N_
from kuznia.services.periods import check_order
from kuznia.services.store import Store
from kuznia.store.schema import contracts, deliveries, producers, products, use_cube
from kuznia.store.tuples import tuples

VERSION = "1.1"
REDACTED = ("Redacted for publication: lots, operators and everything recorded about the "
            "uses of what was delivered are left out.")
BUYER = "buyer"


def _when(day: dt.date) -> str:
    return f"{day.isoformat()}T00:00:00Z"


def _money(amount: float, currency: str) -> dict[str, Any]:
    return {"amount": round(float(amount), 2), "currency": currency}


def package(store: Store, *, redact: bool = False, date_from: dt.date | None = None,
            date_to: dt.date | None = None, publisher: str = "Ministry of Defence Industry",
            prefix: str = "ocds-kuznia-", now: dt.datetime | None = None) -> dict[str, Any]:
    """The release package (see the module doc) of the contracts signed within the dates."""
    check_order(date_from, date_to)
    if not prefix or any(c.isspace() for c in prefix):
        raise UsageError(N_("{prefix} must be a non-empty prefix without spaces"),
                         params=("prefix",))
    now = now or dt.datetime.now(dt.UTC)
    c, d = contracts.c, deliveries.c
    q = (select(c.contract_id, c.producer_id, c.product_id, c.signed_on, c.quantity,
                c.unit_price, c.currency, c.due_on, c.event_id, producers.c.name.label("who"),
                products.c.name.label("what"), products.c.category)
         .join(producers, producers.c.producer_id == c.producer_id)
         .join(products, products.c.product_id == c.product_id)
         .order_by(c.contract_id))
    if date_from:
        q = q.where(c.signed_on >= date_from)
    if date_to:
        q = q.where(c.signed_on <= date_to)
    with store.read() as conn:
        rows = [dict(r._mapping) for r in conn.execute(q)]
        dels: dict[str, list[dict[str, Any]]] = {}
        for r in conn.execute(select(d.delivery_id, d.contract_id, d.delivered_on, d.quantity,
                                     d.accepted_quantity, d.lot).order_by(d.delivery_id)):
            dels.setdefault(r.contract_id, []).append(dict(r._mapping))
        lot_uses = {} if redact else {
            lot: (int(n), int(e)) for lot, n, e in tuples(conn.execute(
                select(use_cube.c.lot, func.sum(use_cube.c.uses), func.sum(use_cube.c.effects))
                .where(use_cube.c.lot != "").group_by(use_cube.c.lot)))}
    buyer = {"id": BUYER, "name": publisher}
    releases = [_release(r, dels.get(r["contract_id"], []), lot_uses, buyer, prefix, redact)
                for r in rows]
    pub: dict[str, Any] = {"name": publisher}
    if redact:
        pub["notes"] = REDACTED
    stamp = now.strftime("%Y-%m-%dT%H:%M:%SZ")
    return {"uri": f"urn:kuznia:ocds:{prefix}{stamp}{':redacted' if redact else ''}",
            "version": VERSION, "publishedDate": stamp, "publisher": pub,
            "releases": releases}


def _release(r: dict[str, Any], dels: list[dict[str, Any]], lot_uses: dict[str, tuple],
             buyer: dict[str, str], prefix: str, redact: bool) -> dict[str, Any]:
    cid, cur = r["contract_id"], r["currency"]
    supplier = {"id": r["producer_id"], "name": r["who"]}
    item = {"id": "1", "description": r["what"],
            "classification": {"scheme": "x_kuznia_category", "id": r["category"],
                               "description": r["category"].replace("_", " ")},
            "quantity": int(r["quantity"]),
            "unit": {"name": "unit", "value": _money(r["unit_price"], cur)}}
    value = _money(r["unit_price"] * r["quantity"], cur)
    accepted = sum(x["accepted_quantity"] for x in dels)
    contract: dict[str, Any] = {
        "id": cid, "awardID": f"{cid}-award",
        "status": "terminated" if accepted >= r["quantity"] else "active",
        "dateSigned": _when(r["signed_on"]), "value": value, "items": [item],
        "period": {"startDate": _when(r["signed_on"]),
                   **({"endDate": _when(r["due_on"])} if r["due_on"] else {})}}
    tags = ["award", "contract"]
    if dels:
        tags.append("implementation")
        transactions = []
        for x in dels:
            t: dict[str, Any] = {
                "id": x["delivery_id"], "source": "kuznia:deliveries",
                "date": _when(x["delivered_on"]),
                "value": _money(x["accepted_quantity"] * r["unit_price"], cur),
                "payer": dict(buyer), "payee": dict(supplier)}
            if not redact and x["lot"]:
                n, e = lot_uses.get(x["lot"], (0, 0))
                t["x_kuznia_lot"] = x["lot"]
                t["x_kuznia_uses"] = {"uses": n, "effects": e}
            transactions.append(t)
        contract["implementation"] = {"transactions": transactions}
    return {
        "ocid": f"{prefix}{cid}", "id": f"{cid}-{r['event_id']}",
        "date": _when(r["signed_on"]), "tag": tags, "initiationType": "tender",
        "parties": [{**buyer, "roles": ["buyer"]}, {**supplier, "roles": ["supplier"]}],
        "buyer": dict(buyer),
        "awards": [{"id": f"{cid}-award", "status": "active", "date": _when(r["signed_on"]),
                    "value": value, "suppliers": [dict(supplier)], "items": [item]}],
        "contracts": [contract],
    }
