"""Who may do what: the access rules, declared as data, for every adapter.

The server checks every route against ``ACTIONS`` (a route with no action fails the access
test), and a producer's account reads through a ``Scope``: the services compute its
answers from its own records only, and the record lists filter by ``TABLE_SCOPES``.

Roles (the issue's words, with the choices it left open made here):

- ``admin``: accounts; reads everything.
- ``analyst``: reads everything; runs and saves plans and simulations; imports the
  resilience inputs (regions, sites, demand, strikes), which no other role owns.
- ``procurement``: imports producers, products, contracts, deliveries, offers, rates;
  reads everything; runs and saves allocation plans (buying is its work: the plans the
  seeds keep are procurement's).
- ``engineer``: imports versions, uses, failure modes, corrective actions; reads everything
  except prices and contracts (no contracts, offers, rates, cost per effect or plans; the
  uses it lists carry no price).
- ``producer`` (bound to one producer id): reads its own producer row, contracts,
  deliveries, offers and sites, the products it is bound to by them, their versions and
  failure modes, the uses of what it made (without the operator), its failure figures,
  fixes, board and cost per effect, each computed from its own uses only. Never another
  producer's records, never operators, never plans, regions or the audit trail.
- ``auditor``: reads everything, the audit trail included; writes nothing.
- ``partner`` (bound to one partner id: a foreign partner that grants licences): reads its
  own licences (and, with the vault, its documents' titles and who took them), nothing of
  other partners and nothing of the ministry's figures, records or plans.

Licences (``licences.read``) are read by every role, each through its own rule
(services/licences.py): the ministry's roles all of them, a partner those it granted or
was asked for, a producer those naming it. Procurement imports partners, licences and
their stages.

The vault (``vault.*``): a partner reads its own documents' titles and the full log of
accesses to them; a producer the titles a licence live that day gives it, and a copy
marked for its account; admins and auditors all titles and the whole log; no one else.
Shredding a partner's key is an admin's, on the command line.

Red flags (``oversight.read``) are for ``auditor``, ``analyst`` and ``admin``, and for a
``producer`` only the flags about itself (other producers' figures as aggregates only);
procurement and engineers do not get them (the issue's list; a buyer is among those the
flags watch). A flag's triage (status and comments) is read by auditors, analysts and
admins and written by auditors and analysts; producers never see it.

The producers' portal (``services/portal.py``): a producer answers the blocks of its own
board and sends its own offers (``portal.answer``, ``portal.offers``); analysts and admins
reply on a block's thread (``portal.reply``); every role reads the threads and their PDFs
(``portal.read``), a producer its own only. Procurement keeps importing offers; an offer
sent through the portal replaces the producer's earlier one for the same product.
"""

from __future__ import annotations

from dataclasses import dataclass

# the access errors live with the others (errors.py); callers may name them from here too
from kuznia.errors import ForbiddenError as ForbiddenError
from kuznia.errors import UnauthorizedError as UnauthorizedError
from kuznia.i18n import N_

ROLES = ("admin", "analyst", "procurement", "engineer", "producer", "auditor", "partner")
ALL_ROLES = frozenset(ROLES)
EVERYONE = ALL_ROLES - {"partner"}  # the ministry's roles and its producers
STAFF = EVERYONE - {"producer"}  # the ministry's roles
MINISTRY = STAFF
PRICED = EVERYONE - {"engineer"}  # who may see prices (producers: their own)


