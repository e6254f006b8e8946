"""Words for the codes people would otherwise read: outcomes, statuses, kinds, categories,
audit events and table names. Codes stay in data and the API; every page and the report
say them through ``say`` (the templates' ``say`` filter), so one table holds every word,
in the language of the moment (``kuznia.i18n``).

>>> say("awaiting_data"), say("no_effect"), say("fpv_drone"), say("ID-03")
('waiting for data', 'no effect', 'FPV drone', 'ID-03')
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from kuznia import i18n
from kuznia.i18n import N_

LABELS: dict[str, str] = {
    # outcomes of a use
    "effect": N_("effect"),
    "no_effect": N_("no effect"),
    "failure": N_("failure"),
    "aborted": N_("aborted"),
    # a fix's status from the data
    "open": N_("no use of the fixed version yet"),
    "awaiting_data": N_("waiting for data"),
    "verified": N_("verified"),
    "not_effective": N_("not effective"),
    # the board's blocks
    "corrective_action": N_("fix not yet verified"),
    "failure_mode": N_("failure mode"),  # a block kind, and a column
    "late_delivery": N_("late or short delivery"),
    "rejected_lot": N_("rejected lot"),
    # capability categories of the demo (a workspace's own categories read as written)
    "fpv_drone": N_("FPV drone"),
    "one_way_drone": N_("one-way attack drone"),
    "guided_munition": N_("guided munition"),
    "artillery_round": N_("artillery round"),
    "recon_uav": N_("reconnaissance UAV"),
    "interceptor_drone": N_("interceptor drone"),
    "ground_robot": N_("ground robot"),
    # producers and sites
    "joint_venture": N_("joint venture"),
    "state": N_("state-owned"),
    "private": N_("private"),
    "trader": N_("trader"),
    "operating": N_("operating"),
    "damaged": N_("damaged"),
    "closed": N_("closed"),
    # failure modes of the demo
    "link_loss": N_("link loss"),
    "dud": N_("dud"),
    # how a use's units were priced
    "producer_average": N_("producer's average price"),
    "product_average": N_("product's average price"),
    "withheld": N_("withheld"),
    "unknown": N_("no known price"),
    # audit events
    "init": N_("workspace created"),
    "import": N_("file imported"),
    "migrate": N_("schema upgraded"),
    "setting": N_("setting changed"),
    "save_plan": N_("plan saved"),
    "user_added": N_("account added"),
    "user_disabled": N_("account disabled"),
    "token_issued": N_("API token issued"),
    "tokens_revoked": N_("API tokens revoked"),
    "lock_lifted": N_("login lock lifted"),
    "block_answer": N_("producer's answer on a board block"),
    "block_reply": N_("ministry's reply on a board block"),
    "block_messages": N_("answers on board blocks"),
    "vault_add": N_("document stored in the vault"),
    "vault_copy": N_("vault copy issued"),
    "vault_refused": N_("vault copy refused"),
    "vault_unreadable": N_("vault document unreadable (key destroyed)"),
    "vault_shred": N_("partner's vault key destroyed"),
    # the vault's log
    "copy": N_("copy issued"),
    "refused": N_("refused"),
    "unreadable": N_("unreadable"),
    "shredded": N_("key destroyed"),
    "vault": N_("vault"),
    # tables
    "rates": N_("exchange rates"),
    "producers": N_("producers"),
    "products": N_("products"),
    "versions": N_("versions"),
    "contracts": N_("contracts"),
    "deliveries": N_("deliveries"),
    "uses": N_("uses"),
    "offers": N_("offers"),
    "failure_modes": N_("failure modes"),
    "corrective_actions": N_("corrective actions"),
    "regions": N_("regions"),
    "sites": N_("sites"),
    "demand": N_("demand"),
    "strikes": N_("strikes"),
    "plans": N_("plans"),
    "users": N_("accounts"),
    "partners": N_("partners"),
    "licences": N_("licences"),
    "licence_stages": N_("licence stages"),
    # tables a deep audit check may name besides the imported ones
    "settings": N_("settings"),
    "attachments": N_("attachments"),
    "row_updates": N_("history of updated rows"),
    "licence_producers": N_("producers named by licences"),
    "vault_documents": N_("vault documents"),
    "vault_chunks": N_("sealed parts of vault documents"),
    "vault_keys": N_("vault keys"),
    "vault_access": N_("vault access log"),
    "use_cube": N_("kept totals of uses"),
    "failure_cube": N_("kept totals of failures"),
    "operator_cube": N_("kept totals by operator"),
    "lot_failure_cube": N_("kept totals of failures by lot"),
    # licences: what they are for, and their states
    "technical_assistance": N_("technical assistance"),
    "in_review": N_("in review"),
    "requested": N_("requested"),
    "granted": N_("granted"),
    "denied": N_("denied"),
    "revoked": N_("revoked"),
    "expired": N_("expired"),
    # red flags: their codes, severities and triage statuses
    "price_outlier": N_("price outlier"),
    "price_rise": N_("price rise"),
    "resale_markup": N_("resale markup"),
    "concentration": N_("concentration"),
    "past_due_short": N_("past due short"),
    "rejected_share": N_("rejected share"),
    "late_share": N_("late share"),
    "amendment_raised": N_("amendment raised"),
    "amendment_repeated": N_("amendment repeated"),
    "use_before_delivery": N_("use before delivery"),
    "lot_overused": N_("lot overused"),
    "over_delivered": N_("over delivered"),
    "use_in_future": N_("use in future"),
    "effect_claims": N_("effect claims"),
    "effect_burst": N_("effect burst"),
    "vault_burst": N_("vault burst"),
    "vault_after_hours": N_("vault after hours"),
    "vault_before_expiry": N_("vault before expiry"),
    "vault_refusals": N_("vault refusals"),
    "high": N_("high"),
    "medium": N_("medium"),
    "low": N_("low"),
    "new": N_("new"),
    "confirmed": N_("confirmed"),
    "false_alarm": N_("false alarm"),
    # roles
    "admin": N_("admin"),
    "analyst": N_("analyst"),
    "procurement": N_("procurement"),
    "engineer": N_("engineer"),
    "producer": N_("producer"),
    "auditor": N_("auditor"),
    "partner": N_("partner"),
    # regions' strike figures
    "region": N_("region"),
    "months_observed": N_("months observed"),
    "months_struck": N_("months struck"),
    "monthly_strike_probability": N_("monthly strike probability"),
    "monthly_strike_probability_low": N_("monthly strike probability low"),
    "monthly_strike_probability_high": N_("monthly strike probability high"),
    "site_hit_probability": N_("site hit probability"),
    "damage_fraction": N_("damage fraction"),
    "repair_months": N_("repair months"),
    "observed_from": N_("observed from"),
    "observed_to": N_("observed to"),
    "history_from": N_("history from"),
    "first record": N_("first record"),  # where a region's history starts
    "stated": N_("stated"),
    # licences: what for, and how a stage ended
    "production": N_("production"),
    "maintenance": N_("maintenance"),
    "repair": N_("repair"),
    "passed": N_("passed"),
    # how a solve ended (an allocation plan's outcome)
    "optimal": N_("optimal"),
    "feasible": N_("feasible, not proven best"),
    "infeasible": N_("infeasible"),
    "unbounded": N_("unbounded"),
    "no_solution": N_("no solution found"),
    # import jobs
    "queued": N_("waiting to start"),
    "running": N_("running"),
    "done": N_("done"),
    "failed": N_("failed"),
}

# the codes a person must never read as they are (the pages' test looks for them)
CODES = frozenset(k for k in LABELS if "_" in k)


def say(code: Any) -> str:
    """The words for a code; an unknown code with underscores reads with spaces, anything
    else (an id, a name) as it is; nothing for None."""
    if code is None:
        return ""
    text = str(code)
    if text in LABELS:
        return i18n.gettext(LABELS[text])
    return text.replace("_", " ") if text.islower() else text


def labels() -> dict[str, str]:
    """Every label in the language of the moment (for the pages' scripts)."""
    return {k: i18n.gettext(v) for k, v in LABELS.items()}


def day(d: dt.date) -> str:
    """A date as a person reads it, on one line.

    >>> day(dt.date(2025, 8, 16))
    '16\xa0Aug\xa02025'
    """
    return i18n.day(d)


def say_en(code: Any) -> str:
    """``say`` in English whatever the language of the moment: for text a service keeps
    or shares with the API (a page translates it where it shows it)."""
    with i18n.language("en"):
        return say(code)


def day_en(d: dt.date) -> str:
    """``day`` in English whatever the language of the moment (as ``say_en``)."""
    with i18n.language("en"):
        return day(d)
