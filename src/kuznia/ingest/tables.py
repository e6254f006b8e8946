"""The import format, declared as data: one ``TableSpec`` per importable table.

This is the user-facing contract documented in docs/import-format.md (a test checks the two
agree). Cross-column rules and references live in ``rules.py``; this module says only
which columns exist, their kind, and whether they are required.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Kind = Literal["id", "text", "int", "number", "date", "choice", "currency"]

PRODUCER_KINDS = ("state", "private", "joint_venture", "trader")
OUTCOMES = ("effect", "no_effect", "failure", "aborted")
SITE_STATUSES = ("operating", "damaged", "closed")
LICENCE_KINDS = ("production", "repair", "maintenance", "technical_assistance")
LICENCE_STATUSES = ("requested", "in_review", "granted", "denied", "revoked")


@dataclass(frozen=True)
class Field:
    name: str
    kind: Kind
    required: bool = True
    choices: tuple[str, ...] = ()
    default: str | None = None
    minimum: float | None = None
    help: str = ""


@dataclass(frozen=True)
class TableSpec:
    name: str
    fields: tuple[Field, ...]
    key: tuple[str, ...]
    help: str = ""
    derived: tuple[str, ...] = field(default=())  # stored columns computed at import

    @property
    def columns(self) -> list[str]:
        return [f.name for f in self.fields]

    def field(self, name: str) -> Field:
        return next(f for f in self.fields if f.name == name)


def _id(name: str, required: bool = True, help: str = "") -> Field:
    return Field(name, "id", required, help=help)


SPECS: dict[str, TableSpec] = {
    s.name: s
    for s in [
        TableSpec(
            "producers",
            (
                _id("producer_id"),
                Field("name", "text"),
                Field("kind", "choice", choices=PRODUCER_KINDS),
                Field("region", "text"),
            ),
            key=("producer_id",),
            help="Firms and plants that make products.",
        ),
        TableSpec(
            "products",
            (_id("product_id"), Field("name", "text"), Field("category", "text")),
            key=("product_id",),
            help="Fielded product types, with their capability category.",
        ),
        TableSpec(
            "versions",
            (_id("product_id"), _id("version"), Field("introduced_on", "date")),
            key=("product_id", "version"),
            help="Design revisions of a product.",
        ),
        TableSpec(
            "rates",
            (Field("currency", "currency"), Field("rate", "number", minimum=0.0)),
            key=("currency",),
            help="Exchange rates: one unit of `currency` is worth `rate` workspace currency.",
        ),
        TableSpec(
            "contracts",
            (
                _id("contract_id"),
                _id("producer_id"),
                _id("product_id"),
                Field("signed_on", "date"),
                Field("quantity", "int", minimum=1),
                Field("unit_price", "number", minimum=0.0),
                Field("currency", "currency"),
                Field("due_on", "date", required=False),
            ),
            key=("contract_id",),
            derived=("unit_price_ws",),
            help="Purchases: who makes what, how many, at what unit price.",
        ),
        TableSpec(
            "deliveries",
            (
                _id("delivery_id"),
                _id("contract_id"),
                Field("delivered_on", "date"),
                Field("quantity", "int", minimum=0),
                Field("accepted_quantity", "int", minimum=0),
                _id("lot", required=False),
            ),
            key=("delivery_id",),
            help="Lots delivered against a contract.",
        ),
        TableSpec(
            "uses",
            (
                _id("use_id"),
                Field("used_on", "date"),
                _id("operator", required=False),
                _id("product_id"),
                _id("version", required=False),
                _id("producer_id", required=False),
                _id("lot", required=False),
                Field("units_used", "int", required=False, default="1", minimum=1),
                Field("effects", "int", minimum=0),
                Field("outcome", "choice", choices=OUTCOMES),
                Field("failure_mode", "text", required=False),
                Field("conditions", "text", required=False),
                Field("notes", "text", required=False),
            ),
            key=("use_id",),
            help="Recorded uses in the field and how each went.",
        ),
        TableSpec(
            "failure_modes",
            (
                _id("product_id"),
                Field("failure_mode", "text"),
                Field("description", "text"),
                Field("severity", "int", minimum=1,
                      help="1 minor, 2 moderate, 3 serious, 4 critical"),
            ),
            key=("product_id", "failure_mode"),
            help="What can fail in a product, and how bad it is.",
        ),
        TableSpec(
            "corrective_actions",
            (
                _id("action_id"),
                _id("product_id"),
                Field("failure_mode", "text"),
                _id("fixed_in_version"),
                Field("opened_on", "date"),
                Field("description", "text", required=False),
                _id("producer_id", required=False),
            ),
            key=("action_id",),
            help="A design change that claims to fix a failure mode from a version on.",
        ),
        TableSpec(
            "regions",
            (
                Field("region", "text"),
                Field("monthly_strike_probability", "number"),
                Field("site_hit_probability", "number", required=False, default="1"),
                Field("damage_fraction", "number", required=False, default="1"),
                Field("repair_months", "int", required=False, default="1", minimum=1),
                Field("neighbours", "text", required=False,
                      help="regions a strike may spill into, split by ;"),
            ),
            key=("region",),
            help="How often missiles reach a region, and what a strike does to its sites.",
        ),
        TableSpec(
            "sites",
            (
                _id("site_id"),
                _id("producer_id"),
                _id("product_id"),
                Field("region", "text"),
                Field("monthly_capacity", "number"),
                Field("status", "choice", required=False, default="operating",
                      choices=SITE_STATUSES),
                Field("repair_until", "date", required=False),
            ),
            key=("site_id",),
            help="Production lines: where, what, how many a month.",
        ),
        TableSpec(
            "demand",
            (
                _id("product_id"),
                Field("monthly_demand", "number"),
                Field("stock", "number", required=False, default="0"),
            ),
            key=("product_id",),
            help="What the front needs of a product each month, and what is in stock.",
        ),
        TableSpec(
            "strikes",
            (
                _id("site_id"),
                Field("struck_on", "date"),
                Field("damage_fraction", "number"),
                Field("repaired_on", "date", required=False),
            ),
            key=("site_id", "struck_on"),
            help="Strikes that hit sites, to estimate the regions' figures.",
        ),
        TableSpec(
            "offers",
            (
                _id("product_id"),
                _id("producer_id"),
                Field("unit_price", "number", minimum=0.0),
                Field("capacity", "int", minimum=0),
                Field("min_order", "int", required=False, default="0", minimum=0),
                Field("lot_size", "int", required=False, default="1", minimum=1),
                Field("effects_per_unit", "number", required=False),
                _id("licence_id", required=False,
                    help="the licence the offer needs: left out of plans while not live"),
            ),
            key=("product_id", "producer_id"),
            help="What producers offer for the next period, for the allocation planner.",
        ),
        TableSpec(
            "partners",
            (_id("partner_id"), Field("name", "text"), Field("country", "text")),
            key=("partner_id",),
            help="Foreign partners whose licences the ministry asks for.",
        ),
        TableSpec(
            "licences",
            (
                _id("licence_id"),
                _id("partner_id"),
                Field("kind", "choice", choices=LICENCE_KINDS),
                _id("product_id"),
                Field("producers", "text",
                      help="the producer ids the licence names, split by ;"),
                Field("requested_on", "date"),
                Field("granted_on", "date", required=False),
                Field("expires_on", "date", required=False),
                Field("max_units", "int", required=False, minimum=1),
                Field("status", "choice", choices=LICENCE_STATUSES,
                      help="expired is not a status: it follows from expires_on"),
            ),
            key=("licence_id",),
            help="Licences asked of partners: what they let which producers do.",
        ),
        TableSpec(
            "licence_stages",
            (
                _id("licence_id"),
                Field("stage", "text"),
                Field("authority", "text"),
                Field("entered_on", "date"),
                Field("left_on", "date", required=False),
                Field("outcome", "text", required=False),
            ),
            key=("licence_id", "stage", "entered_on"),
            help="Where a licence request waits, with whom, and for how long.",
        ),
    ]
}

# The order in which a workspace is filled: each table references only earlier ones.
IMPORT_ORDER = ("rates", "producers", "products", "partners", "licences", "licence_stages",
                "versions", "contracts", "deliveries", "uses", "offers", "failure_modes",
                "corrective_actions", "regions", "sites", "demand", "strikes")


def table_name(name: str) -> str:
    """Accept ``failure-modes`` for ``failure_modes``: the CLI speaks with hyphens."""
    return name.replace("-", "_")


# Files a plan reads and checks like an import, but does not store.
INPUT_SPECS: dict[str, TableSpec] = {
    s.name: s
    for s in [
        TableSpec(
            "candidates",
            (
                _id("candidate_id"),
                _id("product_id"),
                _id("producer_id"),
                Field("region", "text"),
                Field("monthly_capacity", "number"),
                Field("cost", "number"),
            ),
            key=("candidate_id",),
            help="Duplicate lines one could build, for `kuznia resilience duplicate`.",
        ),
        TableSpec(
            "backlog",
            (
                _id("item_id"),
                _id("product_id"),
                Field("region", "text"),
                Field("damaged_on", "date"),
            ),
            key=("item_id",),
            help="Damaged items waiting for repair, for `kuznia repairs plan`.",
        ),
        TableSpec(
            "repair_points",
            (
                _id("point_id"),
                Field("region", "text"),
                _id("product_id"),
                Field("monthly_capacity", "number"),
                Field("repair_days", "number"),
                Field("from_region", "text"),
                Field("transit_days", "number"),
                _id("licence_id", required=False,
                    help="the licence the point needs: left out of plans while not live"),
            ),
            key=("point_id", "product_id", "from_region"),
            help="Where items can be repaired and how long they travel there.",
        ),
    ]
}
