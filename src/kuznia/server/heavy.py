"""Questions that take seconds and memory, bounded when the server answers them.

Measured at 10 million uses (issue 24): cost per effect by five keys 41 s, a deep audit
check 18 s at every call, a 120-month, 80,000-scenario simulation 94 s with 1.4 GB kept
after, all inside request threads. The choice made here, rather than moving each to a job
(a job holds the one job thread that imports wait for, and its answer would still be built
in this process's memory):

- **parameters are bounded** in a request, with a 400 naming the bound: a simulation (or
  a duplicate-line plan) of at most ``MAX_SCENARIO_MONTHS`` scenarios x months, cost per
  effect by at most ``MAX_GROUP_KEYS`` keys. The command line and the Python API answer
  any size (their caller waits for them, and nobody else does).
- **one heavy question at a time** per worker process: another, while one runs, is a 503
  with ``Retry-After`` saying so, never a queue of request threads each holding a
  connection and memory (the other request threads keep answering everything else).
- **memory is handed back** after each: the answer's arrays are dropped and the C heap
  trimmed (glibc keeps freed blocks otherwise, which is how 1.4 GB stayed).
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import gc
import threading
from collections.abc import Iterator

from fastapi import Request

from kuznia.errors import KuzniaError, UsageError
from kuznia.i18n import N_, Plural, Text

MAX_SCENARIO_MONTHS = 1_200_000  # 10,000 scenarios over 120 months: ~12 s on one core
MAX_GROUP_KEYS = 3
RETRY_SECONDS = 30


class Busy(KuzniaError):
    """Another heavy question is being answered by this worker (HTTP 503)."""

    exit_code = 1
    http_status = 503
    retry_after = RETRY_SECONDS


def check_size(scenarios: int, months: int) -> None:
    """Refuse a simulation larger than a request may ask (400 naming the bound)."""
    if scenarios * months > MAX_SCENARIO_MONTHS:
        raise UsageError(
            N_("{scenarios} x {months} is at most %(most)s in a request to the server "
               "(%(scenarios)s x %(months)s = %(asked)s); ask for fewer, or run 'kuznia "
               "resilience' on the command line, which has no bound"),
            params=("scenarios", "months"), most=MAX_SCENARIO_MONTHS, scenarios=scenarios,
            months=months, asked=scenarios * months)


def check_keys(keys: tuple[str, ...]) -> None:
    """Refuse cost per effect by more keys than a request may ask (400 naming the bound)."""
    if len(keys) > MAX_GROUP_KEYS:
        raise UsageError(
            Plural("{by} takes at most %(num)s key in a request to the server, not "
                   "%(asked)s; ask for fewer (or filter by product), or run 'kuznia "
                   "cost-per-effect' on the command line, which has no bound",
                   "{by} takes at most %(num)s keys in a request to the server, not "
                   "%(asked)s; ask for fewer (or filter by product), or run 'kuznia "
                   "cost-per-effect' on the command line, which has no bound",
                   MAX_GROUP_KEYS, asked=len(keys)), params=("by",))


@contextlib.contextmanager
def one_at_a_time(request: Request, what: str) -> Iterator[None]:
    """Run a heavy question alone in this worker, or refuse it at once (503 in words);
    hand its memory back afterwards. ``what`` names the question (marked with ``N_``)."""
    lock: threading.Lock = request.app.state.heavy_lock  # one per application
    if not lock.acquire(blocking=False):
        raise Busy(N_("the server is answering another heavy question; %(what)s waits for "
                      "it: try again in %(seconds)s s"), what=Text(what), seconds=RETRY_SECONDS)
    try:
        yield
    finally:
        lock.release()
        release_memory()


def release_memory() -> None:
    """Drop unreachable objects and give the C heap's free pages back to the system
    (``malloc_trim``, glibc only; elsewhere the collection alone)."""
    gc.collect()
    name = ctypes.util.find_library("c")
    if name is None:
        return
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(name).malloc_trim(0)