# action -> the roles that may do it
ACTIONS: dict[str, frozenset[str]] = {
    "public": frozenset(ROLES) | {"anonymous"},  # health, login page, the API's docs
    "whoami": ALL_ROLES,
    # licences: each role through its own rule (a partner its own, a producer those naming it)
    "licences.read": ALL_ROLES,
    "pages.licences": MINISTRY,  # the pipeline page
    "pages.partner": frozenset({"partner"}),  # a partner's own page
    # the vault: titles (a partner its own, a producer those a live licence gives it,
    # admins and auditors all); a copy only for a producer a live licence names (decided
    # per document by services/vault.py); the access log (a partner its own)
    "vault.documents": frozenset({"admin", "auditor", "producer", "partner"}),
    "vault.content": frozenset({"producer"}),
    "vault.log": frozenset({"admin", "auditor", "partner"}),
    "pages.vault": frozenset({"producer"}),
    "figures.read": EVERYONE,  # failures, fixes, board, the uses behind a figure
    "costs.read": PRICED,
    "growth.read": STAFF,
    "plans.read": PRICED - {"producer"},
    "plans.run": frozenset({"analyst", "procurement"}),
    "resilience.read": STAFF,
    "resilience.run": frozenset({"analyst"}),
    "audit.read": frozenset({"admin", "auditor", "analyst"}),
    # red flags: a producer gets only those about itself (services/oversight.py)
    "oversight.read": frozenset({"admin", "auditor", "analyst", "producer"}),
    "pages.oversight": frozenset({"admin", "auditor", "analyst"}),
    # a flag's case: its status and comments (never a producer's to see)
    "oversight.triage": frozenset({"admin", "auditor", "analyst"}),
    "oversight.triage.write": frozenset({"auditor", "analyst"}),
    "accounts.manage": frozenset({"admin"}),
    "jobs.read": EVERYONE - {"producer"},  # their own jobs; admin and auditor any
    # the pages that gather several figures (each figure keeps its own rule)
    "pages.overview": frozenset({"admin", "analyst", "auditor", "procurement"}),
    "pages.product": STAFF,
    "pages.imports": frozenset({"procurement", "engineer", "analyst"}),
    # the producers' portal (services/portal.py): a producer answers its own board's blocks
    # and sends its own offers; analysts and admins reply; threads are read by everyone
    # (a producer its own only), attachments too
    "portal.read": EVERYONE,
    "portal.answer": frozenset({"producer"}),
    "portal.reply": frozenset({"analyst", "admin"}),
    "portal.offers": frozenset({"producer"}),
}

WRITERS = {
    "procurement": ("producers", "products", "contracts", "deliveries", "offers", "rates",
                    "partners", "licences", "licence_stages"),
    "engineer": ("versions", "uses", "failure_modes", "corrective_actions"),
    "analyst": ("regions", "sites", "demand", "strikes"),
}
PRICE_TABLES = ("contracts", "offers", "rates")
CONTRACT_BLOCKS = ("late_delivery", "rejected_lot")
# a producer reads these tables, each through its own rule in services/records.py
TABLE_SCOPES = ("producers", "products", "versions", "contracts", "deliveries", "uses",
                "offers", "failure_modes", "corrective_actions", "sites")


def may(role: str, action: str) -> bool:
    return role in ACTIONS[action]


def allowed(role: str, action: str) -> bool:
    """Whether ``role`` may do ``action``: a name in ``ACTIONS``, or ``read:TABLE`` /
    ``write:TABLE`` for a table's records and imports."""
    if action.startswith("read:"):
        return may_read_table(role, action[5:])
    if action.startswith("write:"):
        return may_write_table(role, action[6:])
    return role in ACTIONS[action]


def may_read_table(role: str, table: str) -> bool:
    if role == "partner":  # its licences come through licences.read, scoped
        return False
    if role == "producer":
        return table in TABLE_SCOPES
    if role == "engineer":
        return table not in PRICE_TABLES
    return role in STAFF


def may_write_table(role: str, table: str) -> bool:
    return table in WRITERS.get(role, ())


def writable_tables(role: str) -> tuple[str, ...]:
    return WRITERS.get(role, ())


@dataclass(frozen=True)
class Scope:
    """What one account may see of the records: everything (``producer_id`` and
    ``partner_id`` None), one producer's own, or one partner's own; and whether prices and
    operators are shown."""

    producer_id: str | None = None
    prices: bool = True
    operators: bool = True
    contracts: bool = True  # contract ids and quantities (the board's delivery blocks)
    partner_id: str | None = None

    @property
    def everything(self) -> bool:
        return self.producer_id is None and self.partner_id is None

    @classmethod
    def of(cls, role: str, producer_id: str | None, partner_id: str | None = None) -> Scope:
        if role == "producer":
            if not producer_id:  # cannot happen through add_user; refuse rather than widen
                raise ForbiddenError(N_("this producer account is bound to no producer"))
            return cls(producer_id=producer_id, prices=True, operators=False)
        if role == "partner":
            if not partner_id:  # the same: never widen a partner's scope to everything
                raise ForbiddenError(N_("this partner account is bound to no partner"))
            return cls(partner_id=partner_id, prices=False, operators=False,
                       contracts=False)
        return cls(prices=role != "engineer", contracts=role != "engineer")

    def blocks(self, blocks: list[dict[str, object]]) -> list[dict[str, object]]:
        """The board's blocks this scope may see (an engineer: none about contracts)."""
        if self.contracts:
            return blocks
        return [b for b in blocks if b["kind"] not in CONTRACT_BLOCKS]


EVERYTHING = Scope()
