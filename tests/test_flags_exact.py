"""The red flags from sums the database makes (issue 23: well under a second after a
write at a million uses) are exactly the flags of the old computation over every cell of
the operator cube (kept here as the reference), on both backends, over periods, scopes
and settings that raise claims and bursts."""

from __future__ import annotations

import copy
import datetime as dt
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sqlalchemy import select

import kuznia
from helpers import import_demo
from kuznia.analytics import oversight as tests
from kuznia.services import flag_uses, oversight, oversight_config
from kuznia.services.access import Scope
from kuznia.store.schema import contracts, operator_cube


def _old_ops(conn: Any) -> dict[str, np.ndarray]:
    oc = operator_cube.c
    rows = conn.execute(select(oc.product_id, oc.operator, oc.month, oc.uses, oc.effects,
                               oc.effects_sq).where(oc.operator != "", oc.uses > 0)).all()
    if not rows:
        return {k: np.array([], dtype=object if k in ("product", "operator", "month")
                            else float) for k in ("product", "operator", "month", "uses",
                                                   "effects", "effects_sq")}
    p, o, m, n, e, sq = zip(*rows, strict=True)
    return {"product": np.array(p, dtype=object), "operator": np.array(o, dtype=object),
            "month": np.array(m, dtype=object), "uses": np.array(n, dtype=float),
            "effects": np.array(e, dtype=float), "effects_sq": np.array(sq, dtype=float)}


