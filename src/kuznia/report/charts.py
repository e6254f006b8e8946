"""Charts as PNG bytes (matplotlib, Agg backend): pure functions of the figures they show.

The colours are ``kuznia.palette``'s (colour-blind safe; intervals at 3:1 on white), every
chart titles its axes, and a chart with nothing to show says so instead of empty axes."""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.dates as mdates  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.ticker import FuncFormatter  # noqa: E402

from kuznia import i18n, palette  # noqa: E402
from kuznia.i18n import N_, _  # noqa: E402
from kuznia.words import say  # noqa: E402

OUTCOME_COLOURS = {f"n_{k}": v for k, v in palette.OUTCOMES.items()}
EMPTY = N_("No uses in this period.")


def _empty(text: str | None = None, title: str | None = None) -> bytes:
    """A chart with nothing to draw: the sentence, not empty axes."""
    fig, ax = plt.subplots(figsize=(6, 1.2))
    ax.axis("off")
    ax.text(0.5, 0.5, text if text is not None else _(EMPTY), ha="center", va="center",
            fontsize=11, color="#4a4a4a")
    if title:
        ax.set_title(title, fontsize=10)
    return _png(fig)


def _month_ticks() -> FuncFormatter:
    """A date axis's ticks as months in the language of the moment (бер. 2025), whenever
    the chart is drawn."""
    lang = i18n.current()

    def said(x: float, _pos: int | None = None) -> str:
        with i18n.language(lang):
            return i18n.month(mdates.num2date(x).date())

    return FuncFormatter(said)


def _month_key(key: str) -> str:
    """A month key (2026-03) as a month in the language of the moment."""
    try:
        return i18n.month(dt.date.fromisoformat(f"{key}-01"))
    except ValueError:
        return key


def _png(fig: Any) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def cost_by_product(rows: list[dict[str, Any]], currency: str,
                    names: dict[str, str] | None = None) -> bytes:
    """Cost per effect per product: the 90% interval as a bar, the figure as a dot, log
    scale, cheapest on top."""
    rows = [r for r in rows if r["cost_per_effect"] is not None]
    if not rows:
        return _empty()
    names = names or {}
    rows.sort(key=lambda r: r["cost_per_effect"], reverse=True)
    fig, ax = plt.subplots(figsize=(8, max(2.5, 0.28 * len(rows) + 1)))
    y = np.arange(len(rows))
    point = np.array([r["cost_per_effect"] for r in rows])
    low = np.array([r["cost_per_effect_low"] for r in rows])
    high = np.array([r["cost_per_effect_high"] for r in rows])
    ax.barh(y, high - low, left=low, height=0.6, color=palette.INTERVAL,
            label=_("%(level)s%% interval", level=90))
    ax.scatter(point, y, color=palette.POINT, edgecolor="white", s=22, zorder=3,
               label=_("cost per effect"))
    ax.set_yticks(y, [f"{names[r['product_id']]} ({r['product_id']})"
                      if r["product_id"] in names else r["product_id"] for r in rows],
                  fontsize=8)
    ax.set_xscale("log")
    ax.set_xlabel(_("cost per confirmed effect (%(currency)s, log scale)", currency=currency))
    ax.set_ylabel(_("product"))
    ax.grid(axis="x", alpha=0.3)
    ax.legend(fontsize=7, loc="lower right")
    return _png(fig)


def monthly_trend(rows: list[dict[str, Any]], products: list[str], currency: str) -> bytes:
    """Cost per effect by month, one small chart per product (a pooled line would move
    with the product mix), each with its 90% band."""
    fig = monthly_trend_figure(rows, products, currency)
    return _empty() if fig is None else _png(fig)


