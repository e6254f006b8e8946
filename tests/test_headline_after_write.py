"""The overview's headline after a write (issue 23): each product's first and last day and
its sums over the two periods are kept per process and read again only for the products a
write names (``services/headline.py``). After a write of each kind (a use on the last day,
a use changed, uses of two products, a use after the last day, a contract's price, a
delivery, a product's category, an account) every question's answer is exactly the one
made with nothing kept, on both backends; a write of uses reads again only the products it
names unless the periods moved, and a write that may change a price reads everything."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

import kuznia
from helpers import import_demo, write_lines
from kuznia.services import accounts, audit, costs, flag_uses, headline
from kuznia.store.schema import contracts, deliveries, products, uses

USES = "use_id,used_on,operator,product_id,version,producer_id,lot,units_used,effects,outcome"
CONTRACTS = "contract_id,producer_id,product_id,signed_on,quantity,unit_price,currency,due_on"


@pytest.fixture
def demo_ws(ws: kuznia.Workspace, tmp_path: Path) -> kuznia.Workspace:
    return import_demo(ws, tmp_path / "data", 8_000, 7)


def _asks(store: Any) -> list[dict[str, Any]]:
    with store.read() as conn:
        product, producer = conn.execute(
            select(uses.c.product_id, uses.c.producer_id)
            .where(uses.c.producer_id.is_not(None)).order_by(uses.c.use_id)).first()
        category = conn.execute(select(products.c.category)
                                .where(products.c.product_id == product)).scalar()
        last = conn.execute(select(func.max(uses.c.used_on))).scalar()
    last = last if isinstance(last, dt.date) else dt.date.fromisoformat(str(last))
    # a period asked whose ends fall inside months, well before the last day
    lo, hi = last - dt.timedelta(days=200), last - dt.timedelta(days=75)
    return [{}, {"date_from": lo, "date_to": hi}, {"date_from": lo},
            {"product": product}, {"category": category}, {"producer": producer},
            {"producer": producer, "date_from": lo, "date_to": hi}]


def _answers(store: Any, asks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [headline.headline(store, **a).to_dict() for a in asks]


def _fresh(store: Any, asks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The answers made from nothing, leaving what is kept as it was."""
    with headline._LOCK:
        saved = dict(headline._KEPT)
        headline._KEPT.clear()
    try:
        return _answers(store, asks)
    finally:
        with headline._LOCK:
            headline._KEPT.clear()
            headline._KEPT.update(saved)


