"""A synthetic workspace of realistic shape, built through the real import path.

Everything here is invented: regions are numbered, producers and products have made-up
names, and no figure is a real technical parameter. What is realistic is the *shape*:
hundreds of producers in many regions, several versions per product whose failure modes
fall as fixes ship, a few late or short deliveries, prices in three currencies, and uses
that sometimes omit their lot or producer.

Four anomalies are planted for oversight to find (``anomalies=True``, the default; see
``Planted`` and the README): a trader's contract marked up far above the makers' prices,
a producer that delivers everything late, an operator whose confirmed effects per use of
one product jump half-way through, and a lot used before it was delivered. With
``anomalies=False`` the data are clean: what the red flags find there are false alarms.
"""

from __future__ import annotations

import datetime as dt
import shlex
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl
from sqlalchemy import select

from kuznia import words
from kuznia.errors import UsageError, WorkspaceError
from kuznia.i18n import N_, gettext, grouped, ngettext
from kuznia.ingest.tables import IMPORT_ORDER
from kuznia.outputs import check_output, protected_paths, replace_folder
from kuznia.services.store import Store
from kuznia.settings import database_url

START = dt.date(2025, 1, 1)
END = dt.date(2026, 10, 31)
DAYS = (END - START).days

# category: (products, unit price, effects per effect-use, effect chance, failure modes)
CATEGORIES = {
    "fpv_drone": (10, 480, 1.0, 0.45, ["link_loss", "battery", "fuze", "motor"]),
    "one_way_drone": (6, 45_000, 1.2, 0.55, ["navigation", "engine", "launch", "link_loss"]),
    "guided_munition": (5, 13_839, 3.0, 0.80, ["guidance", "fuze", "seeker"]),
    "artillery_round": (6, 1_100, 1.0, 0.12, ["fuze", "propellant", "dud"]),
    "recon_uav": (5, 22_000, 2.0, 0.50, ["link_loss", "battery", "camera"]),
    "interceptor_drone": (5, 3_500, 1.0, 0.35, ["seeker", "battery", "link_loss"]),
    "ground_robot": (3, 16_000, 1.5, 0.40, ["track", "link_loss", "battery"]),
}
CURRENCIES = {"USD": 1.0, "EUR": 1.08, "UAH": 0.024}
WORDS_A = ["North", "Steppe", "River", "Iron", "Amber", "Oak", "Falcon", "Granite", "Birch",
           "Harbor", "Summit", "Linden", "Cobalt", "Meadow", "Aster"]
WORDS_B = ["Works", "Systems", "Labs", "Forge", "Dynamics", "Line", "Tech", "Mechanics"]


