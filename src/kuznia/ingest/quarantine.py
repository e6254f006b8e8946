"""The quarantine file: rejected rows as they were in the file, with line and reasons."""

from __future__ import annotations

import csv
from pathlib import Path

import polars as pl

from kuznia.errors import RowProblem
from kuznia.ingest.readers import LINE


class Quarantine:
    """Rejected rows, as they were in the file, with the line and the reasons."""

    def __init__(self, path: Path, header: list[str]):
        self.path = path
        self.header = header
        self._file = path.open("w", newline="", encoding="utf-8")
        self._writer = csv.writer(self._file)
        self._writer.writerow([*header, "line", "reason"])

    def write(self, typed: pl.DataFrame, problems: pl.DataFrame) -> None:
        if problems.is_empty():
            return
        reasons = problems.group_by(LINE).agg(
            (pl.col("column") + pl.lit(": ") + pl.col("message")).str.join("; ").alias("reason"))
        text_cols = [f"{c}__text" for c in self.header if f"{c}__text" in typed.columns]
        rows = typed.join(reasons, on=LINE, how="inner").sort(LINE)
        for row in rows.iter_rows(named=True):
            self._writer.writerow([row.get(c, "") or "" for c in text_cols]
                                  + [row[LINE], row["reason"]])

    def write_raw(self, problem: RowProblem) -> None:
        self._writer.writerow([""] * len(self.header)
                              + [problem.line, f"{problem.message}: {problem.value}"])

    def close(self) -> None:
        self._file.close()
