"""The producers' portal: the scorecard (against a brute-force count), answers and replies
on board blocks with PDF attachments, offers sent from the portal, and the scope of each
(SQLite, and PostgreSQL when a server is named)."""

from __future__ import annotations

import base64
import random
import statistics
from pathlib import Path

import pytest
import sqlalchemy as sa
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats

import kuznia
from helpers import write_csv
from kuznia.analytics.scorecard import jeffreys, peer_median, share_line
from kuznia.errors import InputError, NotFoundError, UsageError
from kuznia.services import audit, audit_check, planning, portal
from kuznia.services import scorecard as scorecard_svc
from kuznia.services.backup import backup
from kuznia.services.restore import restore
from kuznia.store.schema import attachments, block_messages, offer_submissions, offers

# --- the arithmetic -----------------------------------------------------------------------


def test_jeffreys_is_the_beta_posteriors_quantiles():
    p, lo, hi = jeffreys([3, 0, 7, 0], [10, 4, 7, 0], 0.9)
    assert p[0] == 0.3 and lo[0] == pytest.approx(stats.beta.ppf(0.05, 3.5, 7.5))
    assert hi[0] == pytest.approx(stats.beta.ppf(0.95, 3.5, 7.5))
    assert (lo[1], p[1]) == (0.0, 0.0) and hi[1] == pytest.approx(stats.beta.ppf(0.95, .5, 4.5))
    assert (p[2], hi[2]) == (1.0, 1.0) and lo[2] == pytest.approx(stats.beta.ppf(0.05, 7.5, .5))
    assert all(x != x for x in (p[3], lo[3], hi[3]))  # no trials: no figure (NaN)


@given(st.dictionaries(st.sampled_from("ABCDEFGH"),
                       st.one_of(st.none(), st.floats(0, 1e6, allow_nan=False)), max_size=8),
       st.sampled_from("ABCDEFGH"), st.integers(1, 5))
def test_peer_median_is_the_median_of_the_others_or_nothing(figures, own, minimum):
    others = [v for k, v in figures.items() if k != own and v is not None]
    median, peers = peer_median(figures, own, minimum)
    assert peers == len(others)
    if len(others) < minimum:
        assert median is None
    else:
        assert median == pytest.approx(statistics.median(others))


def test_a_median_of_two_is_never_shown():
    line = share_line("on_time", {"A": (1, 2), "B": (1, 4), "C": (3, 4)}, "A")
    assert line.peer_median is None and line.peers == 2  # their average would show
    assert line.value == 0.5 and line.low < 0.5 < line.high


# --- the scorecard on a workspace, against a brute-force count --------------------------

def _world(folder: Path, seed: int = 7) -> dict[str, list[list[object]]]:
    """Six producers: P1-P5 make X (P5 also Y), P6 makes only Y; random lots and uses."""
    rng = random.Random(seed)
    folder.mkdir(exist_ok=True)
    made = {"P1": ["X"], "P2": ["X"], "P3": ["X"], "P4": ["X"], "P5": ["X", "Y"],
            "P6": ["Y"]}
    contracts, lots, uses = [], [], []
    for p, products in made.items():
        for product in products:
            cid = f"C-{p}-{product}"
            contracts.append([cid, p, product, "2026-01-02", 1000, 10 + rng.randint(0, 9),
                              "USD", "2026-03-01"])
            for j in range(rng.randint(1, 5)):
                q = rng.randint(10, 60)
                lots.append([f"D-{cid}-{j}", cid, f"2026-0{rng.randint(1, 4)}-1{j}", q,
                             q - rng.randint(0, 5), f"L-{cid}-{j}"])
            for _ in range(rng.randint(5, 30)):
                fail = rng.random() < 0.2
                uses.append([f"U{len(uses):05d}", f"2026-0{rng.randint(1, 5)}-0{rng.randint(1, 9)}",
                             product, p, 0 if fail else rng.randint(1, 3),
                             "failure" if fail else "effect", "jam" if fail else ""])
    files = {
        "producers": (["producer_id", "name", "kind", "region"],
                      [[p, f"Maker {p}", "private", "R1"] for p in made]),
        "products": (["product_id", "name", "category"],
                     [["X", "Product X", "drone"], ["Y", "Product Y", "drone"]]),
        "contracts": (["contract_id", "producer_id", "product_id", "signed_on", "quantity",
                       "unit_price", "currency", "due_on"], contracts),
        "deliveries": (["delivery_id", "contract_id", "delivered_on", "quantity",
                        "accepted_quantity", "lot"], lots),
        "uses": (["use_id", "used_on", "product_id", "producer_id", "effects", "outcome",
                  "failure_mode"], uses),
        "failure_modes": (["product_id", "failure_mode", "description", "severity"],
                          [["X", "jam", "jams", 3], ["Y", "jam", "jams", 3]]),
    }
    for name, (header, rows) in files.items():
        write_csv(folder / f"{name}.csv", header, rows)
    return {"contracts": contracts, "lots": lots, "uses": uses}


