"""Stream CSV and XLSX files as batches of text columns, each row tagged with its line.

Everything is read as text: types are checked afterwards, column-wise, so that a bad value
becomes a reported problem instead of a parser exception. ``_line`` is the line in the file
(the header is line 1); for XLSX it is the sheet row.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.csv as pacsv

from kuznia.errors import InputError, RowProblem

LINE = "_line"
CSV_BLOCK_BYTES = 8 << 20  # about 100k short rows a batch; bounded memory at any size
XLSX_BATCH_ROWS = 50_000


@dataclass
class Source:
    """An open input file: its header, its batches, and row-shape problems met on the way."""

    path: Path
    header: list[str]
    batches: Iterator[pl.DataFrame]
    problems: list[RowProblem] = field(default_factory=list)  # rows of the wrong width
    skipped_lines: list[int] = field(default_factory=list)


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def normalise_header(name: str) -> str:
    """'Unit Price ' -> 'unit_price': spreadsheets vary in case and spacing."""
    return "_".join(name.strip().lstrip("\ufeff").lower().replace("-", " ").split())


def open_source(path: Path, batch_rows: int | None = None) -> Source:
    suffix = path.suffix.lower()
    if not path.exists():
        raise InputError(str(path), [RowProblem(str(path), 0, "-", "no such file")])
    if suffix in (".xlsx", ".xlsm"):
        return _open_xlsx(path, batch_rows or XLSX_BATCH_ROWS)
    return _open_csv(path, batch_rows)


def _sniff_delimiter(first_line: str) -> str:
    counts = {d: first_line.count(d) for d in (",", ";", "\t")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] > 0 else ","


def _first_line(path: Path) -> str:
    with path.open("rb") as f:
        raw = f.readline()
    try:
        return raw.decode("utf-8-sig").rstrip("\r\n")
    except UnicodeDecodeError as exc:
        raise InputError(
            str(path),
            [RowProblem(str(path), 1, "-", "the file is not UTF-8 text; save it as 'CSV UTF-8'")],
        ) from exc


def _open_csv(path: Path, batch_rows: int | None) -> Source:
    first = _first_line(path)
    if not first.strip():
        raise InputError(str(path), [RowProblem(str(path), 1, "-", "the file has no header")])
    delimiter = _sniff_delimiter(first)
    raw_header = next(csv.reader([first], delimiter=delimiter))
    header = [normalise_header(v) for v in raw_header]
    source = Source(path, header, iter(()))

    def on_invalid(row: pacsv.InvalidRow) -> str:
        line = int(row.number) if row.number is not None else 0
        source.skipped_lines.append(line)
        source.problems.append(RowProblem(
            str(path), line, "-",
            f"expected {row.expected_columns} values, found {row.actual_columns}",
            row.text[:80],
        ))
        return "skip"

    block = CSV_BLOCK_BYTES if batch_rows is None else max(1024, batch_rows * 64)
    reader = pacsv.open_csv(
        path,
        read_options=pacsv.ReadOptions(
            use_threads=False,  # needed for exact line numbers of malformed rows
            block_size=block,
            skip_rows=1,
            column_names=header,
        ),
        parse_options=pacsv.ParseOptions(
            delimiter=delimiter,
            ignore_empty_lines=False,
            newlines_in_values=False,
            invalid_row_handler=on_invalid,
        ),
        convert_options=pacsv.ConvertOptions(
            column_types={c: pa.string() for c in header},
            strings_can_be_null=False,
            quoted_strings_can_be_null=False,
        ),
    )
    source.batches = _csv_batches(reader, source)
    return source


def _csv_batches(reader: pacsv.CSVStreamingReader, source: Source) -> Iterator[pl.DataFrame]:
    """Number rows by line: row i of the data is line i+2, shifted past skipped lines."""
    seen = 0
    try:
        for record_batch in reader:
            n = record_batch.num_rows
            if n == 0:
                continue
            frame = pl.from_arrow(pa.Table.from_batches([record_batch]))
            assert isinstance(frame, pl.DataFrame)
            idx = np.arange(seen, seen + n, dtype=np.int64)
            lines = idx + 2
            if source.skipped_lines:
                # the k-th kept row sits after every skipped line whose number is <= its own
                skipped = np.sort(np.asarray(source.skipped_lines, dtype=np.int64))
                lines = _shift_past(lines, skipped)
            seen += n
            yield frame.with_columns(pl.Series(LINE, lines))
    except pa.ArrowInvalid as exc:
        message = str(exc)
        if "UTF8" in message or "utf8" in message.lower():
            message = "the file is not UTF-8 text; save it as 'CSV UTF-8'"
        raise InputError(str(source.path), [RowProblem(str(source.path), 0, "-", message)]) \
            from exc


def _shift_past(lines: np.ndarray, skipped: np.ndarray) -> np.ndarray:  # noqa: F821
    """Line numbers of kept rows, given the sorted line numbers of skipped ones.

    Kept row with naive number L really sits at L + k, where k is the number of skipped
    lines at or before its true position; iterate to the fixed point (k only grows).
    """
    import numpy as np

    out = lines.copy()
    while True:
        k = np.searchsorted(skipped, out, side="right")
        new = lines + k
        if np.array_equal(new, out):
            return out
        out = new


def _cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        if value.time() == dt.time(0):
            return value.date().isoformat()
        return value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _open_xlsx(path: Path, batch_rows: int) -> Source:
    import openpyxl

    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # noqa: BLE001 - openpyxl raises many types for a bad file
        raise InputError(
            str(path), [RowProblem(str(path), 0, "-", f"not a readable XLSX workbook: {exc}")]
        ) from exc
    sheet = book.worksheets[0]
    rows = sheet.iter_rows(values_only=True)
    try:
        header_cells = next(rows)
    except StopIteration:
        header_cells = ()
    header = [normalise_header(_cell_text(c)) for c in header_cells]
    while header and not header[-1]:
        header.pop()
    if not header:
        raise InputError(str(path), [RowProblem(str(path), 1, "-", "the sheet has no header")])
    width = len(header)

    def batches() -> Iterator[pl.DataFrame]:
        columns: list[list[str]] = [[] for _ in range(width)]
        lines: list[int] = []
        for line, cells in enumerate(rows, start=2):
            values = [_cell_text(c) for c in cells[:width]]
            values += [""] * (width - len(values))
            for col, value in zip(columns, values, strict=True):
                col.append(value)
            lines.append(line)
            if len(lines) >= batch_rows:
                yield _frame(header, columns, lines)
                columns = [[] for _ in range(width)]
                lines = []
        if lines:
            yield _frame(header, columns, lines)
        book.close()

    return Source(path, header, batches())


def _frame(header: list[str], columns: list[list[str]], lines: list[int]) -> pl.DataFrame:
    data = {h: pl.Series(h, c, dtype=pl.String) for h, c in zip(header, columns, strict=True)}
    data[LINE] = pl.Series(LINE, lines, dtype=pl.Int64)
    return pl.DataFrame(data)
