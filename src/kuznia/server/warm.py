"""Answers made again after a write, before the next reader asks.

Kept answers follow the audit head (``kuznia.server.cache``): every write (a field record,
an import, from this process or any other) makes every kept answer stale, and without
this the first person to open a page after a write waits for its figures to be computed.
The warmer remembers the questions asked lately (path, query, scope, day; at most
``RECENT``, the most recent first) with the function that answers each, and when the head
moves it answers them again under the new head, one at a time on one background thread.

Why this and not invalidating per table: an answer's inputs are many tables (a cost per
effect reads uses, prices, contracts, products), and a head is exact; remaking what was
asked lately costs a core for a few seconds after a write and nothing in between, and a
reader who asks while it is being made waits for that same computation
(``AnswerCache.get_or_make``), never starts a second one.

The head is checked when a write of this process says so (``kick``) and every
``interval`` seconds (one indexed query), for writes from the CLI or another worker.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from kuznia.server.cache import AnswerCache
from kuznia.services import audit
from kuznia.services.store import Store

log = logging.getLogger("kuznia.server")

RECENT = 48  # questions remembered; each is remade once per write


class Warmer:
    def __init__(self, store: Store, cache: AnswerCache, interval: float = 2.0,
                 recent: int = RECENT, today: Callable[[], dt.date] = dt.date.today):
        self.store, self.cache, self.interval = store, cache, interval
        self.recent = recent
        self.today = today
        self._asked: OrderedDict[tuple[Any, ...], Callable[[], bytes]] = OrderedDict()
        self._lock = threading.Lock()
        self._kick = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._head: tuple[int, str] | None = None  # the last event's (id, hash)
        self.remade = 0

    def asked(self, question: tuple, make: Callable[[], bytes]) -> None:
        """Remember a question (without the head) and how to answer it."""
        with self._lock:
            self._asked[question] = make
            self._asked.move_to_end(question, last=False)
            while len(self._asked) > self.recent:
                self._asked.popitem()

    def kick(self) -> None:
        """A write of this process ended: look at the head now."""
        self._kick.set()

    def warm_once(self) -> int:
        """If the head moved since the last look, answer the remembered questions under
        the new head; returns how many were made (0 when the head stood)."""
        with self.store.read() as conn:
            head = audit.head(conn)
        if head == self._head:
            return 0
        first_look = self._head is None
        self._head = head
        if first_look:
            return 0
        with self._lock:
            todo = list(self._asked.items())
        made = 0
        for question, make in todo:
            if self._stop.is_set():
                break
            if question[-1] != self.today():  # asked on another day: its answer has aged
                continue
            try:
                with self.store.snapshot() as conn:
                    now = audit.head(conn)
                    if now != head:  # another write meanwhile: the next look remakes
                        break
                    before = self.cache.made
                    self.cache.get_or_make((*question, now), make)
                    made += self.cache.made - before
            except Exception:  # noqa: BLE001 - a reader will make it, and say what failed
                log.warning("could not remake a kept answer after a write", exc_info=True)
        self.remade += made
        return made

    def start(self) -> None:
        def run() -> None:
            while not self._stop.is_set():
                try:
                    self.warm_once()
                except Exception:  # noqa: BLE001 - the store may be away for a moment
                    log.warning("could not read the audit head to warm answers",
                                exc_info=True)
                self._kick.wait(self.interval)
                self._kick.clear()

        self._thread = threading.Thread(target=run, name="kuznia-warmer", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._kick.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
