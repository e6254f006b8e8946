"""Failures per lot and mode from the kept ``lot_failure_cube`` (schema 0015, issue 23):
exactly what the scan of the uses it replaced answered, on a demo workspace with varied
data (uses without a lot, a producer or a version, updates that move failures), and the
cube's rows against counts made by hand."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import Connection, func, select

import kuznia
from kuznia.demo import DemoSize, generate
from kuznia.ingest.tables import IMPORT_ORDER
from kuznia.services import board as boards
from kuznia.services import failures
from kuznia.store import bulk
from kuznia.store.schema import uses


def scan(conn: Connection, product: str | None, producer: str | None) -> pl.DataFrame:
    """The query the failures, fixes and board ran before schema 0015 (a scan of uses)."""
    u = uses.c
    keys = (u.product_id, func.coalesce(u.producer_id, ""), func.coalesce(u.version, ""),
            u.lot, u.failure_mode)
    q = (select(*keys, func.count())
         .where(u.failure_mode.is_not(None), u.failure_mode != "", u.lot.is_not(None),
                u.lot != "")
         .group_by(*keys))
    if product:
        q = q.where(u.product_id == product)
    if producer:
        q = q.where(u.producer_id == producer)
    return pl.DataFrame(conn.execute(q).all(), orient="row", schema={
        "product_id": pl.String, "producer_id": pl.String, "version": pl.String,
        "lot": pl.String, "failure_mode": pl.String, "mode_failures": pl.Int64})


KEYS = ["product_id", "producer_id", "version", "lot", "failure_mode"]


@pytest.fixture
def demo_ws(db_url: str, tmp_path: Path):
    """A small demo workspace, then uses without a lot, producer or version, and an
    update that moves failures to other modes and lots (and some to no failure)."""
    files = generate(tmp_path / "data", DemoSize(uses=3000, producers=20, operators=20),
                     seed=5)
    with kuznia.init(db_url, "USD", actor="tester") as ws:
        for table in IMPORT_ORDER:
            ws.import_file(table, files[table])
        demo = pl.read_csv(files["uses"], infer_schema=False)
        failed = demo.filter(pl.col("failure_mode").is_not_null())
        assert failed.height > 30 and failed["lot"].n_unique() > 5
        extra = failed.head(40).with_columns(
            ("X" + pl.col("use_id")).alias("use_id"),
            pl.when(pl.int_range(pl.len()) % 3 == 0).then(None).otherwise(pl.col("lot"))
            .alias("lot"),
            pl.when(pl.int_range(pl.len()) % 4 == 1).then(None).otherwise(pl.col("version"))
            .alias("version"))
        extra.write_csv(tmp_path / "extra.csv")
        ws.import_file("uses", tmp_path / "extra.csv")
        moved = failed.tail(30).with_columns(
            pl.when(pl.int_range(pl.len()) % 3 == 0).then(None)
            .otherwise(pl.col("failure_mode").reverse()).alias("failure_mode"),
            pl.when(pl.int_range(pl.len()) % 5 == 0).then(None).otherwise(pl.col("lot"))
            .alias("lot"))
        moved = moved.with_columns(
            pl.when(pl.col("failure_mode").is_null()).then(pl.lit("effect"))
            .otherwise(pl.col("outcome")).alias("outcome"),
            pl.when(pl.col("failure_mode").is_null()).then(pl.lit("1"))
            .otherwise(pl.col("effects")).alias("effects"))
        moved.write_csv(tmp_path / "moved.csv")
        ws.import_file("uses", tmp_path / "moved.csv", update=True)
        yield ws


def _same(a: pl.DataFrame, b: pl.DataFrame) -> None:
    assert a.sort(KEYS).equals(b.sort(KEYS))


def test_the_cube_answers_as_the_scan_did(demo_ws: kuznia.Workspace, monkeypatch):
    with demo_ws.store.read() as conn:
        top = conn.exec_driver_sql(
            "SELECT product_id, producer_id FROM uses WHERE failure_mode != '' "
            "GROUP BY product_id, producer_id ORDER BY COUNT(*) DESC").first()
        zero = conn.exec_driver_sql(
            "SELECT COUNT(*) FROM lot_failure_cube WHERE failures = 0").scalar()
        assert zero > 0  # the update left keys with no failure: they must not show
        for product, producer in [(None, None), (top[0], None), (None, top[1]), tuple(top)]:
            new = failures._lot_mode_failures(conn, product, producer)
            assert new.height > 0
            _same(new, scan(conn, product, producer))

    def answers() -> tuple:  # every answer built on it, whole
        store = demo_ws.store
        return (failures.fixes(store).to_dict(),
                failures.fixes(store, scope=top[1]).to_dict(),
                failures.failures(store, by="version").to_dict(),
                failures.failures(store, producer=top[1]).to_dict(),
                boards.board(store).to_dict(),
                boards.board(store, producer=top[1]).to_dict())

    new = answers()
    monkeypatch.setattr(failures, "_lot_mode_failures", scan)
    old = answers()
    assert new == old
    assert new[0]["rows"] and new[4]["blocks"]
    assert any(r["lot_dispersion"] != 1.0 for r in new[0]["rows"])
    assert demo_ws.verify_audit(deep=True).ok


def test_upgrading_from_0014_fills_the_cube(demo_ws: kuznia.Workspace):
    from kuznia.store.engine import downgrade, upgrade

    with demo_ws.store.read() as conn:
        before = scan(conn, None, None)
    downgrade(demo_ws.store.engine, "0014")
    upgrade(demo_ws.store.engine)
    with demo_ws.store.read() as conn:
        _same(failures._lot_mode_failures(conn, None, None), before)
        assert conn.exec_driver_sql(
            "SELECT COUNT(*) FROM lot_failure_cube WHERE failures = 0").scalar() == 0
    assert demo_ws.verify_audit(deep=True).ok


def test_the_deep_audit_names_the_cube_when_it_is_edited(demo_ws: kuznia.Workspace):
    with demo_ws.store.engine.begin() as conn:
        conn.exec_driver_sql(
            "UPDATE lot_failure_cube SET failures = failures + 1 WHERE failures > 0 "
            "AND lot = (SELECT MIN(lot) FROM lot_failure_cube WHERE failures > 0)")
    check = demo_ws.verify_audit(deep=True)
    assert not check.ok and check.table == "lot_failure_cube"


def test_known_answer(ws: kuznia.Workspace, tmp_path: Path):
    """Two lots, one use with no lot, a use with no failure mode; then an update."""
    from helpers import write_csv
    from test_loop import build

    files = build(tmp_path / "loop")
    for t in ("producers", "products", "versions", "contracts", "deliveries"):
        ws.import_file(t, files[t])
    head = ["use_id", "used_on", "product_id", "version", "producer_id", "lot", "effects",
            "outcome", "failure_mode"]
    rows = [["U1", "2026-01-21", "X", "v1", "P1", "L1", 0, "failure", "jam"],
            ["U2", "2026-01-22", "X", "v1", "P1", "L1", 0, "failure", "jam"],
            ["U3", "2026-01-22", "X", "v1", "P1", "L1", 0, "failure", "link"],
            ["U4", "2026-01-26", "X", "v1", "P2", "L2", 0, "failure", "jam"],
            ["U5", "2026-01-26", "X", "", "P2", "", 0, "failure", "jam"],
            ["U6", "2026-01-26", "X", "v1", "P2", "L2", 1, "effect", ""]]
    ws.import_file("uses", write_csv(tmp_path / "u.csv", head, rows))
    with ws.store.read() as conn:
        got = failures._lot_mode_failures(conn, None, None)
    assert sorted(got.rows()) == [("X", "P1", "v1", "L1", "jam", 2),
                                  ("X", "P1", "v1", "L1", "link", 1),
                                  ("X", "P2", "v1", "L2", "jam", 1)]
    ws.import_file("uses", write_csv(tmp_path / "v.csv", head, [
        ["U3", "2026-01-22", "X", "v1", "P1", "L1", 0, "failure", "jam"],
        ["U4", "2026-01-26", "X", "v1", "P2", "L2", 1, "effect", ""]]), update=True)
    with ws.store.read() as conn:
        got = failures._lot_mode_failures(conn, None, "P1")
        stored = conn.exec_driver_sql(
            "SELECT lot, failure_mode, failures FROM lot_failure_cube "
            "ORDER BY producer_id, lot, failure_mode").all()
    assert sorted(got.rows()) == [("X", "P1", "v1", "L1", "jam", 3)]
    assert [tuple(r) for r in stored] == [("L1", "jam", 3), ("L1", "link", 0), ("", "jam", 1),
                                          ("L2", "jam", 0)]


MAYBE = st.one_of(st.none(), st.sampled_from(["", "a", "b"]))


@given(st.lists(st.tuples(st.sampled_from(["X", "Y"]), MAYBE, MAYBE, MAYBE,
                          st.one_of(st.none(), st.sampled_from(["", "jam", "link"]))),
                max_size=40),
       st.integers(0, 40))
def test_rows_count_each_failed_use_once(rows, cut):
    """Added in two batches, then the first batch taken back out: the cube's rows are the
    failed uses of the second batch counted by key, with '' for a missing key."""
    frame = pl.DataFrame(rows, orient="row", schema=dict.fromkeys(KEYS, pl.String))
    first, second = frame.head(cut), frame.slice(cut)
    cube = next(c for c in bulk.CUBES if c.table == "lot_failure_cube")
    parts = [cube.rows(part, sign) for part, sign in ((first, 1), (second, 1), (first, -1))]
    got = {tuple(r[:5]): r[5] for r in bulk._combined(cube, parts).iter_rows()}
    want = Counter(tuple(v or "" for v in r) for r in rows[cut:] if r[4])
    assert {k: v for k, v in got.items() if v} == dict(want)
    assert all(v >= 0 for v in got.values())


def test_a_producers_board_is_the_whole_board_filtered(demo_ws: kuznia.Workspace,
                                                       monkeypatch):
    """A producer's board judges only the actions it shows: its blocks are exactly those
    of the whole board it used to filter (its own, and the product-wide ones of its
    products), with a producer, a product and a producer's own scope; and exactly what
    it answered when it judged every action."""
    store = demo_ws.store
    with store.read() as conn:
        cube = failures.cube_frame(conn)
        named = {p for (p,) in conn.exec_driver_sql(
            "SELECT producer_id FROM corrective_actions WHERE producer_id IS NOT NULL")}
    whole = boards.board(store).blocks
    shown = 0
    for producer in sorted(named)[:3] + [cube["producer_id"][0]]:
        theirs = set(cube.filter(pl.col("producer_id") == producer)["product_id"])
        want = [b for b in whole if b["producer_id"] == producer
                or (b["producer_id"] is None and b["product_id"] in theirs)]
        got = boards.board(store, producer=producer).blocks
        assert got == want
        shown += sum(b["kind"] == "corrective_action" for b in got)
    assert shown > 0
    product = cube["product_id"][0]
    producer = cube.filter(pl.col("product_id") == product)["producer_id"][0]
    new = (boards.board(store, producer=producer, product=product).to_dict(),
           boards.board(store, scope=producer).to_dict())
    judged = failures.fixes

    def every(*args, shown_to=None, **kwargs):  # as before: every action judged
        return judged(*args, **kwargs)

    monkeypatch.setattr(boards, "fixes", every)
    assert new == (boards.board(store, producer=producer, product=product).to_dict(),
                   boards.board(store, scope=producer).to_dict())


@given(st.integers(1, 40), st.integers(50, 3000), st.integers(0, 12), st.integers(0, 2000),
       st.sampled_from([1.0, 1.37, 2.5]))
def test_uses_needed_kept_is_as_drawn(x1, n1, x2, n2, phi):
    """The kept answer of the uses a fix needs is the one its seeded draws give."""
    from kuznia.analytics import fixes as fx

    args = (x1 / phi, n1 / phi, x2 / phi, n2 / phi, 0.05, 0.5, phi)
    drawn = fx._needed.__wrapped__(*args)
    assert fx._needed(*args) == drawn and fx._needed(*args) == drawn


def test_the_board_after_a_write_is_the_board_drawn_anew(demo_ws: kuznia.Workspace,
                                                         monkeypatch, tmp_path: Path):
    """After a write of one use, the board from the kept uses-needed answers is the one
    drawn from nothing."""
    from kuznia.analytics import fixes as fx

    store = demo_ws.store
    fx._needed.cache_clear()
    boards.board(store)  # the answers are kept
    filled = fx._needed.cache_info()
    assert filled.currsize > 0
    with store.read() as conn:
        row = conn.exec_driver_sql(
            "SELECT use_id, used_on, product_id, version, producer_id, lot FROM uses "
            "WHERE failure_mode != '' AND lot != '' ORDER BY use_id").first()
    head = ["use_id", "used_on", "product_id", "version", "producer_id", "lot", "effects",
            "outcome", "failure_mode"]
    from helpers import write_csv

    demo_ws.import_file("uses", write_csv(tmp_path / "one.csv", head, [
        ["ONE-1", str(row[1])[:10], *row[2:], 0, "failure", "new-mode"]]))
    kept = boards.board(store).to_dict()
    assert fx._needed.cache_info().hits > filled.hits  # answers kept from before the write
    monkeypatch.setattr(fx, "_needed", fx._needed.__wrapped__)
    assert kept == boards.board(store).to_dict()
    assert any(r["uses_needed"] for r in failures.fixes(store).rows)
