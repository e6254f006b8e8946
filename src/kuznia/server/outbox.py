"""The server's side of the field records' outbox (``services/use_outbox.py``): a drain
queued on the job worker (so it runs after the import now running in this process), when
the server starts, after a record goes to the outbox, and on every heartbeat while
records wait (an import of another worker process, or one that outlasted a drain's wait).
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import Executor
from typing import Any

from kuznia.services import use_outbox
from kuznia.services.store import Store

log = logging.getLogger("kuznia.outbox")
# a drain waits this long for the lock, then leaves the rest waiting for the next beat
# (short, so that a stopping server never waits long for it)
DRAIN_LOCK_WAIT = 5.0


class Drainer:
    """At most one drain queued at a time on the job worker."""

    def __init__(self, store: Store, executor: Executor, warmer: Any = None):
        self.store = store
        self.executor = executor
        self.warmer = warmer
        self._queued = False
        self._lock = threading.Lock()

    def kick(self) -> None:
        with self._lock:
            if self._queued:
                return
            self._queued = True
        try:
            self.executor.submit(self._run)
        except RuntimeError:  # the worker has shut down (the server is stopping)
            with self._lock:
                self._queued = False

    def kick_if_waiting(self) -> None:
        """On the heartbeat: queue a drain when records wait."""
        if not self.store.read_only and use_outbox.waiting(self.store):
            self.kick()

    def _run(self) -> None:
        with self._lock:
            self._queued = False
        try:
            done = use_outbox.drain(self.store, lock_wait=DRAIN_LOCK_WAIT)
        except Exception:  # noqa: BLE001 - the records stay waiting: the next beat retries
            log.warning("outbox: drain failed; the records wait for the next", exc_info=True)
            return
        if done.stored or done.rejected:
            log.info("outbox: %d stored, %d rejected, %d waiting", done.stored,
                     done.rejected, done.left)
        if done.stored and self.warmer is not None:
            self.warmer.kick()
