"""Words for the codes people would otherwise read: outcomes, statuses, kinds, categories,
audit events and table names. Codes stay in data and the API; every page and the report
say them through ``say`` (the templates' ``say`` filter), so one table holds every word.

>>> say("awaiting_data"), say("no_effect"), say("fpv_drone"), say("ID-03")
('waiting for data', 'no effect', 'FPV drone', 'ID-03')
"""

from __future__ import annotations

import datetime as dt
from typing import Any

LABELS: dict[str, str] = {
    # outcomes of a use
    "effect": "effect",
    "no_effect": "no effect",
    "failure": "failure",
    "aborted": "aborted",
    # a fix's status from the data
    "open": "no use of the fixed version yet",
    "awaiting_data": "waiting for data",
    "verified": "verified",
    "not_effective": "not effective",
    # the board's blocks
    "corrective_action": "fix not yet verified",
    "failure_mode": "failure mode",  # a block kind, and a column
    "late_delivery": "late or short delivery",
    "rejected_lot": "rejected lot",
    # capability categories of the demo (a workspace's own categories read as written)
    "fpv_drone": "FPV drone",
    "one_way_drone": "one-way attack drone",
    "guided_munition": "guided munition",
    "artillery_round": "artillery round",
    "recon_uav": "reconnaissance UAV",
    "interceptor_drone": "interceptor drone",
    "ground_robot": "ground robot",
    # producers and sites
    "joint_venture": "joint venture",
    "state": "state-owned",
    "private": "private",
    "trader": "trader",
    "operating": "operating",
    "damaged": "damaged",
    "closed": "closed",
    # failure modes of the demo
    "link_loss": "link loss",
    "dud": "dud",
    # how a use's units were priced
    "producer_average": "producer's average price",
    "product_average": "product's average price",
    "withheld": "withheld",
    "unknown": "no known price",
    # audit events
    "init": "workspace created",
    "import": "file imported",
    "migrate": "schema upgraded",
    "setting": "setting changed",
    "save_plan": "plan saved",
    "user_added": "account added",
    "user_disabled": "account disabled",
    "token_issued": "API token issued",
    "tokens_revoked": "API tokens revoked",
    "lock_lifted": "login lock lifted",
    "block_answer": "producer's answer on a board block",
    "block_reply": "ministry's reply on a board block",
    "block_messages": "answers on board blocks",
    "vault_add": "document stored in the vault",
    "vault_copy": "vault copy issued",
    "vault_refused": "vault copy refused",
    "vault_unreadable": "vault document unreadable (key destroyed)",
    "vault_shred": "partner's vault key destroyed",
    # the vault's log
    "copy": "copy issued",
    "refused": "refused",
    "unreadable": "unreadable",
    "shredded": "key destroyed",
    "vault": "vault",
    # tables
    "rates": "exchange rates",
    "producers": "producers",
    "products": "products",
    "versions": "versions",
    "contracts": "contracts",
    "deliveries": "deliveries",
    "uses": "uses",
    "offers": "offers",
    "failure_modes": "failure modes",
    "corrective_actions": "corrective actions",
    "regions": "regions",
    "sites": "sites",
    "demand": "demand",
    "strikes": "strikes",
    "plans": "plans",
    "users": "accounts",
    "partners": "partners",
    "licences": "licences",
    "licence_stages": "licence stages",
    # licences: what they are for, and their states
    "technical_assistance": "technical assistance",
    "in_review": "in review",
    "requested": "requested",
    "granted": "granted",
    "denied": "denied",
    "revoked": "revoked",
    "expired": "expired",
    # import jobs
    "queued": "waiting to start",
    "running": "running",
    "done": "done",
    "failed": "failed",
}

# the codes a person must never read as they are (the pages' test looks for them)
CODES = frozenset(k for k in LABELS if "_" in k)


def say(code: Any) -> str:
    """The words for a code; an unknown code with underscores reads with spaces, anything
    else (an id, a name) as it is; nothing for None."""
    if code is None:
        return ""
    text = str(code)
    return LABELS.get(text, text.replace("_", " ") if text.islower() else text)


def day(d: dt.date) -> str:
    """A date as a person reads it, on one line.

    >>> day(dt.date(2025, 8, 16))
    '16\xa0Aug\xa02025'
    """
    return f"{d.day}\u00a0{d:%b}\u00a0{d.year}"
