"""Stream CSV and XLSX files as batches of text columns, each row tagged with its line.

Everything is read as text: types are checked afterwards, column-wise, so that a bad value
becomes a reported problem instead of a parser exception. ``_line`` is the line in the file
(the header is line 1); for XLSX it is the sheet row.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import hashlib
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.csv as pacsv

from kuznia.errors import InputError, RowProblem, shown_value

LINE = "_line"
CSV_BLOCK_BYTES = 8 << 20  # about 100k short rows a batch; bounded memory at any size
XLSX_BATCH_ROWS = 50_000
# Bounds that keep one crafted file from holding the job queue and the write lock, or
# the server's memory (issue 24: a 1.6 KB XLSX claiming row 20,000,000 ran 91 s; a 50 MB
# cell in a 52 KB file grew the server by 1 GB and came back whole in the error).
MAX_CELL_CHARS = 10_000  # a cell longer than this is a problem on its row (as POST /uses)
MAX_XLSX_ROWS = 1_048_576  # a spreadsheet's own limit: a sheet claiming more is refused
XLSX_TEXT_BYTES = 1 << 20  # text this long in the workbook's XML refuses the file at once


PROBLEM_SCHEMA = {LINE: pl.Int64, "column": pl.String, "message": pl.String, "value": pl.String}
NOT_UTF8 = "is not UTF-8 text (save the file as 'CSV UTF-8')"


@dataclass
class Batch:
    """Rows read from a file: text columns tagged with their line, the problems of cells
    that could not be read as text, and the lines that could not be read as rows."""

    frame: pl.DataFrame
    problems: pl.DataFrame  # PROBLEM_SCHEMA: cells of rows in ``frame``
    dropped: list[RowProblem] = field(default_factory=list)  # rows not in ``frame``


@dataclass
class Source:
    """An open input file: its header and its batches (the last may hold no rows, only the
    malformed lines met after the last full batch)."""

    path: Path
    header: list[str]
    batches: Iterator[Batch]


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def normalise_header(name: str) -> str:
    """'Unit Price ' -> 'unit_price': spreadsheets vary in case and spacing."""
    return "_".join(name.strip().lstrip("\ufeff").lower().replace("-", " ").split())


def _whole_file_problem(label: str, message: str, line: int = 0) -> InputError:
    return InputError(label, [RowProblem(label, line, "-", shown_value(message, 300))])


def _longest(lengths: pl.Series) -> int:
    """The largest of a column's cell lengths (0 for none)."""
    top = lengths.max()
    return int(top) if isinstance(top, int) else 0


