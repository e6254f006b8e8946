"""What a red flag measured, in a sentence a person reads, and the numbers behind it
under words (for the flag's page: the sentence first, the figures behind a "details"
toggle). The flag's own ``text`` says what is wrong; this says what was measured and from
where a flag is raised, without statistic names (no "z", "p bar" or "log median")."""

from __future__ import annotations

import re
from typing import Any

from kuznia.server.web.base import _day, _fig, _pct, env
from kuznia.words import say

# a reference figure's name in words (anything else: the label table's words for it)
NUMBERS = {
    "peers": "Contracts it was compared with",
    "median": "Their median",
    "low": "Lowest of them",
    "high": "Highest of them",
    "q1": "A quarter of them are below",
    "q3": "A quarter of them are above",
    "window_days": "Signed within (days)",
    "log_median": "Their typical level (a median that lets one very dear contract weigh "
                  "no more than a cheap one)",
    "noise": "How much prices usually vary around their peers",
    "z": "How far this one is from them, in those usual variations",
    "t": "How clear the rise is against the usual variation of prices",
    "df": "How many independent comparisons that rests on",
    "p": "Chance of seeing this by luck alone",
    "p_bar": "Chance below which a flag is raised (strict, because so much was looked at)",
    "tested": "How many were looked at",
    "line": "Unit price from which this contract is flagged",
    "makers": "Makers' contracts compared with",
    "contracts": "Contracts",
    "first": "First",
    "last": "Last",
    "producers": "Producers",
    "top_share": "Largest producer's share",
    "units": "Units contracted",
    "due_on": "Due",
    "signed_on": "Signed",
    "delivered_on": "Delivered",
    "days_past_due": "Days past due",
    "delivered": "Units delivered",
    "accepted": "Units accepted",
    "late": "Contracts late",
    "others_share": "Share late among the other producers",
    "uses": "Uses",
    "effects": "Confirmed effects",
    "others_per_use": "Other operators' effects per use",
    "dispersion": "How much effects cluster beyond chance",
    "operators_cv": "How much the other operators differ among themselves",
    "month": "Month",
    "before_per_use": "Effects per use before",
    "hhi": "Concentration index from which a flag is raised",
}
# flags whose threshold is the chance below which they are raised
CHANCE_BARS = {"price_outlier", "effect_claims", "effect_burst", "late_share"}
SHARES = {"top_share", "others_share", "noise", "operators_cv"}
DATES = {"due_on", "signed_on", "delivered_on"}


def _ref(flag: dict[str, Any], key: str) -> Any:
    return (flag.get("reference") or {}).get(key)


def _share(x: Any) -> str:
    return _pct(x, 0) if isinstance(x, int | float) else "–"


