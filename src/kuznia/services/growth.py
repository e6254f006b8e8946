"""Is a product getting more reliable? Reliability by version and the fitted growth curve.

Reliability is the share of uses that did not fail (outcome ``failure``), per version with a
Jeffreys interval. The growth curve is the discrete power-law model of
``kuznia.analytics.reliability.discrete_growth``, fitted with each version as one interval of
uses, in the order versions came (``introduced_on``); it gives the reliability of the
current design (after all uses so far) with an interval, and how many more uses of the
evolving design it would take, at the fitted rate of growth, to reach a target.
Sums come from ``use_cube``; uses without a version are counted and left out of the fit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sqlalchemy import func, select

from kuznia.analytics.failures import binomial_interval
from kuznia.analytics.reliability import discrete_growth, grouped_chi_square
from kuznia.errors import NotFoundError, UsageError
from kuznia.i18n import N_
from kuznia.services.failures import LEVEL, version_order
from kuznia.services.store import Store
from kuznia.store.schema import products, use_cube
from kuznia.store.tuples import tuples


@dataclass
class Growth:
    product_id: str
    target: float
    versions: list[dict[str, Any]] = field(default_factory=list)
    fit: dict[str, Any] | None = None
    unfitted_reason: str = ""
    uses_without_version: int = 0
    level: float = LEVEL

    def to_dict(self) -> dict[str, Any]:
        return {"product_id": self.product_id, "target": self.target, "level": self.level,
                "versions": self.versions, "fit": self.fit,
                "unfitted_reason": self.unfitted_reason,
                "uses_without_version": self.uses_without_version}


def growth(store: Store, product: str, target: float = 0.95) -> Growth:
    """Reliability by version, the growth fit and a projection to ``target``."""
    if not 0 < target < 1:
        raise UsageError(N_("{target} is a reliability between 0 and 1, e.g. 0.95"),
                         params=("target",))
    with store.read() as conn:
        if conn.execute(select(products.c.product_id)
                        .where(products.c.product_id == product)).first() is None:
            raise NotFoundError(N_("no product %(product)s"), product=repr(product))
        order = version_order(conn, product)
        sums = {v: (int(n), int(f)) for v, n, f in tuples(conn.execute(
            select(use_cube.c.version, func.sum(use_cube.c.uses), func.sum(use_cube.c.n_failure))
            .where(use_cube.c.product_id == product).group_by(use_cube.c.version)))}
    out = Growth(product, target, uses_without_version=sums.pop("", (0, 0))[0])
    cumulative = 0
    stages_uses: list[int] = []
    stages_fail: list[int] = []
    for _p, version, introduced, _rank in order.iter_rows():
        n, f = sums.get(version, (0, 0))
        if n == 0:
            continue
        cumulative += n
        low, high = binomial_interval([n - f], [n], LEVEL)
        out.versions.append({
            "version": version, "introduced_on": introduced.isoformat(), "uses": n,
            "failures": f, "reliability": round(1 - f / n, 6),
            "reliability_low": round(float(low[0]), 6),
            "reliability_high": round(float(high[0]), 6),
            "cumulative_uses": cumulative,
        })
        stages_uses.append(n)
        stages_fail.append(f)
    if len(stages_uses) < 2:
        out.unfitted_reason = "needs uses of at least two versions"
        return out
    try:
        g = discrete_growth(stages_uses, stages_fail)
    except ValueError as exc:
        out.unfitted_reason = str(exc)
        return out
    try:
        with np.errstate(all="ignore"):
            lo, hi = g.reliability_interval(LEVEL)
            reach = g.uses_to_reach(target)
        if not all(np.isfinite([lo, hi, g.reliability()])):
            raise OverflowError
    except (OverflowError, ZeroDivisionError):
        out.unfitted_reason = (f"the fit is degenerate (beta {g.fit.beta:.3g}): too few "
                               "failures spread over the versions")
        return out
    gof = _goodness_of_fit(g, np.cumsum(stages_uses), np.array(stages_fail, dtype=float))
    latest = out.versions[-1]
    withheld = gof["fits"] is False
    note = ("the power law does not fit the versions (chi-square p = "
            f"{gof['p_value']:.3g}): reliability changes by version in steps the curve does "
            f"not follow, so nothing is projected from it; the latest version "
            f"{latest['version']} has its own figure" if withheld else
            "two versions: the power law passes through both, so its fit cannot be tested; "
            "the projection is the curve's, read it with the latest version's own figure"
            if gof["fits"] is None else
            f"the power law fits the versions (chi-square p = {gof['p_value']:.3g})")
    if withheld:
        reach = None
    out.fit = {
        "model": "power law with uses as time (discrete Crow-AMSAA, grouped by version)",
        "termination": g.fit.termination, "assumes": ASSUMES,
        "goodness_of_fit": gof, "fit_note": note, "projected": not withheld,
        "latest_version": {k: latest[k] for k in ("version", "uses", "failures",
                                                  "reliability", "reliability_low",
                                                  "reliability_high")},
        "beta": g.fit.beta, "lam": g.fit.lam, "growth_rate": g.fit.growth_rate,
        "uses": int(g.uses), "reliability_now": g.reliability(),
        "reliability_now_low": lo, "reliability_now_high": hi,
        "target_reached_at_uses": None if reach is None else round(reach),
        "more_uses_to_target": None if reach is None else max(0, round(reach - g.uses)),
        "curve": [{"uses": int(n), "reliability": g.reliability(n),
                   "cumulative_failures": g.fit.lam * n ** g.fit.beta}
                  for n in _curve_points(stages_uses[0], g.uses)],
    }
    return out


# what the figures assume, said wherever they are shown (CLI, JSON, page, report)
ASSUMES = ("time-terminated: failures counted per version over all uses recorded so far, "
           "not stopped at a failure; uses independent given the design (no lot effect), "
           "the failure chance a power law of cumulative uses; Fisher-matrix 90% interval")

FIT_P = 0.10  # below this p-value the power law is taken not to fit


def _goodness_of_fit(g: Any, ends: np.ndarray, failures: np.ndarray) -> dict[str, Any]:
    """Pearson's chi-square of failures per version against the fitted power law
    (``analytics.reliability.grouped_chi_square``, two parameters fitted); ``fits`` None
    when no degree of freedom is left (two versions)."""
    c = grouped_chi_square(g.fit.lam, g.fit.beta, ends, failures)
    return {"test": "Pearson chi-square of failures per version", "chi_square": c.statistic,
            "df": c.df, "p_value": c.p_value,
            "fits": None if c.p_value is None else c.p_value >= FIT_P}


def _curve_points(start: float, end: float, k: int = 30) -> list[float]:
    return sorted({float(round(x)) for x in np.geomspace(max(1.0, start / 2), end, k)})
