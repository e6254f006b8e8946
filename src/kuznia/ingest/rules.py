"""Rules across columns and tables: references must exist, outcomes must add up.

Each rule takes a typed batch and the workspace's known keys and returns problems; some
also fill derived columns (a contract's price in the workspace currency, a use's producer
taken from its lot).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import polars as pl

from kuznia.ingest.readers import LINE
from kuznia.ingest.validate import no_problems, problems_where


@dataclass
class References:
    """Keys already in the workspace that a batch may refer to."""

    currency: str
    rates: dict[str, float]
    producers: pl.Series
    products: pl.Series
    versions: pl.Series  # "product_id\x1fversion"
    contracts: pl.Series
    lots: pl.DataFrame  # lot, delivery_id, lot_producer_id, lot_product_id
    sites: pl.Series = field(default_factory=lambda: pl.Series([], dtype=pl.String))
    partners: pl.Series = field(default_factory=lambda: pl.Series([], dtype=pl.String))
    licences: pl.Series = field(default_factory=lambda: pl.Series([], dtype=pl.String))


SEP = "\x1f"


def _missing(frame: pl.DataFrame, column: str, known: pl.Series, what: str,
             hint: str) -> pl.DataFrame:
    c = pl.col(column)
    return problems_where(frame, c.is_not_null() & ~c.is_in(known.implode()), column,
                          f"no {what} with this id; {hint}")


def _versions(frame: pl.DataFrame, refs: References) -> tuple[pl.DataFrame, pl.DataFrame]:
    return frame, _missing(frame, "product_id", refs.products, "product",
                           "import products first")


def _rates(frame: pl.DataFrame, refs: References) -> tuple[pl.DataFrame, pl.DataFrame]:
    own = (pl.col("currency") == refs.currency) & (pl.col("rate") != 1.0)
    return frame, problems_where(frame, own, "rate",
                                 f"the workspace currency {refs.currency} has rate 1")


def _contracts(frame: pl.DataFrame, refs: References) -> tuple[pl.DataFrame, pl.DataFrame]:
    known = {**refs.rates, refs.currency: 1.0}
    frame = frame.with_columns(
        (pl.col("unit_price") * pl.col("currency").replace_strict(
            known, default=None, return_dtype=pl.Float64)).alias("unit_price_ws")
    )
    problems = [
        _missing(frame, "producer_id", refs.producers, "producer", "import producers first"),
        _missing(frame, "product_id", refs.products, "product", "import products first"),
        problems_where(
            frame, pl.col("currency").is_not_null() & ~pl.col("currency").is_in(list(known)),
            "currency",
            f"no rate to {refs.currency} for this currency; add it with 'kuznia import rates'"),
        problems_where(frame, pl.col("due_on") < pl.col("signed_on"), "due_on",
                       "is before signed_on"),
    ]
    return frame, pl.concat(problems)


def _deliveries(frame: pl.DataFrame, refs: References) -> tuple[pl.DataFrame, pl.DataFrame]:
    joined = frame.join(refs.lots.select("lot", pl.col("delivery_id").alias("__lot_owner")),
                        on="lot", how="left")
    problems = [
        _missing(frame, "contract_id", refs.contracts, "contract", "import contracts first"),
        problems_where(frame, pl.col("accepted_quantity") > pl.col("quantity"),
                       "accepted_quantity", "is more than the quantity delivered"),
        problems_where(joined, pl.col("__lot_owner").is_not_null()
                       & (pl.col("__lot_owner") != pl.col("delivery_id")), "lot",
                       "already belongs to another delivery",
                       pl.col("lot") + pl.lit(" (delivery ") + pl.col("__lot_owner") + pl.lit(")")),
        problems_where(frame, pl.col("lot").is_not_null()
                       & (pl.col(LINE) != pl.col(LINE).min().over("lot")), "lot",
                       "is already the lot of an earlier delivery in this file",
                       pl.col("lot") + pl.lit(" (line ") + pl.col(LINE).min().over("lot")
                       .cast(pl.String) + pl.lit(")")),
    ]
    return frame, pl.concat(problems)


def _uses(frame: pl.DataFrame, refs: References) -> tuple[pl.DataFrame, pl.DataFrame]:
    frame = frame.join(refs.lots.select("lot", "lot_producer_id", "lot_product_id"),
                       on="lot", how="left")
    version_key = pl.concat_str([pl.col("product_id"), pl.col("version")], separator=SEP)
    outcome, effects = pl.col("outcome"), pl.col("effects")
    problems = [
        _missing(frame, "product_id", refs.products, "product", "import products first"),
        _missing(frame, "producer_id", refs.producers, "producer", "import producers first"),
        problems_where(frame, pl.col("version").is_not_null() & pl.col("product_id").is_not_null()
                       & ~version_key.is_in(refs.versions.implode()), "version",
                       "is not a known version of this product; import versions first"),
        problems_where(frame, pl.col("lot").is_not_null() & pl.col("lot_product_id").is_null(),
                       "lot", "no delivery with this lot; import deliveries first"),
        problems_where(frame, pl.col("lot_product_id").is_not_null()
                       & (pl.col("lot_product_id") != pl.col("product_id")), "lot",
                       "was delivered for another product",
                       pl.col("lot") + pl.lit(" is ") + pl.col("lot_product_id")),
        problems_where(frame, pl.col("lot_producer_id").is_not_null()
                       & pl.col("producer_id").is_not_null()
                       & (pl.col("lot_producer_id") != pl.col("producer_id")), "producer_id",
                       "differs from the producer of the lot",
                       pl.col("producer_id") + pl.lit(" vs lot's ") + pl.col("lot_producer_id")),
        problems_where(frame, (outcome != "effect") & (effects > 0), "effects",
                       "must be 0 unless the outcome is effect"),
        problems_where(frame, (outcome == "effect") & (effects == 0), "effects",
                       "must be at least 1 when the outcome is effect"),
        problems_where(frame, (outcome == "failure") & pl.col("failure_mode").is_null(),
                       "failure_mode", "is required when the outcome is failure", outcome),
    ]
    frame = frame.with_columns(
        pl.coalesce(pl.col("producer_id"), pl.col("lot_producer_id")).alias("producer_id")
    ).drop("lot_producer_id", "lot_product_id")
    return frame, pl.concat(problems)


def _offers(frame: pl.DataFrame, refs: References) -> tuple[pl.DataFrame, pl.DataFrame]:
    problems = [
        _missing(frame, "producer_id", refs.producers, "producer", "import producers first"),
        _missing(frame, "product_id", refs.products, "product", "import products first"),
        problems_where(frame, pl.col("min_order") > pl.col("capacity"), "min_order",
                       "is more than the capacity"),
        problems_where(frame, pl.col("effects_per_unit") < 0, "effects_per_unit",
                       "must not be negative"),
        _missing(frame, "licence_id", refs.licences, "licence", "import licences first"),
    ]
    return frame, pl.concat(problems)


def _failure_modes(frame: pl.DataFrame, refs: References) -> tuple[pl.DataFrame, pl.DataFrame]:
    problems = [
        _missing(frame, "product_id", refs.products, "product", "import products first"),
        problems_where(frame, pl.col("severity") > 4, "severity",
                       "must be 1 (minor) to 4 (critical)"),
    ]
    return frame, pl.concat(problems)


def _corrective_actions(frame: pl.DataFrame, refs: References
                        ) -> tuple[pl.DataFrame, pl.DataFrame]:
    # fixed_in_version may name a version not yet in `versions`: the fix is then "open"
    problems = [
        _missing(frame, "product_id", refs.products, "product", "import products first"),
        _missing(frame, "producer_id", refs.producers, "producer", "import producers first"),
    ]
    return frame, pl.concat(problems)


def _share(frame: pl.DataFrame, column: str) -> pl.DataFrame:
    c = pl.col(column)
    return problems_where(frame, (c < 0) | (c > 1), column, "must be between 0 and 1")


def _not_negative(frame: pl.DataFrame, column: str) -> pl.DataFrame:
    return problems_where(frame, pl.col(column) < 0, column, "must not be negative")


def _regions(frame: pl.DataFrame, refs: References) -> tuple[pl.DataFrame, pl.DataFrame]:
    return frame, pl.concat([_share(frame, c) for c in (
        "monthly_strike_probability", "site_hit_probability", "damage_fraction")])


def _sites(frame: pl.DataFrame, refs: References) -> tuple[pl.DataFrame, pl.DataFrame]:
    problems = [
        _missing(frame, "producer_id", refs.producers, "producer", "import producers first"),
        _missing(frame, "product_id", refs.products, "product", "import products first"),
        _not_negative(frame, "monthly_capacity"),
        problems_where(frame, (pl.col("status") == "damaged") & pl.col("repair_until").is_null(),
                       "repair_until", "is required when the status is damaged"),
    ]
    return frame, pl.concat(problems)


def _demand(frame: pl.DataFrame, refs: References) -> tuple[pl.DataFrame, pl.DataFrame]:
    problems = [
        _missing(frame, "product_id", refs.products, "product", "import products first"),
        _not_negative(frame, "monthly_demand"),
        _not_negative(frame, "stock"),
    ]
    return frame, pl.concat(problems)


def _strikes(frame: pl.DataFrame, refs: References) -> tuple[pl.DataFrame, pl.DataFrame]:
    problems = [
        _missing(frame, "site_id", refs.sites, "site", "import sites first"),
        _share(frame, "damage_fraction"),
        problems_where(frame, pl.col("repaired_on") < pl.col("struck_on"), "repaired_on",
                       "is before struck_on"),
    ]
    return frame, pl.concat(problems)


def _candidates(frame: pl.DataFrame, refs: References) -> tuple[pl.DataFrame, pl.DataFrame]:
    problems = [
        _missing(frame, "product_id", refs.products, "product", "import products first"),
        _missing(frame, "producer_id", refs.producers, "producer", "import producers first"),
        _not_negative(frame, "monthly_capacity"),
        _not_negative(frame, "cost"),
    ]
    return frame, pl.concat(problems)


def _backlog(frame: pl.DataFrame, refs: References) -> tuple[pl.DataFrame, pl.DataFrame]:
    return frame, _missing(frame, "product_id", refs.products, "product", "import products first")


def _repair_points(frame: pl.DataFrame, refs: References) -> tuple[pl.DataFrame, pl.DataFrame]:
    problems = [
        _missing(frame, "product_id", refs.products, "product", "import products first"),
        _not_negative(frame, "monthly_capacity"),
        # repairs are started whole: a point starts 0, 1, 2 ... a month (the plan's LP gives
        # whole items only for whole capacities; 0.5 placed nothing, 1.5 started 2)
        problems_where(frame, pl.col("monthly_capacity").is_finite()
                       & (pl.col("monthly_capacity") % 1 != 0), "monthly_capacity",
                       "is repairs started a month: a whole number (0, 1, 2, ...)"),
        _not_negative(frame, "repair_days"),
        _not_negative(frame, "transit_days"),
        problems_where(frame, pl.col("monthly_capacity").n_unique()
                       .over("point_id", "product_id") > 1, "monthly_capacity",
                       "differs between rows of the same repair point and product"),
        _missing(frame, "licence_id", refs.licences, "licence", "import licences first"),
        problems_where(frame, pl.col("licence_id").n_unique()
                       .over("point_id", "product_id") > 1, "licence_id",
                       "differs between rows of the same repair point and product"),
    ]
    return frame, pl.concat(problems)


def producer_list(column: str = "producers") -> pl.Expr:
    """A ``;``-separated list of producer ids as stored: trimmed, each once, sorted."""
    return (pl.col(column).str.split(";")
            .list.eval(pl.element().str.strip_chars().filter(pl.element() != ""))
            .list.unique().list.sort().list.join(";"))


def _licences(frame: pl.DataFrame, refs: References) -> tuple[pl.DataFrame, pl.DataFrame]:
    frame = frame.with_columns(producer_list().alias("producers"))
    named = frame.select(LINE, pl.col("producers").str.split(";")).explode("producers")
    unknown = (named.filter(pl.col("producers").is_not_null() & (pl.col("producers") != "")
                            & ~pl.col("producers").is_in(refs.producers.implode()))
               .group_by(LINE).agg(pl.col("producers").str.join(", ").alias("__unknown")))
    joined = frame.join(unknown, on=LINE, how="left")
    granted, status = pl.col("granted_on"), pl.col("status")
    problems = [
        _missing(frame, "partner_id", refs.partners, "partner", "import partners first"),
        _missing(frame, "product_id", refs.products, "product", "import products first"),
        problems_where(joined, pl.col("__unknown").is_not_null(), "producers",
                       "names producers that are not known; import producers first",
                       pl.col("__unknown")),
        problems_where(frame, pl.col("producers").is_not_null() & (pl.col("producers") == ""),
                       "producers", "names no producer"),
        problems_where(frame, granted < pl.col("requested_on"), "granted_on",
                       "is before requested_on"),
        problems_where(frame, pl.col("expires_on") < granted, "expires_on",
                       "is before granted_on"),
        problems_where(frame, pl.col("expires_on") < pl.col("requested_on"), "expires_on",
                       "is before requested_on"),
        problems_where(frame, status.is_in(["granted", "revoked"]) & granted.is_null(),
                       "granted_on", "is required when the status is granted or revoked",
                       status),
        problems_where(frame, status.is_in(["requested", "in_review", "denied"])
                       & granted.is_not_null(), "granted_on",
                       "must be empty unless the status is granted or revoked"),
    ]
    return frame, pl.concat(problems)


def _licence_stages(frame: pl.DataFrame, refs: References
                    ) -> tuple[pl.DataFrame, pl.DataFrame]:
    problems = [
        _missing(frame, "licence_id", refs.licences, "licence", "import licences first"),
        problems_where(frame, pl.col("left_on") < pl.col("entered_on"), "left_on",
                       "is before entered_on"),
    ]
    return frame, pl.concat(problems)


def _none(frame: pl.DataFrame, refs: References) -> tuple[pl.DataFrame, pl.DataFrame]:
    return frame, no_problems()


RULES: dict[str, Callable[[pl.DataFrame, References], tuple[pl.DataFrame, pl.DataFrame]]] = {
    "producers": _none,
    "products": _none,
    "partners": _none,
    "licences": _licences,
    "licence_stages": _licence_stages,
    "versions": _versions,
    "rates": _rates,
    "contracts": _contracts,
    "deliveries": _deliveries,
    "uses": _uses,
    "offers": _offers,
    "failure_modes": _failure_modes,
    "corrective_actions": _corrective_actions,
    "regions": _regions,
    "sites": _sites,
    "demand": _demand,
    "strikes": _strikes,
    "candidates": _candidates,
    "backlog": _backlog,
    "repair_points": _repair_points,
}