def sentence(flag: dict[str, Any]) -> str:
    """What was measured and from where a flag is raised, in words."""
    code, v, bar = flag["code"], flag.get("value"), flag.get("threshold")
    r = flag.get("reference") or {}
    n = _fig
    if code == "price_outlier":
        line = r.get("line")
        return (f"Its unit price, {n(v)}, was compared with {n(r.get('peers'))} contracts for "
                f"the same product signed within {n(r.get('window_days'))} days (median "
                f"{n(r.get('median'))}). Prices vary, so a price is flagged only where chance "
                "no longer explains it" + (f": for this contract, from {n(line)}." if line
                                           else "."))
    if code == "resale_markup":
        return (f"The trader's unit price is {n(v)} times the median of "
                f"{n(r.get('makers'))} makers' contracts ({n(r.get('median'))}); a flag is "
                f"raised from {n(bar)} times.")
    if code == "price_rise":
        return (f"Over {n(r.get('contracts'))} contracts the price went from "
                f"{n(r.get('first'))} to {n(r.get('last'))}, about {_share(v)} a year; a "
                f"flag is raised from {_share(bar)} a year, when the rise is clearer than "
                "the usual ups and downs of prices.")
    if code == "concentration":
        top = bar.get("top_share") if isinstance(bar, dict) else None
        return (f"One producer holds {_share(r.get('top_share'))} of the "
                f"{n(r.get('units'))} units contracted, among {n(r.get('producers'))} "
                f"producers; a flag is raised when one holds {_share(top)} or more, or "
                "when a few hold nearly all.")
    if code == "past_due_short":
        return (f"{_share(v)} of the units ordered had not arrived "
                f"{n(r.get('days_past_due'))} days after the due date; a flag is raised "
                f"from {_share(bar)} short.")
    if code == "rejected_share":
        return (f"{_share(v)} of the {n(r.get('delivered'))} units delivered were "
                f"rejected; a flag is raised from {_share(bar)}.")
    if code == "late_delivery":
        return f"Delivered {n(v)} days after the due date; a flag is raised from {n(bar)} days."
    if code == "late_share":
        return (f"Late on {n(r.get('late'))} of {n(r.get('contracts'))} contracts "
                f"({_share(v)}), against {_share(r.get('others_share'))} for the other "
                "producers: more than chance explains.")
    if code == "amendment_raised":
        return (f"After the update the contract is worth {n(v)} times what it was before; "
                "any update that raises its value or quantity is flagged.")
    if code == "amendment_repeated":
        return (f"Updated {n(v)} times after it was first imported; a flag is raised from "
                f"{n(bar)} updates.")
    if code == "over_delivered":
        return f"{n(v)} units delivered against {n(bar)} ordered."
    if code == "use_before_delivery":
        return f"{n(v)} uses are dated before the lot was delivered."
    if code == "lot_overused":
        return f"{n(v)} units were used from a lot of which {n(bar)} were accepted."
    if code == "use_in_future":
        return f"{n(v)} uses are dated after today."
    if code == "effect_claims":
        return (f"The operator reports {n(v)} confirmed effects per use over "
                f"{n(r.get('uses'))} uses, the other operators "
                f"{n(r.get('others_per_use'))}: more than chance and the usual differences "
                "between operators explain.")
    if code == "effect_burst":
        return (f"Confirmed effects per use jumped to {n(v)} in {r.get('month')} from "
                f"{n(r.get('before_per_use'))} before, beyond the other operators' change "
                "that month.")
    return f"Measured {n(v)}; a flag is raised from {n(bar)}."


def numbers(flag: dict[str, Any]) -> list[tuple[str, str]]:
    """The figures behind the sentence, each named in words."""
    out = [("The figure measured", _fig(flag.get("value")))]
    bar = flag.get("threshold")
    if isinstance(bar, dict):
        out += [(NUMBERS.get(k, say(k)), _share(x) if k in SHARES else _fig(x))
                for k, x in bar.items()]
    elif flag["code"] in CHANCE_BARS:  # the bar is a chance, not the figure's own line
        if "p_bar" not in (flag.get("reference") or {}):
            out.append((NUMBERS["p_bar"], _fig(bar)))
    else:
        out.append(("The line it was measured against", _fig(bar)))
    for k, x in (flag.get("reference") or {}).items():
        if k == "updates" or x is None:
            continue
        shown = _share(x) if k in SHARES else _day(x) if k in DATES else _fig(x)
        out.append((NUMBERS.get(k, say(k).replace("_", " ")), shown))
    return out


_STATS = re.compile(r"\s*\(([^()]*\bp\s*[=<][^()]*)\)")


def plain(text: str) -> str:
    """A flag's text without its statistics (a parenthesis naming a p-value): what a
    person reads first.

    >>> plain("X pays 9 (median 3). So this is 7 times that (t on 36, p = 3.5e-09)")
    'X pays 9 (median 3). So this is 7 times that'
    """
    return _STATS.sub("", text)


def statistics(text: str) -> list[str]:
    """The statistics ``plain`` leaves out, for a details toggle."""
    return [m.group(1) for m in _STATS.finditer(text)]


env.filters.update(plain_flag=plain, flag_statistics=statistics)
