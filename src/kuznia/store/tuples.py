"""Rows as the type checker should see them.

SQLAlchemy 2.1's ``Row`` unpacks to ``object`` for mypy when a query's column types are not
declared, and its ``Result.tuples()`` is deprecated. ``tuples`` hands the same rows on
(no copy, no work) typed as tuples of ``Any``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any


def tuples(result: Iterable[Any]) -> Iterator[tuple[Any, ...]]:
    """The rows of ``result``, unchanged, typed as tuples.

    >>> [tuple(r) for r in tuples([(1, "a")])]
    [(1, 'a')]
    """
    return iter(result)
