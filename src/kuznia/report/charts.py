"""Charts as PNG bytes (matplotlib, Agg backend): pure functions of the figures they show."""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.dates as mdates  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

OUTCOME_COLOURS = {"n_effect": "#2e7d32", "n_no_effect": "#9e9e9e", "n_failure": "#c62828",
                   "n_aborted": "#f9a825"}


def _png(fig: Any) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def cost_by_product(rows: list[dict[str, Any]], currency: str) -> bytes:
    """Horizontal bars of cost per effect with 90% intervals, log scale, cheapest on top."""
    rows = [r for r in rows if r["cost_per_effect"] is not None]
    rows.sort(key=lambda r: r["cost_per_effect"], reverse=True)
    fig, ax = plt.subplots(figsize=(8, max(2.5, 0.28 * len(rows) + 1)))
    y = np.arange(len(rows))
    point = np.array([r["cost_per_effect"] for r in rows])
    low = np.array([r["cost_per_effect_low"] for r in rows])
    high = np.array([r["cost_per_effect_high"] for r in rows])
    ax.barh(y, point, color="#5c6bc0", alpha=0.8)
    ax.errorbar(point, y, xerr=[point - low, high - point], fmt="none", ecolor="black",
                capsize=2, lw=1)
    ax.set_yticks(y, [r["product_id"] for r in rows], fontsize=8)
    ax.set_xscale("log")
    ax.set_xlabel(f"cost per confirmed effect ({currency}), 90% interval")
    ax.grid(axis="x", alpha=0.3)
    return _png(fig)


def monthly_trend(rows: list[dict[str, Any]], products: list[str], currency: str) -> bytes:
    """Cost per effect by month for the given products, with interval bands."""
    fig, ax = plt.subplots(figsize=(8, 4))
    for pid in products:
        pts = sorted((r for r in rows if r["product_id"] == pid
                      and r["cost_per_effect"] is not None), key=lambda r: r["month"])
        if not pts:
            continue
        x = [dt.date.fromisoformat(r["month"] + "-01") for r in pts]
        line = ax.plot(x, [r["cost_per_effect"] for r in pts], marker="o", ms=3, label=pid)[0]
        ax.fill_between(x, [r["cost_per_effect_low"] for r in pts],
                        [r["cost_per_effect_high"] for r in pts], color=line.get_color(),
                        alpha=0.15)
    ax.set_yscale("log")
    ax.set_ylabel(f"cost per effect ({currency})")
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%Y-%m"))
    ax.tick_params(axis="x", rotation=60, labelsize=7)
    ax.legend(fontsize=7, ncol=2)
    ax.grid(alpha=0.3)
    return _png(fig)


def outcomes(rows: list[dict[str, Any]]) -> bytes:
    """Share of each outcome per product, stacked to 100%."""
    fig, ax = plt.subplots(figsize=(8, max(2.5, 0.28 * len(rows) + 1)))
    y = np.arange(len(rows))
    left = np.zeros(len(rows))
    total = np.array([max(1, r["uses"]) for r in rows], dtype=float)
    for key, colour in OUTCOME_COLOURS.items():
        share = np.array([r[key] for r in rows]) / total
        ax.barh(y, share, left=left, color=colour, label=key.removeprefix("n_"))
        left += share
    ax.set_yticks(y, [r["product_id"] for r in rows], fontsize=8)
    ax.set_xlim(0, 1)
    ax.set_xlabel("share of uses")
    ax.legend(fontsize=7, ncol=4, loc="lower center", bbox_to_anchor=(0.5, 1.0))
    return _png(fig)
