"""What an offer's units are worth: joint draws of every product and producer's effects per
unit from the uses, the way cost per effect models them.

The rates are drawn together from the partially pooled posterior
(``analytics.partial_pooling``): producers of a product share its mean rate and an
uncertain spread between them, and each product's counts are scaled by its dispersion of
effects per use (``group_dispersion``). Drawn one offer at a time, a plan split over
producers whose rates the data cannot tell apart would be given a fraction of its real
variance, and ``--risk q10`` would buy diversification between producers that share one
rate (CHANGELOG).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from kuznia.analytics.cost_per_effect import group_dispersion
from kuznia.analytics.partial_pooling import pooled_rate_draws

PLAN_DRAWS = 1000


def rate_draws(effects: ArrayLike, effects_sq: ArrayLike, uses: ArrayLike, units: ArrayLike,
               product: ArrayLike, draws: int = PLAN_DRAWS, seed: int = 0
               ) -> NDArray[np.float64]:
    """Draws x pairs of effects per unit, one column per product and producer pair from
    its sums over its uses (confirmed effects, their squares, uses and units used);
    ``product`` labels each pair's product. NaN columns: the product has no units used.

    >>> d = rate_draws([30, 30], [90, 90], [100, 100], [100, 100], ["A", "A"])
    >>> d.shape, bool(abs(d.mean() - 0.3) < 0.03)
    ((1000, 2), True)
    """
    phi = group_dispersion(effects, effects_sq, uses, product)
    return pooled_rate_draws(effects, units, product, phi, draws, seed).T
