"""Assemble the report from the workspace's figures; write HTML and one PNG per chart."""

from __future__ import annotations

import base64
import datetime as dt
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from jinja2 import Environment, PackageLoader, select_autoescape

from kuznia import i18n
from kuznia.outputs import check_output, id_file_name, protected_paths, replace_folder
from kuznia.report import charts
from kuznia.sentences import say_sentence
from kuznia.services.trace import export_use_lists, use_list_path
from kuznia.words import say

if TYPE_CHECKING:
    from kuznia.services.audit import EventList
    from kuznia.services.audit_check import ChainCheck
    from kuznia.services.board import Board
    from kuznia.services.costs import CostTable
    from kuznia.services.failures import FailureTable, FixTable
    from kuznia.services.growth import Growth
    from kuznia.services.store import Store


class Figures(Protocol):
    """What the report reads: a ``kuznia.Workspace`` answers it (``Workspace.report``
    calls ``build_report`` with itself). Declared here, so that the report depends on the
    services' answers and not on the Python API that offers it."""

    @property
    def store(self) -> Store: ...

    def cost_per_effect(self, by: str) -> CostTable: ...

    def board(self) -> Board: ...

    def fixes(self) -> FixTable: ...

    def failures(self, product: str | None = None) -> FailureTable: ...

    def growth(self, product: str) -> Growth: ...

    def audit_events(self, limit: int | None) -> EventList: ...

    def verify_audit(self) -> ChainCheck: ...

TREND_PRODUCTS = 6
USE_LISTS_UP_TO = 1_000_000  # beyond this, use lists are written only when asked


BOARD_STACKS = 10
REPORT_SCENARIOS = 2_000
FAN_PRODUCTS = 4


def anchor(*parts: Any) -> str:
    """A stable HTML id for a group of uses, different for every group."""
    return "trace-" + id_file_name("\x1f".join(str(p) for p in parts))


def png_name(key: str) -> str:
    """The file of a chart: fixed names as they are, names made from ids escaped."""
    return f"{key}.png" if re.fullmatch(r"[a-z_]+", key) else id_file_name(key, ".png")


def _loop(ws: Figures, products: list[str], pngs: dict[str, bytes | None]) -> dict[str, Any]:
    """The test-fix-test section: board, fixes, and per busy product a Pareto and growth."""
    board = ws.board()
    fixes = ws.fixes()
    per_product = []
    for p in products:
        pareto = ws.failures(product=p)
        g = ws.growth(p).to_dict()
        if pareto.rows:
            title = i18n.gettext("Failure modes, %(product)s", product=p)
            pngs[f"pareto_{p}"] = charts.pareto(pareto.rows, title)
        if any(v["failures"] for v in g["versions"]):
            pngs[f"growth_{p}"] = charts.duane(g)
        per_product.append({"product_id": p, "pareto": pareto.rows, "growth": g})
    counts: dict[str, int] = {}
    for r in fixes.rows:
        counts[r["status"]] = counts.get(r["status"], 0) + 1
    return {"board": board, "stacks": board.stacks[:BOARD_STACKS], "fixes": fixes.rows,
            "fix_counts": counts, "products": per_product}


def _strikes(ws: Figures, pngs: dict[str, bytes | None]) -> dict[str, Any] | str:
    """The resilience section: a fan chart for the products most short, a table, the
    exposed sites; or, when it cannot be computed, why (the report says so instead of
    leaving the section out)."""
    from kuznia.errors import UsageError
    from kuznia.services import resilience

    try:
        res = resilience.run(ws.store, months=12, scenarios=REPORT_SCENARIOS, seed=0)
    except UsageError as exc:
        return exc.say(lambda p: f"'{p}'")  # in the report's language
    worst = sorted(res.products, key=lambda p: -(p["expected_shortfall"] or 0))
    pngs["fan"] = charts.fan(worst[:FAN_PRODUCTS], i18n.gettext(
        "Monthly output under strikes, %(scenarios)s scenarios",
        scenarios=i18n.number(res.scenarios)))
    exposed = [s for s in res.sites if s["exposed"]]
    return {"res": res, "products": worst, "exposed": exposed[:30],
            "exposed_total": len(exposed)}


