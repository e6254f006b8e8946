"""Kept answers (kuznia.server.cache): served again only while the data is the same, for
the same caller's scope; and fifty callers of a new question compute it once."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st

import kuznia
from helpers import write_csv
from kuznia.ingest.tables import IMPORT_ORDER, SPECS
from kuznia.server.cache import AnswerCache
from kuznia.services import accounts
from kuznia.services.results import json_safe
from server_helpers import Served, serve

API = "/api/v1"


@given(st.lists(st.tuples(st.integers(0, 9), st.integers(0, 40)), max_size=60),
       st.integers(0, 120))
def test_the_cache_keeps_the_latest_within_its_bytes(puts: list[tuple[int, int]],
                                                     max_bytes: int) -> None:
    # an independent model: the most recently put or got keys that fit, newest first; a
    # key's text counts as well as its answer
    cache = AnswerCache(max_bytes=max_bytes, max_entry=30)
    model: dict[int, bytes] = {}
    order: list[int] = []

    def cost(key: int) -> int:
        return len(model[key]) + len(repr(key))

    for key, size in puts:
        body = bytes([key]) * size
        cache.put(key, body)
        if size + len(repr(key)) <= 30:
            model[key] = body
            order = [k for k in order if k != key] + [key]
            while sum(cost(k) for k in order) > max_bytes:
                del model[order.pop(0)]
    assert cache.size == sum(cost(k) for k in model) <= max_bytes
    assert len(cache) == len(model)
    for key in range(10):
        assert cache.get(key) == model.get(key)


def test_endless_distinct_questions_stay_within_the_bytes() -> None:
    # a caller sending a new long query each time: the keys count too
    cache = AnswerCache(max_bytes=100_000)
    for i in range(2_000):
        cache.put(("/uses", (("x", f"{i}" + "y" * 1000),)), b"{}")
    assert cache.size <= 100_000 and len(cache) < 100


def test_many_callers_of_a_new_question_compute_it_once() -> None:
    cache = AnswerCache()
    callers = 8
    arrived = threading.Barrier(callers)
    release = threading.Event()
    made: list[int] = []
    got: list[bytes | None] = []

    def make() -> bytes:
        release.wait(timeout=30)  # hold the first maker until every caller is waiting
        made.append(1)
        return b"answer"

    def ask() -> None:
        arrived.wait(timeout=30)
        got.append(cache.get_or_make("q", make))

    threads = [threading.Thread(target=ask) for _ in range(callers)]
    for t in threads:
        t.start()
    # release the first maker only once every caller is inside get_or_make (without one
    # maker per key, each would be inside make() by then)
    tick = threading.Event()
    for _ in range(30_000):
        if cache._making.get("q", (None, 0))[1] == callers:
            break
        tick.wait(0.001)
    release.set()
    for t in threads:
        t.join(timeout=30)
    assert made == [1] and got == [b"answer"] * callers
    assert cache.get_or_make("q", lambda: b"other") == b"answer"


def test_a_failed_make_keeps_nothing_and_the_next_caller_tries_again() -> None:
    cache = AnswerCache()

    def boom() -> bytes:
        raise RuntimeError("no")

    with pytest.raises(RuntimeError):
        cache.get_or_make("q", boom)
    assert len(cache) == 0 and not cache._making
    assert cache.get_or_make("q", lambda: b"ok") == b"ok"


@pytest.fixture
def served(filled: kuznia.Workspace, tmp_path: Path) -> Served:
    return serve(filled, tmp_path / "server-data")


def _direct(ws: kuznia.Workspace, by: str = "product") -> object:
    return json_safe(ws.cost_per_effect(by).to_dict())


def test_a_write_from_anywhere_is_seen_at_once(served: Served, tmp_path: Path) -> None:
    # a kept answer is served while the data stands; any write (here through the Python
    # API, as the CLI or another worker would) is seen by the next request
    h = served.headers("analyst")
    with TestClient(served.app) as client:
        first = client.get(f"{API}/cost-per-effect", headers=h).json()
        assert first == _direct(served.ws)
        made = served.app.state.answers.made
        assert client.get(f"{API}/cost-per-effect", headers=h).json() == first
        assert served.app.state.answers.made == made  # served again, not computed
        write_csv(tmp_path / "more.csv", SPECS["uses"].columns, [[
            "U-NEW", "2026-06-01", "OP-01", "FPV-A", "v2", "P002", "L-0002", 1, 9, "effect",
            "", "", ""]])
        served.ws.import_file("uses", tmp_path / "more.csv")
        after = client.get(f"{API}/cost-per-effect", headers=h).json()
        assert after == _direct(served.ws) and after != first
        # revoking a token is a write too: the next request with it is refused
        accounts.revoke_tokens(served.ws.store, "analyst", actor="tester")
        assert client.get(f"{API}/cost-per-effect", headers=h).status_code == 401


def test_a_kept_answer_is_never_another_scopes(served: Served) -> None:
    # the same question from roles that see differently: each gets its own answer, asked
    # in either order (a kept answer for one must not reach the other)
    ask = [("analyst", "/uses?limit=50"), ("engineer", "/uses?limit=50"),
           ("producer", "/uses?limit=50"), ("analyst", "/board"), ("engineer", "/board"),
           ("producer", "/board"), ("producer", "/contracts"), ("analyst", "/contracts")]
    with TestClient(served.app) as client:
        forward = {(r, p): client.get(API + p, headers=served.headers(r)).json()
                   for r, p in ask}
    with TestClient(serve_again(served)) as client:
        backward = {(r, p): client.get(API + p, headers=served.headers(r)).json()
                    for r, p in reversed(ask)}
    assert forward == backward
    uses_of = {r: forward[(r, "/uses?limit=50")]["rows"]
               for r in ("analyst", "engineer", "producer")}
    assert {u["producer_id"] for u in uses_of["producer"]} == {"P002"}
    assert len(uses_of["analyst"]) > len(uses_of["producer"])
    assert all(u["unit_price"] is None for u in uses_of["engineer"])
    assert any(u["unit_price"] is not None for u in uses_of["analyst"])
    assert {c["producer_id"] for c in forward[("producer", "/contracts")]["rows"]} == {"P002"}


def serve_again(served: Served) -> object:
    """A second app over the same store: an empty cache, as after a restart."""
    from kuznia.server.app import create_app

    return create_app(served.ws.store, data_dir=served.data_dir)


def test_every_import_step_changes_what_is_served(ws: kuznia.Workspace, example_dir: Path,
                                                  tmp_path: Path) -> None:
    # import the example tables one by one; after each, the served answers equal the
    # services' own (a stale kept answer would show the step before)
    for table in IMPORT_ORDER[:IMPORT_ORDER.index("uses")]:
        ws.import_file(table, example_dir / f"{table}.csv")
    served = serve(ws, tmp_path / "data")
    h = served.headers("analyst")
    with TestClient(served.app) as client:
        for table in IMPORT_ORDER[IMPORT_ORDER.index("uses"):]:
            ws.import_file(table, example_dir / f"{table}.csv")
            got = client.get(f"{API}/cost-per-effect?by=product,version", headers=h).json()
            assert got == _direct(ws, "product,version")
            board = client.get(f"{API}/board", headers=h).json()
            assert board == json_safe(ws.board().to_dict())
