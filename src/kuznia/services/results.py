"""What tabular results share: plain-dict rows, and frames for notebooks."""

from __future__ import annotations

from typing import Any

from kuznia.errors import UsageError


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
            raise UsageError("pandas is not installed: pip install 'kuznia[pandas]'") from exc
        return pd.DataFrame(self.rows)

    def __len__(self) -> int:
        return len(self.rows)
