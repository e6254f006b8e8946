"""The pages that show figures: overview, product, producer and board (the uses behind a
figure and one record are in ``evidence``). Each figure is its API route's own function,
asked with the route's own parameters and kept under the route's question (``figure``):
the chart's URL is built from the route, and its fetch finds the answer made."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from kuznia.analytics.board import AGING_DAYS, MONEY_WEIGHT
from kuznia.errors import NotFoundError
from kuznia.i18n import N_, gettext
from kuznia.server.api import figures as api_figures
from kuznia.server.api.base import store_of
from kuznia.server.auth import Caller
from kuznia.server.types import Day
from kuznia.server.web import portal as portal_web
from kuznia.server.web.base import (
    Cursor,
    Id,
    Slot,
    _path,
    _qs,
    figure,
    may,
    page,
    render,
    section,
    slot,
    start_page,
)
from kuznia.server.web.oversight import flags_of
from kuznia.services import board as board_svc
from kuznia.services import deliveries, periods, records


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
    """The frame at once (navigation, headings, filters); the headline strip, the cost
    charts and the trend each in it when their figures are kept, else loading on their
    own (``overview_section``)."""
    periods.check_order(date_from, date_to)  # a reversed range is refused, not "nothing"
    asked = {"date_from": date_from, "date_to": date_to, "category": category,
             "product": product}
    products = _products(request, who)
    categories = sorted({p["category"] for p in products if p["category"]})
    names = _names(products)
    query = _qs(asked)
    def maker(make: Callable[..., dict[str, Any]]) -> Callable[[], dict[str, Any]]:
        return lambda: {"asked": asked, "names": names, **make(request, who, asked, categories)}

    slots = {part: slot(request, who, f"/sections/overview/{part}" + ("?" + query if query
                                                                      else ""),
                        waiting, f"_overview_{part}.html", maker(make))
             for part, (waiting, make) in OVERVIEW_PARTS.items()}
    return render(request, who, "overview.html", title=gettext("Overview"), asked=asked,
                  products=products, names=names, categories=categories, slots=slots)


def _overview_cpe(request: Request, who: Caller, asked: dict[str, Any], by: str,
                  **more: Any) -> tuple[dict[str, Any], str]:
    return figure(request, who, api_figures.cost_per_effect, by=by, **{**asked, **more})


def _overview_headline(request: Request, who: Caller, asked: dict[str, Any],
                       _categories: list[str]) -> dict[str, Any]:
    head, _ = figure(request, who, api_figures.headline, **asked)
    return {"head": head}


def _overview_cost(request: Request, who: Caller, asked: dict[str, Any],
                   _categories: list[str]) -> dict[str, Any]:
    by_product, by_product_src = _overview_cpe(request, who, asked, "product")
    rows = by_product["rows"]
    focus = asked["product"] or (max(rows, key=lambda r: r["uses"])["product_id"]
                                 if rows else None)
    ranked, ranked_src = (_overview_cpe(request, who, asked, "product,producer",
                                        product=focus) if focus else ({}, ""))
    ranked_rows = sorted(ranked.get("rows", []),
                         key=lambda r: (r.get("rank_in_product") or 1e9, r["producer_id"] or ""))
    return {"by_product": by_product, "by_product_src": by_product_src, "focus": focus,
            "ranked_rows": ranked_rows, "ranked_src": ranked_src,
            "sorted_rows": by_value(rows)}


def _overview_trend(request: Request, who: Caller, asked: dict[str, Any],
                    categories: list[str]) -> dict[str, Any]:
    by_month, by_month_src = _overview_cpe(request, who, asked, "month")
    # a pooled trend moves with the product mix: with no product or category asked, one
    # trend per category
    trends = [] if asked["product"] or asked["category"] else [
        (c, *_overview_cpe(request, who, asked, "month", category=c)) for c in categories]
    return {"by_month": by_month, "by_month_src": by_month_src, "trends": trends}


# part: (what its placeholder says, what makes it)
OVERVIEW_PARTS: dict[str, tuple[str, Callable[..., dict[str, Any]]]] = {
    "headline": (N_("Computing the headline figures…"), _overview_headline),
    "cost": (N_("Computing cost per effect by product…"), _overview_cost),
    "trend": (N_("Computing the monthly trend…"), _overview_trend),
}
OVERVIEW_TITLES = {"headline": N_("Overview: headline figures"),
                   "cost": N_("Overview: cost per effect by product"),
                   "trend": N_("Overview: monthly trend")}


@page("/sections/overview/{part}", "pages.overview")
def overview_section(request: Request, who: Caller, part: str, date_from: Day = None,
                     date_to: Day = None, category: Id = None, product: Id = None
                     ) -> HTMLResponse:
    """One section of the overview, loaded on its own."""
    if part not in OVERVIEW_PARTS:
        raise NotFoundError(N_("no section %(part)s on the overview"), part=repr(part))
    asked = {"date_from": date_from, "date_to": date_to, "category": category,
             "product": product}
    products = _products(request, who)
    categories = sorted({p["category"] for p in products if p["category"]})
    query = _qs(asked)
    context = OVERVIEW_PARTS[part][1](request, who, asked, categories)
    return section(request, who, f"_overview_{part}.html",
                   gettext(OVERVIEW_TITLES[part]),
                   "/overview" + ("?" + query if query else ""),
                   {"asked": asked, "names": _names(products), **context})


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
    """The frame at once (the product, its versions, the headings); each heavy section in
    it when its figures are kept, else loading on its own (``product_section``)."""
    store = store_of(request)
    product = records.get_record(store, "products", {"product_id": product_id},
                                 scope=who.scope)
    versions = records.list_records(store, "versions", scope=who.scope,
                                    filters={"product_id": product_id},
                                    limit=records.MAX_LIMIT).rows
    by = pareto_by or ""
    slots = {part: _product_slot(request, who, product, part, by)
             for part in PRODUCT_PARTS if _product_part_shown(who, part)}
    return render(request, who, "product.html", title=gettext("Product %(id)s", id=product_id),
                  product=product, versions=versions, pareto_by=by, slots=slots)


def _product_part_shown(who: Caller, part: str) -> bool:
    if part in ("headline", "ranked"):
        return may(who, "costs.read")
    if part == "flags":
        return may(who, "oversight.read")
    return True


def _product_url(product_id: str, part: str, by: str) -> str:
    query = _qs({"pareto_by": by}) if part == "pareto" else ""
    return f"/sections/product/{part}/{_path(product_id)}" + ("?" + query if query else "")


def _product_slot(request: Request, who: Caller, product: dict[str, Any], part: str,
                  by: str) -> Slot:
    waiting, make = PRODUCT_PARTS[part]
    return slot(request, who, _product_url(product["product_id"], part, by), waiting,
                f"_product_{part}.html",
                lambda: {"product": product, "pareto_by": by,
                         **make(request, who, product["product_id"], by or None)})


def _product_cost(request: Request, who: Caller, product_id: str, _by: str | None
                  ) -> dict[str, Any]:
    mine, _ = figure(request, who, api_figures.cost_per_effect, by="product", product=product_id)
    own = mine["rows"][0] if mine["rows"] else {"uses": 0, "trace_filters": {}}
    return {"own": own, "currency": mine.get("currency", "")}


def _product_ranked(request: Request, who: Caller, product_id: str, _by: str | None
                    ) -> dict[str, Any]:
    ranked, ranked_src = figure(request, who, api_figures.cost_per_effect, by="product,producer",
                                product=product_id)
    ranked_rows = sorted(ranked.get("rows", []),
                         key=lambda r: (r.get("rank_in_product") or 1e9, r["producer_id"] or ""))
    return {"ranked_rows": ranked_rows, "ranked_src": ranked_src,
            "ranked_currency": ranked.get("currency", ""),
            "ranked_notes": ranked.get("notes", [])}


def _product_pareto(request: Request, who: Caller, product_id: str, by: str | None
                    ) -> dict[str, Any]:
    pareto, pareto_src = figure(request, who, api_figures.failures, product=product_id, by=by)
    return {"pareto": pareto, "pareto_src": pareto_src}


def _product_growth(request: Request, who: Caller, product_id: str, _by: str | None
                    ) -> dict[str, Any]:
    growth, growth_src = figure(request, who, api_figures.growth, product=product_id)
    return {"growth": growth, "growth_src": growth_src}


def _product_fixes(request: Request, who: Caller, product_id: str, _by: str | None
                   ) -> dict[str, Any]:
    fixes, _ = figure(request, who, api_figures.fixes, product=product_id)
    return {"fixes": fixes["rows"]}


def _product_flags(request: Request, who: Caller, product_id: str, _by: str | None
                   ) -> dict[str, Any]:
    return {"flags": flags_of(request, who, product=product_id),
            "whose": gettext("this product")}


# part: (what its placeholder says, what makes it)
PRODUCT_PARTS: dict[str, tuple[str, Callable[..., dict[str, Any]]]] = {
    "headline": (N_("Computing what an effect costs…"), _product_cost),
    "pareto": (N_("Computing the failure Pareto…"), _product_pareto),
    "growth": (N_("Computing reliability growth…"), _product_growth),
    "fixes": (N_("Computing the fixes' status…"), _product_fixes),
    "ranked": (N_("Ranking the producers…"), _product_ranked),
    "flags": (N_("Looking for red flags…"), _product_flags),
}
PART_TITLES = {"scorecard": N_("scorecard"), "headline": N_("what an effect costs"),
               "pareto": N_("failure Pareto"),
               "growth": N_("reliability growth"), "fixes": N_("fixes"), "board": N_("board"),
               "ranked": N_("producers ranked"), "flags": N_("red flags"),
               "quality": N_("quality")}


@page("/sections/product/{part}/{product_id:path}", "pages.product")
def product_section(request: Request, who: Caller, part: str, product_id: str,
                    pareto_by: Annotated[str | None, Query(max_length=200)] = None
                    ) -> HTMLResponse:
    """One section of a product's page, loaded on its own."""
    if part not in PRODUCT_PARTS or not _product_part_shown(who, part):
        raise NotFoundError(N_("no section %(part)s on a product's page"), part=repr(part))
    product = records.get_record(store_of(request), "products", {"product_id": product_id},
                                 scope=who.scope)
    context = PRODUCT_PARTS[part][1](request, who, product_id, pareto_by or None)
    return section(request, who, f"_product_{part}.html",
                   gettext("Product %(id)s: %(part)s", id=product_id,
                           part=gettext(PART_TITLES[part])),
                   f"/products/{_path(product_id)}",
                   {"product": product, "pareto_by": pareto_by or "", **context})


