"""The records behind a price flag, for its page: the contract and the peers it was
compared with (the same product's contracts signed within the window; for a resale
mark-up, the makers' only; for a rising price, the producer's own series), their unit
prices in the workspace currency, and the line the flag crossed."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select

from kuznia.services.store import Store
from kuznia.store.schema import contracts, producers

PRICE_CODES = ("price_outlier", "resale_markup", "price_rise")


def price_evidence(store: Store, flag: dict[str, Any], config: dict[str, dict[str, Any]]
                   ) -> dict[str, Any] | None:
    """The flagged contract, its peers and the threshold, for a price flag (else None).

    Peers are listed as the rule saw them (``analytics.oversight.peer_prices``: every
    other contract for the product signed within ``window_days`` either side)."""
    if flag["code"] not in PRICE_CODES or not flag.get("contract_id"):
        return None
    c = contracts.c
    cols = (c.contract_id, c.producer_id, producers.c.name.label("producer_name"),
            producers.c.kind, c.signed_on, c.quantity, c.unit_price, c.currency,
            c.unit_price_ws)
    with store.read() as conn:
        own = conn.execute(select(*cols).join(producers, producers.c.producer_id
                                              == c.producer_id)
                           .where(c.contract_id == flag["contract_id"])).first()
        if own is None:
            return None
        q = select(*cols).join(producers, producers.c.producer_id == c.producer_id).where(
            c.product_id == flag["product_id"], c.contract_id != own.contract_id)
        window = int(config["price"]["window_days"])
        if flag["code"] == "price_rise":
            q = q.where(c.producer_id == own.producer_id)
        else:
            q = q.where(c.signed_on >= own.signed_on - dt.timedelta(days=window),
                        c.signed_on <= own.signed_on + dt.timedelta(days=window))
        if flag["code"] == "resale_markup":
            q = q.where(producers.c.kind != "trader")
        peers = [dict(r._mapping) for r in conn.execute(q.order_by(c.signed_on,
                                                                   c.contract_id))]
    ref = flag.get("reference") or {}
    threshold, words = None, ""
    if flag["code"] == "price_outlier":
        threshold = ref.get("line")
        words = ("above this line a price stands out from its peers beyond chance (their "
                 "median and robust spread, allowing for every contract tested) and is "
                 f"at least {config['price']['min_ratio']:g} times their median")
    elif flag["code"] == "resale_markup" and ref.get("median") is not None:
        threshold = float(flag["threshold"]) * float(ref["median"])
        words = f"{flag['threshold']:g} × the makers' median: a trader's price above it"
    for p in peers:
        p["signed_on"] = p["signed_on"].isoformat()
    mine = dict(own._mapping)
    mine["signed_on"] = mine["signed_on"].isoformat()
    return {"contract": mine, "peers": peers, "threshold": threshold,
            "threshold_words": words, "median": ref.get("median"),
            "window_days": None if flag["code"] == "price_rise" else window,
            "currency": store.setting("currency", "USD") or "USD"}