@dataclass
class Planted:
    """What ``generate`` planted, for the README, the tests and the demo's own words."""

    markup_contract: str = ""  # a trader's contract at 1.9 times the makers' median price
    late_producer: str = ""  # every delivery 30 to 100 days after its due date
    inflated_operator: str = "OP-007"  # its effects per use of one product triple ...
    inflated_product: str = ""
    inflated_from: dt.date = START + dt.timedelta(days=DAYS // 2)  # ... from this day
    early_lot: str = ""  # three uses dated 20 days before the lot's delivery

    def to_dict(self) -> dict[str, str]:
        return {k: str(v) for k, v in self.__dict__.items()}


@dataclass
class DemoSize:
    uses: int
    producers: int = 300
    regions: int = 24
    operators: int = 400


def _frame(rows: list[tuple], schema: list[str]) -> pl.DataFrame:
    """Rows into a frame, every row read to settle the types (a date first met after the
    hundredth row, as a repair date can be, would fail polars' inference otherwise)."""
    return pl.DataFrame(rows, schema=schema, orient="row", infer_schema_length=None)


def _date_col(days: np.ndarray) -> pl.Series:
    return pl.Series(days.astype("timedelta64[D]") + np.datetime64(START)).cast(pl.Date)


def generate(folder: Path, size: DemoSize, seed: int = 7,
             say: Callable[[str], None] = lambda _m: None, *, anomalies: bool = True,
             planted: Planted | None = None) -> dict[str, Path]:
    """Write one CSV per table into ``folder``; return their paths by table. What was
    planted is written into ``planted`` when one is given."""
    rng = np.random.default_rng(seed)
    plant = planted if planted is not None else Planted()
    folder.mkdir(parents=True, exist_ok=True)
    files = {t: folder / f"{t}.csv" for t in IMPORT_ORDER}

    pl.DataFrame({"currency": ["EUR", "UAH"], "rate": [CURRENCIES["EUR"], CURRENCIES["UAH"]]}
                 ).write_csv(files["rates"])

    n_prod = size.producers
    kinds = rng.choice(["state", "private", "joint_venture", "trader"], n_prod,
                       p=[0.2, 0.6, 0.12, 0.08])
    producers = pl.DataFrame({
        "producer_id": [f"P{i:04d}" for i in range(1, n_prod + 1)],
        "name": [f"{WORDS_A[rng.integers(len(WORDS_A))]} {WORDS_B[rng.integers(len(WORDS_B))]}"
                 f" {i:03d}" for i in range(1, n_prod + 1)],
        "kind": kinds,
        "region": [f"Region {r:02d}" for r in rng.integers(1, size.regions + 1, n_prod)],
    })
    producers.write_csv(files["producers"])
    quality = rng.lognormal(0.0, 0.25, n_prod)  # >1: better than the product's norm

    rows_p, rows_v, rows_c, rows_d = [], [], [], []
    rows_fm: list[tuple] = []
    rows_ca: list[tuple] = []
    rng_fix = np.random.default_rng(seed + 1)  # its own stream: the other tables stay as they were
    lot_meta: list[tuple] = []  # lot, product, producer, version, delivered day, accepted, ...
    contract_no = delivery_no = 0
    # larger demos buy more, so that the uses fit in the units delivered
    scale = max(1, round(size.uses / 1_000_000))
    for cat, (count, price, eff_mult, p_eff, modes) in CATEGORIES.items():
        prefix = "".join(w[0] for w in cat.split("_")).upper()
        for k in range(1, count + 1):
            pid = f"{prefix}-{k:02d}"
            rows_p.append((pid, f"{cat.replace('_', ' ').title()} {k:02d}", cat))
            n_versions = int(rng.integers(2, 6))
            v_days = np.sort(np.concatenate([[0], rng.integers(60, DAYS - 60, n_versions - 1)]))
            for j, d in enumerate(v_days, start=1):
                rows_v.append((pid, f"v{j}", START + dt.timedelta(days=int(d))))
            _fixes(pid, modes, v_days, rng_fix, rows_fm, rows_ca)
            # each version fixes one failure mode (its rate falls by 70%)
            base_fail = rng.uniform(0.06, 0.2) * rng.dirichlet(np.ones(len(modes)))
            makers = rng.choice(n_prod, int(rng.integers(2, 16)), replace=False)
            p_price = price * rng.lognormal(0, 0.1)
            for m in makers:
                for _ in range(int(rng.integers(1, 5))):
                    contract_no += 1
                    cid = f"C{contract_no:06d}"
                    signed = int(rng.integers(0, DAYS - 120))
                    qty = int(rng.integers(20, 400) * (20 if price < 5_000 else 1)) * scale
                    unit = p_price * rng.lognormal(0, 0.08)
                    if rng.random() < 0.02:  # drawn as before, so the stream is unchanged;
                        rng.uniform(2.5, 4.0)  # the odd prices are now one planted contract
                    cur = rng.choice(list(CURRENCIES), p=[0.85, 0.1, 0.05])
                    due = signed + int(rng.integers(45, 120))
                    rows_c.append((cid, f"P{m + 1:04d}", pid, START + dt.timedelta(days=signed),
                                   qty, round(unit / CURRENCIES[cur], 2), cur,
                                   START + dt.timedelta(days=due)))
                    parts = rng.multinomial(qty, rng.dirichlet(np.ones(int(rng.integers(1, 4)))))
                    for part in parts[parts > 0]:
                        delivery_no += 1
                        late = rng.random() < 0.06
                        day = min(DAYS - 1, due - int(rng.integers(0, 40))
                                  + (int(rng.integers(20, 120)) if late else 0))
                        day = max(day, signed + 7)
                        short = rng.random() < 0.05
                        accepted = int(part * (rng.uniform(0.6, 0.95) if short else 1.0))
                        lot = f"L{delivery_no:07d}"
                        rows_d.append((f"D{delivery_no:07d}", cid, START + dt.timedelta(days=day),
                                       int(part), accepted, lot))
                        version = int(np.searchsorted(v_days, day, side="right"))
                        lot_meta.append((lot, pid, m, version, day, accepted, eff_mult, p_eff,
                                         tuple(modes), tuple(base_fail)))
    if anomalies:
        delivery_no = _plant_contracts(plant, producers, rows_c, rows_d, lot_meta,
                                       contract_no, delivery_no)
    _frame(rows_p, ["product_id", "name", "category"]).write_csv(files["products"])
    _frame(rows_v, ["product_id", "version", "introduced_on"]).write_csv(files["versions"])
    _frame(rows_fm, ["product_id", "failure_mode", "description", "severity"]
           ).write_csv(files["failure_modes"])
    _frame(rows_ca, ["action_id", "product_id", "failure_mode", "fixed_in_version", "opened_on",
                     "description", "producer_id"]).write_csv(files["corrective_actions"])
    contract_cols = ["contract_id", "producer_id", "product_id", "signed_on", "quantity",
                     "unit_price", "currency", "due_on"]
    _frame(rows_c, contract_cols).write_csv(files["contracts"])
    _frame(rows_d, ["delivery_id", "contract_id", "delivered_on", "quantity",
                    "accepted_quantity", "lot"]).write_csv(files["deliveries"])
    # next period's offers: each producer that has made a product offers more of it
    offers = (_frame(rows_c, contract_cols)
              .with_columns((pl.col("unit_price") * pl.col("currency").replace_strict(
                  CURRENCIES, return_dtype=pl.Float64)).alias("usd"))
              .group_by("product_id", "producer_id", maintain_order=True)
              .agg(pl.col("usd").median().alias("unit_price"),
                   pl.col("quantity").sum().alias("made")))
    n_off = offers.height
    lots = np.where(offers["unit_price"].to_numpy() < 5_000, rng.choice([1, 10, 50], n_off), 1)
    capacity = (offers["made"].to_numpy() * rng.uniform(0.3, 1.2, n_off)).astype(int) // lots \
        * lots
    offers.select(
        "product_id", "producer_id",
        (pl.col("unit_price") * pl.Series(rng.lognormal(0, 0.05, n_off))).round(2),
        pl.Series("capacity", np.maximum(capacity, lots)),
        pl.Series("min_order", np.where(rng.random(n_off) < 0.3, lots * 2, 0)),
        pl.Series("lot_size", lots),
        pl.lit(None, pl.Float64).alias("effects_per_unit"),
    ).write_csv(files["offers"])
    _network(files, folder, producers, rows_c, size, np.random.default_rng(seed + 2))
    lic_rows = _licences(files, rows_c, np.random.default_rng(seed + 4))
    _licensed_points(folder / "repair_points.csv", lic_rows)
    say(gettext("generated: products %(products)s, contracts %(contracts)s, deliveries "
                "%(deliveries)s; writing uses: %(uses)s", products=grouped(len(rows_p)),
                contracts=grouped(len(rows_c)), deliveries=grouped(len(rows_d)),
                uses=grouped(size.uses)))
    _write_uses(files["uses"], lot_meta, quality, size, rng,
                plant=plant if anomalies else None, plant_rng=np.random.default_rng(seed + 3))
    return files


PARTNERS = (("PA-A", "Partner A", "Country A"), ("PA-B", "Partner B", "Country B"),
            ("PA-C", "Partner C", "Country C"))
LICENCE_KINDS = ("production", "repair", "maintenance", "technical_assistance")
# every status, twice over (a granted licence also expires in the demo's past)
LICENCE_PLAN = ("granted", "granted", "expired", "in_review", "requested", "in_review",
                "denied", "revoked", "requested", "granted")
STAGES = (("filed", "Ministry legal office"), ("export review", "Partner export office"),
          ("partner decision", "Partner board"))


def _licences(files: dict[str, Path], rows_c: list[tuple], rng: np.random.Generator
              ) -> list[tuple]:
    """A few synthetic partners, licences in every status (and one expired), and the
    stages each request passed through: a few dozen rows whatever the demo's size.
    Returns the licences' rows."""
    pl.DataFrame(list(PARTNERS), schema=["partner_id", "name", "country"],
                 orient="row").write_csv(files["partners"])
    makers: dict[str, list[str]] = {}
    for c in rows_c:  # product -> its makers, in the order they were first contracted
        if c[1] not in makers.setdefault(c[2], []):
            makers[c[2]].append(c[1])
    products = sorted(makers)
    picks = rng.choice(len(products), len(LICENCE_PLAN), replace=False)
    lic_rows, stage_rows = [], []
    for i, (plan, pick) in enumerate(zip(LICENCE_PLAN, picks, strict=True), start=1):
        product = products[int(pick)]
        named = sorted(makers[product][:int(rng.integers(1, 4))])
        requested = START + dt.timedelta(days=int(rng.integers(0, DAYS - 200)))
        granted = expires = None
        status = "granted" if plan == "expired" else plan
        if status in ("granted", "revoked"):
            granted = requested + dt.timedelta(days=int(rng.integers(30, 150)))
            expires = (granted + dt.timedelta(days=int(rng.integers(20, 40)))
                       if plan == "expired" else granted + dt.timedelta(days=730))
        lid = f"LIC-{i:03d}"
        lic_rows.append((lid, PARTNERS[i % len(PARTNERS)][0], LICENCE_KINDS[i % 4], product,
                         ";".join(named), requested, granted, expires,
                         int(rng.integers(1, 50)) * 100 if i % 3 == 0 else None, status))
        day = requested
        done = {"granted": 3, "revoked": 3, "denied": 3}.get(status, 1 + i % 2)
        for k, (stage, authority) in enumerate(STAGES[:done]):
            last = k == done - 1
            left = (max(granted, day) if last and granted else day + dt.timedelta(
                days=int(rng.integers(5, 60))))
            open_ = last and status in ("requested", "in_review")
            stage_rows.append((lid, stage, authority, day, None if open_ else left,
                               None if open_ else ("denied" if last and status == "denied"
                                                   else "passed")))
            day = left
    _frame(lic_rows, ["licence_id", "partner_id", "kind", "product_id", "producers",
                      "requested_on", "granted_on", "expires_on", "max_units", "status"]
           ).write_csv(files["licences"])
    _frame(stage_rows, ["licence_id", "stage", "authority", "entered_on", "left_on",
                        "outcome"]).write_csv(files["licence_stages"])
    return lic_rows


def _licensed_points(path: Path, lic_rows: list[tuple]) -> None:
    """A repair point at home for each pending repair or maintenance licence (fast: 10
    days, 3 days away), usable only once the licence is granted, for
    ``kuznia licences value``. Pending licences only: as things stand every plan is the
    one it was before licences existed."""
    points = pl.read_csv(path).with_columns(pl.lit(None, pl.String).alias("licence_id"))
    extra = []
    for lid, _partner, kind, product, *_rest, status in lic_rows:
        if kind in ("repair", "maintenance") and status in ("requested", "in_review"):
            home = points.filter((pl.col("product_id") == product)
                                 & (pl.col("point_id") == "R-1"))
            extra.append(home.with_columns(
                pl.lit(f"R-{lid}").alias("point_id"), pl.lit(6).alias("monthly_capacity"),
                pl.lit(10).alias("repair_days"), pl.lit(3).alias("transit_days"),
                pl.lit(lid).alias("licence_id")))
    pl.concat([points, *extra], how="vertical_relaxed").write_csv(path)


def _plant_contracts(plant: Planted, producers: pl.DataFrame, rows_c: list[tuple],
                     rows_d: list[tuple], lot_meta: list[tuple], contract_no: int,
                     delivery_no: int) -> int:
    """Plant the marked-up trader contract, the late producer and the early lot (the lot's
    uses are planted in ``_write_uses``); returns the last delivery number used."""
    ids = producers["producer_id"].to_list()
    kinds = dict(zip(ids, producers["kind"].to_list(), strict=True))
    per_product: dict[str, list[tuple]] = {}
    for c in rows_c:
        per_product.setdefault(c[2], []).append(c)
    # the marked-up contract: the product with the most contracts, signed mid-way through
    # them by a trader that has not sold it, at 1.9 times the median price in USD
    product, its = max(per_product.items(), key=lambda kv: (len(kv[1]), kv[0]))
    sellers = {c[1] for c in its}
    trader = next(p for p in ids if kinds[p] == "trader" and p not in sellers)
    usd = np.array([c[5] * CURRENCIES[c[6]] for c in its])
    signed = sorted(c[3] for c in its)[len(its) // 2]
    contract_no += 1
    cid = f"C{contract_no:06d}"
    qty = int(np.median([c[4] for c in its]))
    rows_c.append((cid, trader, product, signed, qty, round(float(np.median(usd)) * 1.9, 2),
                   "USD", signed + dt.timedelta(days=60)))
    delivery_no += 1
    day = (signed - START).days + 50
    rows_d.append((f"D{delivery_no:07d}", cid, START + dt.timedelta(days=day), qty, qty,
                   f"L{delivery_no:07d}"))
    donor = next(m for m in lot_meta if m[1] == product)
    lot_meta.append((f"L{delivery_no:07d}", product, ids.index(trader), donor[3], day, qty,
                     *donor[6:]))
    plant.markup_contract = cid
    # the late producer: the private maker with the most contracts delivers everything
    # 30 to 100 days after its due date
    count: dict[str, int] = {}
    for c in rows_c:
        count[c[1]] = count.get(c[1], 0) + 1
    late = max((p for p in ids if kinds[p] == "private"), key=lambda p: (count.get(p, 0), p))
    due = {c[0]: c[7] for c in rows_c if c[1] == late}
    shift = np.random.default_rng(len(rows_d))
    moved: dict[str, int] = {}
    for i, d in enumerate(rows_d):
        if d[1] in due:
            when = min(END, due[d[1]] + dt.timedelta(days=int(shift.integers(30, 101))))
            rows_d[i] = (d[0], d[1], when, *d[3:])
            moved[d[5]] = (when - START).days
    for i, m in enumerate(lot_meta):
        if m[0] in moved:
            lot_meta[i] = (m[0], m[1], m[2], m[3], moved[m[0]], *m[5:])
    plant.late_producer = late
    # the early lot: the first lot delivered at least 60 days in
    plant.early_lot = next(m[0] for m in lot_meta if m[4] >= 60 and m[0] not in moved)
    return delivery_no


def _fixes(pid: str, modes: list[str], v_days: np.ndarray, rng: np.random.Generator,
           rows_fm: list[tuple], rows_ca: list[tuple]) -> None:
    """Failure modes and corrective actions of one product, true to how uses are drawn.

    Version j really fixes mode j-1 (its rate falls by 70%); besides those, the last
    version claims a fix the uses do not bear out, and some products have a fix planned in a
    version not fielded yet.
    """
    for mode in modes:
        rows_fm.append((pid, mode, f"{mode.replace('_', ' ')} failure", int(rng.integers(1, 5))))
    n_versions = len(v_days)

    def action(mode: str, version: int, day: int, what: str) -> None:
        opened = START + dt.timedelta(days=max(0, day - int(rng.integers(20, 60))))
        rows_ca.append((f"CA-{pid}-{len(rows_ca) + 1:03d}", pid, mode, f"v{version}", opened,
                        what, None))

    for j in range(2, n_versions + 1):
        if j - 2 < len(modes):
            action(modes[j - 2], j, int(v_days[j - 1]), "design change")
    if n_versions >= 3 and n_versions - 1 < len(modes):
        action(modes[n_versions - 1], n_versions, int(v_days[-1]), "claimed fix")
    if rng.random() < 0.3 and n_versions - 1 < len(modes):
        action(modes[n_versions - 1], n_versions + 1, DAYS, "planned fix")


def _network(files: dict[str, Path], folder: Path, producers: pl.DataFrame,
             rows_c: list[tuple], size: DemoSize, rng: np.random.Generator) -> None:
    """Regions (the first third near the front), a line per product and maker (some with a
    second one elsewhere), demand a little under capacity, two years of strikes; and the
    inputs of the duplication and repair planners beside them."""
    names = [f"Region {r:02d}" for r in range(1, size.regions + 1)]
    third = size.regions // 3
    p = np.concatenate([rng.uniform(0.15, 0.35, third), rng.uniform(0.04, 0.12, third),
                        rng.uniform(0.005, 0.03, size.regions - 2 * third)])
    regions = pl.DataFrame({
        "region": names, "monthly_strike_probability": p.round(4),
        "site_hit_probability": rng.uniform(0.2, 0.7, size.regions).round(3),
        "damage_fraction": rng.uniform(0.3, 1.0, size.regions).round(3),
        "repair_months": rng.integers(1, 7, size.regions),
        "neighbours": [";".join(names[j] for j in (i - 1, i + 1) if 0 <= j < size.regions)
                       for i in range(size.regions)],
    })
    regions.write_csv(files["regions"])
    home = dict(zip(producers["producer_id"], producers["region"], strict=True))
    made: dict[tuple[str, str], int] = {}
    for c in rows_c:
        made[(c[2], c[1])] = made.get((c[2], c[1]), 0) + c[4]
    site_rows, n = [], 0
    for (product, producer), qty in made.items():
        places = [home[producer]]
        if rng.random() < 0.15:
            places.append(names[int(rng.integers(size.regions))])
        for region in places:
            n += 1
            status, until = "operating", None
            u = rng.random()
            if u < 0.03:
                status, until = "damaged", END + dt.timedelta(days=int(rng.integers(20, 120)))
            elif u < 0.04:
                status = "closed"
            site_rows.append((f"S{n:05d}", producer, product, region,
                              round(qty / 24 / len(places) * rng.uniform(0.8, 1.5), 1),
                              status, until))
    sites = _frame(site_rows, [
        "site_id", "producer_id", "product_id", "region", "monthly_capacity", "status",
        "repair_until"])
    sites.write_csv(files["sites"])
    cap = sites.group_by("product_id").agg(pl.col("monthly_capacity").sum())
    demand = cap.select("product_id", (pl.col("monthly_capacity")
                                       * pl.Series(rng.uniform(0.75, 1.05, cap.height))
                                       ).round(0).alias("monthly_demand"))
    demand = demand.with_columns((pl.col("monthly_demand")
                                  * pl.Series(rng.uniform(0.5, 2.0, demand.height))
                                  ).round(0).alias("stock"))
    demand.sort("product_id").write_csv(files["demand"])
    # two years of strikes, drawn from the regions' figures
    by_region = sites.group_by("region").agg(pl.col("site_id"))
    region_at = {r: i for i, r in enumerate(names)}
    strike_rows = []
    for region, ids in by_region.iter_rows():
        i = region_at[region]
        for month in range(24):
            if rng.random() >= p[i]:
                continue
            day = START + dt.timedelta(days=30 * month + int(rng.integers(0, 28)))
            for sid in ids:
                if rng.random() < regions["site_hit_probability"][i]:
                    repaired = day + dt.timedelta(days=30 * int(regions["repair_months"][i]))
                    strike_rows.append((sid, day, round(min(1.0, regions["damage_fraction"][i]
                                                            * rng.uniform(0.7, 1.1)), 3),
                                        repaired if repaired <= END else None))
    _frame(strike_rows, ["site_id", "struck_on", "damage_fraction", "repaired_on"]
           ).write_csv(files["strikes"])
    # planner inputs (not imported): candidate lines in quiet regions, a repair backlog
    rear = names[2 * third:]
    products = demand["product_id"].to_list()
    makers = sites.select("product_id", "producer_id").unique().to_dicts()
    picks = rng.choice(len(makers), min(40, len(makers)), replace=False)
    cap_of = dict(cap.iter_rows())
    pl.DataFrame([{
        "candidate_id": f"K{k + 1:03d}", "product_id": makers[j]["product_id"],
        "producer_id": makers[j]["producer_id"], "region": rear[int(rng.integers(len(rear)))],
        "monthly_capacity": round(cap_of[makers[j]["product_id"]] * rng.uniform(0.1, 0.3), 1),
        "cost": round(float(rng.uniform(0.5, 3.0)) * 1e6, -3),
    } for k, j in enumerate(picks)]).write_csv(folder / "candidates.csv")
    backlog = [{"item_id": f"I{k + 1:05d}", "product_id": products[int(rng.integers(
        len(products)))], "region": names[int(rng.integers(third))],
        "damaged_on": END - dt.timedelta(days=int(rng.integers(0, 90)))} for k in range(400)]
    pl.DataFrame(backlog).write_csv(folder / "backlog.csv")
    points = []
    for prod in products:
        for k, region in enumerate([rear[0], rear[-1], "abroad"]):
            abroad = region == "abroad"
            for origin in names[:third]:
                points.append({
                    "point_id": f"R-{'ABROAD' if abroad else k + 1}", "region": region,
                    "product_id": prod, "monthly_capacity": 40 if abroad else 4,
                    "repair_days": 45 if abroad else 12, "from_region": origin,
                    "transit_days": 25 if abroad else int(rng.integers(2, 8))})
    pl.DataFrame(points).write_csv(folder / "repair_points.csv")


def _write_uses(path: Path, lots: list[tuple], quality: np.ndarray, size: DemoSize,
                rng: np.random.Generator, chunk: int = 500_000, *,
                plant: Planted | None = None,
                plant_rng: np.random.Generator | None = None) -> None:
    lot_ids = np.array([m[0] for m in lots])
    products = np.array([m[1] for m in lots])
    accepted = np.array([m[5] for m in lots], dtype=float)
    multi_unit = np.char.startswith(products.astype(str), "AR-")
    # a lot is used in proportion to the uses its units allow (3.5 units a use of a round)
    weights = accepted / np.where(multi_unit, 3.5, 1.0)
    weights /= weights.sum()
    used = np.zeros(len(lots))  # units used of each lot so far: never more than accepted
    makers = np.array([m[2] for m in lots])
    versions = np.array([m[3] for m in lots])
    delivered = np.array([m[4] for m in lots])
    eff_mult = np.array([m[6] for m in lots])
    p_eff = np.array([m[7] for m in lots])
    n_modes = max(len(m[8]) for m in lots)
    fail = np.zeros((len(lots), n_modes))
    modes = np.full((len(lots), n_modes), "", dtype="U32")
    for i, m in enumerate(lots):
        rates = np.array(m[9]) * quality[m[2]] ** -1.0
        fixed = min(m[3] - 1, len(m[8]))  # version k has fixed the first k-1 modes
        rates[:fixed] *= 0.3
        fail[i, : len(rates)] = rates
        modes[i, : len(m[8])] = m[8]
    if plant is not None:  # the inflated operator's product: the one with the most uses
        share: dict[str, float] = {}
        for p, w in zip(products, weights, strict=True):
            share[p] = share.get(p, 0.0) + w
        plant.inflated_product = max(share, key=lambda p: (share[p], p))
        early = lot_ids.tolist().index(plant.early_lot)
        inflated_day = (plant.inflated_from - START).days
        op_no = int(plant.inflated_operator.removeprefix("OP-"))
    written = 0
    with path.open("wb") as f:
        while written < size.uses:
            n = min(chunk, size.uses - written)
            li = rng.choice(len(lots), n, p=weights)
            day = np.minimum(delivered[li] + rng.exponential(45, n).astype(int), DAYS)
            u = rng.random(n)
            cum = np.cumsum(fail[li], axis=1)
            mode_idx = (u[:, None] >= cum).sum(axis=1)
            failed = mode_idx < n_modes
            aborted = ~failed & (rng.random(n) < 0.03)
            hit = ~failed & ~aborted & (rng.random(n) < np.clip(p_eff[li] * quality[makers[li]],
                                                                0, 0.98))
            effects = np.where(hit, 1 + rng.poisson(np.maximum(eff_mult[li] - 1, 0)), 0)
            drop_lot = rng.random(n) < 0.05
            drop_producer = rng.random(n) < 0.10
            units = np.where(multi_unit[li], rng.integers(1, 7, n), 1)
            ids = np.arange(written + 1, written + n + 1)
            operator = rng.integers(1, size.operators + 1, n)
            if plant is not None and plant_rng is not None:
                if written == 0:  # three uses of the early lot, 20 days before its delivery
                    li[:3], day[:3] = early, delivered[early] - 20
                    failed[:3] = aborted[:3] = hit[:3] = False
                    effects[:3], units[:3], drop_lot[:3] = 0, 1, False
                # the inflated operator: 5% of the product's uses (20 times its share),
                # three or more effects a use from the day on, whatever happened
                mine = (products[li] == plant.inflated_product) & (plant_rng.random(n) < 0.05)
                operator[mine] = op_no
                boost = mine & (day >= inflated_day) & ~failed & ~aborted
                hit = hit | boost
                effects = np.where(boost, 3 + plant_rng.poisson(1.0, n), effects)
            outcome = np.where(failed, "failure", np.where(aborted, "aborted",
                                                           np.where(hit, "effect", "no_effect")))
            fmode = np.where(failed, modes[li, np.minimum(mode_idx, n_modes - 1)], "")
            # a use beyond its lot's accepted units is recorded without the lot
            order = np.argsort(li, kind="stable")
            cum = np.cumsum(units[order])
            starts = np.flatnonzero(np.r_[True, li[order][1:] != li[order][:-1]])
            base = np.repeat(cum[starts] - units[order][starts], np.diff(np.r_[starts, n]))
            over = np.empty(n, dtype=bool)
            over[order] = used[li[order]] + cum - base > accepted[li[order]]
            drop_lot |= over
            used += np.bincount(li[~drop_lot], weights=units[~drop_lot], minlength=len(lots))
            frame = pl.DataFrame({
                "use_id": pl.Series(ids).cast(pl.String).str.zfill(9),
                "used_on": _date_col(day),
                "operator": pl.Series(operator).cast(pl.String).str.zfill(3),
                "product_id": products[li],
                "version": pl.Series(versions[li]).cast(pl.String).str.pad_start(2, "v"),
                "producer_id": pl.Series(makers[li] + 1).cast(pl.String).str.zfill(4),
                "lot": lot_ids[li],
                "units_used": units,
                "effects": effects,
                "outcome": outcome,
                "failure_mode": fmode,
                "conditions": pl.Series(np.where(rng.random(n) < 0.3, "ew=high", "ew=low"))
                + pl.Series(np.where(rng.random(n) < 0.25, ";night=1", ";night=0")),
                "notes": pl.Series([None] * n, dtype=pl.String),
            })
            frame = frame.with_columns(
                pl.format("U{}", "use_id").alias("use_id"),
                pl.format("OP-{}", "operator").alias("operator"),
                pl.when(pl.Series(drop_producer & ~drop_lot)).then(None)
                .otherwise(pl.format("P{}", "producer_id")).alias("producer_id"),
                pl.when(pl.Series(drop_lot)).then(None).otherwise(pl.col("lot")).alias("lot"),
                pl.when(pl.col("failure_mode") == "").then(None)
                .otherwise(pl.col("failure_mode")).alias("failure_mode"),
            )
            frame.write_csv(f, include_header=written == 0)
            written += n


BYTES_PER_USE = 330  # about 110 in the uses file and 220 in the workspace (measured at 1M)


def _room_for(n_uses: int, folder: Path) -> None:
    """Refuse, with the figures, a demo the disk cannot hold."""
    import shutil

    probe = folder.resolve()
    while not probe.exists():
        probe = probe.parent
    free = shutil.disk_usage(probe).free
    needed = n_uses * BYTES_PER_USE
    if needed > free:
        raise UsageError(N_("{n_uses} %(uses)s needs about %(needed)s GiB of disk, and "
                            "%(free)s GiB are free; lower it"), params=("n_uses",),
                         uses=n_uses, needed=round(needed / (1 << 30), 1),
                         free=round(free / (1 << 30), 1))


def run_demo(db: str, *, n_uses: int, seed: int, data_dir: Path, out_dir: Path,
             say: Callable[[str], None],
             progress: Callable[[int, int], None] | None = None) -> Path:
    """Generate files, import them into a fresh demo workspace, write the report."""
    import kuznia
    from kuznia.services import params
    from kuznia.services.store import sqlite_path

    params.whole(n_uses, "n_uses", minimum=1)
    params.seed(seed)
    url = database_url(db)
    path = sqlite_path(url)
    _room_for(n_uses, data_dir)
    check_output(data_dir, "data_dir", protected=protected_paths(path), folder=True)
    check_output(out_dir, "out_dir", protected=protected_paths(path), folder=True)
    if data_dir.resolve() == out_dir.resolve():
        raise UsageError(N_("{data_dir} and {out_dir} must be different folders"),
                         params=("data_dir", "out_dir"))
    if path is not None and path.exists():
        with kuznia.open(db) as old:
            if old.store.setting("demo") != "1":
                raise WorkspaceError(N_("%(path)s holds a workspace that is not a demo; "
                                        "choose another {db}"), params=("db",),
                                     path=str(path))
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
    with replace_folder(data_dir, "data_dir") as tmp:  # a folder of the user's is refused
        generate(tmp, DemoSize(uses=n_uses), seed, say)
    files = {t: data_dir / f"{t}.csv" for t in IMPORT_ORDER}
    with kuznia.init(db, "USD", "demo") as ws:
        from kuznia.services import audit
        from kuznia.store.schema import settings

        with ws.store.write() as conn:  # an audited write like any other
            conn.execute(settings.insert(), {"key": "demo", "value": "1"})
            audit.append(conn, audit.next_event_id(conn), actor="demo", action="setting",
                         table_name="settings", rows_added=1, detail={
                             "key": "demo", "value": "1",
                             "digests": {"settings": audit.settings_digest(conn).to_dict()}})
        for table in IMPORT_ORDER:
            r = ws.import_file(table, files[table], progress=progress)
            say(ngettext("imported %(file)s: %(num)s row", "imported %(file)s: %(num)s rows",
                         r.added, file=str(files[table]), num=grouped(r.added)))
        report = ws.report(out_dir)
        say(gettext("demo accounts (one per role; passwords and tokens are shown only now):"))
        for name, role, producer, password, token in demo_accounts(ws.store):
            said_role = words.say(role)
            say(gettext("  %(name)s %(role)s %(producer)s password %(password)s  "
                        "token %(token)s", name=name.ljust(17), role=said_role.ljust(14),
                        producer=(producer or "").ljust(6), password=password, token=token))
        serve = "kuznia serve --db " + shlex.quote(str(db))
        say(gettext("serve it: %(command)s   (API docs at %(docs)s)", command=serve,
                    docs="http://127.0.0.1:8000/api/v1/docs"))
        return report


def demo_accounts(store: Store) -> list[tuple[str, str, str | None, str, str]]:
    """One account per role, each with a random password and an API token (the producer
    account is bound to the producer with the most uses). Nothing of them is fixed in code.
    """
    import secrets

    from sqlalchemy import func

    from kuznia.services import accounts
    from kuznia.store.schema import use_cube

    with store.read() as conn:  # the producer with the most uses, so its board has blocks
        first = conn.execute(select(use_cube.c.producer_id).where(use_cube.c.producer_id != "")
                             .group_by(use_cube.c.producer_id)
                             .order_by(func.sum(use_cube.c.uses).desc(),
                                       use_cube.c.producer_id).limit(1)).scalar()
    made = []
    for role in accounts.ROLES:
        name = f"demo-{role}"
        producer = first if role == "producer" else None
        partner = PARTNERS[0][0] if role == "partner" else None
        password = secrets.token_urlsafe(12)
        accounts.add_user(store, name, role, actor="demo", producer=producer,
                          password=password, partner=partner)
        token = accounts.issue_token(store, name, actor="demo", expires_days=30)
        made.append((name, role, producer or partner, password, token))
    return made
