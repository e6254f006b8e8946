"""Plain words for a plan: which limits bind, and why an infeasible input is infeasible."""

from __future__ import annotations

import numpy as np

from kuznia.planning.allocation import Limits, Offers

MAX_LINES = 12


def _money(x: float) -> str:
    for unit, div in (("M", 1e6), ("k", 1e3)):
        if abs(x) >= div:
            return f"{x / div:,.1f}{unit}"
    return f"{x:,.0f}"


def _cheapest_fill(offers: Offers, members: np.ndarray, units: int) -> tuple[float, int]:
    """Lowest cost of ``units`` units from ``members`` (cheapest first, by lot), and the
    most units they can make at all."""
    order = members[np.argsort(offers.unit_price[members], kind="stable")]
    need, cost = units, 0.0
    for i in order:
        if need <= 0:
            break
        lots = min(int(offers.max_lots[i]), -(-need // int(offers.lot_size[i])))
        take = max(lots * int(offers.lot_size[i]), int(offers.min_order[i]) if lots else 0)
        cost += take * offers.unit_price[i]
        need -= take
    return cost, int(offers.capacity[members].sum())


def infeasible_reasons(offers: Offers, limits: Limits) -> list[str]:
    """The conflicts that can be named; when none is found, a general sentence."""
    reasons: list[str] = []
    required_cost = 0.0
    for pid, units in limits.require.items():
        members = np.flatnonzero(offers.product_id == pid)
        if not members.size:
            reasons.append(f"{units:,} {pid} are required, but no offer is for {pid}")
            continue
        cost, most = _cheapest_fill(offers, members, units)
        if most < units:
            reasons.append(f"{units:,} {pid} are required, but the offers can make only "
                           f"{most:,}")
        elif cost > limits.budget:
            reasons.append(f"the required {units:,} {pid} cost {_money(cost)}, "
                           f"the budget is {_money(limits.budget)}")
        required_cost += cost
        share = limits.max_producer_share
        if share is not None and share < 1:
            producers = np.unique(offers.producer_id[members])
            if len(producers) * share < 1:
                reasons.append(f"{pid} has offers from {len(producers)} producer(s), so a "
                               f"{share:.0%} cap per producer lets no unit of it be bought")
    if len(limits.require) > 1 and required_cost > limits.budget:
        reasons.append(f"together the requirements cost at least {_money(required_cost)}, "
                       f"the budget is {_money(limits.budget)}")
    total_share = sum(limits.min_category_share.values())
    if total_share > 1:
        reasons.append(f"the category minimums add up to {total_share:.0%} of the budget")
    for cat, share in limits.min_category_share.items():
        members = np.flatnonzero(offers.category == cat)
        absorbed = float((offers.capacity[members] * offers.unit_price[members]).sum())
        if absorbed < share * limits.budget:
            reasons.append(f"at least {share:.0%} of the budget ({_money(share * limits.budget)})"
                           f" must go to {cat}, but its offers can absorb only {_money(absorbed)}")
    if limits.max_region_share is not None:
        regions = np.unique(offers.region)
        if len(regions) * limits.max_region_share < 1 and (limits.require
                                                           or limits.min_category_share):
            reasons.append(f"offers come from {len(regions)} region(s); a "
                           f"{limits.max_region_share:.0%} cap per region limits spending to "
                           f"{len(regions) * limits.max_region_share:.0%} of it")
    if not reasons:
        reasons.append("no plan meets every limit at once; relax the requirements, the "
                       "minimum category shares or the caps one at a time to find the conflict")
    return reasons


def binding(offers: Offers, limits: Limits, quantity: np.ndarray) -> list[str]:
    """Which limits stop the plan from buying more of what it buys: in words, largest first."""
    lines: list[tuple[float, str]] = []
    x = quantity.astype(float)
    L = offers.lot_size.astype(float)
    value = x * offers.effects_per_unit
    at_cap = (x > 0) & (offers.capacity - x < L)
    for i in np.flatnonzero(at_cap):
        lines.append((value[i], f"{offers.producer_id[i]} is at capacity for "
                                f"{offers.product_id[i]} ({int(x[i]):,} units)"))
    spend = x * offers.unit_price
    if limits.max_producer_share is not None:
        for pid in np.unique(offers.product_id[x > 0]):
            members = np.flatnonzero(offers.product_id == pid)
            total = x[members].sum()
            near = members[(x[members] > 0) & (x[members] + L[members]
                                               > limits.max_producer_share * total)]
            near = near[~at_cap[near]]
            if near.size:
                lines.append((value[members].sum(),
                              f"the {limits.max_producer_share:.0%} producer cap binds on "
                              f"{pid} ({', '.join(offers.producer_id[near][:3])})"))
    if limits.max_region_share is not None and spend.sum() > 0:
        for region in np.unique(offers.region):
            members = offers.region == region
            room = limits.max_region_share * spend.sum() - spend[members].sum()
            lot_cost = (offers.unit_price[members] * L[members]).min()
            if spend[members].sum() > 0 and room < lot_cost:
                lines.append((value[members].sum(), f"the {limits.max_region_share:.0%} "
                                                    f"region cap binds on {region}"))
    for cat, share in limits.min_category_share.items():
        members = offers.category == cat
        floor = share * limits.budget
        lot_cost = (offers.unit_price[members] * L[members]).max() if members.any() else 0
        if members.any() and spend[members].sum() < floor + lot_cost:
            lines.append((value[members].sum(), f"the {share:.0%} minimum for {cat} binds: "
                                                f"{_money(spend[members].sum())} goes there"))
    for pid, units in limits.require.items():
        members = offers.product_id == pid
        if x[members].sum() < units + L[members].max(initial=1):
            lines.append((value[members].sum(), f"the requirement of {units:,} {pid} binds"))
    left = limits.budget - spend.sum()
    room = (x + L <= offers.capacity) & (offers.effects_per_unit > 0)
    cheapest = (offers.unit_price * L)[room].min(initial=np.inf)
    if not room.any():  # nothing more to buy at any price: capacity binds, not money
        lines.append((np.inf, f"every offer that adds effects is at capacity: "
                              f"{_money(left)} of the budget is left unspent"))
    elif left < cheapest:
        lines.append((np.inf, f"the budget binds: {_money(left)} is left, less than any "
                              "further lot that adds effects"))
    lines.sort(key=lambda t: -t[0])
    out = [text for _, text in lines[:MAX_LINES]]
    if len(lines) > MAX_LINES:
        out.append(f"... and {len(lines) - MAX_LINES} more limits at their bound")
    return out


def violations(offers: Offers, limits: Limits, quantity: np.ndarray,
               tol: float = 1e-6) -> list[str]:
    """Every limit a plan breaks, in words (empty for a valid plan)."""
    out: list[str] = []
    x = quantity.astype(float)
    spend = x * offers.unit_price
    if spend.sum() > limits.budget * (1 + tol) + tol:
        out.append(f"spends {_money(spend.sum())}, over the budget of {_money(limits.budget)}")
    bad = (x < 0) | (x > offers.capacity) | (quantity % offers.lot_size != 0) \
        | ((x > 0) & (x < offers.min_order))
    for i in np.flatnonzero(bad):
        out.append(f"{int(x[i]):,} units of {offers.product_id[i]} from "
                   f"{offers.producer_id[i]}: not 0 or a whole number of lots between the "
                   "minimum order and capacity")
    if limits.max_producer_share is not None:
        for pid in np.unique(offers.product_id):
            members = np.flatnonzero(offers.product_id == pid)
            total = x[members].sum()
            over = members[x[members] > limits.max_producer_share * total * (1 + tol) + tol]
            for i in over:
                out.append(f"{offers.producer_id[i]} has {x[i] / total:.0%} of {pid}, over "
                           f"the {limits.max_producer_share:.0%} producer cap")
    if limits.max_region_share is not None:
        for region in np.unique(offers.region):
            part = spend[offers.region == region].sum()
            if part > limits.max_region_share * spend.sum() * (1 + tol) + tol:
                out.append(f"{region} takes {part / spend.sum():.0%} of the spend, over the "
                           f"{limits.max_region_share:.0%} region cap")
    for cat, share in limits.min_category_share.items():
        part = spend[offers.category == cat].sum()
        if part < share * limits.budget * (1 - tol) - tol:
            out.append(f"{cat} gets {_money(part)}, under the {share:.0%} minimum")
    for pid, units in limits.require.items():
        got = x[offers.product_id == pid].sum()
        if got < units:
            out.append(f"{got:,.0f} {pid}, under the {units:,} required")
    return out


def why_nothing(offers: Offers, limits: Limits) -> str:
    """Why the best plan buys nothing, in words: said instead of an empty plan."""
    adds = offers.effects_per_unit > 0
    if not adds.any():
        return "no offer adds expected effects (every rate is 0)"
    smallest = np.maximum(offers.min_order, offers.lot_size) * offers.unit_price
    fits = adds & (smallest <= limits.budget) & (offers.capacity >= offers.lot_size)
    if not fits.any():
        cheapest = int(np.argmin(np.where(adds, smallest, np.inf)))
        return (f"every offer's smallest order costs more than the budget of "
                f"{_money(limits.budget)} (the cheapest that adds effects: "
                f"{offers.product_id[cheapest]} from {offers.producer_id[cheapest]}, "
                f"{_money(smallest[cheapest])})")
    share = limits.max_producer_share
    if share is not None and share < 1:
        alone = [pid for pid in np.unique(offers.product_id[fits])
                 if len(np.unique(offers.producer_id[offers.product_id == pid])) * share < 1]
        if len(alone) == len(np.unique(offers.product_id[fits])):
            return (f"the {share:.0%} producer cap lets no unit be bought: every product "
                    f"within the budget has offers from too few producers "
                    f"({', '.join(alone[:3])}{', ...' if len(alone) > 3 else ''})")
    return ("no offer adds expected effects within the budget and every limit at once; "
            "relax the caps or the minimum shares one at a time to see which one stops it")