def _too_long(frame: pl.DataFrame, columns: list[str]) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Cells longer than ``MAX_CELL_CHARS``: a problem each, naming the size, and the cell
    cut to its start (so no later step copies, checks or echoes the whole of it)."""
    long = [c for c in columns  # bytes first (cheap): a cell has at least as many
            if _longest(frame.get_column(c).str.len_bytes()) > MAX_CELL_CHARS]
    long = [c for c in long if _longest(frame.get_column(c).str.len_chars()) > MAX_CELL_CHARS]
    if not long:
        return frame, pl.DataFrame(schema=PROBLEM_SCHEMA)
    problems = []
    for c in long:
        n = pl.col(c).str.len_chars()
        bad = frame.filter(n > MAX_CELL_CHARS).select(LINE, n.alias("n"),
                                                      pl.col(c).str.slice(0, 60).alias("v"))
        problems.append(bad.select(  # the size in the message, the start as the value
            LINE, pl.lit(c).alias("column"),
            pl.format("is {} characters long; a cell holds at most " f"{MAX_CELL_CHARS:,}",
                      pl.col("n")).alias("message"),
            pl.format("{}…", pl.col("v")).alias("value")))
    cut = frame.with_columns(pl.when(pl.col(c).str.len_chars() > MAX_CELL_CHARS)
                             .then(pl.col(c).str.slice(0, MAX_CELL_CHARS))
                             .otherwise(pl.col(c)).alias(c) for c in long)
    return cut, pl.concat(problems).cast(PROBLEM_SCHEMA)  # type: ignore[arg-type]


@contextmanager
def local_file(source: str | Path | BinaryIO, name: str | None = None
               ) -> Iterator[tuple[Path, str]]:
    """A path to read ``source`` from, and the name to give it in messages.

    A path is used as it is. A stream (an upload, a pipe) is copied in 1 MiB chunks to a
    temporary file first (never held in memory whole): the file is read twice, once for
    its SHA-256 and once for its rows, and an XLSX needs seeking. ``name`` (the upload's
    own name) keeps its extension, which says CSV or XLSX."""
    if isinstance(source, str | Path):
        path = Path(source)
        yield path, name or str(path)
        return
    label = name or getattr(source, "name", None) or "upload"
    suffix = Path(str(label)).suffix if Path(str(label)).suffix else ".csv"
    fd, tmp = tempfile.mkstemp(prefix="kuznia-upload-", suffix=suffix)
    try:
        with os.fdopen(fd, "wb") as f:
            shutil.copyfileobj(source, f, 1 << 20)
        yield Path(tmp), str(label)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def open_source(path: Path, batch_rows: int | None = None, label: str | None = None
                ) -> Source:
    """Open a CSV or XLSX file for reading in batches; a path that is not a readable file
    is an ``InputError`` naming it. ``label`` is the name problems give the file (an
    upload's own name rather than the spooled copy's)."""
    label = label or str(path)
    if not path.exists():
        raise _whole_file_problem(label, "no such file")
    if path.is_dir():
        raise _whole_file_problem(label, "is a folder, not a file")
    if not path.is_file():  # a named pipe would block the reader; a device never ends
        raise _whole_file_problem(label, "is not a regular file (a named pipe or a device?); "
                                         "save the rows to a file first")
    try:
        with path.open("rb") as f:
            f.read(1)
    except OSError as exc:
        raise _whole_file_problem(label, f"cannot be read: {exc.strerror}") from exc
    suffix = path.suffix.lower()
    if suffix in (".xlsx", ".xlsm"):
        return _open_xlsx(path, batch_rows or XLSX_BATCH_ROWS, label)
    return _open_csv(path, batch_rows, label)


def _sniff_delimiter(first_line: str) -> str:
    counts = {d: first_line.count(d) for d in (",", ";", "\t")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] > 0 else ","


CR_IN_HEADER = ("the header holds a carriage return (CR) inside it: save the file with one "
                "kind of line end (CR LF, LF, or CR alone as old Mac files have)")


def _first_line(path: Path, label: str) -> str:
    """The header line, ended by LF, CR LF, or a CR alone (old Mac files end every line with
    CR, and are read as they are); a CR inside a header ended otherwise is a file problem."""
    with path.open("rb") as f:
        start = f.read(1 << 20)
    if b"\n" in start:
        raw = start.split(b"\n", 1)[0]
        raw = raw[:-1] if raw.endswith(b"\r") else raw
        if b"\r" in raw:
            raise _whole_file_problem(label, CR_IN_HEADER, 1)
    else:
        raw = start.split(b"\r", 1)[0]
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise _whole_file_problem(label, "the header " + NOT_UTF8, 1) from exc


_BREAKS = r"\r\n|\r|\n"


def _open_csv(path: Path, batch_rows: int | None, label: str) -> Source:
    first = _first_line(path, label)
    if not first.strip():
        raise _whole_file_problem(label, "the file has no header", 1)
    if "\x00" in first:
        raise _whole_file_problem(label, "is not a text file (it holds NUL bytes)", 1)
    delimiter = _sniff_delimiter(first)
    raw_header = next(csv.reader([first], delimiter=delimiter))
    header = [normalise_header(v) for v in raw_header]
    invalid: list[tuple[int, RowProblem, int]] = []  # (row number, problem, line breaks)

    def on_invalid(row: pacsv.InvalidRow) -> str:
        text = row.text or ""
        invalid.append((int(row.number) if row.number is not None else 0, RowProblem(
            label, 0, "-",
            f"expected {row.expected_columns} values, found {row.actual_columns}",
            text[:80]), len(re.findall(_BREAKS, text))))
        return "skip"

    block = CSV_BLOCK_BYTES if batch_rows is None else max(1024, batch_rows * 64)
    try:
        reader = pacsv.open_csv(
            path,
            read_options=pacsv.ReadOptions(
                use_threads=False,  # needed for exact row numbers of malformed rows
                block_size=block,
                skip_rows=1,
                column_names=header,
            ),
            parse_options=pacsv.ParseOptions(
                delimiter=delimiter,
                ignore_empty_lines=False,
                newlines_in_values=True,  # a quoted value may span lines
                invalid_row_handler=on_invalid,
            ),
            convert_options=pacsv.ConvertOptions(
                # bytes, not text: a cell that is not UTF-8 becomes a problem on its line
                column_types={c: pa.binary() for c in header},
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
    except pa.ArrowInvalid as exc:
        raise _unreadable_csv(label, exc) from exc
    return Source(path, header, _csv_batches(reader, label, header, invalid))


def _unreadable_csv(label: str, exc: Exception) -> InputError:
    if "straddl" in str(exc):  # one value (or row) longer than a whole block
        return _whole_file_problem(
            label, f"holds a value (or a row) longer than {CSV_BLOCK_BYTES >> 20} MiB; a "
            f"cell holds at most {MAX_CELL_CHARS:,} characters")
    return _whole_file_problem(label, f"cannot be read as CSV: {exc}")


def _frame_of(record_batch: pa.RecordBatch) -> pl.DataFrame:
    frame = pl.from_arrow(pa.Table.from_batches([record_batch]))
    assert isinstance(frame, pl.DataFrame)
    return frame


def _as_text(frame: pl.DataFrame, lines: np.ndarray) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Binary columns as text; a cell that is not UTF-8 is a problem (its text, with the
    bad bytes replaced, stays for the quarantine file)."""
    columns, problems = [], []
    for name in frame.columns:
        col = frame.get_column(name)
        try:
            columns.append(col.cast(pl.String))
            continue
        except pl.exceptions.PolarsError:
            pass
        cells = col.to_list()
        bad = []
        text = []
        for i, v in enumerate(cells):
            try:
                text.append(v.decode("utf-8"))
            except UnicodeDecodeError:
                text.append(v.decode("utf-8", errors="replace"))
                bad.append(i)
        columns.append(pl.Series(name, text, dtype=pl.String))
        problems.append(pl.DataFrame({
            LINE: lines[bad], "column": [name] * len(bad), "message": [NOT_UTF8] * len(bad),
            "value": [repr(cells[i][:40])[2:-1] for i in bad]}, schema=PROBLEM_SCHEMA))
    cell_problems = pl.concat(problems) if problems else pl.DataFrame(schema=PROBLEM_SCHEMA)
    return pl.DataFrame(columns), cell_problems


