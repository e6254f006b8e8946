"""Digests of stored rows, so the audit trail commits to the data, not only to the events.

Each row's hash is BLAKE2b (16 bytes) over a canonical text of its stored values, in the
table's column order: text as it is, whole numbers and dates by their integer value,
other numbers by their IEEE-754 bits (so no float formatting enters), absent values by a
marker no text can hold. The first 8 bytes are kept beside the row (``row_hash``) so that
``audit verify --deep`` can name a row whose content no longer matches it.

A table's digest is the count of its rows and the sums, modulo 2**64, of both halves of
its rows' hashes: it does not depend on row order, so it can be kept up to date at each
write (add the rows written, take out the rows replaced) and recomputed by streaming the
table in any order. Each audit event records the digest of every table it wrote, as the
table stood after the write; the event's own hash covers it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import polars as pl

MASK = (1 << 64) - 1
NULL = "\x00"  # never in stored text: the readers refuse NUL bytes... and it marks absence
SEP = "\x1f"


@dataclass(frozen=True)
class TableDigest:
    rows: int = 0
    lo: int = 0
    hi: int = 0

    def __add__(self, other: TableDigest) -> TableDigest:
        return TableDigest(self.rows + other.rows, (self.lo + other.lo) & MASK,
                           (self.hi + other.hi) & MASK)

    def __sub__(self, other: TableDigest) -> TableDigest:
        return TableDigest(self.rows - other.rows, (self.lo - other.lo) & MASK,
                           (self.hi - other.hi) & MASK)

    def to_dict(self) -> dict[str, object]:
        return {"rows": self.rows, "digest": f"{self.lo:016x}{self.hi:016x}"}

    @classmethod
    def from_dict(cls, d: dict[str, object]) -> TableDigest:
        text = str(d["digest"])
        return cls(int(d["rows"]), int(text[:16], 16), int(text[16:], 16))  # type: ignore[call-overload]


def _canonical(frame: pl.DataFrame) -> pl.Series:
    parts = []
    for name, dtype in frame.schema.items():
        col = frame.get_column(name)
        if dtype.is_float():
            values = (col.cast(pl.Float64).fill_null(0.0) + 0.0).to_numpy()  # -0.0 is 0.0
            bits = pl.Series(name, values.view(np.int64)).cast(pl.String)
            text = bits.set(col.is_null(), None) if col.null_count() else bits
        elif dtype == pl.Date:
            text = col.to_physical().cast(pl.String)
        elif dtype == pl.Null:
            text = pl.Series(name, [None] * len(col), dtype=pl.String)
        else:
            text = col.cast(pl.String)
        parts.append(text.fill_null(NULL).alias(name))
    return pl.DataFrame(parts).select(pl.concat_str(pl.all(), separator=SEP)).to_series()


def row_hashes(frame: pl.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Both halves of each row's hash (uint64), over the columns of ``frame`` in order."""
    if frame.is_empty():
        return np.zeros(0, np.uint64), np.zeros(0, np.uint64)
    blake2b = hashlib.blake2b
    raw = b"".join(map(lambda b: blake2b(b, digest_size=16).digest(),
                       _canonical(frame).cast(pl.Binary).to_arrow().to_pylist()))
    both = np.frombuffer(raw, dtype="<u8").reshape(-1, 2)
    return both[:, 0].copy(), both[:, 1].copy()


def digest_of(lo: np.ndarray, hi: np.ndarray) -> TableDigest:
    """The digest of a set of rows from their hashes."""
    return TableDigest(int(lo.size), int(lo.sum(dtype=np.uint64)), int(hi.sum(dtype=np.uint64)))


def stored_hash(lo: np.ndarray) -> np.ndarray:
    """The half kept beside each row, as the signed 64-bit integer a database holds."""
    return lo.view(np.int64)
