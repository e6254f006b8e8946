"""The pages that show figures: overview, product, producer, board, the uses behind a
figure and one record. Each figure comes from the same service call as its API route,
kept under the API route's question (``figure``), so the chart's fetch of that route
finds it made."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from kuznia.errors import NotFoundError
from kuznia.server.auth import Caller
from kuznia.server.routes import _render, kept_body, store_of
from kuznia.server.web.base import may, page, render, start_page
from kuznia.services import board as board_svc
from kuznia.services import costs, deliveries, records, trace
from kuznia.services import failures as failures_svc
from kuznia.services import growth as growth_svc
from kuznia.services.access import ForbiddenError
from kuznia.services.records import key_columns

Id = Annotated[str | None, Query(max_length=200)]
Day = Annotated[dt.date | None, Query()]
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
    return render(request, who, "overview.html", title="Overview", asked=asked,
                  by_product=by_product, by_product_src=by_product_src, by_month=by_month,
                  by_month_src=by_month_src, focus=focus, ranked_rows=ranked_rows,
                  ranked_src=ranked_src, products=products,
                  categories=sorted({p["category"] for p in products if p["category"]}))


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
    ranked, ranked_src = ({}, "")
    if may(who, "costs.read"):
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
                  ranked_currency=ranked.get("currency", ""))


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
                  stacks=board_svc.stacks(blocks), blocks=blocks)


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
    return render(request, who, "board.html", title="Board", stacks=stacks[:top],
                  more=max(0, len(stacks) - top), top=top, product=product or "",
                  products=_products(request, who))


@page("/uses", "figures.read")
def uses_page(request: Request, who: Caller, product: Id = None, producer: Id = None,
              version: Id = None, operator: Id = None, failure_mode: Id = None,
              lot: Id = None,
              month: Annotated[str | None, Query(max_length=7)] = None, category: Id = None,
              date_from: Day = None, date_to: Day = None, cursor: Cursor = None,
              limit: Annotated[int, Query(ge=1, le=500)] = 50,
              condition: Annotated[str | None, Query(max_length=400)] = None) -> HTMLResponse:
    filters = {"product": product, "producer": producer, "version": version,
               "operator": operator, "failure_mode": failure_mode, "lot": lot, "month": month,
               "category": category, "date_from": date_from, "date_to": date_to,
               "condition": condition}
    result = trace.list_uses(store_of(request), **filters, limit=limit, cursor=cursor,
                             with_total=True, scope=who.scope)
    shown = {k: ("" if v is None else str(v)) for k, v in filters.items()}
    return render(request, who, "uses.html", title="Uses", result=result, filters=shown,
                  command=trace.uses_command({k: v for k, v in shown.items() if v}),
                  limit=limit, operators=who.scope.operators, prices=who.scope.prices)


@page("/records/{table}/{key:path}", "figures.read")
def record_page(request: Request, who: Caller, table: str, key: str) -> HTMLResponse:
    from kuznia.ingest.tables import SPECS
    from kuznia.services.access import may_read_table

    if table not in SPECS:
        raise NotFoundError(f"no table named {table!r}")
    if not may_read_table(who.role, table):
        raise ForbiddenError(f"the {who.role} role may not read {table}")
    keys = key_columns(table)
    parts = key.split("/", len(keys) - 1) if len(keys) > 1 else [key]
    if len(parts) != len(keys):
        raise NotFoundError(f"{table} records are read by {', '.join(keys)}")
    row = records.get_record(store_of(request), table, dict(zip(keys, parts, strict=True)),
                             scope=who.scope)
    return render(request, who, "record.html", title=f"{table}: {' / '.join(parts)}",
                  table=table, row=row)
