"""The pages that show figures: overview, product, producer and board (the uses behind a
figure and one record are in ``evidence``). Each figure comes from the same service call
as its API route, kept under the API route's question (``figure``), so the chart's fetch
of that route finds it made."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from kuznia.analytics.board import AGING_DAYS, MONEY_WEIGHT
from kuznia.errors import NotFoundError
from kuznia.server.auth import Caller
from kuznia.server.routes import _render, kept_body, store_of
from kuznia.server.types import Day
from kuznia.server.web.base import may, page, render, start_page
from kuznia.services import board as board_svc
from kuznia.services import costs, deliveries, records
from kuznia.services import failures as failures_svc
from kuznia.services import growth as growth_svc
from kuznia.services import headline as headline_svc

Id = Annotated[str | None, Query(max_length=200)]
Cursor = Annotated[str | None, Query(max_length=400)]
API = "/api/v1"


def figure(request: Request, path: str, params: dict[str, Any],
           make: Callable[[], Any]) -> tuple[dict[str, Any], str]:
    """The API's JSON answer to ``path?params`` (kept per version of the data) and the
    URL the page's chart fetches it from again."""
    query = {k: str(v) for k, v in params.items() if v is not None and v != ""}
    body = kept_body(request, API + path, query.items(),
                     lambda: bytes(_render(make(), 200).body))
    return json.loads(body), API + path + ("?" + urlencode(query) if query else "")


def _products(request: Request, who: Caller) -> list[dict[str, Any]]:
    return records.list_records(store_of(request), "products", scope=who.scope,
                                limit=records.MAX_LIMIT).rows


@page("/", "public")
def home(request: Request, who: Caller) -> Response:
    if who.account is None:
        return RedirectResponse("/login", status_code=303)
    return RedirectResponse(start_page(who), status_code=303)


@page("/overview", "pages.overview")
def overview(request: Request, who: Caller, date_from: Day = None, date_to: Day = None,
             category: Id = None, product: Id = None) -> HTMLResponse:
    store = store_of(request)
    own = who.scope.producer_id
    asked = {"date_from": date_from, "date_to": date_to, "category": category,
             "product": product}

    def cpe(by: str, **more: Any) -> tuple[dict[str, Any], str]:
        args = {**asked, **more}
        return figure(request, "/cost-per-effect", {"by": by, **args},
                      lambda: costs.cost_per_effect(store, by, args["date_from"],
                                                    args["date_to"], producer=own,
                                                    product=args["product"],
                                                    category=args["category"]))

    by_product, by_product_src = cpe("product")
    by_month, by_month_src = cpe("month")
    rows = by_product["rows"]
    focus = product or (max(rows, key=lambda r: r["uses"])["product_id"] if rows else None)
    ranked, ranked_src = cpe("product,producer", product=focus) if focus else ({}, "")
    ranked_rows = sorted(ranked.get("rows", []),
                         key=lambda r: (r.get("rank_in_product") or 1e9, r["producer_id"] or ""))
    products = _products(request, who)
    categories = sorted({p["category"] for p in products if p["category"]})
    # a pooled trend moves with the product mix: with no product or category asked, one
    # trend per category
    trends = [] if product or category else [
        (c, *cpe("month", category=c)) for c in categories]
    head, _ = figure(request, "/headline", asked,
                     lambda: headline_svc.headline(store, date_from, date_to, producer=own,
                                                   product=product, category=category))
    return render(request, who, "overview.html", title="Overview", asked=asked,
                  by_product=by_product, by_product_src=by_product_src, by_month=by_month,
                  by_month_src=by_month_src, focus=focus, ranked_rows=ranked_rows,
                  ranked_src=ranked_src, products=products, names=_names(products),
                  sorted_rows=by_value(rows), categories=categories, trends=trends,
                  head=head)


