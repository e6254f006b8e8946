"""What one unit cost: by its lot's contract, else the producer's average, else the product's.

Averages are weighted by contract quantity, in the workspace currency.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Subquery, func, select

from kuznia.store.schema import contracts, deliveries


def lot_prices(only: Any = None) -> Subquery:
    q = (
        select(deliveries.c.lot, contracts.c.unit_price_ws.label("price"))
        .join(contracts, contracts.c.contract_id == deliveries.c.contract_id)
        .where(deliveries.c.lot.is_not(None))
    )
    if only is not None:
        q = q.where(deliveries.c.lot.in_(select(only.c.lot)))
    return q.subquery("lot_price")


def _weighted(*keys: str, name: str, only: Any = None) -> Subquery:
    cols = [contracts.c[k] for k in keys]
    q = (
        select(*cols, (func.sum(contracts.c.quantity * contracts.c.unit_price_ws)
                       / func.sum(contracts.c.quantity)).label("price"))
        .group_by(*cols)
    )
    if only is not None:
        q = q.where(contracts.c.product_id.in_(select(only.c.product_id)))
    return q.subquery(name)


def producer_prices(only: Any = None) -> Subquery:
    return _weighted("producer_id", "product_id", name="producer_price", only=only)


def product_prices(only: Any = None) -> Subquery:
    return _weighted("product_id", name="product_price", only=only)


def joined_price(source, lot_col, producer_col, product_col,  # type: ignore[no-untyped-def]
                 only: Any = None):
    """``source`` joined to the three price tables; returns (from clause, price, basis).

    ``only`` (a CTE with ``lot`` and ``product_id`` columns, usually ``source`` itself)
    restricts the price tables to the lots and products it names: a page of 100 uses
    then prices from a handful of contracts instead of aggregating all of them.
    """
    lp, pp, prp = lot_prices(only), producer_prices(only), product_prices(only)
    frm = (
        source.outerjoin(lp, lp.c.lot == lot_col)
        .outerjoin(pp, (pp.c.producer_id == producer_col) & (pp.c.product_id == product_col))
        .outerjoin(prp, prp.c.product_id == product_col)
    )
    price: ColumnElement[float] = func.coalesce(lp.c.price, pp.c.price, prp.c.price)
    return frm, price, (lp.c.price, pp.c.price, prp.c.price)
