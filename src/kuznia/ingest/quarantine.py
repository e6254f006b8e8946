"""The quarantine file: rejected rows as they were in the file, with line and reasons.

Cells a spreadsheet would run as a formula are neutralised (``kuznia.outputs.neutralise``).
"""

from __future__ import annotations

import csv
from typing import IO

import polars as pl

from kuznia.errors import RowProblem
from kuznia.ingest.readers import LINE
from kuznia.outputs import neutralise


class Quarantine:
    """Rejected rows, as they were in the file, with the line and the reasons."""

    def __init__(self, file: IO[str], header: list[str]):
        self.header = header
        self._writer = csv.writer(file)
        self._writer.writerow([neutralise(h) for h in [*header, "line", "reason"]])

    def write(self, typed: pl.DataFrame, problems: pl.DataFrame) -> None:
        if problems.is_empty():
            return
        reasons = problems.group_by(LINE).agg(
            (pl.col("column") + pl.lit(": ") + pl.col("message")).str.join("; ").alias("reason"))
        text_cols = [f"{c}__text" for c in self.header if f"{c}__text" in typed.columns]
        rows = typed.join(reasons, on=LINE, how="inner").sort(LINE)
        for row in rows.iter_rows(named=True):
            self._writer.writerow([neutralise(row.get(c, "") or "") for c in text_cols]
                                  + [row[LINE], neutralise(row["reason"])])

    def write_raw(self, problem: RowProblem) -> None:
        self._writer.writerow([""] * len(self.header)
                              + [problem.line, neutralise(f"{problem.message}: {problem.value}")])