def build_report(ws: Figures, out: Path, with_uses: bool | None = None) -> Path:
    """Write ``out/report.html`` and the charts; with ``with_uses`` (default: when the
    workspace holds at most ``USE_LISTS_UP_TO`` uses) also the use lists it links to.

    Every figure is read in one snapshot of the workspace, so an import running meanwhile
    is either wholly in the report or not at all. The folder is built under a temporary
    name and swapped in whole; a folder Kuznia did not make is refused, never emptied.
    """
    check_output(out, "out", protected=protected_paths(ws.store.sqlite_file), folder=True)
    with ws.store.snapshot(), replace_folder(out, "out") as tmp:
        _build(ws, tmp, with_uses)
    return (out / "report.html").resolve()


def _build(ws: Figures, out: Path, with_uses: bool | None) -> None:
    by_product = ws.cost_per_effect("product")
    by_month = ws.cost_per_effect("product,month")
    by_producer = ws.cost_per_effect("product,producer")
    cur = by_product.currency
    busiest = [r["product_id"] for r in sorted(by_product.rows, key=lambda r: -r["uses"])]
    pngs = {
        "cost_by_product": charts.cost_by_product(by_product.rows, cur) if by_product.rows
        else None,
        "monthly_trend": charts.monthly_trend(by_month.rows, busiest[:TREND_PRODUCTS], cur)
        if by_month.rows else None,
        "outcomes": charts.outcomes(by_product.rows) if by_product.rows else None,
    }
    loop = _loop(ws, busiest[:TREND_PRODUCTS], pngs)
    strikes = _strikes(ws, pngs)
    images = {}
    for name, data in pngs.items():
        if data is None:
            continue
        (out / png_name(name)).write_bytes(data)
        images[name] = "data:image/png;base64," + base64.b64encode(data).decode()
    producers: dict[str, list[dict[str, Any]]] = {}
    for r in by_producer.rows:
        r["anchor"] = anchor(r["product_id"], r["producer_id"])
        producers.setdefault(r["product_id"], []).append(r)
    for rows in producers.values():
        rows.sort(key=lambda r: (r["rank_in_product"] is None, r["rank_in_product"] or 0))
    for r in by_product.rows:
        r["anchor"] = anchor(r["product_id"])
    total_uses = sum(r["uses"] for r in by_product.rows)
    if with_uses is None:
        with_uses = total_uses <= USE_LISTS_UP_TO
    if with_uses:
        export_use_lists(ws.store, out)
    for r in by_producer.rows:
        r["list"] = use_list_path(r["product_id"], r["producer_id"]) if with_uses else None
    events = ws.audit_events(None)  # the whole trail
    env = Environment(loader=PackageLoader("kuznia", "report"),
                      autoescape=select_autoescape(["html", "j2"]),
                      extensions=["jinja2.ext.i18n"])
    i18n.install(env)  # the language of the moment: the CLI's --lang or KUZNIA_LANG
    env.filters["money"] = lambda x: "—" if x is None else i18n.number(x)
    env.filters["num"] = lambda x: i18n.grouped(x) if isinstance(x, int | float) else x
    env.filters["say"] = say
    env.filters["sentence"] = say_sentence
    env.filters["dec"] = lambda x, digits: "—" if x is None else i18n.number(x, digits)
    html = env.get_template("report.html.j2").render(
        generated=dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        db=ws.store.display_url,
        currency=cur,
        by_product=by_product,
        by_month=by_month,
        producers=producers,
        images=images,
        events=events,
        chain=ws.verify_audit(),
        trend_products=busiest[:TREND_PRODUCTS],
        with_uses=with_uses,
        use_lists_up_to=USE_LISTS_UP_TO,
        loop=loop,
        strikes=strikes if isinstance(strikes, dict) else None,
        strikes_missing=strikes if isinstance(strikes, str) else None,
    )
    (out / "report.html").write_text(html, encoding="utf-8")
