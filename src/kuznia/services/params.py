"""Checks on the arguments of a question, done as data are checked: a bad value is a
``UsageError`` naming the parameter, never a crash further down.

Numbers must be finite and in range, seeds fit NumPy's generators and JSON, and a
computation whose arrays cannot fit in this machine's memory is refused before it starts,
with the figure.
"""

from __future__ import annotations

import math
import os

from kuznia.errors import UsageError
from kuznia.i18n import N_, Text

BOARD_THRESHOLD = 1.0  # failures per 100 uses above which a mode with no action is a block
# How many of the newest audit events (or row changes) a listing shows unless asked: the one
# default of the CLI's --limit, the API's limit and the Python API's limit (0 or None: all).
AUDIT_LIMIT = 100
# How many uses the trace (`kuznia uses`, GET /uses, Workspace.uses) lists unless asked, and
# how many records a page of `kuznia records` / GET /{table} holds: one default each.
USES_LIMIT = 100
RECORDS_LIMIT = 100
# cost per effect's group keys and the column each names
GROUP_KEYS = {"product": "product_id", "producer": "producer_id", "version": "version",
              "operator": "operator", "month": "month"}

SEED_MAX = 2**63 - 1
MEMORY_SHARE = 0.5  # refuse a computation that would need more than this share of memory


def _bad(param: str, item: str, message: str, **values: object) -> UsageError:
    """An error about the argument ``param`` (its entry ``item``): ``message``, marked with
    ``N_``, names it as ``%(subject)s``."""
    subject = "{" + param + "}" + (f" {item}" if item else "")
    return UsageError(message, params=(param,), subject=subject, **values)


def finite(value: float, param: str, *, minimum: float | None = None,
           maximum: float | None = None, above: float | None = None,
           item: str = "") -> float:
    """``value`` if it is a finite number within the bounds (``above``: strictly).
    ``param`` names the argument; ``item`` the entry of it, for a mapping."""
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise _bad(param, item, N_("%(subject)s takes a number, not %(value)s"),
                   value=repr(value)) from None
    if not math.isfinite(x):
        raise _bad(param, item, N_("%(subject)s must be a finite number, not %(value)s"),
                   value=repr(value))
    if minimum is not None and x < minimum:
        raise _bad(param, item, N_("%(subject)s must be at least %(bound)s, not %(value)s"),
                   bound=f"{minimum:g}", value=repr(value))
    if above is not None and x <= above:
        raise _bad(param, item, N_("%(subject)s must be more than %(bound)s, not %(value)s"),
                   bound=f"{above:g}", value=repr(value))
    if maximum is not None and x > maximum:
        raise _bad(param, item, N_("%(subject)s must be at most %(bound)s, not %(value)s"),
                   bound=f"{maximum:g}", value=repr(value))
    return x


def whole(value: int, param: str, *, minimum: int | None = None,
          maximum: int | None = None, item: str = "") -> int:
    """``value`` if it is a whole number within the bounds."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise _bad(param, item, N_("%(subject)s takes a whole number, not %(value)s"),
                   value=repr(value))
    if minimum is not None and value < minimum:
        raise _bad(param, item, N_("%(subject)s must be at least %(bound)s, not %(value)s"),
                   bound=minimum, value=value)
    if maximum is not None and value > maximum:
        raise _bad(param, item, N_("%(subject)s must be at most %(bound)s, not %(value)s"),
                   bound=maximum, value=value)
    return value


def seed(value: int, param: str = "seed") -> int:
    """A random seed: 0 to 2**63 - 1."""
    return whole(value, param, minimum=0, maximum=SEED_MAX)


def physical_memory() -> int:
    """Bytes of memory on this machine (8 GiB if the system will not say)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # pragma: no cover - non-POSIX
        return 8 << 30


def fits_in_memory(needed: int, what: str | Text, param: str) -> None:
    """Refuse (with the figure) a computation needing more than ``MEMORY_SHARE`` of memory.

    >>> fits_in_memory(1 << 20, "a small run", "scenarios")
    >>> fits_in_memory(1 << 60, "a big run", "scenarios")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    kuznia.errors.UsageError: a big run needs about 1,073,741,824.0 GiB of memory...
    """
    limit = physical_memory() * MEMORY_SHARE
    if needed > limit:
        raise UsageError(
            N_("%(what)s needs about %(needed)s GiB of memory, more than the %(limit)s GiB "
               "this machine can give it; lower %(param)s"),
            params=(param,), what=what, needed=round(needed / (1 << 30), 1),
            limit=round(limit / (1 << 30), 1), param="{" + param + "}")
