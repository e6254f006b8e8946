"""Column-wise checks: text columns in, typed columns and a frame of problems out.

A problem frame has the columns ``_line, column, message, value``; a row is rejected when
it has at least one problem. Nothing here touches the database: references arrive as
frames of known keys (see ``rules.References``).
"""

from __future__ import annotations

import polars as pl

from kuznia.i18n import N_
from kuznia.ingest.readers import LINE, PROBLEM_SCHEMA
from kuznia.ingest.tables import Field, TableSpec

MAX_ID_LENGTH = 64
# The largest whole number any column takes (PostgreSQL's integer), and the largest
# magnitude of any other number: beyond them a value is a typing slip, not data.
MAX_INT = 2_147_483_647
MAX_NUMBER = 1e15
REPEATED_KEY = "repeats the key of an earlier line of this file with other content"
# Characters an id may not hold: controls (NUL, tabs, line breaks, ...), invisible format
# characters (zero-width spaces, joiners, the byte-order mark), bidirectional overrides
# and isolates (which make an id read differently from what it is), line and paragraph
# separators.
UNSEEN = r"[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]"
NUL = "holds a NUL (zero) byte, which is not text"
UNSEEN_IN_ID = N_("holds a control, invisible or right-to-left character (shown as \\u....); "
                "an id is written with visible characters")
DOTS_ID = N_("may not be '.' or '..' (they name folders, not records)")


def visible(value: str | None) -> str | None:
    r"""``value`` with every control or invisible character written as ``\uXXXX``, so a
    message shows what is there (and never carries a NUL into a store or a terminal).

    >>> visible("P\u202e01")
    'P\\u202e01'
    """
    if value is None:
        return None
    import unicodedata

    return "".join(
        f"\\u{ord(ch):04x}" if unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp", "Cs")
        else ch for ch in value)


def no_problems() -> pl.DataFrame:
    return pl.DataFrame(schema=PROBLEM_SCHEMA)


def problems_where(
    frame: pl.DataFrame, mask: pl.Expr, column: str, message: str, value: pl.Expr | None = None
) -> pl.DataFrame:
    """The rows of ``frame`` where ``mask`` holds, as problems in ``column``."""
    value_expr = (value if value is not None else pl.col(column)).cast(pl.String)
    return frame.filter(mask.fill_null(False)).select(
        pl.col(LINE),
        pl.lit(column).alias("column"),
        pl.lit(message).alias("message"),
        value_expr.alias("value"),
    )


def check_header(spec: TableSpec, header: list[str]) -> list[tuple[str, str]]:
    """(column, message) pairs for a header that does not fit the table."""
    out: list[tuple[str, str]] = []
    seen: set[str] = set()
    for name in header:
        if name in seen:
            out.append((name, "appears twice in the header"))
        seen.add(name)
    allowed = set(spec.columns)
    for name in header:
        if name and name not in allowed:
            expected = ", ".join(spec.columns)
            out.append((name, f"is not a column of {spec.name} (expected: {expected})"))
    for f in spec.fields:
        if f.required and f.name not in seen:
            out.append((f.name, "is required but missing from the header"))
    return out


def _clean(frame: pl.DataFrame, spec: TableSpec) -> pl.DataFrame:
    """Strip cells, turn blanks into nulls, add absent optional columns, drop blank rows."""
    exprs = []
    for f in spec.fields:
        if f.name in frame.columns:
            e = pl.col(f.name).str.strip_chars()
            e = pl.when(e == "").then(None).otherwise(e)
        else:
            e = pl.lit(None, dtype=pl.String)
        if f.default is not None:
            e = e.fill_null(pl.lit(f.default))
        exprs.append(e.alias(f.name))
    present = [c for c in frame.columns if c != LINE]
    blank = pl.all_horizontal([pl.col(c).str.strip_chars() == "" for c in present]) if present \
        else pl.lit(True)
    return frame.filter(~blank).select(pl.col(LINE), *exprs)


def _typed(f: Field) -> tuple[pl.Expr, str | None]:
    """The typed expression for a text column, and what a failed conversion means."""
    c = pl.col(f.name)
    if f.kind == "int":
        return c.cast(pl.Int64, strict=False), "is not a whole number"
    if f.kind == "number":
        return c.str.replace_all("_", "").cast(pl.Float64, strict=False), "is not a number"
    if f.kind == "date":
        # chrono reads 2026-1-1 too; the format is ISO, written with two-digit months and days
        iso = c.str.contains(r"^\d{4}-\d{2}-\d{2}$")
        return (pl.when(iso).then(c.str.to_date("%Y-%m-%d", strict=False)),
                "is not an ISO date (YYYY-MM-DD)")
    if f.kind == "choice":
        norm = c.str.to_lowercase().str.replace_all(r"[\s\-]+", "_")
        return norm, None
    if f.kind == "currency":
        return c.str.to_uppercase(), None
    return c, None