def _own_producer(request: Request, who: Caller, producer_id: str) -> dict[str, Any]:
    """The producer's record, if the caller may see it (a producer only its own)."""
    scope = who.scope
    if scope.producer_id is not None and scope.producer_id != producer_id:
        raise NotFoundError(N_("no producers record with producer_id %(producer)s"),
                            producer=repr(producer_id))
    return records.get_record(store_of(request), "producers", {"producer_id": producer_id},
                              scope=scope)


@page("/producers/{producer_id:path}", "figures.read")
def producer_page(request: Request, who: Caller, producer_id: str,
                  flag: Annotated[str | None, Query(max_length=20)] = None,
                  cursor: Cursor = None) -> HTMLResponse:
    """The frame at once (the producer, its contracts, the headings); the board, its
    quality and its flags in it when kept, else loading on their own."""
    store = store_of(request)
    scope = who.scope
    producer = _own_producer(request, who, producer_id)
    status = None
    if may(who, "read:contracts"):
        status = deliveries.contract_status(store, producer_id, flag=flag or None,
                                            cursor=cursor, scope=scope).to_dict()
    slots = {}

    def maker(make: Callable[..., dict[str, Any]]) -> Callable[[], dict[str, Any]]:
        return lambda: {"producer": producer, **make(request, who, producer_id)}

    for part, (waiting, make) in PRODUCER_PARTS.items():
        if part == "flags" and not may(who, "oversight.read"):
            continue
        slots[part] = slot(request, who, f"/sections/producer/{part}/{_path(producer_id)}",
                           waiting, f"_producer_{part}.html", maker(make))
    show_offers = may(who, "read:offers")
    offers = portal_web.offers_context(request, who, producer_id) if show_offers else {}
    return render(request, who, "producer.html", title=gettext("Producer %(id)s", id=producer_id),
                  producer=producer, contracts=status, flag=flag or "", slots=slots,
                  names=_names(_products(request, who)), show_offers=show_offers,
                  may_answer=may(who, "portal.answer"), **offers)


