"""Run an iterator one step ahead in a thread, so reading and checking overlap writing.

Polars, PyArrow and the database drivers release the GIL in their heavy parts, so on two
cores the next batch is parsed and validated while the current one is written.

Every exit path ends the thread: the worker never blocks on a queue without watching the
stop flag, so a consumer that stops early (an error while writing, a closed generator)
does not wait forever for a worker that waits forever to hand over its next item. Use it
as a context manager (``with prefetch(items) as steps:``) so the stop comes at once, not
when the garbage collector gets to the generator.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TypeVar

T = TypeVar("T")
_DONE = object()
_POLL = 0.05  # seconds between looks at the stop flag while the queue is full


@contextmanager
def prefetch(items: Iterator[T], depth: int = 1) -> Iterator[Iterator[T]]:
    q: queue.Queue[object] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def hand_over(item: object) -> bool:
        """Put ``item`` in the queue unless the consumer has gone; False if it has."""
        while not stop.is_set():
            try:
                q.put(item, timeout=_POLL)
                return True
            except queue.Full:
                continue
        return False

    def work() -> None:
        try:
            for item in items:
                if not hand_over(item):
                    return
            hand_over(_DONE)
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer, re-raised there
            hand_over(exc)
        finally:
            close = getattr(items, "close", None)
            if close is not None:
                close()

    def consume() -> Iterator[T]:
        while True:
            item = q.get()
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            yield item  # type: ignore[misc]

    thread = threading.Thread(target=work, name="kuznia-prefetch", daemon=True)
    thread.start()
    try:
        yield consume()
    finally:
        stop.set()
        thread.join()
