"""What a red flag measured, in a sentence a person reads, and the numbers behind it
under words (for the flag's page: the sentence first, the figures behind a "details"
toggle). The flag's own ``text`` says what is wrong; this says what was measured and from
where a flag is raised, without statistic names (no "z", "p bar" or "log median")."""

from __future__ import annotations

import re
from typing import Any

from kuznia import i18n
from kuznia.i18n import N_, _
from kuznia.sentences import say_chain_reason, say_sentence, say_value
from kuznia.server.web.base import _day, _fig, _pct, _when, env
from kuznia.words import say

# a reference figure's name in words (anything else: the label table's words for it)
NUMBERS = {
    "peers": N_("Contracts it was compared with"),
    "median": N_("Their median"),
    "low": N_("Lowest of them"),
    "high": N_("Highest of them"),
    "q1": N_("A quarter of them are below"),
    "q3": N_("A quarter of them are above"),
    "window_days": N_("Signed within (days)"),
    "log_median": N_("Their typical level (a median that lets one very dear contract weigh "
                     "no more than a cheap one)"),
    "noise": N_("How much prices usually vary around their peers"),
    "z": N_("How far this one is from them, in those usual variations"),
    "t": N_("How clear the rise is against the usual variation of prices"),
    "df": N_("How many independent comparisons that rests on"),
    "p": N_("Chance of seeing this by luck alone"),
    "p_bar": N_("Chance below which a flag is raised (strict, because so much was looked at)"),
    "tested": N_("How many were looked at"),
    "line": N_("Unit price from which this contract is flagged"),
    "makers": N_("Makers' contracts compared with"),
    "contracts": N_("Contracts"),
    "first": N_("First"),
    "last": N_("Last"),
    "producers": N_("Producers"),
    "top_share": N_("Largest producer's share"),
    "units": N_("Units contracted"),
    "due_on": N_("Due"),
    "signed_on": N_("Signed"),
    "delivered_on": N_("Delivered"),
    "days_past_due": N_("Days past due"),
    "delivered": N_("Units delivered"),
    "accepted": N_("Units accepted"),
    "late": N_("Contracts late"),
    "others_share": N_("Share late among the other producers"),
    "uses": N_("Uses"),
    "effects": N_("Confirmed effects"),
    "others_per_use": N_("Other operators' effects per use"),
    "dispersion": N_("How much effects cluster beyond chance"),
    "operators_cv": N_("How much the other operators differ among themselves"),
    "month": N_("Month"),
    "before_per_use": N_("Effects per use before"),
    "hhi": N_("Concentration index from which a flag is raised"),
    "days_late": N_("Days late"),
    "lead_days": N_("Days from signing to the due date"),
    "late_share_of_lead": N_("Days late as a share of that lead time"),
    "quantity": N_("Units ordered"),
    "first_month": N_("First month"),
    # the vault's flags: the account, its window of time, the copies it took
    "account": N_("Account"),
    "from": N_("From"),
    "to": N_("To"),
    "copies": N_("Copies taken"),
}
# flags whose threshold is the chance below which they are raised
CHANCE_BARS = {"price_outlier", "effect_claims", "effect_burst", "late_share"}
SHARES = {"top_share", "others_share", "noise", "operators_cv"}
DATES = {"due_on", "signed_on", "delivered_on"}
MOMENTS = {"from", "to"}


def _ref(flag: dict[str, Any], key: str) -> Any:
    return (flag.get("reference") or {}).get(key)


def _share(x: Any) -> str:
    return _pct(x, 0) if isinstance(x, int | float) else "–"