@pytest.fixture
def world(ws: kuznia.Workspace, tmp_path: Path) -> tuple[kuznia.Workspace, dict]:
    rows = _world(tmp_path / "w")
    for t in ("producers", "products", "contracts", "deliveries", "uses", "failure_modes"):
        ws.import_file(t, tmp_path / "w" / f"{t}.csv")
    return ws, rows


def _brute(rows: dict, product: str = "X") -> dict[str, dict[str, tuple[int, int]]]:
    due = {c[0]: (c[1], c[2], c[7]) for c in rows["contracts"]}
    out: dict[str, dict[str, list[int]]] = {}
    for _, cid, on, q, acc, _ in rows["lots"]:
        p, prod, due_on = due[cid]
        if prod != product:
            continue
        m = out.setdefault(p, {"on_time": [0, 0], "accepted": [0, 0],
                               "failures_per_100": [0, 0]})
        m["on_time"][0] += on <= due_on
        m["on_time"][1] += 1
        m["accepted"][0] += acc
        m["accepted"][1] += q
    for _, _, prod, p, _, outcome, _ in rows["uses"]:
        if prod == product:
            m = out.setdefault(p, {"on_time": [0, 0], "accepted": [0, 0],
                                   "failures_per_100": [0, 0]})
            m["failures_per_100"][0] += outcome == "failure"
            m["failures_per_100"][1] += 1
    return {p: {k: (v[0], v[1]) for k, v in m.items()} for p, m in out.items()}


@pytest.mark.parametrize("producer", ["P1", "P5"])
def test_scorecard_matches_a_brute_force_count(world, producer: str):
    ws, rows = world
    card = scorecard_svc.scorecard(ws.store, producer)
    brute = _brute(rows)
    assert card.products == (["X"] if producer == "P1" else ["X", "Y"])
    for line in card.lines:
        name, scale = line["measure"], (100 if line["measure"] == "failures_per_100" else 1)
        if producer == "P5":
            continue  # P5's own figure is over X and Y; checked for P1 below
        k, n = brute[producer][name]
        assert line["value"] == pytest.approx(scale * k / n)
        assert line["low"] <= line["value"] <= line["high"]
        others = [kk / nn for p, m in brute.items() if p != producer
                  for kk, nn in [m[name]] if nn]
        assert line["peers"] == len(others) == 4  # P2-P5 (P6 makes no X)
        assert line["peer_median"] == pytest.approx(scale * statistics.median(others))
    table = {r["producer_id"]: r["cost_per_effect"]
             for r in ws.cost_per_effect("product,producer", product="X").rows}
    (x,) = [c for c in card.cost_per_effect if c["product_id"] == "X"]
    assert x["value"] == table[producer]
    others = [v for p, v in table.items() if p != producer and v is not None]
    assert x["peer_median"] == (pytest.approx(statistics.median(others))
                                if len(others) >= 3 else None)
    if producer == "P5":  # Y: only P6 besides: too few to compare
        (y,) = [c for c in card.cost_per_effect if c["product_id"] == "Y"]
        assert y["peer_median"] is None and y["peers"] <= 1
        assert all(line["peers"] == 5 for line in card.lines)  # P1-P4 on X, P6 on Y


