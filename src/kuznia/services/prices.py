"""What one unit cost: by its lot's contract, else the producer's average, else the product's.

Averages are weighted by contract quantity, in the workspace currency. A producer's own
figures (``own``) are priced from its own contracts only: its lots, its average for the
product, and never the product's average over every producer's contracts (that would
carry its competitors' prices into its figures); a use it has no price for stays unpriced.
"""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import ColumnElement, Subquery, func, null, select

from kuznia.store.schema import contracts, deliveries


def lot_prices(lots: Collection[str] | None = None, own: str | None = None) -> Subquery:
    """Each lot's unit price; with ``lots``, those lots' only; with ``own``, the lots of
    that producer's contracts only."""
    q = (
        select(deliveries.c.lot, contracts.c.unit_price_ws.label("price"))
        .join(contracts, contracts.c.contract_id == deliveries.c.contract_id)
        .where(deliveries.c.lot.is_not(None))
    )
    if lots is not None:
        q = q.where(deliveries.c.lot.in_(sorted(lots)))
    if own is not None:
        q = q.where(contracts.c.producer_id == own)
    return q.subquery("lot_price")


def _weighted(*keys: str, name: str, products: Collection[str] | None = None,
              own: str | None = None) -> Subquery:
    cols = [contracts.c[k] for k in keys]
    q = (
        select(*cols, (func.sum(contracts.c.quantity * contracts.c.unit_price_ws)
                       / func.sum(contracts.c.quantity)).label("price"))
        .group_by(*cols)
    )
    if products is not None:
        q = q.where(contracts.c.product_id.in_(sorted(products)))
    if own is not None:
        q = q.where(contracts.c.producer_id == own)
    return q.subquery(name)


def producer_prices(products: Collection[str] | None = None,
                    own: str | None = None) -> Subquery:
    """Each (producer, product)'s average unit price; with ``products``, theirs only;
    with ``own``, that producer's only."""
    return _weighted("producer_id", "product_id", name="producer_price", products=products,
                     own=own)


def product_prices(products: Collection[str] | None = None) -> Subquery:
    """Each product's average unit price; with ``products``, theirs only."""
    return _weighted("product_id", name="product_price", products=products)


def joined_price(source, lot_col, producer_col, product_col,  # type: ignore[no-untyped-def]
                 own: str | None = None):
    """``source`` joined to the price tables; returns (from clause, price, basis). With
    ``own`` (a producer's own figures), from that producer's contracts only: no product
    average (its basis is then always NULL)."""
    lp, pp = lot_prices(own=own), producer_prices(own=own)
    frm = (
        source.outerjoin(lp, lp.c.lot == lot_col)
        .outerjoin(pp, (pp.c.producer_id == producer_col) & (pp.c.product_id == product_col))
    )
    if own is not None:
        price: ColumnElement[float] = func.coalesce(lp.c.price, pp.c.price)
        return frm, price, (lp.c.price, pp.c.price, null())
    prp = product_prices()
    frm = frm.outerjoin(prp, prp.c.product_id == product_col)
    price = func.coalesce(lp.c.price, pp.c.price, prp.c.price)
    return frm, price, (lp.c.price, pp.c.price, prp.c.price)