def convert(frame: pl.DataFrame, spec: TableSpec,
            keep_text: bool = False) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Clean and type every column. Returns (typed frame, problems).

    The typed frame keeps every non-blank row (with nulls where a value failed); with
    ``keep_text`` also the original text of each column as ``<name>__text``, for writing
    rejected rows to a quarantine file as they were.
    """
    frame = _clean(frame, spec)
    problems = [no_problems()]
    typed_exprs = []
    for f in spec.fields:
        expr, failure = _typed(f)
        typed_exprs.append(expr.alias(f"{f.name}__typed"))
    wide = frame.with_columns(typed_exprs)
    for f in spec.fields:
        raw, typed = pl.col(f.name), pl.col(f"{f.name}__typed")
        _, failure = _typed(f)
        shown = raw.map_elements(visible, return_dtype=pl.String)  # only on problem rows
        problems.append(problems_where(wide, raw.str.contains("\x00", literal=True), f.name,
                                       NUL, shown))
        if f.kind == "id":
            problems.append(problems_where(
                wide, ~raw.str.contains("\x00", literal=True) & raw.str.contains(UNSEEN),
                f.name, UNSEEN_IN_ID, shown))
            problems.append(problems_where(wide, raw.is_in([".", ".."]), f.name, DOTS_ID,
                                           raw))
        if f.required:
            problems.append(problems_where(wide, raw.is_null(), f.name, "is required", raw))
        if failure:
            problems.append(problems_where(wide, raw.is_not_null() & typed.is_null(), f.name,
                                           failure, raw))
        if f.kind == "choice":
            problems.append(problems_where(
                wide, typed.is_not_null() & ~typed.is_in(list(f.choices)), f.name,
                f"must be one of {', '.join(f.choices)}", raw))
        if f.kind == "currency":
            problems.append(problems_where(
                wide, typed.is_not_null() & ~typed.str.contains(r"^[A-Z]{3}$"), f.name,
                "is not a three-letter currency code", raw))
        if f.kind == "id":
            problems.append(problems_where(
                wide, raw.str.len_chars() > MAX_ID_LENGTH, f.name,
                f"is longer than {MAX_ID_LENGTH} characters", raw.str.slice(0, 20) + "..."))
        if f.kind == "number":
            problems.append(problems_where(
                wide, typed.is_not_null() & ~typed.is_finite(), f.name,
                "is not a finite number", raw))
            problems.append(problems_where(
                wide, typed.is_finite() & (typed.abs() > MAX_NUMBER), f.name,
                f"is out of range (at most {MAX_NUMBER:.0e} in size)", raw))
        if f.kind == "int":
            problems.append(problems_where(
                wide, typed.abs() > MAX_INT, f.name, f"is out of range (at most {MAX_INT:,})",
                raw))
        if f.minimum is not None:
            below = (typed < f.minimum if f.kind == "int"
                     else typed.is_finite() & (typed <= f.minimum))
            if f.kind == "int":
                word = f"must be at least {int(f.minimum)}"
            else:
                word = f"must be greater than {f.minimum:g}"
            problems.append(problems_where(wide, below, f.name, word, raw))
    typed_frame = wide.select(
        pl.col(LINE),
        *[pl.col(f"{f.name}__typed").alias(f.name) for f in spec.fields],
        *([pl.col(f.name).alias(f"{f.name}__text") for f in spec.fields] if keep_text else []),
    )
    return typed_frame, pl.concat(problems)


def duplicates_in_batch(frame: pl.DataFrame, spec: TableSpec) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Rows whose key repeats inside the batch.

    An exact repeat of an earlier row is dropped (it changes nothing); a repeat with other
    content is a problem naming the line of the first one.
    """
    key = list(spec.key)
    if frame.is_empty():
        return frame, no_problems()
    frame = frame.sort(LINE)
    content = pl.struct([pl.col(c) for c in spec.columns]).hash(seed=7)
    marked = frame.with_columns(
        content.alias("__h"),
        pl.col(LINE).min().over(key).alias("__first"),
    ).with_columns(
        pl.col("__h").first().over(key).alias("__h_first")  # rows are in line order,
    )
    conflicts = problems_where(
        marked,
        (pl.col(LINE) != pl.col("__first")) & (pl.col("__h") != pl.col("__h_first")),
        key[-1],
        REPEATED_KEY,
        pl.concat_str([pl.col(k).cast(pl.String) for k in key], separator="/")
        + pl.lit(" (first on line ") + pl.col("__first").cast(pl.String) + pl.lit(")"),
    )
    # later exact repeats vanish; conflicting ones stay, to be rejected with their problem
    kept = marked.filter(
        (pl.col(LINE) == pl.col("__first")) | (pl.col("__h") != pl.col("__h_first"))
    ).drop("__h", "__first", "__h_first")
    return kept, conflicts