def sentence(flag: dict[str, Any]) -> str:
    """What was measured and from where a flag is raised, in words: one whole message per
    flag, its figures as named placeholders, in the language of the moment."""
    code, v, bar = flag["code"], flag.get("value"), flag.get("threshold")
    r = flag.get("reference") or {}
    n = _fig
    if code == "price_outlier":
        line = r.get("line")
        values = {"price": n(v), "peers": n(r.get("peers")), "days": n(r.get("window_days")),
                  "median": n(r.get("median")), "line": n(line)}
        if line:
            return _("Its unit price, %(price)s, was compared with %(peers)s contracts for the "
                     "same product signed within %(days)s days (median %(median)s). Prices "
                     "vary, so a price is flagged only where chance no longer explains it: "
                     "for this contract, from %(line)s.", **values)
        return _("Its unit price, %(price)s, was compared with %(peers)s contracts for the "
                 "same product signed within %(days)s days (median %(median)s). Prices vary, "
                 "so a price is flagged only where chance no longer explains it.", **values)
    if code == "resale_markup":
        return _("The trader's unit price is %(times)s times the median of %(makers)s makers' "
                 "contracts (%(median)s); a flag is raised from %(bar)s times.",
                 times=n(v), makers=n(r.get("makers")), median=n(r.get("median")), bar=n(bar))
    if code == "price_rise":
        return _("Over %(contracts)s contracts the price went from %(first)s to %(last)s, "
                 "about %(rise)s a year; a flag is raised from %(bar)s a year, when the rise "
                 "is clearer than the usual ups and downs of prices.",
                 contracts=n(r.get("contracts")), first=n(r.get("first")),
                 last=n(r.get("last")), rise=_share(v), bar=_share(bar))
    if code == "concentration":
        top = bar.get("top_share") if isinstance(bar, dict) else None
        return _("One producer holds %(share)s of the %(units)s units contracted, among "
                 "%(producers)s producers; a flag is raised when one holds %(bar)s or more, "
                 "or when a few hold nearly all.", share=_share(r.get("top_share")),
                 units=n(r.get("units")), producers=n(r.get("producers")), bar=_share(top))
    if code == "past_due_short":
        return _("%(share)s of the units ordered had not arrived %(days)s days after the due "
                 "date; a flag is raised from %(bar)s short.", share=_share(v),
                 days=n(r.get("days_past_due")), bar=_share(bar))
    if code == "rejected_share":
        return _("%(share)s of the %(delivered)s units delivered were rejected; a flag is "
                 "raised from %(bar)s.", share=_share(v), delivered=n(r.get("delivered")),
                 bar=_share(bar))
    if code == "late_delivery":
        return _("Delivered %(days)s days after the due date; a flag is raised from %(bar)s "
                 "days.", days=n(v), bar=n(bar))
    if code == "late_share":
        return _("Late on %(late)s of %(contracts)s contracts (%(share)s), against "
                 "%(others)s for the other producers: more than chance explains.",
                 late=n(r.get("late")), contracts=n(r.get("contracts")), share=_share(v),
                 others=_share(r.get("others_share")))
    if code == "amendment_raised":
        return _("After the update the contract is worth %(times)s times what it was "
                 "before; any update that raises its value or quantity is flagged.",
                 times=n(v))
    if code == "amendment_repeated":
        return _("Updated %(times)s times after it was first imported; a flag is raised from "
                 "%(bar)s updates.", times=n(v), bar=n(bar))
    if code == "over_delivered":
        return _("%(delivered)s units delivered against %(ordered)s ordered.",
                 delivered=n(v), ordered=n(bar))
    if code == "use_before_delivery":
        return _("%(uses)s uses are dated before the lot was delivered.", uses=n(v))
    if code == "lot_overused":
        return _("%(used)s units were used from a lot of which %(accepted)s were accepted.",
                 used=n(v), accepted=n(bar))
    if code == "use_in_future":
        return _("%(uses)s uses are dated after today.", uses=n(v))
    if code == "effect_claims":
        return _("The operator reports %(per_use)s confirmed effects per use over %(uses)s "
                 "uses, the other operators %(others)s: more than chance and the usual "
                 "differences between operators explain.", per_use=n(v),
                 uses=n(r.get("uses")), others=n(r.get("others_per_use")))
    if code == "effect_burst":
        return _("Confirmed effects per use jumped to %(per_use)s in %(month)s from "
                 "%(before)s before, beyond the other operators' change that month.",
                 per_use=n(v), month=r.get("month"), before=n(r.get("before_per_use")))
    return _("Measured %(value)s; a flag is raised from %(bar)s.", value=n(v), bar=n(bar))


def numbers(flag: dict[str, Any]) -> list[tuple[str, str]]:
    """The figures behind the sentence, each named in words."""
    out = [(_("The figure measured"), _fig(flag.get("value")))]
    bar = flag.get("threshold")
    if isinstance(bar, dict):
        out += [(_(NUMBERS[k]) if k in NUMBERS else say(k), _share(x) if k in SHARES else _fig(x))
                for k, x in bar.items()]
    elif flag["code"] in CHANCE_BARS:  # the bar is a chance, not the figure's own line
        if "p_bar" not in (flag.get("reference") or {}):
            out.append((_(NUMBERS["p_bar"]), _fig(bar)))
    else:
        out.append((_("The line it was measured against"), _fig(bar)))
    for k, x in (flag.get("reference") or {}).items():
        if k == "updates" or x is None:
            continue
        shown = (_share(x) if k in SHARES else _day(x) if k in DATES else _when(x)
                 if k in MOMENTS else ", ".join(map(str, x)) if isinstance(x, list) else _fig(x))
        out.append((_(NUMBERS[k]) if k in NUMBERS else say(k).replace("_", " "), shown))
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


def number_name(key: str) -> str:
    """A reference figure's name in words."""
    return _(NUMBERS[key]) if key in NUMBERS else say(key)


def plain_said(text: str) -> str:
    """``plain`` in the page's language."""
    return say_sentence(plain(text))


def statistics_said(text: str) -> list[str]:
    """``statistics`` in the page's language."""
    return [say_sentence(s) for s in statistics(text)]


def flag_text(text: str) -> str:
    """A flag's whole text, its statistics in parentheses, in the page's language."""
    if i18n.current() == i18n.DEFAULT:
        return text
    return plain_said(text) + "".join(f" ({s})" for s in statistics_said(text))


env.filters.update(plain_flag=plain_said, flag_statistics=statistics_said,
                   number_name=number_name, flag_text=flag_text, sentence=say_sentence,
                   problem_value=say_value, chain_reason=say_chain_reason)
