"""Red flags on prices, deliveries, amendments, impossible records and effect claims.

Each flag names its records (``contract_id``, ``delivery_id``, ``producer_id``,
``product_id``, ``operator``, ``lot``: None where they do not apply), the measured
``value``, the ``threshold`` it passed, a ``reference`` (what it was compared with), a
sentence a person understands, and ``evidence``: the command and the API link that list
the records behind it.

Where the data come from, so that 10 million uses cost less than one scan of them:

- contracts, deliveries, producers and the contracts' update history are small tables,
  read whole;
- units used per lot come from the kept ``use_cube``; uses before their lot's delivery
  are counted from the cube for months before the delivery month and, for the delivery
  month itself, only where the cube's earliest use (``first_on``) is before the day, by
  an index range from that use to the day (``ix_uses_trace``); uses dated after today
  likewise from the cube's months, then the index;
- effects per operator, product and month come from the kept ``operator_cube``.

What the uses say is kept per product and process, and after a write read again only for
the products it wrote (``services/flag_uses.py``); the flags are drawn once per version of
the data (audit head), period, settings and day, and each caller's (a producer's, a
product's) are taken from them.

Judged records are those dated within ``date_from``-``date_to`` (a contract by its
signing, a delivery by its day, uses by their month); the peers and the rates they are
compared with come from all records, so a filter never changes a figure. ``producer`` and
``product`` keep only the flags that name them. "Past due" is judged on ``date_to`` if
given, else today.
"""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import json
import shlex
import threading
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode

import numpy as np
from sqlalchemy import select

from kuznia.analytics import oversight as tests
from kuznia.services import flag_uses, oversight_config
from kuznia.services.access import EVERYTHING, Scope
from kuznia.services.flag_uses import Period as _Period
from kuznia.services.periods import check_order
from kuznia.services.store import Store
from kuznia.services.vault_oversight import vault_flags
from kuznia.store.schema import (
    NO_USE,
    audit_events,
    contracts,
    deliveries,
    producers,
    products,
    row_updates,
)

SEVERITIES = ("high", "medium", "low")
CODES = {
    "price_outlier": "high", "price_rise": "medium", "resale_markup": "high",
    "concentration": "low", "past_due_short": "medium", "late_delivery": "low",
    "rejected_share": "medium", "late_share": "medium", "amendment_raised": "medium",
    "amendment_repeated": "low", "use_before_delivery": "high", "lot_overused": "high",
    "over_delivered": "high", "use_in_future": "high", "effect_claims": "high",
    "effect_burst": "medium", "vault_burst": "high", "vault_after_hours": "medium",
    "vault_before_expiry": "medium", "vault_refusals": "high",
}
RECORD_KEYS = ("contract_id", "delivery_id", "producer_id", "product_id", "operator", "lot")
API = "/api/v1"


@dataclass
class FlagList:
    flags: list[dict[str, Any]]
    config: dict[str, dict[str, Any]]
    as_of: dt.date
    counts: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"as_of": self.as_of.isoformat(), "counts": self.counts,
                "flags": self.flags, "config": self.config}


