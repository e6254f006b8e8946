"""Fast paths for big batches, one per backend, behind one small interface.

SQLite gets ``executemany`` on the driver connection; PostgreSQL gets ``COPY``. Both run
inside the caller's transaction. Everything else goes through SQLAlchemy Core.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from itertools import chain

import polars as pl
from sqlalchemy import Connection, Table, and_, bindparam, select, update

SQLITE_MAX_PARAMS = 999  # the limit of older SQLite builds; newer allow 32,766
CUBE_KEYS = ("product_id", "producer_id", "version", "lot", "month")
CUBE_SUMS = ("uses", "units_used", "effects", "effects_sq", "n_effect", "n_no_effect",
             "n_failure", "n_aborted")
FLOAT_SUMS = ("effects_sq",)  # kept as floats (the rest are integers)


def _text_dates(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.with_columns(pl.col(pl.Date).dt.strftime("%Y-%m-%d"))


def insert_frame(conn: Connection, table: Table, frame: pl.DataFrame) -> None:
    """Append every row of ``frame`` (columns named as the table's) to ``table``."""
    if frame.is_empty():
        return
    cols = list(frame.columns)
    driver = conn.connection.driver_connection
    if conn.dialect.name == "postgresql":
        data = frame.write_csv(include_header=False, null_value="")
        with driver.cursor() as cur:  # type: ignore[union-attr]
            with cur.copy(f"COPY {table.name} ({', '.join(cols)}) FROM STDIN (FORMAT csv)") as cp:
                cp.write(data)
        return
    # SQLite: many rows per statement, which halves the per-row cost of stepping a
    # statement from Python; the rest go one by one
    one = f"({', '.join('?' * len(cols))})"
    per = max(1, SQLITE_MAX_PARAMS // len(cols))
    rows = _text_dates(frame).rows()
    full = len(rows) // per * per
    insert = f"INSERT INTO {table.name} ({', '.join(cols)}) VALUES "
    cur = driver.cursor()  # type: ignore[union-attr]
    try:
        if full:
            cur.executemany(insert + ", ".join([one] * per),
                            (tuple(chain.from_iterable(rows[i:i + per]))
                             for i in range(0, full, per)))
        cur.executemany(insert + one, rows[full:])
    finally:
        cur.close()


def fetch_by_key(conn: Connection, table: Table, key: tuple[str, ...], keys: pl.DataFrame,
                 columns: list[str], schema: dict[str, pl.DataType]) -> pl.DataFrame:
    """Stored rows of ``table`` whose key is among ``keys``, typed like ``schema``."""
    if keys.is_empty():
        return pl.DataFrame(schema={c: schema[c] for c in columns})
    cols = [table.c[c] for c in columns]
    if len(key) == 1:
        ids = keys[key[0]].to_list()
        k = key[0]
        if conn.dialect.name == "postgresql":
            rows = conn.exec_driver_sql(
                f"SELECT {', '.join(columns)} FROM {table.name} WHERE {k} = ANY(%(ids)s)",
                {"ids": ids}).all()
        else:
            rows = conn.exec_driver_sql(
                f"SELECT {', '.join(columns)} FROM {table.name} "
                f"WHERE {k} IN (SELECT value FROM json_each(?))", (json.dumps(ids),)).all()
    else:  # composite keys belong to small reference tables: read them whole
        rows = conn.execute(select(*cols)).all()
    # dates arrive as text (SQLite) or date objects (PostgreSQL, Core): make them text first
    dates = {i for i, c in enumerate(columns) if schema[c] == pl.Date}
    data = {
        c: pl.Series(c, [None if r[i] is None else str(r[i]) for r in rows], dtype=pl.String)
        .str.to_date("%Y-%m-%d") if i in dates else pl.Series(c, [r[i] for r in rows],
                                                              dtype=schema[c])
        for i, c in enumerate(columns)
    }
    frame = pl.DataFrame(data)
    if len(key) > 1:
        frame = frame.join(keys.select(list(key)).unique(), on=list(key), how="semi")
    return frame


def update_rows(conn: Connection, table: Table, key: tuple[str, ...], frame: pl.DataFrame) -> None:
    """Overwrite the non-key columns of the rows in ``frame``, matched on ``key``."""
    if frame.is_empty():
        return
    values = [c for c in frame.columns if c not in key]
    stmt = (
        update(table)
        .where(and_(*[table.c[k] == bindparam(f"k_{k}") for k in key]))
        .values({c: bindparam(f"v_{c}") for c in values})
    )
    params = [
        {**{f"k_{k}": row[k] for k in key}, **{f"v_{c}": row[c] for c in values}}
        for row in frame.iter_rows(named=True)
    ]
    conn.execute(stmt, params)


def cube_rows(uses: pl.DataFrame, sign: int = 1) -> pl.DataFrame:
    """Sums of a batch of uses per ``use_cube`` key; ``sign=-1`` takes rows back out.

    ``first_on``, the earliest use of the key, is kept as a minimum (as in the failure
    cube): the red flags read uses before their lot's delivery from it.
    """
    outcome = pl.col("outcome")
    return (
        uses.select(
            pl.col("product_id"),
            pl.col("producer_id").fill_null(""),
            pl.col("version").fill_null(""),
            pl.col("lot").fill_null(""),
            pl.col("used_on").dt.strftime("%Y-%m").alias("month"),
            pl.lit(1, dtype=pl.Int64).alias("uses"),
            pl.col("units_used").cast(pl.Int64),
            pl.col("effects").cast(pl.Int64),
            # the sum of squared effects, for the dispersion of effects per use (a float:
            # squares of the largest counts would overflow a 64-bit sum)
            (pl.col("effects").cast(pl.Float64) ** 2).alias("effects_sq"),
            *[(outcome == o).cast(pl.Int64).alias(f"n_{o}")
              for o in ("effect", "no_effect", "failure", "aborted")],
            pl.col("used_on").cast(pl.Date).alias("first_on"),
        )
        .group_by(list(CUBE_KEYS))
        .agg(*(pl.col(c).sum() * sign for c in CUBE_SUMS),
             pl.col("first_on").min().dt.strftime("%Y-%m-%d"))
    )


def normal_conditions(col: pl.Expr) -> pl.Expr:
    """``key=value;key=value`` with blanks dropped and pairs sorted, so order does not count."""
    return (col.fill_null("").str.split(";")
            .list.eval(pl.element().str.strip_chars().filter(pl.element() != "")).list.sort()
            .list.join(";"))


def failure_cube_rows(uses: pl.DataFrame, sign: int = 1) -> pl.DataFrame:
    """Uses per ``failure_cube`` key (failure mode '' for uses without one).

    ``first_on`` is kept as a minimum: an ``--update`` that moves the earliest use away
    cannot raise it again, so the board may age such a block from a use now elsewhere.

    Grouped on the conditions as written first, so that the string work of normalising
    them runs once per distinct spelling rather than once per use.
    """
    keys = list(FAILURE_KEYS)
    return (
        uses.select(
            pl.col("product_id"),
            pl.col("producer_id").fill_null(""),
            pl.col("version").fill_null(""),
            pl.col("conditions").fill_null(""),
            pl.col("failure_mode").fill_null(""),
            pl.col("used_on").cast(pl.Date),
        )
        .group_by(keys)
        .agg(pl.len().cast(pl.Int64).alias("uses"), pl.col("used_on").min())
        .with_columns(normal_conditions(pl.col("conditions")).alias("conditions"))
        .group_by(keys)
        .agg((pl.col("uses").sum() * sign).alias("uses"),
             pl.col("used_on").min().dt.strftime("%Y-%m-%d").alias("first_on"))
    )


@dataclass(frozen=True)
class Cube:
    """A kept aggregate of uses: its table, key, summed columns and earliest-date columns."""

    table: str
    keys: tuple[str, ...]
    sums: tuple[str, ...]
    rows: Callable[[pl.DataFrame, int], pl.DataFrame]
    firsts: tuple[str, ...] = ()

    @property
    def columns(self) -> list[str]:
        return [*self.keys, *self.sums, *self.firsts]


def operator_cube_rows(uses: pl.DataFrame, sign: int = 1) -> pl.DataFrame:
    """Uses and effects per ``operator_cube`` key (operator '' for uses without one)."""
    return (
        uses.select(
            pl.col("product_id"),
            pl.col("operator").fill_null(""),
            pl.col("used_on").dt.strftime("%Y-%m").alias("month"),
            pl.lit(1, dtype=pl.Int64).alias("uses"),
            pl.col("effects").cast(pl.Int64),
            (pl.col("effects").cast(pl.Float64) ** 2).alias("effects_sq"),
        )
        .group_by(list(OPERATOR_KEYS))
        .agg(pl.col(c).sum() * sign for c in OPERATOR_SUMS)
    )


def lot_failure_cube_rows(uses: pl.DataFrame, sign: int = 1) -> pl.DataFrame:
    """Failures per ``lot_failure_cube`` key: the uses with a failure mode, counted per
    product, producer, version, lot and mode ('' for no producer, version or lot)."""
    return (
        uses.filter(pl.col("failure_mode").is_not_null() & (pl.col("failure_mode") != ""))
        .select(pl.col(c).cast(pl.String).fill_null("") for c in LOT_FAILURE_KEYS)
        .group_by(list(LOT_FAILURE_KEYS))
        .agg((pl.len().cast(pl.Int64) * sign).alias("failures"))
    )


FAILURE_KEYS = ("product_id", "producer_id", "version", "conditions", "failure_mode")
OPERATOR_KEYS = ("product_id", "operator", "month")
OPERATOR_SUMS = ("uses", "effects", "effects_sq")
LOT_FAILURE_KEYS = ("product_id", "producer_id", "version", "lot", "failure_mode")
CUBES = (
    Cube("use_cube", CUBE_KEYS, CUBE_SUMS, cube_rows, ("first_on",)),
    Cube("failure_cube", FAILURE_KEYS, ("uses",), failure_cube_rows, ("first_on",)),
    Cube("operator_cube", OPERATOR_KEYS, OPERATOR_SUMS, operator_cube_rows),
    Cube("lot_failure_cube", LOT_FAILURE_KEYS, ("failures",), lot_failure_cube_rows),
)


class CubeDelta:
    """Sums of the uses an import adds (or takes back), kept in memory until ``flush``.

    The delta of a whole import is small (one row per lot and month), so one upsert at the
    end replaces one per batch: on PostgreSQL that upsert costs about 30 us a row. One delta
    feeds every kept aggregate in ``CUBES``. ``products`` are the products whose uses it
    added or took back (an import's audit event names them: ``services/flag_uses.py``).
    """

    def __init__(self) -> None:
        self._parts: dict[str, list[pl.DataFrame]] = {c.table: [] for c in CUBES}
        self.products: set[str] = set()

    def add(self, uses: pl.DataFrame, sign: int = 1) -> None:
        if uses.is_empty():
            return
        self.products.update(uses.get_column("product_id").unique().to_list())
        for cube in CUBES:
            parts = self._parts[cube.table]
            parts.append(cube.rows(uses, sign))
            if len(parts) >= 16:
                self._parts[cube.table] = [_combined(cube, parts)]

    def flush(self, conn: Connection) -> None:
        for cube in CUBES:
            if self._parts[cube.table]:
                upsert_cube(conn, cube, _combined(cube, self._parts[cube.table]))
                self._parts[cube.table] = []


def _combined(cube: Cube, parts: list[pl.DataFrame]) -> pl.DataFrame:
    return pl.concat(parts).group_by(list(cube.keys)).agg(
        *(pl.col(c).sum() for c in cube.sums), *(pl.col(c).min() for c in cube.firsts))


def upsert_cube(conn: Connection, cube: Cube, rows: pl.DataFrame) -> None:
    """Add ``rows`` (keys and sums) to the cube's table; earliest dates keep the minimum."""
    if rows.is_empty():
        return
    name, cols = cube.table, cube.columns
    least = "LEAST" if conn.dialect.name == "postgresql" else "min"
    upsert = (f"ON CONFLICT ({', '.join(cube.keys)}) DO UPDATE SET "
              + ", ".join([*(f"{c} = {name}.{c} + excluded.{c}" for c in cube.sums),
                           *(f"{c} = {least}({name}.{c}, excluded.{c})" for c in cube.firsts)]))
    cur = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        if conn.dialect.name == "postgresql":
            # COPY the deltas into a scratch table, then one upsert: binding each value
            # from Python (executemany, or arrays) costs more than the whole COPY of uses
            cur.execute(f"CREATE TEMP TABLE IF NOT EXISTS {name}_delta "
                        f"(LIKE {name} INCLUDING DEFAULTS) ON COMMIT DROP")
            cur.execute(f"TRUNCATE {name}_delta")
            with cur.copy(f"COPY {name}_delta ({', '.join(cols)}) FROM STDIN "
                          "(FORMAT csv)") as cp:
                cp.write(rows.select(cols).write_csv(include_header=False))
            cur.execute(f"INSERT INTO {name} ({', '.join(cols)}) "
                        f"SELECT {', '.join(cols)} FROM {name}_delta {upsert}")
        else:
            marks = ", ".join("?" * len(cols))
            cur.executemany(f"INSERT INTO {name} ({', '.join(cols)}) VALUES ({marks}) {upsert}",
                            rows.select(cols).rows())
    finally:
        cur.close()
