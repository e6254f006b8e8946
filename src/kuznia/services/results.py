"""What tabular results share: plain-dict rows, and frames for notebooks."""

from __future__ import annotations

from typing import Any

from kuznia.errors import UsageError


class Tabular:
    """A result whose ``rows`` are dicts; ``to_polars()`` / ``to_pandas()`` give frames."""

    rows: list[dict[str, Any]]

    def to_polars(self):  # type: ignore[no-untyped-def]
        import polars as pl

        return pl.DataFrame(self.rows, infer_schema_length=None)

    def to_pandas(self):  # type: ignore[no-untyped-def]
        try:
            import pandas as pd
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise UsageError("pandas is not installed: pip install 'kuznia[pandas]'") from exc
        return pd.DataFrame(self.rows)

    def __len__(self) -> int:
        return len(self.rows)
