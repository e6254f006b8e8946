"""What one unit cost: by its lot's contract, else the producer's average, else the product's.

Averages are weighted by contract quantity, in the workspace currency.
"""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import ColumnElement, Subquery, func, select

from kuznia.store.schema import contracts, deliveries


def lot_prices(lots: Collection[str] | None = None) -> Subquery:
    """Each lot's unit price; with ``lots``, those lots' only."""
    q = (
        select(deliveries.c.lot, contracts.c.unit_price_ws.label("price"))
        .join(contracts, contracts.c.contract_id == deliveries.c.contract_id)
        .where(deliveries.c.lot.is_not(None))
    )
    if lots is not None:
        q = q.where(deliveries.c.lot.in_(sorted(lots)))
    return q.subquery("lot_price")


def _weighted(*keys: str, name: str, products: Collection[str] | None = None) -> Subquery:
    cols = [contracts.c[k] for k in keys]
    q = (
        select(*cols, (func.sum(contracts.c.quantity * contracts.c.unit_price_ws)
                       / func.sum(contracts.c.quantity)).label("price"))
        .group_by(*cols)
    )
    if products is not None:
        q = q.where(contracts.c.product_id.in_(sorted(products)))
    return q.subquery(name)


def producer_prices(products: Collection[str] | None = None) -> Subquery:
    """Each (producer, product)'s average unit price; with ``products``, theirs only."""
    return _weighted("producer_id", "product_id", name="producer_price", products=products)


def product_prices(products: Collection[str] | None = None) -> Subquery:
    """Each product's average unit price; with ``products``, theirs only."""
    return _weighted("product_id", name="product_price", products=products)


def joined_price(source, lot_col, producer_col, product_col):  # type: ignore[no-untyped-def]
    """``source`` joined to the three price tables; returns (from clause, price, basis)."""
    lp, pp, prp = lot_prices(), producer_prices(), product_prices()
    frm = (
        source.outerjoin(lp, lp.c.lot == lot_col)
        .outerjoin(pp, (pp.c.producer_id == producer_col) & (pp.c.product_id == product_col))
        .outerjoin(prp, prp.c.product_id == product_col)
    )
    price: ColumnElement[float] = func.coalesce(lp.c.price, pp.c.price, prp.c.price)
    return frm, price, (lp.c.price, pp.c.price, prp.c.price)
