"""The board's arithmetic: how a block weighs, how it ages, and how blocks stack.

Each unresolved problem is a block with a base weight:

- a failure mode (with a corrective action not yet verified, or with none and a rate above
  the threshold): severity (1-4) x failures per 100 uses;
- a late or short contract: 10 x the share of the ordered quantity not yet accepted;
- a lot with rejected units, while its contract is short: 10 x the rejected share.

So a critical mode failing 2.5 times in 100 uses (4 x 2.5) weighs as much as a contract
with nothing accepted. Blocks age: the weight grows by the base for every ``AGING_DAYS``
the block stays open, ``weight = base x (1 + age_days / AGING_DAYS)``. Nothing earns credit:
no block has negative weight, and a block leaves only when the data clear it.

Blocks stack per producer and product; inside a stack the oldest is at the bottom, and the
stacks are ordered by their total weight, heaviest first.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

AGING_DAYS = 90.0
MONEY_WEIGHT = 10.0


def aged_weights(base: ArrayLike, age_days: ArrayLike, aging_days: float = AGING_DAYS
                 ) -> np.ndarray:
    """``base x (1 + age / aging_days)``, with negative bases and ages taken as 0.

    >>> aged_weights([2.0, 2.0], [0, 90]).tolist()
    [2.0, 4.0]
    """
    b = np.maximum(np.asarray(base, dtype=float), 0.0)
    a = np.maximum(np.asarray(age_days, dtype=float), 0.0)
    return np.asarray(b * (1.0 + a / aging_days))


def stacks(blocks: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Group blocks per (producer_id, product_id): heaviest stack first, each stack's blocks
    oldest first (the bottom of the stack)."""
    grouped: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for b in blocks:
        grouped.setdefault((b["producer_id"], b["product_id"]), []).append(b)
    out = []
    for (producer, product), items in grouped.items():
        items = sorted(items, key=lambda b: (b["opened_on"], -b["weight"], b["ref"]))
        out.append({"producer_id": producer, "product_id": product,
                    "weight": round(sum(b["weight"] for b in items), 4), "blocks": items})
    return sorted(out, key=lambda s: (-s["weight"], str(s["producer_id"]), s["product_id"]))