def test_scorecard_months_and_unknown_producer(world):
    ws, rows = world
    card = scorecard_svc.scorecard(ws.store, "P1")
    months = {m["month"]: m for m in card.months}
    lots = [r for r in rows["lots"] if r[1] == "C-P1-X"]
    for month in {r[2][:7] for r in lots}:
        mine = [r for r in lots if r[2][:7] == month]
        assert months[month]["accepted"]["value"] == pytest.approx(
            sum(r[4] for r in mine) / sum(r[3] for r in mine))
    with pytest.raises(NotFoundError):
        scorecard_svc.scorecard(ws.store, "P404")


# --- answers, replies, attachments ---------------------------------------------------------

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def _block(ws: kuznia.Workspace, producer: str = "P002") -> dict:
    return ws.board(producer=producer).blocks[0]


def test_a_producer_answers_its_block_and_the_ministry_replies(filled: kuznia.Workspace):
    b = _block(filled)
    got = portal.answer(filled.store, actor="p2", producer="P002", kind=b["kind"],
                        ref=b["ref"], body="  New lot ships Monday  ",
                        attachment=("../../etc/8D report.PDF", PDF))
    assert got["body"] == "New lot ships Monday" and got["side"] == "producer"
    assert got["attachment"]["file_name"] == "8D report.pdf"
    portal.reply(filled.store, actor="analyst", producer="P002", kind=b["kind"],
                 ref=b["ref"], body="Send the lot numbers")
    thread = portal.threads(filled.store, "P002")[("P002", b["kind"], b["ref"])]
    assert [m["side"] for m in thread] == ["producer", "ministry"]
    name, data = portal.attachment(filled.store, got["message_id"], "P002")
    assert (name, data) == ("8D report.pdf", PDF)
    with filled.store.read() as conn:
        events = audit.find_events(conn, table="block_messages")
        assert [e["action"] for e in events][-2:] in (["block_answer", "block_reply"],
                                                      ["block_reply", "block_answer"])
        assert audit_check.verify(conn, deep=True).ok
    # the producer sees the reply as new, once
    assert portal.new_since_last_visit(filled.store, "p2", "P002") == {(b["kind"], b["ref"]): 1}
    assert portal.new_since_last_visit(filled.store, "p2", "P002") == {}


def test_scope_another_producers_block_and_attachment_do_not_exist(filled: kuznia.Workspace):
    b = _block(filled, "P003")
    assert b["producer_id"] == "P003"
    with pytest.raises(NotFoundError):  # P003's block is not on P002's board
        portal.answer(filled.store, actor="p2", producer="P002", kind=b["kind"],
                      ref=b["ref"], body="mine now")
    got = portal.answer(filled.store, actor="p3", producer="P003", kind=b["kind"],
                        ref=b["ref"], body="ours", attachment=("r.pdf", PDF))
    with pytest.raises(NotFoundError):
        portal.attachment(filled.store, got["message_id"], "P002")
    assert portal.attachment(filled.store, got["message_id"], None)[1] == PDF  # ministry
    assert portal.threads(filled.store, "P002") == {}
    with pytest.raises(NotFoundError):  # no thread, no such block on P002's board
        portal.reply(filled.store, actor="analyst", producer="P002", kind=b["kind"],
                     ref=b["ref"], body="?")