def _old_effects(conn: Any, data: Any, cfg: dict[str, Any], judged: Any
                 ) -> list[dict[str, Any]]:
    """The computation before issue 23's (every cell of the cube in memory)."""
    _flag, _n, _p, _uses, _q, API = (oversight._flag, oversight._n, oversight._p,
                                     oversight._uses, oversight._q, oversight.API)
    ec = cfg["effects"]
    o = _old_ops(conn)
    if o["uses"].size == 0:
        return []
    month = o["month"].astype(str)
    keep = np.ones(month.size, dtype=bool)
    if judged.lo:
        keep &= month >= judged.lo.strftime("%Y-%m")
    if judged.hi:
        keep &= month <= judged.hi.strftime("%Y-%m")
    products_, p_idx = np.unique(o["product"].astype(str), return_inverse=True)
    operators, op_idx = np.unique(o["operator"].astype(str), return_inverse=True)
    months, m_idx = np.unique(month, return_inverse=True)
    order = np.argsort(p_idx, kind="stable")
    bounds = np.searchsorted(p_idx[order], np.arange(products_.size + 1))
    claims, bursts, burst_tests = [], [], 0
    for j, product_id in enumerate(products_):
        rows = order[bounds[j]:bounds[j + 1]]
        kept = rows[keep[rows]]
        if kept.size == 0:
            continue
        ops_, inv = np.unique(op_idx[kept], return_inverse=True)
        n, e, sq = (np.bincount(inv, weights=o[k][kept], minlength=ops_.size)
                    for k in ("uses", "effects", "effects_sq"))
        c = tests.claims(n, e, sq, min_uses=ec["min_uses"])
        for k in np.flatnonzero(c.judged):
            claims.append((float(c.p[k]), str(product_id), str(operators[ops_[k]]), n[k], e[k],
                           e.sum() - e[k], n.sum() - n[k], c.phi, float(c.tau2[k])))
        found, tested = _old_bursts(o, rows, op_idx, m_idx, operators, months,
                                    str(product_id), ec, c.phi, keep)
        bursts += found
        burst_tests += tested
    out = []
    bar = tests.p_bar(ec["alpha"], len(claims))
    for pv, product_id, op, n, e, e_rest, n_rest, phi, tau2 in claims:
        if not pv < bar:
            continue
        name = data.names.get(product_id, product_id)
        out.append(_flag(
            "effect_claims",
            f"{op} reports {_n(e / n)} confirmed effects per use of {name} over {int(n):,} "
            f"uses; the other operators {_n(e_rest / n_rest)} ({_p(pv)}, allowing for "
            f"chance, for effects clustering {phi:.1f} times beyond it and for the other "
            f"operators differing by {np.sqrt(tau2):.0%} among themselves; the bar, over "
            f"{len(claims):,} operator-product pairs, is {bar:.1e})", value=float(e / n),
            threshold=float(bar),
            reference={"uses": int(n), "effects": int(e), "others_per_use": e_rest / n_rest,
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


def _old_bursts(o, rows, op_idx, m_idx, operators, all_months, product_id, ec, phi, keep):
    col_ids, cols = np.unique(m_idx[rows], return_inverse=True)
    if col_ids.size < 2:
        return [], 0
    op_ids, r = np.unique(op_idx[rows], return_inverse=True)
    n = np.zeros((op_ids.size, col_ids.size))
    e = np.zeros_like(n)
    np.add.at(n, (r, cols), o["uses"][rows])
    np.add.at(e, (r, cols), o["effects"][rows])
    months = all_months[col_ids]
    ops_ = operators[op_ids]
    n_b, e_b = np.cumsum(n, axis=1) - n, np.cumsum(e, axis=1) - e
    tot_n, tot_e = n.sum(axis=0), e.sum(axis=0)
    tb_n, tb_e = np.cumsum(tot_n) - tot_n, np.cumsum(tot_e) - tot_e
    with np.errstate(divide="ignore", invalid="ignore"):
        now = (tot_e[None, :] - e) / (tot_n[None, :] - n)
        earlier = (tb_e[None, :] - e_b) / (tb_n[None, :] - n_b)
        trend = np.where((earlier > 0) & np.isfinite(now), now / earlier, 1.0)
    ok = (n >= ec["burst_min_uses"]) & (n_b >= ec["burst_min_uses"])
    pv = np.where(ok, tests.burst_p(e, n, e_b, n_b, trend, phi), np.inf)
    out = []
    judged = set(all_months[m_idx[rows[keep[rows]]]])
    for a in np.flatnonzero(ok.any(axis=1)):
        cols = np.flatnonzero(ok[a])
        best = cols[np.argmin(pv[a, cols])]
        if months[best] not in judged:
            continue
        out.append((float(pv[a, best]), product_id, str(ops_[a]), str(months[best]),
                    e[a, best] / n[a, best], e_b[a, best] / n_b[a, best]))
    return out, int(ok.sum())


@pytest.fixture
def demo_ws(ws: kuznia.Workspace, tmp_path: Path) -> kuznia.Workspace:
    return import_demo(ws, tmp_path / "data", 30_000, 11, planted=True)


def test_the_flags_are_exactly_the_old_computations(demo_ws: kuznia.Workspace,
                                                    monkeypatch: pytest.MonkeyPatch,
                                                    tmp_path: Path) -> None:
    store = demo_ws.store
    base = oversight_config.load(None)
    loose = copy.deepcopy(base)
    # every judged claim and burst raised: each p-value compared
    loose["effects"].update(min_uses=5, burst_min_uses=3, alpha=1e9, burst_alpha=1e9)
    with store.read() as conn:
        product = conn.execute(select(operator_cube.c.product_id)).first()
    asks: list[dict[str, Any]] = [
        {}, {"config": loose},
        {"date_from": dt.date(2025, 3, 1), "date_to": dt.date(2025, 9, 30), "config": loose},
        {"date_from": dt.date(2025, 6, 1)}, {"date_to": dt.date(2025, 4, 30)},
        {"date_from": dt.date(1990, 1, 1), "date_to": dt.date(1990, 2, 1)},
        {"scope": Scope(producer_id="P0001"), "config": loose},
        {"product": product[0] if product else None, "config": loose}]
    today = dt.date(2026, 12, 7)

    def answers() -> list[dict[str, Any]]:
        return [oversight.flags(store, today=today, **a).to_dict() for a in asks]

    def old_answers() -> list[dict[str, Any]]:
        with monkeypatch.context() as m:  # the old computations, nothing kept
            m.setattr(oversight, "_effects", _old_effects)
            m.setattr(oversight, "_prices", oversight._price_flags)
            flag_uses.forget()
            try:
                return answers()
            finally:
                flag_uses.forget()

    oversight._PRICES_KEPT.clear()
    flag_uses.forget()
    new, kept, old = answers(), answers(), old_answers()  # the price flags made, then kept
    codes = [f["code"] for answer in old for f in answer["flags"]]
    # the data raise both, several times, and other flags beside
    assert codes.count("effect_claims") >= 3 and codes.count("effect_burst") >= 3, codes
    assert {"price_outlier", "resale_markup"} <= set(codes)
    for ask, got, again, want in zip(asks, new, kept, old, strict=True):
        assert got == want and again == want, ask
    # a contract's price changed: its price flags are made again, not the kept ones
    with store.read() as conn:
        c = conn.execute(select(contracts).order_by(contracts.c.contract_id)).first()._mapping
    path = tmp_path / "contract.csv"
    path.write_text("contract_id,producer_id,product_id,signed_on,quantity,unit_price,"
                    f"currency,due_on\n{c['contract_id']},{c['producer_id']},"
                    f"{c['product_id']},{c['signed_on']},{c['quantity']},"
                    f"{c['unit_price_ws'] * 40},USD,{c['due_on'] or ''}\n")
    demo_ws.import_file("contracts", path, update=True)
    changed = answers()
    assert changed == old_answers() and changed != new