def _csv_batches(reader: pacsv.CSVStreamingReader, label: str, header: list[str],
                 invalid: list[tuple[int, RowProblem, int]]) -> Iterator[Batch]:
    """Number rows by their first line in the file.

    Arrow numbers rows, not lines (the header is row 1), and reports malformed rows by row
    number. A kept row's row number comes from its position, shifted past the malformed
    rows before it; its line is its row number plus every line break inside the quoted
    values of the rows before it, kept or malformed.
    """
    seen = 0  # kept rows so far
    breaks_before = 0  # line breaks inside values of every row handled so far
    done_invalid = 0  # malformed rows handled so far
    try:
        for record_batch in reader:
            n = record_batch.num_rows
            if n == 0:
                continue
            frame = _frame_of(record_batch)
            rows = np.arange(seen, seen + n, dtype=np.int64) + 2
            skipped = np.asarray([r for r, _, _ in invalid], dtype=np.int64)
            if skipped.size:  # the handler meets malformed rows in file order
                rows = _shift_past(rows, skipped)
            seen += n
            text, cell_problems = _as_text(frame, np.arange(n, dtype=np.int64))
            inner = text.select(pl.sum_horizontal(
                pl.col(c).str.count_matches(_BREAKS).fill_null(0) for c in header)
            ).to_series().to_numpy().astype(np.int64)
            # the malformed rows among (or before) this batch's rows
            upto = done_invalid
            while upto < len(invalid) and invalid[upto][0] < rows[-1]:
                upto += 1
            mine = invalid[done_invalid:upto]
            done_invalid = upto
            rows_all = np.concatenate([rows, np.asarray([t[0] for t in mine], dtype=np.int64)])
            breaks_all = np.concatenate([inner, np.asarray([t[2] for t in mine],
                                                           dtype=np.int64)])
            order = np.argsort(rows_all, kind="stable")
            before = np.empty_like(breaks_all)
            before[order] = np.cumsum(breaks_all[order]) - breaks_all[order]
            lines_all = rows_all + breaks_before + before
            breaks_before += int(breaks_all.sum())
            lines = lines_all[:n]
            dropped = [RowProblem(p.file, int(line), p.column, p.message, p.value)
                       for (_, p, _), line in zip(mine, lines_all[n:], strict=True)]
            if not cell_problems.is_empty():
                cell_problems = cell_problems.with_columns(
                    pl.Series(LINE, lines[cell_problems.get_column(LINE).to_numpy()]))
            text, long = _too_long(text.with_columns(pl.Series(LINE, lines)), header)
            yield Batch(text, pl.concat([cell_problems, long]), dropped)
        dropped, extra = [], 0
        for row, p, k in invalid[done_invalid:]:
            dropped.append(RowProblem(p.file, row + breaks_before + extra, p.column,
                                      p.message, p.value))
            extra += k
        yield Batch(_empty_text(header), pl.DataFrame(schema=PROBLEM_SCHEMA), dropped)
    except pa.ArrowInvalid as exc:
        raise _unreadable_csv(label, exc) from exc


