"""A producer's scorecard: its shares and rates with intervals, each beside the median of
the other producers of the same products.

Pure functions over counts. A share (on-time lots, accepted units, failures per use) gets
a Jeffreys interval: the Beta(k + 1/2, n - k + 1/2) posterior's quantiles (Brown, Cai and
DasGupta 2001 recommend it, with Wilson's, for small n; it never leaves [0, 1]).

The comparison is a median only, and only over at least ``MIN_PEERS`` other producers
with a figure: the median of one producer is its figure, the median of two is their
average (with one known, the other follows). From three on, the median names no producer
and no single producer's figure can be worked back from it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike
from scipy import stats

MIN_PEERS = 3
LEVEL = 0.90


def jeffreys(successes: ArrayLike, trials: ArrayLike, level: float = LEVEL
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The share ``successes / trials`` and its Jeffreys interval (NaN where no trials).
    The interval's ends are 0 and 1 when no or every trial succeeded (the usual
    adjustment, so the interval holds the observed share).

    >>> p, lo, hi = jeffreys([5], [10])
    >>> float(p[0]), round(float(lo[0]), 3), round(float(hi[0]), 3)
    (0.5, 0.262, 0.738)
    """
    k = np.asarray(successes, dtype=float)
    n = np.asarray(trials, dtype=float)
    ok = n > 0
    safe = np.where(ok, n, 1.0)
    tail = (1 - level) / 2
    point = np.where(ok, k / safe, np.nan)
    low = np.where(k > 0, stats.beta.ppf(tail, k + 0.5, safe - k + 0.5), 0.0)
    high = np.where(k < safe, stats.beta.ppf(1 - tail, k + 0.5, safe - k + 0.5), 1.0)
    return point, np.where(ok, low, np.nan), np.where(ok, high, np.nan)


def peer_median(figures: Mapping[str, float | None], own: str,
                min_peers: int = MIN_PEERS) -> tuple[float | None, int]:
    """The median of the other producers' figures (``None`` and NaN left out), and how
    many there were; the median is ``None`` below ``min_peers``.

    >>> peer_median({"A": 1.0, "B": 2.0, "C": 4.0, "D": 9.0}, "A")
    (4.0, 3)
    >>> peer_median({"A": 1.0, "B": 2.0, "C": 4.0}, "A")
    (None, 2)
    """
    others = [float(v) for k, v in figures.items()
              if k != own and v is not None and np.isfinite(v)]
    if len(others) < max(1, min_peers):
        return None, len(others)
    return float(np.median(others)), len(others)


@dataclass(frozen=True)
class Line:
    """One line of a scorecard: the producer's figure (with its interval where it is a
    rate) and the median of its peers."""

    measure: str
    value: float | None
    low: float | None
    high: float | None
    successes: float
    trials: float
    peer_median: float | None
    peers: int

    def to_dict(self) -> dict[str, object]:
        return dict(self.__dict__)


def _f(x: float) -> float | None:
    return None if x is None or not np.isfinite(x) else float(x)


def share_line(measure: str, counts: Mapping[str, tuple[float, float]], own: str,
               scale: float = 1.0, level: float = LEVEL,
               min_peers: int = MIN_PEERS) -> Line:
    """A share (``scale`` 100 for "per 100") from each producer's (successes, trials):
    the producer's own with its interval, the others only as their median.

    >>> line = share_line("on_time", {"A": (9, 10), "B": (1, 2), "C": (3, 4), "D": (0, 5)},
    ...                   "A")
    >>> line.value, line.peer_median, line.peers
    (0.9, 0.5, 3)
    """
    k, n = counts.get(own, (0.0, 0.0))
    p, lo, hi = jeffreys([k], [n], level)
    figures = {q: (a / b if b else None) for q, (a, b) in counts.items()}
    median, peers = peer_median(figures, own, min_peers)
    return Line(measure, _f(p[0] * scale), _f(lo[0] * scale), _f(hi[0] * scale), float(k),
                float(n), None if median is None else median * scale, peers)


def monthly_shares(months: Sequence[str], successes: ArrayLike, trials: ArrayLike,
                   scale: float = 1.0, level: float = LEVEL) -> list[dict[str, object]]:
    """A share per month, with its interval, in month order.

    >>> [r["value"] for r in monthly_shares(["2026-02", "2026-01"], [1, 3], [4, 4])]
    [0.75, 0.25]
    """
    p, lo, hi = jeffreys(successes, trials, level)
    n = np.asarray(trials, dtype=float)
    rows: list[dict[str, object]] = [
        {"month": m, "value": _f(p[i] * scale), "low": _f(lo[i] * scale),
         "high": _f(hi[i] * scale), "trials": float(n[i])} for i, m in enumerate(months)]
    return sorted(rows, key=lambda r: str(r["month"]))
