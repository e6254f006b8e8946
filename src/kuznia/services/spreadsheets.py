"""Rows to CSV text or an XLSX file, streamed: a row at a time in, bounded memory out.

CSV cells go through ``outputs.neutralise``, as every CSV the command line writes (a text
cell a spreadsheet would run as a formula gets a leading apostrophe). XLSX cells are
typed: text is written as text, never as a formula, whatever it starts with.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from kuznia.outputs import neutralise

CSV_BATCH = 1000  # rows per chunk of text handed to the response


def csv_chunks(rows: Iterable[list[Any]], batch: int = CSV_BATCH) -> Iterator[str]:
    """``rows`` (header first) as CSV text, ``batch`` rows a chunk, every cell
    neutralised."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    n = 0
    for row in rows:
        writer.writerow([neutralise(v) for v in row])
        n += 1
        if n % batch == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    if buffer.tell():
        yield buffer.getvalue()


def write_xlsx(rows: Iterable[list[Any]], path: Path, sheet: str = "uses") -> int:
    """Write ``rows`` (header first) into a new workbook at ``path`` in openpyxl's
    write-only mode (rows go to disk as they come); returns the rows written after the
    header. Text cells are typed as text, so none runs as a formula."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell

    book = Workbook(write_only=True)
    ws = book.create_sheet(sheet)
    n = -1
    for row in rows:
        cells = []
        for value in row:
            if isinstance(value, dt.date | int | float) or value is None:
                cells.append(value)
            else:
                cell = WriteOnlyCell(ws, value=None)
                cell.value = str(value)
                cell.data_type = "s"  # text, even when it starts with "="
                cells.append(cell)
        ws.append(cells)
        n += 1
    book.save(path)
    return max(n, 0)


def file_chunks(path: Path, size: int = 1 << 16) -> Iterator[bytes]:
    """The bytes of ``path`` in chunks; the file is removed when done (or abandoned)."""
    try:
        with path.open("rb") as f:
            while chunk := f.read(size):
                yield chunk
    finally:
        path.unlink(missing_ok=True)