def flag_key(flag: dict[str, Any]) -> str:
    """A flag's identity across recomputations: a hash of its rule and the records it
    names (and the month of a burst), never its place in a list, so that its triage
    (``services/triage.py``) finds it again while it stands.

    >>> flag_key({"code": "price_outlier", "contract_id": "C7", "producer_id": "P1",
    ...           "product_id": "X", "delivery_id": None, "operator": None, "lot": None,
    ...           "reference": {}})
    '423235378d82c3a8'
    """
    parts = [flag["code"], *[flag.get(k) for k in RECORD_KEYS]]
    if flag["code"] == "effect_burst":
        parts.append(flag["reference"].get("month"))
    if flag["code"].startswith("vault_"):  # the vault's flags are about an account
        parts.append(flag["reference"].get("account"))
    text = json.dumps(parts, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _price_line(level: float, check: Any, i: int, peers: int, bar: float,
                floor: float) -> float | None:
    """The unit price above which contract ``i`` would be flagged a price outlier
    (``analytics.oversight.price_line``); None where it was not tested."""
    if not check.tested[i] or not np.isfinite(check.sigma[i]) or check.df[i] < 1:
        return None
    return tests.price_line(level, float(check.sigma[i]), float(check.df[i]), peers, bar,
                            floor)


def _flag(code: str, text: str, *, value: float | int | None, threshold: Any,
          reference: dict[str, Any], command: str, api: str, severity: str | None = None,
          **records: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"code": code, "severity": severity or CODES[code]}
    out.update({k: records.get(k) for k in RECORD_KEYS})
    out.update({"value": value, "threshold": threshold, "reference": reference, "text": text,
                "evidence": {"command": command, "api": api}})
    return out


def _n(x: float) -> str:
    """A figure as people write it: 1,600 or 0.45."""
    if x is None or not np.isfinite(x):
        return "?"
    if abs(x) >= 100:
        return f"{x:,.0f}"
    return f"{x:,.2f}".rstrip("0").rstrip(".") if abs(x) >= 1 else f"{x:.2g}"


def _p(p: float) -> str:
    return "p < 1e-16" if p < 1e-16 else f"p = {p:.1e}"


def _records(table: str, *, between: tuple[str, str, str] | None = None, **where: Any
             ) -> str:
    """The command that lists a table's records behind a flag, quoted for a shell."""
    words = ["kuznia", "records", table]
    for k, v in where.items():
        if v is not None:
            words += ["--where", f"{k}={v}"]
    if between:
        words += ["--between", f"{between[0]}={between[1]}..{between[2]}"]
    return shlex.join(words)


def _uses(**filters: Any) -> str:
    words = ["kuznia", "uses"]
    for k, v in filters.items():
        if v is not None:
            words += [f"--{k.replace('_', '-')}", str(v)]
    return shlex.join([*words, "--json"])


def _q(**params: Any) -> str:
    return urlencode({k: v for k, v in params.items() if v is not None})


def flags(store: Store, *, date_from: dt.date | None = None, date_to: dt.date | None = None,
          producer: str | None = None, product: str | None = None,
          config: dict[str, dict[str, Any]] | None = None, today: dt.date | None = None,
          scope: Scope = EVERYTHING) -> FlagList:
    """Every red flag, most severe first (see the module doc).

    A producer's ``scope`` gets only the flags that name it, none about operators, and
    other producers' figures only as aggregates (their contracts are never named)."""
    cfg = config or oversight_config.load(None)
    today = today or dt.date.today()
    as_of = date_to or today
    check_order(date_from, date_to)
    judged = _Period(date_from, date_to)
    key = (today, date_from, date_to, json.dumps(cfg, sort_keys=True, default=str))
    with store.snapshot() as conn:  # the head and every figure from one snapshot
        part = flag_uses.kept(conn, key, today, judged, cfg["effects"])
        with part.drawing:  # one caller draws them at this head; the others wait for it
            if part.flags is None:
                data = _load(conn, today, part)
                drawn: list[dict[str, Any]] = []
                drawn += _prices(data, cfg, judged)
                drawn += _concentration(data, cfg)
                drawn += _delivery(data, cfg, judged, as_of)
                drawn += _amendments(data, cfg, judged)
                drawn += _impossible(data, judged)
                drawn += _effects(conn, data, cfg, judged)
                part.flags = drawn
        vault = vault_flags(conn, cfg, judged.has, _flag) if scope.producer_id is None \
            else []
    out = copy.deepcopy(part.flags) + vault  # the caller marks its flags (their keys)
    if scope.producer_id is not None:  # its own flags; none names another producer's
        # contract, and others' figures appear only as aggregates (counts, medians, ranges)
        out = [f for f in out
               if f["producer_id"] == scope.producer_id and f["operator"] is None]
    if producer is not None:
        out = [f for f in out if f["producer_id"] == producer]
    if product is not None:
        out = [f for f in out if f["product_id"] == product]
    rank = {s: i for i, s in enumerate(SEVERITIES)}
    out.sort(key=lambda f: (rank[f["severity"]], f["code"], str(f["product_id"]),
                            str(f["producer_id"]), str(f["contract_id"]), str(f["operator"]),
                            str(f["lot"])))
    for f in out:
        f["key"] = flag_key(f)
    counts = {s: sum(f["severity"] == s for f in out) for s in SEVERITIES}
    return FlagList(out, cfg, as_of, counts)


@dataclass
class _Data:
    contracts: list[dict[str, Any]]
    deliveries: list[dict[str, Any]]
    kinds: dict[str, str]
    names: dict[str, str]  # product names
    updates: dict[str, list[dict[str, Any]]]
    lot_use: list[dict[str, Any]]  # per lot: units used (cube), accepted, early uses
    future: list[dict[str, Any]]
    effects: dict[str, flag_uses.Effects]  # per product


def _load(conn: Any, today: dt.date, part: flag_uses.Kept) -> _Data:
    """The small tables read whole; what the uses say from ``part`` (kept per product)."""
    c, d = contracts.c, deliveries.c
    rows = [dict(r._mapping) for r in conn.execute(
        select(c.contract_id, c.producer_id, c.product_id, c.signed_on, c.quantity,
               c.unit_price_ws, c.due_on).order_by(c.contract_id))]
    dels = [dict(r._mapping) for r in conn.execute(
        select(d.delivery_id, d.contract_id, d.delivered_on, d.quantity,
               d.accepted_quantity, d.lot).order_by(d.delivery_id))]
    kinds = dict(conn.execute(select(producers.c.producer_id, producers.c.kind)).all())
    names = dict(conn.execute(select(products.c.product_id, products.c.name)).all())
    updates: dict[str, list[dict[str, Any]]] = {}
    for key, old, new, at, actor in conn.execute(
            select(row_updates.c.row_key, row_updates.c.old_values, row_updates.c.new_values,
                   audit_events.c.at, audit_events.c.actor)
            .join(audit_events, audit_events.c.event_id == row_updates.c.event_id)
            .where(row_updates.c.table_name == "contracts")
            .order_by(row_updates.c.update_id)):
        updates.setdefault(key, []).append({"at": at, "by": actor, "old": json.loads(old),
                                            "new": json.loads(new)})
    # per lot: units used and the cube's months (kept at import)
    lot_rows = part.lot_months()
    by_lot: dict[str, dict[str, Any]] = {}
    delivered = {x["lot"]: x for x in dels if x["lot"]}
    owner = {x["contract_id"]: x for x in rows}
    in_month = {lot: x["delivered_on"].strftime("%Y-%m") for lot, x in delivered.items()}
    checks = []  # lots whose delivery month holds a use before the day: counted by index
    for lot, month, units, n, first_on in lot_rows:
        item = by_lot.setdefault(lot, {"lot": lot, "units_used": 0, "early_uses": 0,
                                       "first_early": None})
        item["units_used"] += int(units)
        dl = delivered.get(lot)
        if dl is None or not n:
            continue
        day = dl["delivered_on"]
        first = dt.date.fromisoformat(first_on) if first_on < NO_USE else None
        if month < in_month[lot]:
            item["early_uses"] += int(n)
            item["first_early"] = min(item["first_early"] or first, first) if first else \
                item["first_early"] or dt.date.fromisoformat(month + "-01")
        elif month == in_month[lot] and first is not None and first < day:
            con = owner[dl["contract_id"]]
            checks.append((lot, con["product_id"], con["producer_id"], first, day))
    for lot, n, first in flag_uses.early_in_month(conn, part, checks):
        item = by_lot[lot]
        item["early_uses"] += int(n)
        item["first_early"] = min(item["first_early"] or first, first)
    lot_use = []
    for lot, item in by_lot.items():
        dl = delivered.get(lot)
        if dl is None:
            continue
        con = owner[dl["contract_id"]]
        lot_use.append({**item, "delivery_id": dl["delivery_id"],
                        "contract_id": dl["contract_id"], "producer_id": con["producer_id"],
                        "product_id": con["product_id"], "accepted": dl["accepted_quantity"],
                        "delivered_on": dl["delivered_on"]})
    future = [f for rows_ in part.future.values() for f in rows_]
    return _Data(rows, dels, kinds, names, updates, lot_use, future, part.effects)


# --- prices ------------------------------------------------------------------------------

# the price flags of the contracts last judged, per process: a write of uses (the common
# one) leaves the contracts as they were, and their tests are then not made again
_PRICES_KEPT: dict[str, list[dict[str, Any]]] = {}
_PRICES_LOCK = threading.Lock()


def _prices(data: _Data, cfg: dict[str, Any], judged: _Period) -> list[dict[str, Any]]:
    """The price flags; kept per process under the very data they are made from (the
    contracts, the producers' kinds, the products' names, the settings, the period)."""
    key = hashlib.sha256(repr((data.contracts, sorted(data.kinds.items()),
                               sorted(data.names.items()), cfg["price"], cfg["markup"],
                               judged.lo, judged.hi)).encode()).hexdigest()
    with _PRICES_LOCK:
        kept = _PRICES_KEPT.get(key)
    if kept is None:
        kept = _price_flags(data, cfg, judged)
        with _PRICES_LOCK:
            if len(_PRICES_KEPT) >= 16:
                _PRICES_KEPT.pop(next(iter(_PRICES_KEPT)))
            _PRICES_KEPT[key] = kept
    return copy.deepcopy(kept)  # the caller marks its flags (their keys)


def _price_flags(data: _Data, cfg: dict[str, Any], judged: _Period
                 ) -> list[dict[str, Any]]:
    rows = data.contracts
    if not rows:
        return []
    pc = cfg["price"]
    product = np.array([r["product_id"] for r in rows], dtype=object)
    day = np.array([r["signed_on"].toordinal() for r in rows], dtype=float)
    price = np.array([r["unit_price_ws"] for r in rows], dtype=float)
    maker = np.array([data.kinds.get(r["producer_id"]) != "trader" for r in rows])
    peers = tests.peer_prices(product, day, price, pc["window_days"])
    log_peers = tests.peer_prices(product, day, np.log(price), pc["window_days"])
    makers = tests.peer_prices(product, day, price, pc["window_days"], 0.0, among=maker)
    check = tests.price_outliers(product, np.log(price), log_peers.median, log_peers.count,
                                 pc["min_peers"])
    tested = int(check.tested.sum())
    bar = tests.p_bar(pc["outlier_alpha"], tested)
    out = []
    for i, r in enumerate(rows):
        if not judged.has(r["signed_on"]):
            continue
        name = data.names.get(r["product_id"], r["product_id"])
        lo = (r["signed_on"] - dt.timedelta(days=pc["window_days"])).isoformat()
        hi = (r["signed_on"] + dt.timedelta(days=pc["window_days"])).isoformat()
        evidence = {"command": _records("contracts", product_id=r["product_id"],
                                        between=("signed_on", lo, hi)),
                    "api": f"{API}/contracts?" + _q(product_id=r["product_id"],
                                                   signed_on_from=lo, signed_on_to=hi)}
        level = float(np.exp(log_peers.median[i])) if check.tested[i] else np.nan
        ref = {"peers": int(peers.count[i]), "median": peers.median[i], "low": peers.low[i],
               "high": peers.high[i], "q1": peers.q1[i], "q3": peers.q3[i],
               "window_days": pc["window_days"], "log_median": level,
               "noise": float(np.expm1(check.sigma[i])) if check.tested[i] else None,
               "z": float(check.z[i]) if check.tested[i] else None, "p": float(check.p[i]),
               "p_bar": bar, "tested": tested,
               "line": _price_line(level, check, i, int(peers.count[i]), bar,
                                   pc["min_ratio"] * peers.median[i])}
        if (check.tested[i] and check.p[i] < bar
                and price[i] >= pc["min_ratio"] * peers.median[i]):
            out.append(_flag(
                "price_outlier",
                f"{r['contract_id']} pays {_n(price[i])} per unit of {name}; the other "
                f"{int(peers.count[i])} contracts for it signed within {pc['window_days']} "
                f"days paid {_n(peers.low[i])} to {_n(peers.high[i])} (median "
                f"{_n(peers.median[i])}; {price[i] / peers.median[i]:.1f} times it). Its "
                f"prices vary by about {np.expm1(check.sigma[i]):.0%} around their peers, so "
                f"this is {check.z[i]:.1f} times that (t on {check.df[i]:.0f} degrees of "
                f"freedom, {_p(check.p[i])}, below {bar:.1e} after allowing for {tested:,} "
                "contracts)",
                value=float(price[i]), threshold=float(bar), reference=ref,
                contract_id=r["contract_id"], producer_id=r["producer_id"],
                product_id=r["product_id"], **evidence))
        if (not maker[i] and makers.count[i] >= cfg["markup"]["min_makers"]
                and price[i] >= cfg["markup"]["ratio"] * makers.median[i]):
            ratio = price[i] / makers.median[i]
            out.append(_flag(
                "resale_markup",
                f"{r['contract_id']} buys {name} from a trader ({r['producer_id']}) at "
                f"{_n(price[i])} a unit, {ratio:.1f} times the median of "
                f"{int(makers.count[i])} makers' contracts signed within "
                f"{pc['window_days']} days ({_n(makers.median[i])})",
                value=float(ratio), threshold=cfg["markup"]["ratio"],
                reference={"makers": int(makers.count[i]), "median": makers.median[i],
                           "low": makers.low[i], "high": makers.high[i],
                           "window_days": pc["window_days"]},
                contract_id=r["contract_id"], producer_id=r["producer_id"],
                product_id=r["product_id"], **evidence))
    out += _price_rises(data, cfg, judged, product, day, price)
    return out


def _price_rises(data: _Data, cfg: dict[str, Any], judged: _Period, product: np.ndarray,
                 day: np.ndarray, price: np.ndarray) -> list[dict[str, Any]]:
    pc = cfg["price"]
    rows = data.contracts
    series = np.array([f"{r['producer_id']}\x00{r['product_id']}" for r in rows], dtype=object)
    slope, z, size, df = tests.price_trend(series, day / 365.25, np.log(price), product)
    keys = np.unique(series)
    span = {k: (day[series == k].min(), day[series == k].max()) for k in keys}
    eligible = [j for j, k in enumerate(keys) if size[j] >= pc["rise_min_contracts"]
                and span[k][1] - span[k][0] >= pc["rise_min_days"] and df[j] >= 1]
    bar = tests.p_bar(pc["rise_alpha"], len(eligible))
    p_rise = tests.trend_p(z, df)
    out = []
    for j in eligible:
        rise = float(np.expm1(slope[j]))
        pv = float(p_rise[j])
        if rise < pc["rise_per_year"] or not pv < bar:
            continue
        idx = np.flatnonzero(series == keys[j])
        last = idx[np.argmax(day[idx])]
        r = rows[last]
        if not any(judged.has(rows[i]["signed_on"]) for i in idx):
            continue
        first = idx[np.argmin(day[idx])]
        out.append(_flag(
            "price_rise",
            f"{r['producer_id']}'s price for {data.names.get(r['product_id'], r['product_id'])}"
            f" rose from {_n(price[first])} to {_n(price[last])} over {int(size[j])} contracts"
            f" ({rise:.0%} a year; t = {z[j]:.1f} on {df[j]:.0f} degrees of freedom against "
            f"the noise of the product's prices, {_p(pv)} below {bar:.1e} after allowing "
            f"for {len(eligible)} series)",
            value=rise, threshold=pc["rise_per_year"],
            reference={"contracts": int(size[j]), "t": float(z[j]), "df": float(df[j]),
                       "p": pv, "p_bar": bar, "first": float(price[first]),
                       "last": float(price[last])},
            contract_id=r["contract_id"], producer_id=r["producer_id"],
            product_id=r["product_id"],
            command=_records("contracts", producer_id=r["producer_id"],
                             product_id=r["product_id"]),
            api=f"{API}/contracts?" + _q(producer_id=r["producer_id"],
                                         product_id=r["product_id"])))
    return out


def _concentration(data: _Data, cfg: dict[str, Any]) -> list[dict[str, Any]]:
    cc = cfg["concentration"]
    units: dict[str, dict[str, float]] = {}
    for r in data.contracts:
        units.setdefault(r["product_id"], {}).setdefault(r["producer_id"], 0.0)
        units[r["product_id"]][r["producer_id"]] += r["quantity"]
    out = []
    for product_id, by in sorted(units.items()):
        total = sum(by.values())
        if total < cc["min_units"]:
            continue
        shares = np.array(list(by.values())) / total
        index = tests.hhi(shares)
        top = max(by, key=lambda p: (by[p], p))
        share = by[top] / total
        if share < cc["top_share"] and index < cc["hhi"]:
            continue
        out.append(_flag(
            "concentration",
            f"{top} holds {share:.0%} of the {_n(total)} units contracted for "
            f"{data.names.get(product_id, product_id)}; {len(by)} producers in all, HHI "
            f"{index:,.0f}",
            value=index, threshold={"top_share": cc["top_share"], "hhi": cc["hhi"]},
            reference={"producers": len(by), "top_share": share, "units": total},
            producer_id=top, product_id=product_id,
            command=_records("contracts", product_id=product_id),
            api=f"{API}/contracts?" + _q(product_id=product_id)))
    return out


# --- deliveries --------------------------------------------------------------------------

def _delivery(data: _Data, cfg: dict[str, Any], judged: _Period, as_of: dt.date
              ) -> list[dict[str, Any]]:
    dc = cfg["delivery"]
    per: dict[str, list[dict[str, Any]]] = {}
    for x in data.deliveries:
        per.setdefault(x["contract_id"], []).append(x)
    out = []
    late_by: dict[str, list[int]] = {}  # producer -> [late contracts, contracts judged]
    for r in data.contracts:
        got = [x for x in per.get(r["contract_id"], []) if x["delivered_on"] <= as_of]
        delivered = sum(x["quantity"] for x in got)
        accepted = sum(x["accepted_quantity"] for x in got)
        due = r["due_on"]
        keys = {"contract_id": r["contract_id"], "producer_id": r["producer_id"],
                "product_id": r["product_id"]}
        if delivered > r["quantity"] and judged.has(max(x["delivered_on"] for x in got)):
            out.append(_flag(
                "over_delivered",
                f"{r['contract_id']} orders {r['quantity']:,} units; its deliveries bring "
                f"{delivered:,}", value=delivered, threshold=r["quantity"], reference={},
                **keys, **_delivery_evidence(r["contract_id"])))
        if due is None or r["signed_on"] > as_of:
            continue
        late_days = [((x["delivered_on"] - due).days, x) for x in got]
        worst = max(late_days, key=lambda t: t[0], default=None)
        short = r["quantity"] - delivered  # not delivered (rejected units: rejected_share)
        is_late = (worst is not None and worst[0] > 0) or (due < as_of and short > 0)
        if due <= as_of or got:
            late_by.setdefault(r["producer_id"], [0, 0])
            late_by[r["producer_id"]][1] += 1
            late_by[r["producer_id"]][0] += int(is_late)
        if not judged.has(due):
            continue
        past = (as_of - due).days
        if past >= dc["grace_days"] and short >= dc["short_share"] * r["quantity"] > 0:
            out.append(_flag(
                "past_due_short",
                f"{r['contract_id']} was due {due.isoformat()} ({past} days ago); "
                f"{delivered:,} of {r['quantity']:,} units delivered "
                f"({short / r['quantity']:.0%} short)", value=short / r["quantity"],
                threshold=dc["short_share"],
                reference={"due_on": due.isoformat(), "days_past_due": past,
                           "delivered": delivered, "quantity": r["quantity"]},
                **keys, **_delivery_evidence(r["contract_id"])))
        out += _late_deliveries(r, got, dc, judged, keys)
        if delivered and (delivered - accepted) >= dc["rejected_share"] * delivered:
            out.append(_flag(
                "rejected_share",
                f"{delivered - accepted:,} of the {delivered:,} units delivered under "
                f"{r['contract_id']} were not accepted ({(delivered - accepted) / delivered:.0%})",
                value=(delivered - accepted) / delivered, threshold=dc["rejected_share"],
                reference={"delivered": delivered, "accepted": accepted}, **keys,
                **_delivery_evidence(r["contract_id"])))
    out += _late_share(late_by, dc)
    return out


def _late_deliveries(r: dict[str, Any], got: list[dict[str, Any]], dc: dict[str, Any],
                     judged: _Period, keys: dict[str, Any]) -> list[dict[str, Any]]:
    """Every delivery of contract ``r`` more than the grace period after its due date (a
    delivery judged by its day), high or medium when late by many days or by much of the
    contract's own lead time (due - signed), low otherwise."""
    due, signed = r["due_on"], r["signed_on"]
    lead = (due - signed).days
    out = []
    for x in got:
        days = (x["delivered_on"] - due).days
        if days <= dc["late_grace_days"] or not judged.has(x["delivered_on"]):
            continue
        share = days / lead if lead > 0 else None
        severity = ("high" if _late_beyond(days, share, dc["late_days"], dc["late_high_lead"])
                    else "medium" if _late_beyond(days, share, dc["late_medium_days"],
                                                  dc["late_medium_lead"]) else "low")
        of_lead = ("" if share is None else
                   f", {share:.1f} times the {lead} days from signing to the due date")
        out.append(_flag(
            "late_delivery",
            f"delivery {x['delivery_id']} of {r['contract_id']} ({x['quantity']:,} units) came "
            f"{x['delivered_on'].isoformat()}, {days} days after the due date "
            f"{due.isoformat()}{of_lead}",
            value=days, threshold=dc["late_grace_days"], severity=severity,
            reference={"due_on": due.isoformat(), "signed_on": signed.isoformat(),
                       "days_late": days, "lead_days": lead, "late_share_of_lead": share,
                       "quantity": x["quantity"]},
            delivery_id=x["delivery_id"], lot=x["lot"], **keys,
            **_delivery_evidence(r["contract_id"])))
    return out


def _delivery_evidence(contract_id: str) -> dict[str, str]:
    """Where the deliveries behind a contract's flags are listed."""
    return {"command": _records("deliveries", contract_id=contract_id),
            "api": f"{API}/deliveries?" + _q(contract_id=contract_id)}


def _late_beyond(days: int, share: float | None, at_days: float, at_share: float) -> bool:
    return days >= at_days or (share is not None and share >= at_share)


def _late_share(late_by: dict[str, list[int]], dc: dict[str, Any]) -> list[dict[str, Any]]:
    if not late_by:
        return []
    ids = sorted(late_by)
    late = np.array([late_by[p][0] for p in ids])
    total = np.array([late_by[p][1] for p in ids])
    p, share = tests.late_share_p(late, total)
    tested = total >= dc["min_contracts"]
    bar = dc["late_share_alpha"] / max(int(tested.sum()), 1)
    out = []
    for i, pid in enumerate(ids):
        if not tested[i] or p[i] >= bar:
            continue
        out.append(_flag(
            "late_share",
            f"{pid} was late on {late[i]} of its {total[i]} contracts ({late[i] / total[i]:.0%});"
            f" the other producers on {share[i]:.0%} (one-sided binomial {_p(p[i])}, "
            f"below {bar:.1e} after allowing for {int(tested.sum())} producers)",
            value=float(late[i] / total[i]), threshold=float(bar),
            reference={"late": int(late[i]), "contracts": int(total[i]),
                       "others_share": float(share[i]), "p": float(p[i])},
            producer_id=pid, command=_records("contracts", producer_id=pid),
            api=f"{API}/contracts?" + _q(producer_id=pid)))
    return out


# --- amendments and impossible records ------------------------------------------------------

def _amendments(data: _Data, cfg: dict[str, Any], judged: _Period) -> list[dict[str, Any]]:
    by_id = {r["contract_id"]: r for r in data.contracts}
    out = []
    for cid, history in sorted(data.updates.items()):
        r = by_id.get(cid)
        if r is None or not judged.has(r["signed_on"]):
            continue
        keys = {"contract_id": cid, "producer_id": r["producer_id"],
                "product_id": r["product_id"]}
        # the history itself is in the flag's reference (from the audit trail's row updates)
        evidence = {"command": _records("contracts", contract_id=cid),
                    "api": f"{API}/contracts/{quote(cid, safe='')}"}
        raised = []
        for h in history:
            old_q = float(h["old"].get("quantity", r["quantity"]))
            new_q = float(h["new"].get("quantity", old_q))
            old_p = float(h["old"].get("unit_price", r["unit_price_ws"]))
            new_p = float(h["new"].get("unit_price", old_p))
            if new_q * new_p > old_q * old_p or new_q > old_q:
                raised.append((h, old_q * old_p, new_q * new_p))
        ref = {"updates": [{"at": h["at"], "old": h["old"], "new": h["new"]}
                           for h in history]}
        if raised:
            h, before, after = raised[-1]
            out.append(_flag(
                "amendment_raised",
                f"{cid} was updated {h['at'][:10]}: its value went from {_n(before)} to "
                f"{_n(after)} (in its own currency; {len(raised)} update(s) raising its value"
                " or quantity in all)",
                value=after / before if before else None, threshold=1.0, reference=ref,
                **keys, **evidence))
        if len(history) >= cfg["amendments"]["max_updates"]:
            out.append(_flag(
                "amendment_repeated",
                f"{cid} was updated {len(history)} times after it was first imported",
                value=len(history), threshold=cfg["amendments"]["max_updates"],
                reference=ref, **keys, **evidence))
    return out


def _impossible(data: _Data, judged: _Period) -> list[dict[str, Any]]:
    out = []
    for x in data.lot_use:
        keys = {"contract_id": x["contract_id"], "delivery_id": x["delivery_id"],
                "producer_id": x["producer_id"], "product_id": x["product_id"],
                "lot": x["lot"]}
        if x["early_uses"] and judged.has(x["first_early"]):
            eve = (x["delivered_on"] - dt.timedelta(days=1)).isoformat()
            early = {"command": _uses(lot=x["lot"], to=eve),
                     "api": f"{API}/uses?" + _q(lot=x["lot"], date_to=eve)}
            out.append(_flag(
                "use_before_delivery",
                f"{x['early_uses']:,} uses of lot {x['lot']} are dated before its delivery "
                f"on {x['delivered_on'].isoformat()} (the first in "
                f"{x['first_early'].strftime('%Y-%m')})", value=x["early_uses"], threshold=0,
                reference={"delivered_on": x["delivered_on"].isoformat(),
                           "first_month": x["first_early"].strftime("%Y-%m")},
                **keys, **early))
        if x["units_used"] > x["accepted"] and judged.has(x["delivered_on"]):
            out.append(_flag(
                "lot_overused",
                f"{x['units_used']:,} units of lot {x['lot']} were used; "
                f"{x['accepted']:,} were accepted", value=x["units_used"],
                threshold=x["accepted"], reference={}, **keys, command=_uses(lot=x["lot"]),
                api=f"{API}/uses?" + _q(lot=x["lot"])))
    for f in data.future:
        first = f["first"] if isinstance(f["first"], dt.date) else \
            dt.date.fromisoformat(str(f["first"]))
        out.append(_flag(
            "use_in_future",
            f"{f['uses']:,} uses of {f['product_id']} by {f['producer_id'] or '(no producer)'}"
            f" are dated after today (the first {first.isoformat()})", value=f["uses"],
            threshold=0, reference={"first": first.isoformat()},
            producer_id=f["producer_id"], product_id=f["product_id"],
            command=_uses(product=f["product_id"], producer=f["producer_id"] or "-",
                          **{"from": first.isoformat()}),
            api=f"{API}/uses?" + _q(product=f["product_id"], producer=f["producer_id"],
                                    date_from=first.isoformat())))
    return out


# --- effect claims -------------------------------------------------------------------------

def _effects(conn: Any, data: _Data, cfg: dict[str, Any], judged: _Period
             ) -> list[dict[str, Any]]:
    """The effect claims and bursts, from each product's tests (``data.effects``, kept per
    product: ``services/flag_uses.py``), each family corrected over every product."""
    ec = cfg["effects"]
    claims, bursts, burst_tests = flag_uses.all_effects(data.effects.values())
    out = []
    bar = tests.p_bar(ec["alpha"], len(claims))
    for pv, product_id, op, n_, e_, e_rest, n_rest, phi, tau2 in claims:
        if not pv < bar:
            continue
        name = data.names.get(product_id, product_id)
        out.append(_flag(
            "effect_claims",
            f"{op} reports {_n(e_ / n_)} confirmed effects per use of {name} over "
            f"{int(n_):,} uses; the other operators {_n(e_rest / n_rest)} ({_p(pv)}, "
            f"allowing for chance, for effects clustering {phi:.1f} times beyond it and for "
            f"the other operators differing by {np.sqrt(tau2):.0%} among themselves; the "
            f"bar, over {len(claims):,} operator-product pairs, is {bar:.1e})",
            value=float(e_ / n_), threshold=float(bar),
            reference={"uses": int(n_), "effects": int(e_), "others_per_use": e_rest / n_rest,
                       "p": pv, "dispersion": phi, "operators_cv": float(np.sqrt(tau2))},
            operator=op, product_id=product_id,
            command=_uses(product=product_id, operator=op),
            api=f"{API}/uses?" + _q(product=product_id, operator=op)))
    bar_b = tests.p_bar(ec["burst_alpha"], burst_tests)
    for pv, product_id, op, month, rate, before in bursts:
        if not pv < bar_b:
            continue
        out.append(_flag(
            "effect_burst",
            f"{op}'s confirmed effects per use of {data.names.get(product_id, product_id)} "
            f"jumped to {_n(rate)} in {month} from {_n(before)} before, beyond the other "
            f"operators' change that month ({_p(pv)}, bar {bar_b:.1e} over "
            f"{burst_tests:,} operator-months)",
            value=rate, threshold=float(bar_b),
            reference={"month": month, "before_per_use": before, "p": pv},
            operator=op, product_id=product_id,
            command=_uses(product=product_id, operator=op, month=month),
            api=f"{API}/uses?" + _q(product=product_id, operator=op, month=month)))
    return out