@pytest.mark.parametrize("data, words", [
    (b"MZ\x90\x00 not a pdf", "not a PDF"),
    (b"<html>%PDF-</html>", "not a PDF"),
    (b"%PDF-" + b"0" * portal.MAX_PDF, "at most 10 MB"),
])
def test_attachments_are_pdfs_within_the_limit(filled: kuznia.Workspace, data, words):
    b = _block(filled)
    with pytest.raises(UsageError, match=words) as e:
        portal.answer(filled.store, actor="p2", producer="P002", kind=b["kind"],
                      ref=b["ref"], body="see report", attachment=("r.pdf", data))
    assert e.value.param == "attachment"
    assert portal.threads(filled.store, "P002") == {}  # nothing stored


@pytest.mark.parametrize("name, kept", [
    ("../../../etc/passwd", "passwd.pdf"), ("C:\\Users\\x\\8D.pdf", "8D.pdf"),
    ('a"; filename=evil.exe', "a filename=evil.exe.pdf"), ("", "attachment.pdf"),
    ("....pdf", "attachment.pdf"), ("x\r\nSet-Cookie: a=b.pdf", "xSet-Cookie: a=b.pdf"),
])
def test_attachment_names_lose_their_path_and_header_characters(name, kept):
    got = portal.safe_name(name)
    assert got == kept and "/" not in got and "\\" not in got and '"' not in got


def test_an_empty_or_long_answer_is_refused(filled: kuznia.Workspace):
    b = _block(filled)
    for body in ("   ", "x" * (portal.MAX_BODY + 1)):
        with pytest.raises(UsageError) as e:
            portal.answer(filled.store, actor="p2", producer="P002", kind=b["kind"],
                          ref=b["ref"], body=body)
        assert e.value.param == "body"


def test_the_deep_audit_finds_a_thread_or_attachment_changed_outside(filled: kuznia.Workspace):
    b = _block(filled)
    portal.answer(filled.store, actor="p2", producer="P002", kind=b["kind"], ref=b["ref"],
                  body="fixed", attachment=("r.pdf", PDF))
    with filled.store.write() as conn:
        conn.execute(attachments.update().values(
            content=base64.b64encode(PDF + b"x").decode()))
    with filled.store.read() as conn:
        check = audit_check.verify(conn, deep=True)
    assert not check.ok and check.table == "attachments"
    with filled.store.write() as conn:
        conn.execute(attachments.update().values(content=base64.b64encode(PDF).decode()))
        conn.execute(block_messages.update().values(body="we did nothing wrong"))
    with filled.store.read() as conn:
        check = audit_check.verify(conn, deep=True)
    assert not check.ok and check.table == "block_messages"


def test_backup_and_restore_keep_the_portal(filled: kuznia.Workspace, tmp_path: Path):
    b = _block(filled)
    portal.answer(filled.store, actor="p2", producer="P002", kind=b["kind"], ref=b["ref"],
                  body="fixed", attachment=("r.pdf", PDF))
    portal.submit_offers(filled.store, portal.offer_csv(
        {"product_id": "FPV-A", "unit_price": "400", "capacity": "10"}, "P002"),
        actor="p2", producer="P002", name="offer form", via="form")
    made = backup(filled.store.url, tmp_path / "b.zip")
    assert made.to_dict()["rows"]["attachments"] == 1
    assert made.to_dict()["rows"]["offer_submissions"] == 1
    target = tmp_path / "restored.db"
    restore(tmp_path / "b.zip", str(target))
    with kuznia.open(str(target)) as w:
        assert portal.attachment(w.store, 1, "P002")[1] == PDF
        with w.store.read() as conn:
            assert audit_check.verify(conn, deep=True).ok


# --- offers -----------------------------------------------------------------------------

HEADER = "product_id,producer_id,unit_price,capacity,min_order,lot_size,effects_per_unit\n"