def _producer_board(request: Request, who: Caller, producer_id: str) -> dict[str, Any]:
    blocks = portal_web.with_threads(request, who, _board(request, who, producer=producer_id),
                                     producer_id)
    return {"stacks": board_svc.stacks(blocks), "blocks": blocks,
            "names": _names(_products(request, who)), "own_page": True,
            "new_total": sum(t["new"] for b in blocks for t in b["threads"]),
            **portal_web.thread_context(who), **board_words()}


def _producer_scorecard(request: Request, who: Caller, producer_id: str) -> dict[str, Any]:
    card, _ = figure(request, who, api_figures.scorecard, producer_id=producer_id)
    return {"card": card}


def _producer_quality(request: Request, who: Caller, producer_id: str) -> dict[str, Any]:
    quality, quality_src = figure(request, who, api_figures.failures, producer=producer_id)
    cpe: dict[str, Any]
    cpe, cpe_src = ({"rows": []}, "")
    if may(who, "costs.read"):
        cpe, cpe_src = figure(request, who, api_figures.cost_per_effect, by="product",
                              producer=producer_id)
    return {"quality": quality, "quality_src": quality_src, "cpe": cpe, "cpe_src": cpe_src,
            "cpe_rows": by_value(cpe["rows"]), "names": _names(_products(request, who))}