def monthly_trend_figure(rows: list[dict[str, Any]], products: list[str],
                         currency: str) -> Figure | None:
    """``monthly_trend``'s figure, before it is drawn (None: nothing to show)."""
    series = []
    for pid in products:
        pts = sorted((r for r in rows if r["product_id"] == pid
                      and r["cost_per_effect"] is not None), key=lambda r: r["month"])
        if pts:
            series.append((pid, pts))
    if not series:
        return None
    cols = min(3, len(series))
    nrows = -(-len(series) // cols)
    fig, axes = plt.subplots(nrows, cols, figsize=(3.2 * cols, 2.6 * nrows), squeeze=False)
    for ax in axes.flat[len(series):]:
        ax.axis("off")
    for ax, (pid, pts) in zip(axes.flat, series, strict=False):
        x = [dt.date.fromisoformat(r["month"] + "-01") for r in pts]
        ax.fill_between(x, [r["cost_per_effect_low"] for r in pts],
                        [r["cost_per_effect_high"] for r in pts], color=palette.INTERVAL,
                        label=_("%(level)s%% interval", level=90), lw=0)
        ax.plot(x, [r["cost_per_effect"] for r in pts], color=palette.POINT, marker="o", ms=2.5,
                lw=1.2, label=_("cost per effect"))
        ax.set_title(pid, fontsize=9)
        ax.set_ylim(bottom=0)
        ax.set_xlabel(_("month"), fontsize=7)
        ax.set_ylabel(_("cost per effect (%(currency)s)", currency=currency), fontsize=7)
        ax.xaxis.set_major_formatter(_month_ticks())
        ax.tick_params(axis="x", rotation=45, labelsize=6)
        ax.tick_params(axis="y", labelsize=6)
        ax.grid(alpha=0.3)
    axes.flat[0].legend(fontsize=6)
    fig.tight_layout()
    return fig


def outcomes(rows: list[dict[str, Any]]) -> bytes:
    """Share of each outcome per product, stacked to 100%."""
    if not rows:
        return _empty()
    fig, ax = plt.subplots(figsize=(8, max(2.5, 0.28 * len(rows) + 1)))
    y = np.arange(len(rows))
    left = np.zeros(len(rows))
    total = np.array([max(1, r["uses"]) for r in rows], dtype=float)
    for key, colour in OUTCOME_COLOURS.items():
        share = np.array([r[key] for r in rows]) / total
        ax.barh(y, share, left=left, color=colour, edgecolor="white", linewidth=0.5,
                label=say(key.removeprefix("n_")))
        left += share
    ax.set_yticks(y, [r["product_id"] for r in rows], fontsize=8)
    ax.set_xlim(0, 1)
    ax.set_xlabel(_("share of uses"))
    ax.set_ylabel(_("product"))
    ax.legend(fontsize=7, ncol=4, loc="lower center", bbox_to_anchor=(0.5, 1.0))
    return _png(fig)


def duane(growth: dict[str, Any]) -> bytes:
    """Duane-style plot, log-log: cumulative uses per failure against cumulative uses.

    Points are each version's end; the line is the fitted power law's cumulative figure
    N / (lam N**beta) and the dashed line its instantaneous one 1 / (lam beta N**(beta-1)).
    """
    vs = [v for v in growth["versions"] if v["cumulative_uses"] > 0]
    if not vs:
        return _empty(title=_("Reliability growth, %(product)s", product=growth["product_id"]))
    fig, ax = plt.subplots(figsize=(6.5, 4))
    cum_fail = np.cumsum([v["failures"] for v in vs])
    x = np.array([v["cumulative_uses"] for v in vs], dtype=float)
    ok = cum_fail > 0
    ax.scatter(x[ok], x[ok] / cum_fail[ok], color=palette.POINT, zorder=3, label=_("versions"))
    for xi, yi, v in zip(x[ok], x[ok] / cum_fail[ok], [v for v, k in zip(vs, ok, strict=True) if k],
                         strict=True):
        ax.annotate(v["version"], (xi, yi), textcoords="offset points", xytext=(4, 4),
                    fontsize=8)
    fit = growth.get("fit")
    if fit:
        n = np.array([c["uses"] for c in fit["curve"]], dtype=float)
        lam, beta = fit["lam"], fit["beta"]
        ax.plot(n, n / (lam * n**beta), color=palette.SERIES[0], label=_("fitted, cumulative"))
        ax.plot(n, 1 / (lam * beta * n ** (beta - 1)), color=palette.SERIES[1], ls="--",
                label=_("fitted, current design"))
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(_("cumulative uses"))
    ax.set_ylabel(_("uses per failure"))
    ax.set_title(_("Reliability growth, %(product)s", product=growth["product_id"]))
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    return _png(fig)


def pareto(rows: list[dict[str, Any]], title: str) -> bytes:
    """Bars of failures per mode (falling) with the cumulative share as a line."""
    rows = rows[:12]
    if not rows:
        return _empty(_("No failures recorded."), title)
    fig, ax = plt.subplots(figsize=(7, 3.6))
    x = np.arange(len(rows))
    ax.bar(x, [r["failures"] for r in rows], color=palette.OUTCOMES["failure"],
           label=_("failures"))
    ax.set_xticks(x, [say(r["failure_mode"]) for r in rows], rotation=30, ha="right",
                  fontsize=8)
    ax.set_xlabel(_("failure mode"))
    ax.set_ylabel(_("failures"))
    ax2 = ax.twinx()
    ax2.plot(x, [100 * r["cumulative_share"] for r in rows], color=palette.SERIES[0], marker="o",
             lw=1, label=_("cumulative share"))
    ax2.set_ylim(0, 105)
    ax2.set_ylabel(_("cumulative share, %"))
    ax.set_title(title)
    handles = ax.get_legend_handles_labels()[0] + ax2.get_legend_handles_labels()[0]
    ax.legend(handles, [str(h.get_label()) for h in handles], fontsize=7, loc="center right")
    return _png(fig)


def fan(products: list[dict[str, Any]], title: str) -> bytes:
    """Per product, the P10-P90 band of monthly output, the median, and demand (dashed)."""
    if not products:
        return _empty(_("No products to simulate."), title)
    return _png(fan_figure(products, title))


def fan_figure(products: list[dict[str, Any]], title: str) -> Figure:
    """``fan``'s figure, before it is drawn (``products`` not empty)."""
    fig, axes = plt.subplots(1, len(products), figsize=(3.2 * len(products), 3), squeeze=False)
    for ax, p in zip(axes[0], products, strict=True):
        months = [m["month"] for m in p["by_month"]]
        x = np.arange(len(months))
        ax.fill_between(x, [m["p10"] for m in p["by_month"]], [m["p90"] for m in p["by_month"]],
                        color=palette.INTERVAL, lw=0,
                        label=_("%(low)s%% to %(high)s%% of runs", low=10, high=90))
        ax.plot(x, [m["p50"] for m in p["by_month"]], color=palette.POINT, label=_("median"))
        if p["monthly_demand"] is not None:
            ax.axhline(p["monthly_demand"], color=palette.DEMAND, ls="--", lw=1, label=_("demand"))
        ax.set_title(p["product_id"], fontsize=9)
        ax.set_xticks(x[::3], [_month_key(m) for m in months[::3]], fontsize=7, rotation=30)
        ax.tick_params(axis="y", labelsize=7)
        ax.set_ylim(bottom=0)
        ax.set_xlabel(_("month"), fontsize=7)
        ax.set_ylabel(_("units a month"), fontsize=7)
    axes[0][0].legend(fontsize=7)
    fig.suptitle(title, fontsize=10, y=1.04)
    return fig
