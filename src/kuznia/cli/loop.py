"""The test-fix-test loop: failures, fixes, growth and the board."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table
from rich.text import Text as Styled  # not i18n's Text (pybabel reads that name)

import kuznia
from kuznia import i18n
from kuznia.cli.common import (
    DbOption,
    JsonOption,
    count,
    day,
    err,
    handles_errors,
    helps,
    num,
    out,
    parse_date,
    print_json,
)
from kuznia.i18n import N_, _, ngettext
from kuznia.outputs import check_output, protected_paths, write_bytes
from kuznia.sentences import say_sentence
from kuznia.services.params import BOARD_THRESHOLD as THRESHOLD
from kuznia.words import say

if TYPE_CHECKING:
    from kuznia.services.board import Board

ProductOption = Annotated[str | None, typer.Option("--product", help=N_("Only this product."))]
ProducerOption = Annotated[str | None, typer.Option("--producer", help=N_("Only this producer."))]


def _pct(v: float | None) -> str:
    return "-" if v is None else i18n.number(100 * v, 2)


@handles_errors
@helps(N_("Failure modes by count: rate per 100 uses with a 90%% interval, share, cumulative."))
def failures(
    product: ProductOption = None,
    version: Annotated[str | None, typer.Option(help=N_("Only uses of this version."))] = None,
    producer: ProducerOption = None,
    by: Annotated[str | None, typer.Option(
        help=N_("version and/or condition:KEY (e.g. condition:ew), comma-separated."))] = None,
    db: DbOption = None,
    json: JsonOption = False,
) -> None:
    with kuznia.open(db) as ws:
        table = ws.failures(product, version, producer, by)
    if json:
        print_json(table.to_dict())
        return
    if not table.rows:
        out.print(_("no failures recorded for this selection"))
        return
    keys = ["product_id", *table.by]
    heads = [_("product") if k == "product_id" else _("version") if k == "version"
             else _("condition %(key)s", key=k.split(":", 1)[1]) if k.startswith("condition:")
             else k for k in keys]
    t = Table(*heads, _("failure mode"), _("severity"), _("failures"), _("uses"),
              _("per 100 uses"), _("%(level)s interval", level="90%"), _("share %"),
              _("cumulative %"))
    for r in table.rows:
        t.add_row(*[str(r[k] if not k.startswith("condition:")
                        else r["conditions"][k.split(":", 1)[1]]) for k in keys],
                  say(r["failure_mode"]), str(r["severity"] or "?"),
                  count(r["failures"]), count(r["uses"]), num(r["rate_per_100"], 2),
                  f"{num(r['rate_per_100_low'], 2)}-{num(r['rate_per_100_high'], 2)}",
                  num(100 * r["share"], 1), num(100 * r["cumulative_share"], 1))
    out.print(t)


STATUS_STYLE = {"verified": "green", "not_effective": "red", "awaiting_data": "yellow",
                "open": "cyan"}


@handles_errors
@helps(N_("Every corrective action with its status, computed from the uses."))
def fixes(
    product: ProductOption = None,
    producer: ProducerOption = None,
    confidence: Annotated[float, typer.Option(help=N_("Confidence for verified / not effective.")
                                              )] = 0.95,
    reduction: Annotated[float, typer.Option(
        help=N_("Least share of failures a fix must remove to count as effective."))] = 0.5,
    db: DbOption = None,
    json: JsonOption = False,
) -> None:
    with kuznia.open(db) as ws:
        table = ws.fixes(product, producer, confidence, reduction)
    if json:
        print_json(table.to_dict())
        return
    t = Table(_("corrective action"), _("product"), _("failure mode"), _("fixed in"),
              _("status"), _("before, per 100"), _("uses before"), _("after, per 100"),
              _("uses after"), "p", _("uses needed"), _("note"))
    for r in table.rows:
        t.add_row(r["action_id"], r["product_id"], say(r["failure_mode"]),
                  r["fixed_in_version"],
                  Styled(say(r["status"]), style=STATUS_STYLE[r["status"]]),
                  _pct(r["rate_before"]), count(r["uses_before"]), _pct(r["rate_after"]),
                  count(r["uses_after"]),
                  "-" if r["p_value"] is None else i18n.significant(r["p_value"], 3),
                  count(r["uses_needed"]), say_sentence(r["note"] or ""))
    out.print(t)


@handles_errors
@helps(N_("Reliability by version, the fitted growth curve and a projection to a target."))
def growth(
    product: Annotated[str, typer.Option("--product", help=N_("The product."))],
    target: Annotated[float, typer.Option(help=N_("Reliability to project to."))] = 0.95,
    chart: Annotated[Path | None, typer.Option(help=N_("Also write the Duane plot (PNG) here.")
                                               )] = None,
    db: DbOption = None,
    json: JsonOption = False,
) -> None:
    with kuznia.open(db) as ws:
        if chart:
            check_output(chart, "chart", protected=protected_paths(ws.store.sqlite_file))
        g = ws.growth(product, target).to_dict()
    if chart:
        from kuznia.report.charts import duane

        write_bytes(chart, duane(g))
        err.print(_("chart written to %(file)s", file=chart))
    if json:
        print_json(g)
        return
    t = Table(_("version"), _("introduced"), _("uses"), _("failures"), _("reliability"),
              _("%(level)s interval", level="90%"))
    for v in g["versions"]:
        t.add_row(v["version"], day(v["introduced_on"]), count(v["uses"]),
                  count(v["failures"]), num(v["reliability"], 4),
                  f"{num(v['reliability_low'], 4)}-{num(v['reliability_high'], 4)}")
    out.print(t)
    fit = g["fit"]
    if fit is None:
        out.print(_("no growth fit: %(reason)s",
                    reason=say_sentence(g["unfitted_reason"] or "")))
        return
    out.print(_("growth fit: beta %(beta)s (below 1 means improving), current design "
                "reliability %(now)s (90%%: %(low)s-%(high)s)", beta=num(fit["beta"], 3),
                now=num(fit["reliability_now"], 4), low=num(fit["reliability_now_low"], 4),
                high=num(fit["reliability_now_high"], 4)))
    last = fit["latest_version"]
    out.print(_("latest version %(version)s: reliability %(now)s (90%%: %(low)s-%(high)s), "
                "its own uses only", version=last["version"], now=num(last["reliability"], 4),
                low=num(last["reliability_low"], 4), high=num(last["reliability_high"], 4)))
    out.print(_("fit check: %(note)s", note=say_sentence(fit["fit_note"])))
    out.print(_("assumes: %(assumes)s", assumes=say_sentence(fit["assumes"])))
    if not fit["projected"]:
        pass
    elif fit["target_reached_at_uses"] is None:
        out.print(_("at this trend the target %(target)s is not reached (no growth)",
                    target=i18n.grouped(target)))
    else:
        out.print(ngettext("target %(target)s: about %(num)s more use at the fitted rate of "
                           "growth", "target %(target)s: about %(num)s more uses at the "
                           "fitted rate of growth", fit["more_uses_to_target"],
                           target=i18n.grouped(target),
                           num=count(fit["more_uses_to_target"])))


# each block's mark (a letter, the same in every language: the legend says it) and colour
KIND_MARK = {"corrective_action": ("A", "yellow"), "failure_mode": ("F", "red"),
             "late_delivery": ("L", "blue"), "rejected_lot": ("R", "magenta")}


def render_board(b: Board, columns: int = 8, height: int = 12) -> None:
    """Stacks side by side, the oldest block at the bottom of each."""
    stacks = b.stacks[:columns]
    if not stacks:
        out.print(_("the board is clear as of %(day)s", day=day(b.as_of)))
        return
    every = _("all")
    t = Table(*[f"{s['producer_id'] or every}\n{s['product_id']}\n{num(s['weight'])}"
                for s in stacks], show_lines=False, box=None,
              padding=(0, 1))
    cells: list[list[Any]] = []
    for s in stacks:
        blocks = s["blocks"]
        shown = blocks[:height]
        col = [Styled(f"{KIND_MARK[x['kind']][0]} {x['ref'].split('/')[-1][-12:]} "
                    f"{num(x['weight'])}", style=f"reverse {KIND_MARK[x['kind']][1]}")
               for x in reversed(shown)]
        if len(blocks) > height:
            col.insert(0, Styled(_("+%(more)s more", more=count(len(blocks) - height))))
        cells.append(col)
    depth = max(len(c) for c in cells)
    for row in range(depth):
        t.add_row(*[c[row - (depth - len(c))] if row >= depth - len(c) else Styled("")
                    for c in cells])
    out.print(t)
    out.print(ngettext("%(num)s block in %(stacks)s as of %(day)s",
                       "%(num)s blocks in %(stacks)s as of %(day)s", len(b.blocks),
                       num=count(len(b.blocks)), day=day(b.as_of),
                       stacks=ngettext("%(num)s stack", "%(num)s stacks", len(b.stacks),
                                       num=count(len(b.stacks))))
              + _("; A corrective action, F failure mode, L late delivery, R rejected lot; "
                  "number = weight (grows with age)"))


@handles_errors
@helps(N_("Unresolved problems as blocks stacked per producer and product, oldest at the bottom."))
def board(
    producer: ProducerOption = None,
    product: ProductOption = None,
    as_of: Annotated[str | None, typer.Option("--as-of", help=N_("Date, YYYY-MM-DD; default today.")
                                              )] = None,
    threshold: Annotated[float, typer.Option(
        help=N_("Failures per 100 uses above which a mode with no action is a block."))
    ] = THRESHOLD,
    db: DbOption = None,
    json: JsonOption = False,
) -> None:
    with kuznia.open(db) as ws:
        b = ws.board(producer, product, parse_date(as_of, "--as-of"), threshold)
    if json:
        print_json(b.to_dict())
    else:
        render_board(b)
