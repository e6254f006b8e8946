"""What tabular results share: plain-dict rows, and frames for notebooks."""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

from kuznia.errors import UsageError
from kuznia.i18n import N_


def json_safe(value: Any) -> Any:
    """``value`` with every non-finite float as None (JSON has no NaN or infinity), NumPy
    scalars as Python numbers, and dates as ISO text.

    >>> json_safe({"a": float("nan"), "b": [1.5, float("inf")], "c": dt.date(2026, 1, 2)})
    {'a': None, 'b': [1.5, None], 'c': '2026-01-02'}
    """
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if isinstance(value, bool | int | str) or value is None:
        return value
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    item = getattr(value, "item", None)  # NumPy scalars
    if callable(item):
        return json_safe(item())
    if hasattr(value, "to_dict"):
        return json_safe(value.to_dict())
    return str(value)


class Tabular:
    """A result whose ``rows`` are dicts; ``to_polars()`` / ``to_pandas()`` give frames,
    ``to_dict()`` JSON under ``rows_key``; indexing and iterating go over the rows."""

    rows: list[dict[str, Any]]
    rows_key = "rows"

    def to_dict(self) -> dict[str, Any]:
        return {self.rows_key: self.rows}

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self.rows)

    def __getitem__(self, i: Any) -> Any:
        return self.rows[i]

    def to_polars(self):  # type: ignore[no-untyped-def]
        import polars as pl

        return pl.DataFrame(self.rows, infer_schema_length=None)

    def to_pandas(self):  # type: ignore[no-untyped-def]
        try:
            import pandas as pd
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise UsageError(N_("pandas is not installed: pip install 'kuznia[pandas]'")) \
                from exc
        return pd.DataFrame(self.rows)

    def __len__(self) -> int:
        return len(self.rows)