def test_an_offer_from_the_portal_replaces_the_earlier_and_is_planned(
        filled: kuznia.Workspace):
    data = portal.offer_csv({"product_id": "FPV-A", "unit_price": "300", "capacity": "5000",
                             "min_order": "", "lot_size": "10"}, "P002")
    got = portal.submit_offers(filled.store, data, actor="p2", producer="P002",
                               name="offer form", via="form")
    assert (got.added, got.updated) == (0, 1)
    with filled.store.read() as conn:
        row = conn.execute(sa.select(offers).where(offers.c.producer_id == "P002",
                                                   offers.c.product_id == "FPV-A")).one()
        sub = conn.execute(sa.select(offer_submissions)).one()
        assert audit_check.verify(conn, deep=True).ok
    assert (row.unit_price, row.capacity, row.lot_size) == (300, 5000, 10)
    assert (sub.actor, sub.via, sub.producer_id, sub.event_id) == ("p2", "form", "P002",
                                                                   row.event_id)
    (mine,) = portal.offers_of(filled.store, "P002")
    assert portal.origin_words(mine["origin"]).startswith(
        "sent by account p2 on ") and "through the portal (form)" in portal.origin_words(
        mine["origin"])
    plan = planning.allocate(filled.store, budget=100_000)
    lines = {(r["producer_id"], r["product_id"]): r for r in plan.rows}
    assert lines[("P002", "FPV-A")]["quantity"] > 0
    assert "sent by account p2" in lines[("P002", "FPV-A")]["offer_from"]
    assert all(r["offer_from"].startswith("imported by tester") for k, r in lines.items()
               if k[0] != "P002")


def test_offers_for_another_producer_or_with_an_effect_rate_are_refused(
        filled: kuznia.Workspace):
    data = HEADER + "FPV-A,P002,400,10,,,\nATG-B,P003,1,10,,,\n"
    with filled.store.read() as conn:
        before = conn.execute(sa.select(offers)).all()
    with pytest.raises(InputError) as e:
        portal.submit_offers(filled.store, data.encode(), actor="p2", producer="P002",
                             name="o.csv")
    got = {(p.line, p.column) for p in e.value.problems}
    assert (3, "producer_id") in got  # line 3 names P003
    with filled.store.read() as conn:
        assert conn.execute(sa.select(offers)).all() == before
        assert conn.execute(sa.select(sa.func.count())
                            .select_from(offer_submissions)).scalar() == 0
    with pytest.raises(InputError) as e:
        portal.submit_offers(filled.store, (HEADER + "FPV-A,P002,400,10,,,0.5\n").encode(),
                             actor="p2", producer="P002", name="o.csv")
    assert [(p.line, p.column) for p in e.value.problems] == [(2, "effects_per_unit")]


def test_a_bad_offer_is_checked_like_an_import(filled: kuznia.Workspace):
    data = portal.offer_csv({"product_id": "NOPE", "unit_price": "cheap", "capacity": "-1"},
                            "P002")
    with pytest.raises(InputError) as e:
        portal.submit_offers(filled.store, data, actor="p2", producer="P002",
                             name="offer form", via="form")
    columns = {p.column for p in e.value.problems}
    assert {"unit_price", "capacity"} <= columns and all(p.line == 2 for p in e.value.problems)


def test_each_block_says_what_clears_it(filled: kuznia.Workspace):
    blocks = {b["kind"]: b for b in filled.board(producer="P002").blocks}
    assert all(b["clears"].startswith("Cleared when") for b in blocks.values())
    fix = next(r for r in filled.fixes() if r["action_id"] == blocks["corrective_action"]["ref"])
    words = blocks["corrective_action"]["clears"]
    assert f"version {fix['fixed_in_version']} and later show fewer link loss failures" in words
    assert "with 95% confidence" in words
    if fix["uses_needed"]:
        assert f"about {int(fix['uses_needed']):,} more uses" in words
    assert "more units of contract C001 are accepted" in blocks["late_delivery"]["clears"]
    from kuznia.services.board import _mode_clears

    # 5 failures in 100 uses fall below 1 per 100 at 501 uses: 401 more without one
    assert _mode_clears("jam", 5, 100, 1.0).endswith("about 401 more uses without one")
    assert _mode_clears("jam", 5, 600, 1.0).endswith("about 0 more uses without one")