def test_each_write_leaves_the_headline_as_made_from_nothing(
        demo_ws: kuznia.Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = demo_ws.store
    asks = _asks(store)
    read: list[list[str] | None] = []
    real_sums, real_bounds = headline._sums, headline._bounds

    def sums(store: Any, conn: Any, span: Any, filters: Any, products: Any) -> Any:
        read.append(products)
        return real_sums(store, conn, span, filters, products)

    def bounds(conn: Any, filters: Any, products: Any) -> Any:
        read.append(products)
        return real_bounds(conn, filters, products)

    monkeypatch.setattr(headline, "_sums", sums)
    monkeypatch.setattr(headline, "_bounds", bounds)
    headline.forget()
    answers = _answers(store, asks)
    assert answers == _fresh(store, asks)
    with store.read() as conn:
        u = conn.execute(select(uses).where(uses.c.lot.is_not(None))
                         .order_by(uses.c.used_on.desc(), uses.c.use_id)).first()._mapping
        other = conn.execute(select(uses.c.product_id).where(
            uses.c.product_id != u["product_id"]).limit(1)).scalar()
        c = conn.execute(select(contracts).where(
            contracts.c.product_id == u["product_id"])).first()._mapping
        d = conn.execute(select(deliveries).where(deliveries.c.lot == u["lot"])).one()._mapping
        p = conn.execute(select(products).where(
            products.c.product_id == u["product_id"])).one()._mapping
    product, last = u["product_id"], u["used_on"]
    last = last if isinstance(last, dt.date) else dt.date.fromisoformat(str(last))
    mid = last - dt.timedelta(days=120)  # inside the asked period and the previous one
    row = (f"{{}},{{}},,{product},{u['version'] or ''},{u['producer_id']},{u['lot']},"
           "{},{},effect")
    writes = {
        # a field record on the last day (the server's POST /uses is this import)
        "a use": lambda: demo_ws.import_file("uses", write_lines(
            tmp_path / "a.csv", USES, row.format("T-1", last.isoformat(), 3, 2))),
        "a use updated": lambda: demo_ws.import_file("uses", write_lines(
            tmp_path / "b.csv", USES,
            f"{u['use_id']},{mid.isoformat()},,{product},{u['version'] or ''},"
            f"{u['producer_id']},{u['lot']},{u['units_used'] + 4},{u['effects'] + 5},effect"),
            update=True),
        "uses of two products": lambda: demo_ws.import_file("uses", write_lines(
            tmp_path / "c.csv", USES, row.format("T-2", mid.isoformat(), 1, 1),
            f"T-3,{mid.isoformat()},,{other},,,,2,1,effect")),
        "a use after the last day": lambda: demo_ws.import_file("uses", write_lines(
            tmp_path / "d.csv", USES,
            row.format("T-4", (last + dt.timedelta(days=3)).isoformat(), 1, 1))),
        "a contract's price": lambda: demo_ws.import_file("contracts", write_lines(
            tmp_path / "e.csv", CONTRACTS,
            f"{c['contract_id']},{c['producer_id']},{c['product_id']},{c['signed_on']},"
            f"{c['quantity']},{c['unit_price_ws'] * 3},USD,{c['due_on'] or ''}"),
            update=True),
        "a delivery of a new contract": lambda: (
            demo_ws.import_file("contracts", write_lines(
                tmp_path / "f.csv", CONTRACTS,
                f"C-NEW,{u['producer_id']},{product},{d['delivered_on']},5,1.5,USD,")),
            demo_ws.import_file("deliveries", write_lines(
                tmp_path / "g.csv", "delivery_id,contract_id,delivered_on,quantity,"
                "accepted_quantity,lot", f"D-NEW,C-NEW,{d['delivered_on']},5,5,L-NEW")),
            demo_ws.import_file("uses", write_lines(
                tmp_path / "h.csv", USES,
                f"T-5,{mid.isoformat()},,{product},,{u['producer_id']},L-NEW,5,1,effect"))),
        "a product's category": lambda: demo_ws.import_file("products", write_lines(
            tmp_path / "i.csv", "product_id,name,category",
            f"{product},{p['name']},another_category"), update=True),
        "an account": lambda: accounts.add_user(store, "someone", "analyst", actor="tester"),
    }
    wrote_uses = {"a use": {product}, "a use updated": {product},
                  "uses of two products": {product, other}}
    touches: dict[str, set[str] | None] = {**wrote_uses, "an account": set(),
                                           "a use after the last day": {product}}
    for what, write in writes.items():
        read.clear()
        with store.read() as conn:
            was = audit.head(conn)
        write()
        now = _answers(store, asks)
        if what in wrote_uses:  # only the products written, and their sums
            assert {tuple(r) if r is not None else None for r in read} \
                == {tuple(sorted(wrote_uses[what]))}, what
        elif what == "an account":
            assert read == [], what
        else:  # the periods moved, or a price or a category may have changed
            assert None in read, what
        with store.read() as conn:
            touched = flag_uses.touched_since(conn, was, headline.PRICED)
        assert touched == touches.get(what), what
        assert now == _fresh(store, asks), what
        assert (now == answers) == (what == "an account"), what
        answers = now
    # and the figures are the cost per effect table's over the same days
    for ask, got in zip(asks, answers, strict=True):
        for span, figures in ((got["period"], got["current"]), (got["previous"], got["before"])):
            lo, hi = (dt.date.fromisoformat(span[k]) for k in ("date_from", "date_to"))
            table = costs.cost_per_effect(store, "product", lo, hi, from_uses=True,
                                          product=ask.get("product"),
                                          category=ask.get("category"))
            rows = [r for r in table.rows] if not ask.get("producer") else [
                r for r in costs.cost_per_effect(
                    store, "product,producer", lo, hi, from_uses=True).rows
                if r["producer_id"] == ask["producer"]]
            assert figures["uses"] == sum(r["uses"] for r in rows), (ask, span)
            assert figures["effects"] == sum(r["effects"] for r in rows), (ask, span)
            if figures["cost"] is not None:
                assert figures["cost"] == pytest.approx(sum(r["cost"] for r in rows),
                                                        rel=1e-12), (ask, span)


def test_a_question_asked_again_at_the_same_head_reads_nothing(
        filled: kuznia.Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    headline.forget()
    first = headline.headline(filled.store).to_dict()

    def fail(*_: Any) -> Any:
        raise AssertionError("read again at the same head")

    monkeypatch.setattr(headline, "_sums", fail)
    monkeypatch.setattr(headline, "_bounds", fail)
    assert headline.headline(filled.store).to_dict() == first
