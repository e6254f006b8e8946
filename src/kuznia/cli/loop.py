"""The test-fix-test loop: failures, fixes, growth and the board."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

import kuznia
from kuznia.cli.common import DbOption, JsonOption, err, handles_errors, out, parse_date, print_json
from kuznia.outputs import check_output, protected_paths, write_bytes
from kuznia.services.params import BOARD_THRESHOLD as THRESHOLD

if TYPE_CHECKING:
    from kuznia.services.board import Board

ProductOption = Annotated[str | None, typer.Option("--product", help="Only this product.")]
ProducerOption = Annotated[str | None, typer.Option("--producer", help="Only this producer.")]


def _pct(v: float | None) -> str:
    return "-" if v is None else f"{100 * v:.2f}"


@handles_errors
def failures(
    product: ProductOption = None,
    version: Annotated[str | None, typer.Option(help="Only uses of this version.")] = None,
    producer: ProducerOption = None,
    by: Annotated[str | None, typer.Option(
        help="version and/or condition:KEY (e.g. condition:ew), comma-separated.")] = None,
    db: DbOption = None,
    json: JsonOption = False,
) -> None:
    """Failure modes by count: rate per 100 uses with a 90% interval, share, cumulative."""
    with kuznia.open(db) as ws:
        table = ws.failures(product, version, producer, by)
    if json:
        print_json(table.to_dict())
        return
    if not table.rows:
        out.print("no failures recorded for this selection")
        return
    keys = ["product_id", *table.by]
    t = Table(*keys, "failure mode", "sev", "failures", "uses", "per 100 uses", "90% interval",
              "share %", "cum %")
    for r in table.rows:
        t.add_row(*[str(r[k] if not k.startswith("condition:")
                        else r["conditions"][k.split(":", 1)[1]]) for k in keys],
                  r["failure_mode"], str(r["severity"] or "?"),
                  f"{r['failures']:,}", f"{r['uses']:,}", f"{r['rate_per_100']:.2f}",
                  f"{r['rate_per_100_low']:.2f}-{r['rate_per_100_high']:.2f}",
                  f"{100 * r['share']:.1f}", f"{100 * r['cumulative_share']:.1f}")
    out.print(t)


STATUS_STYLE = {"verified": "green", "not_effective": "red", "awaiting_data": "yellow",
                "open": "cyan"}


@handles_errors
def fixes(
    product: ProductOption = None,
    producer: ProducerOption = None,
    confidence: Annotated[float, typer.Option(help="Confidence for verified / not effective."
                                              )] = 0.95,
    reduction: Annotated[float, typer.Option(
        help="Least share of failures a fix must remove to count as effective.")] = 0.5,
    db: DbOption = None,
    json: JsonOption = False,
) -> None:
    """Every corrective action with its status, computed from the uses."""
    with kuznia.open(db) as ws:
        table = ws.fixes(product, producer, confidence, reduction)
    if json:
        print_json(table.to_dict())
        return
    t = Table("action", "product", "mode", "fixed in", "status", "before /100", "uses before",
              "after /100", "uses after", "p", "uses needed", "note")
    for r in table.rows:
        t.add_row(r["action_id"], r["product_id"], r["failure_mode"], r["fixed_in_version"],
                  Text(r["status"], style=STATUS_STYLE[r["status"]]), _pct(r["rate_before"]),
                  f"{r['uses_before']:,}", _pct(r["rate_after"]), f"{r['uses_after']:,}",
                  "-" if r["p_value"] is None else f"{r['p_value']:.3g}",
                  "-" if r["uses_needed"] is None else f"{r['uses_needed']:,}", r["note"])
    out.print(t)


@handles_errors
def growth(
    product: Annotated[str, typer.Option("--product", help="The product.")],
    target: Annotated[float, typer.Option(help="Reliability to project to.")] = 0.95,
    chart: Annotated[Path | None, typer.Option(help="Also write the Duane plot (PNG) here."
                                               )] = None,
    db: DbOption = None,
    json: JsonOption = False,
) -> None:
    """Reliability by version, the fitted growth curve and a projection to a target."""
    with kuznia.open(db) as ws:
        if chart:
            check_output(chart, "chart", protected=protected_paths(ws.store.sqlite_file))
        g = ws.growth(product, target).to_dict()
    if chart:
        from kuznia.report.charts import duane

        write_bytes(chart, duane(g))
        err.print(f"chart written to {chart}")
    if json:
        print_json(g)
        return
    t = Table("version", "introduced", "uses", "failures", "reliability", "90% interval")
    for v in g["versions"]:
        t.add_row(v["version"], v["introduced_on"], f"{v['uses']:,}", f"{v['failures']:,}",
                  f"{v['reliability']:.4f}",
                  f"{v['reliability_low']:.4f}-{v['reliability_high']:.4f}")
    out.print(t)
    fit = g["fit"]
    if fit is None:
        out.print(f"no growth fit: {g['unfitted_reason']}")
        return
    out.print(f"growth fit: beta {fit['beta']:.3f} (below 1 means improving), current design "
              f"reliability {fit['reliability_now']:.4f} "
              f"(90% {fit['reliability_now_low']:.4f}-{fit['reliability_now_high']:.4f})")
    last = fit["latest_version"]
    out.print(f"latest version {last['version']}: reliability {last['reliability']:.4f} "
              f"(90% {last['reliability_low']:.4f}-{last['reliability_high']:.4f}), its own "
              "uses only")
    out.print(f"fit check: {fit['fit_note']}")
    out.print(f"assumes: {fit['assumes']}")
    if not fit["projected"]:
        pass
    elif fit["target_reached_at_uses"] is None:
        out.print(f"at this trend the target {target} is not reached (no growth)")
    else:
        out.print(f"target {target}: about {fit['more_uses_to_target']:,} more uses at the "
                  "fitted rate of growth")


KIND_MARK = {"corrective_action": ("A", "yellow"), "failure_mode": ("F", "red"),
             "late_delivery": ("L", "blue"), "rejected_lot": ("R", "magenta")}


def render_board(b: Board, columns: int = 8, height: int = 12) -> None:
    """Stacks side by side, the oldest block at the bottom of each."""
    stacks = b.stacks[:columns]
    if not stacks:
        out.print(f"the board is clear as of {b.as_of}")
        return
    t = Table(*[f"{s['producer_id'] or 'all'}\n{s['product_id']}\n{s['weight']:.0f}"
                for s in stacks], show_lines=False, box=None, padding=(0, 1))
    cells: list[list[Any]] = []
    for s in stacks:
        blocks = s["blocks"]
        shown = blocks[:height]
        col = [Text(f"{KIND_MARK[x['kind']][0]} {x['ref'].split('/')[-1][-12:]} {x['weight']:.0f}",
                    style=f"reverse {KIND_MARK[x['kind']][1]}") for x in reversed(shown)]
        if len(blocks) > height:
            col.insert(0, Text(f"+{len(blocks) - height} more"))
        cells.append(col)
    depth = max(len(c) for c in cells)
    for row in range(depth):
        t.add_row(*[c[row - (depth - len(c))] if row >= depth - len(c) else Text("")
                    for c in cells])
    out.print(t)
    out.print(f"{len(b.blocks)} blocks in {len(b.stacks)} stacks as of {b.as_of}; "
              "A action, F failure mode, L late delivery, R rejected lot; "
              "number = weight (grows with age)")


@handles_errors
def board(
    producer: ProducerOption = None,
    product: ProductOption = None,
    as_of: Annotated[str | None, typer.Option("--as-of", help="Date, YYYY-MM-DD; default today."
                                              )] = None,
    threshold: Annotated[float, typer.Option(
        help="Failures per 100 uses above which a mode with no action is a block.")
    ] = THRESHOLD,
    db: DbOption = None,
    json: JsonOption = False,
) -> None:
    """Unresolved problems as blocks stacked per producer and product, oldest at the bottom."""
    with kuznia.open(db) as ws:
        b = ws.board(producer, product, parse_date(as_of, "--as-of"), threshold)
    if json:
        print_json(b.to_dict())
    else:
        render_board(b)