def _producer_flags(request: Request, who: Caller, producer_id: str) -> dict[str, Any]:
    return {"flags": flags_of(request, who, producer=producer_id),
            "whose": gettext("this producer")}


PRODUCER_PARTS: dict[str, tuple[str, Callable[..., dict[str, Any]]]] = {
    "scorecard": (N_("Computing the scorecard…"), _producer_scorecard),
    "board": (N_("Computing the board…"), _producer_board),
    "quality": (N_("Computing quality and cost per effect…"), _producer_quality),
    "flags": (N_("Looking for red flags…"), _producer_flags),
}


@page("/sections/producer/{part}/{producer_id:path}", "figures.read")
def producer_section(request: Request, who: Caller, part: str, producer_id: str
                     ) -> HTMLResponse:
    """One section of a producer's page, loaded on its own (a producer only its own)."""
    if part not in PRODUCER_PARTS or (part == "flags" and not may(who, "oversight.read")):
        raise NotFoundError(N_("no section %(part)s on a producer's page"), part=repr(part))
    producer = _own_producer(request, who, producer_id)
    context = PRODUCER_PARTS[part][1](request, who, producer_id)
    return section(request, who, f"_producer_{part}.html",
                   gettext("Producer %(id)s: %(part)s", id=producer_id,
                           part=gettext(PART_TITLES[part])),
                   f"/producers/{_path(producer_id)}", {"producer": producer, **context})


def _board(request: Request, who: Caller, producer: str | None = None,
           product: str | None = None) -> list[dict[str, Any]]:
    data, _ = figure(request, who, api_figures.board, producer=producer, product=product)
    return data["blocks"]  # type: ignore[no-any-return]


@page("/board", "figures.read")
def board_page(request: Request, who: Caller, product: Id = None,
               top: Annotated[int, Query(ge=1, le=1000)] = 20) -> HTMLResponse:
    """The frame at once (the legend and the filters); the stacks in it when kept, else
    loading on their own (``board_section``)."""
    products = _products(request, who)
    query = urlencode({k: v for k, v in (("product", product), ("top", top)) if v})
    stacks = slot(request, who, "/sections/board?" + query, N_("Computing the board…"),
                  "_board_stacks.html", lambda: _board_stacks(request, who, product, top))
    return render(request, who, "board.html", title=gettext("Board"), top=top,
                  product=product or "", products=products, stacks=stacks, **board_words())


def _board_stacks(request: Request, who: Caller, product: str | None, top: int
                  ) -> dict[str, Any]:
    blocks = _board(request, who, product=product)
    if may(who, "portal.read") and who.scope.producer_id is None:
        blocks = portal_web.with_threads(request, who, blocks, None)
    stacks = board_svc.stacks(blocks)
    return {"stacks": stacks[:top], "more": max(0, len(stacks) - top), "top": top,
            "product": product or "", "names": _names(_products(request, who)),
            "own_page": False, **portal_web.thread_context(who), **board_words()}


@page("/sections/board", "figures.read")
def board_section(request: Request, who: Caller, product: Id = None,
                  top: Annotated[int, Query(ge=1, le=1000)] = 20) -> HTMLResponse:
    """The board's stacks, loaded on their own."""
    query = urlencode({k: v for k, v in (("product", product), ("top", top)) if v})
    return section(request, who, "_board_stacks.html", gettext("Board: the stacks"),
                   "/board?" + query, _board_stacks(request, who, product, top))


def board_words() -> dict[str, Any]:
    """What the board's legend and its weight note say (from the board's own constants)."""
    return {"kinds": board_svc.KINDS, "aging_days": AGING_DAYS,
            "money_weight": MONEY_WEIGHT, "threshold": board_svc.THRESHOLD}
