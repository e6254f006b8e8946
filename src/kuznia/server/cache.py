"""Rendered answers of the read routes, kept per version of the data.

A figure (cost per effect, the board, a page of uses) is a function of the stored records,
the question (path and query), the caller's scope and the day (the board ages blocks to
today). Every change to the records appends an event to the audit chain in the same
transaction (``Store.write``), so the chain's head names the version of the data: an answer
is kept under (question, scope, day, head) and served again only while the head is the
same. Checking the head is one indexed query; an answer is made in a snapshot and kept
under the head that snapshot saw, so a kept answer is exactly what computing it again
would give; nothing is ever invalidated by
hand, and a write from another process (the CLI, another server worker) is seen at once.

Not kept: answers that depend on anything else (a job's progress, a session), and any
answer bigger than ``max_entry`` (a whole table at once). Each server process keeps its
own, least recently used first out, within ``max_bytes``, counting each key's text as
well as its answer (a caller sending endless distinct queries cannot grow it past that).
Fifty clients asking the same new question at once compute it once (``get_or_make``): the
others wait for that answer rather than each spend a core on it.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager


class AnswerCache:
    def __init__(self, max_bytes: int = 64 << 20, max_entry: int = 8 << 20):
        self.max_bytes = max_bytes
        self.max_entry = max_entry
        self._items: OrderedDict[Hashable, tuple[bytes, int]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self._making: dict[Hashable, tuple[threading.Lock, int]] = {}
        self.hits = self.misses = self.made = 0

    def get_or_make(self, key: Hashable, make: Callable[[], bytes | None]) -> bytes | None:
        """The kept answer for ``key``, else ``make()``'s, kept (None: not kept). One thread
        makes a given key at a time; the others wait, then take what it kept."""
        kept = self.get(key)
        if kept is not None:
            return kept
        with self._one_maker(key):
            kept = self.get(key)
            if kept is not None:
                return kept
            body = make()
            self.made += 1
            if body is not None:
                self.put(key, body)
            return body

    @contextmanager
    def _one_maker(self, key: Hashable) -> Iterator[None]:
        with self._lock:
            lock, users = self._making.get(key, (threading.Lock(), 0))
            self._making[key] = (lock, users + 1)
        try:
            with lock:
                yield
        finally:
            with self._lock:
                lock, users = self._making[key]
                if users == 1:
                    del self._making[key]
                else:
                    self._making[key] = (lock, users - 1)

    def get(self, key: Hashable) -> bytes | None:
        with self._lock:
            item = self._items.get(key)
            if item is None:
                self.misses += 1
                return None
            self._items.move_to_end(key)
            self.hits += 1
            return item[0]

    def put(self, key: Hashable, body: bytes) -> None:
        cost = len(body) + len(repr(key))
        if cost > self.max_entry:
            return
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self._bytes -= old[1]
            self._items[key] = (body, cost)
            self._bytes += cost
            while self._bytes > self.max_bytes:
                _, (_, dropped) = self._items.popitem(last=False)
                self._bytes -= dropped

    def __len__(self) -> int:
        return len(self._items)

    @property
    def size(self) -> int:
        return self._bytes