def _empty_text(header: list[str]) -> pl.DataFrame:
    return pl.DataFrame(schema={**{h: pl.String for h in header}, LINE: pl.Int64})


def _shift_past(lines: np.ndarray, skipped: np.ndarray) -> np.ndarray:
    """Row numbers of kept rows, given the sorted row numbers of skipped ones.

    Kept row with naive number L really sits at L + k, where k is the number of skipped
    rows at or before its true position; iterate to the fixed point (k only grows).
    """
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


_XLSX_ERRORS = {"#NULL!", "#DIV/0!", "#VALUE!", "#REF!", "#NAME?", "#NUM!", "#N/A",
                "#GETTING_DATA", "#SPILL!", "#CALC!"}


_ROW = re.compile(rb"<(?:\w+:)?row[\s>/]")
_ROW_NUMBER = re.compile(rb"<(?:\w+:)?row\b[^>]*?\sr=\"(\d+)\"")
_DIMENSION = re.compile(rb"<(?:\w+:)?dimension\b[^>]*?\sref=\"[A-Za-z$]*\d*:?[A-Za-z$]*(\d+)\"")
_FORMULA = re.compile(rb"<(\w+:)?f[ >/]")
_LONG_TEXT = re.compile(rb"[^<]{%d}" % (XLSX_TEXT_BYTES + 1))


def _xml_pieces(f: BinaryIO, too_long: Callable[[], InputError]) -> Iterator[bytes]:
    """A zip member's XML in pieces that each end just before a ``<`` (so no tag is cut
    in two), read a bounded chunk at a time; ``too_long()`` is raised for a text (a run
    without ``<``) longer than ``XLSX_TEXT_BYTES``."""
    carry = b""
    while chunk := f.read(XLSX_TEXT_BYTES):
        data = carry + chunk
        cut = data.rfind(b"<")
        if cut <= 0:  # all one text so far
            if len(data) > XLSX_TEXT_BYTES:
                raise too_long()
            carry = data
            continue
        piece, carry = data[:cut], data[cut:]
        if len(piece) > XLSX_TEXT_BYTES and _LONG_TEXT.search(piece):
            raise too_long()
        yield piece
    if len(carry) > XLSX_TEXT_BYTES:
        raise too_long()
    if carry:
        yield carry