def by_value(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows by cost per effect, cheapest first; those with no figure yet last."""
    return sorted(rows, key=lambda r: (r["cost_per_effect"] is None,
                                       r["cost_per_effect"] or 0.0))


def _names(products: list[dict[str, Any]]) -> dict[str, str]:
    return {p["product_id"]: p["name"] or p["product_id"] for p in products}


@page("/products/{product_id:path}", "pages.product")
def product_page(request: Request, who: Caller, product_id: str,
                 pareto_by: Annotated[str | None, Query(max_length=200)] = None
                 ) -> HTMLResponse:
    store = store_of(request)
    product = records.get_record(store, "products", {"product_id": product_id},
                                 scope=who.scope)
    versions = records.list_records(store, "versions", scope=who.scope,
                                    filters={"product_id": product_id},
                                    limit=records.MAX_LIMIT).rows
    by = pareto_by if pareto_by else None
    pareto, pareto_src = figure(request, "/failures", {"product": product_id, "by": by},
                                lambda: failures_svc.failures(store, product_id, None, None,
                                                              by))
    fixes, _ = figure(request, "/fixes", {"product": product_id},
                      lambda: failures_svc.fixes(store, product_id, None))
    growth, growth_src = figure(request, "/growth", {"product": product_id},
                                lambda: growth_svc.growth(store, product_id))
    ranked: dict[str, Any]
    ranked, ranked_src, own = ({}, "", None)
    if may(who, "costs.read"):
        mine, _ = figure(request, "/cost-per-effect", {"by": "product", "product": product_id},
                         lambda: costs.cost_per_effect(store, "product", product=product_id))
        own = mine["rows"][0] if mine["rows"] else {"uses": 0, "trace_filters": {}}
        ranked, ranked_src = figure(
            request, "/cost-per-effect", {"by": "product,producer", "product": product_id},
            lambda: costs.cost_per_effect(store, "product,producer", product=product_id))
    ranked_rows = sorted(ranked.get("rows", []),
                         key=lambda r: (r.get("rank_in_product") or 1e9, r["producer_id"] or ""))
    from kuznia.server.web.oversight import flags_of

    return render(request, who, "product.html", title=f"Product {product_id}",
                  flags=flags_of(request, who, product=product_id),
                  product=product, versions=versions, pareto=pareto, pareto_src=pareto_src,
                  pareto_by=by or "", fixes=fixes["rows"], growth=growth,
                  growth_src=growth_src, ranked_rows=ranked_rows, ranked_src=ranked_src,
                  ranked_currency=ranked.get("currency", ""), own=own,
                  ranked_notes=ranked.get("notes", []))


@page("/producers/{producer_id:path}", "figures.read")
def producer_page(request: Request, who: Caller, producer_id: str,
                  flag: Annotated[str | None, Query(max_length=20)] = None,
                  cursor: Cursor = None) -> HTMLResponse:
    store = store_of(request)
    scope = who.scope
    if scope.producer_id is not None and scope.producer_id != producer_id:
        raise NotFoundError(f"no producers record with producer_id {producer_id!r}")
    producer = records.get_record(store, "producers", {"producer_id": producer_id},
                                  scope=scope)
    status = None
    if may(who, "read:contracts"):
        status = deliveries.contract_status(store, producer_id, flag=flag or None,
                                            cursor=cursor, scope=scope).to_dict()
    quality, quality_src = figure(request, "/failures", {"producer": producer_id},
                                  lambda: failures_svc.failures(store, None, None,
                                                                producer_id))
    cpe: dict[str, Any]
    cpe, cpe_src = ({"rows": []}, "")
    if may(who, "costs.read"):
        cpe, cpe_src = figure(request, "/cost-per-effect",
                              {"by": "product", "producer": producer_id}
                              if scope.producer_id is None else {"by": "product"},
                              lambda: costs.cost_per_effect(store, "product",
                                                            producer=producer_id))
    blocks = _board(request, who, producer=producer_id)
    from kuznia.server.web.oversight import flags_of

    return render(request, who, "producer.html", title=f"Producer {producer_id}",
                  flags=flags_of(request, who, producer=producer_id),
                  producer=producer, contracts=status, flag=flag or "", quality=quality,
                  quality_src=quality_src, cpe=cpe, cpe_src=cpe_src,
                  stacks=board_svc.stacks(blocks), blocks=blocks,
                  names=_names(_products(request, who)), cpe_rows=by_value(cpe["rows"]),
                  **board_words())


def _board(request: Request, who: Caller, producer: str | None = None,
           product: str | None = None) -> list[dict[str, Any]]:
    store = store_of(request)
    scope = who.scope

    def make() -> board_svc.Board:
        b = board_svc.board(store, producer, product, None, board_svc.THRESHOLD,
                            scope=scope.producer_id)
        b.blocks = scope.blocks(b.blocks)
        return b

    data, _ = figure(request, "/board", {"producer": producer, "product": product}, make)
    return data["blocks"]  # type: ignore[no-any-return]


@page("/board", "figures.read")
def board_page(request: Request, who: Caller, product: Id = None,
               top: Annotated[int, Query(ge=1, le=1000)] = 20) -> HTMLResponse:
    blocks = _board(request, who, product=product)
    stacks = board_svc.stacks(blocks)
    products = _products(request, who)
    return render(request, who, "board.html", title="Board", stacks=stacks[:top],
                  more=max(0, len(stacks) - top), top=top, product=product or "",
                  products=products, names=_names(products), **board_words())


def board_words() -> dict[str, Any]:
    """What the board's legend and its weight note say (from the board's own constants)."""
    return {"kinds": board_svc.KINDS, "aging_days": AGING_DAYS,
            "money_weight": MONEY_WEIGHT, "threshold": board_svc.THRESHOLD}