def _scan_xlsx(path: Path, label: str) -> bool:
    """Read the workbook's XML once, in streaming (nothing held whole), before opening it:
    refuse at once a sheet that claims (by its dimension or its row numbers) or holds more
    rows than ``MAX_XLSX_ROWS``, and text longer than ``XLSX_TEXT_BYTES`` anywhere (a
    cell that size is no data, and would be held in memory). Returns whether any sheet
    holds a formula (a ``<f`` element)."""
    import zipfile

    formulas = False
    try:
        z = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise _whole_file_problem(label, f"not a readable XLSX workbook: {exc}") from exc
    with z:
        for info in z.infolist():
            name = info.filename
            sheet = name.startswith("xl/worksheets/") and name.endswith(".xml")
            if not sheet and name != "xl/sharedStrings.xml":
                continue

            def too_long(name: str = name) -> InputError:
                return _whole_file_problem(
                    label, f"{name} holds a text of more than {XLSX_TEXT_BYTES:,} bytes; a "
                    f"cell holds at most {MAX_CELL_CHARS:,} characters")

            rows = 0
            with z.open(info) as f:
                for piece in _xml_pieces(f, too_long):  # type: ignore[arg-type]
                    if not sheet:
                        continue
                    formulas = formulas or bool(_FORMULA.search(piece))
                    rows += len(_ROW.findall(piece))
                    claims = [int(m) for m in _ROW_NUMBER.findall(piece)]
                    claims += [int(m) for m in _DIMENSION.findall(piece)]
                    top = max([rows, *claims])
                    if top > MAX_XLSX_ROWS:
                        raise _whole_file_problem(
                            label, f"the sheet ({name}) claims row {top:,}; a sheet holds at "
                            f"most {MAX_XLSX_ROWS:,} rows (split the file, or send CSV)")
    return formulas


def _open_xlsx(path: Path, batch_rows: int, label: str) -> Source:
    import openpyxl

    has_formulas = _scan_xlsx(path, label)
    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
        formulas = None
        if has_formulas:  # a second view of the sheet shows which cells are formulas
            formulas = openpyxl.load_workbook(path, read_only=True, data_only=False)
    except Exception as exc:  # noqa: BLE001 - openpyxl raises many types for a bad file
        raise _whole_file_problem(label, f"not a readable XLSX workbook: {exc}") from exc
    sheet = book.worksheets[0]
    rows = sheet.iter_rows(values_only=True)
    formula_rows = formulas.worksheets[0].iter_rows(values_only=True) if formulas else None
    try:
        header_cells = next(rows)
        if formula_rows is not None:
            next(formula_rows)
    except StopIteration:
        header_cells = ()
    header = [normalise_header(_cell_text(c)) for c in header_cells]
    while header and not header[-1]:
        header.pop()
    if not header:
        raise _whole_file_problem(label, "the sheet has no header", 1)
    width = len(header)

    def batches() -> Iterator[Batch]:
        columns: list[list[str]] = [[] for _ in range(width)]
        lines: list[int] = []
        problems: list[tuple[int, str, str, str]] = []
        for line, cells in enumerate(rows, start=2):
            raw = next(formula_rows, ()) if formula_rows is not None else ()
            values = [_cell_text(c) for c in cells[:width]]
            values += [""] * (width - len(values))
            for i, (col, value) in enumerate(zip(columns, values, strict=True)):
                col.append(value)
                if value in _XLSX_ERRORS:
                    problems.append((line, header[i], "is a spreadsheet error value", value))
                elif value == "" and i < len(raw) and isinstance(raw[i], str) \
                        and raw[i].startswith("="):
                    problems.append((line, header[i], "is a formula without a saved value "
                                     "(open the file in a spreadsheet and save it)",
                                     raw[i][:40]))
            lines.append(line)
            if len(lines) >= batch_rows:
                yield _batch(header, columns, lines, problems)
                columns = [[] for _ in range(width)]
                lines, problems = [], []
        yield _batch(header, columns, lines, problems)
        book.close()
        if formulas is not None:
            formulas.close()

    return Source(path, header, batches())


def _batch(header: list[str], columns: list[list[str]], lines: list[int],
           problems: list[tuple[int, str, str, str]]) -> Batch:
    data = {h: pl.Series(h, c, dtype=pl.String) for h, c in zip(header, columns, strict=True)}
    data[LINE] = pl.Series(LINE, lines, dtype=pl.Int64)
    frame, long = _too_long(pl.DataFrame(data), header)
    return Batch(frame, pl.concat([pl.DataFrame(problems, schema=PROBLEM_SCHEMA,
                                                orient="row"), long]))
