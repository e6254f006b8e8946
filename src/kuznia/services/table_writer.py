"""Write a batch of checked rows into its table, and deal with keys already stored.

The fast path appends the whole batch inside a savepoint; only when a key is already there
does the careful path read the stored rows back, skip the identical ones, report or (with
``--update``) record and apply the changed ones. Uses also feed the kept aggregate.
"""

from __future__ import annotations

import json

import polars as pl
from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError

from kuznia.ingest.tables import TableSpec
from kuznia.ingest.validate import REPEATED_KEY, no_problems, problems_where
from kuznia.store import bulk
from kuznia.store import schema as s


def _differs(columns: list[str]) -> pl.Expr:
    return pl.any_horizontal([pl.col(c).ne_missing(pl.col(f"{c}__old")) for c in columns])


class TableWriter:
    """Writes the good rows of each batch; finds and handles rows already stored."""

    def __init__(self, conn: Connection, spec: TableSpec, event_id: int, update: bool):
        self.conn = conn
        self.spec = spec
        self.table = s.DATA_TABLES[spec.name]
        self.event_id = event_id
        self.update = update
        self.stored = [*spec.columns, *spec.derived]
        self.added = self.updated = self.unchanged = 0
        self.cube = bulk.CubeDelta()
        self._integrity = (IntegrityError, conn.dialect.loaded_dbapi.IntegrityError)

    def _rows(self, frame: pl.DataFrame) -> pl.DataFrame:
        return frame.select(*self.stored, pl.lit(self.event_id).alias("event_id"))

    def write(self, good: pl.DataFrame) -> pl.DataFrame:
        """Store ``good``; return problems for rows that clash with stored ones."""
        rows = self._rows(good)
        if rows.is_empty():
            return no_problems()
        try:  # fast path: none of these keys is stored yet (the common case)
            with self.conn.begin_nested():
                bulk.insert_frame(self.conn, self.table, rows)
        except self._integrity:
            return self._write_careful(good)
        self._inserted(rows)
        return no_problems()

    def _inserted(self, rows: pl.DataFrame) -> None:
        if self.spec.name == "uses":
            self.cube.add(rows)
        self.added += rows.height

    def finish(self) -> None:
        """Bring the kept aggregate up to date: call once, before the transaction ends."""
        self.cube.flush(self.conn)

    def _write_careful(self, good: pl.DataFrame) -> pl.DataFrame:
        key = list(self.spec.key)
        values = [c for c in self.stored if c not in key]
        schema = {**dict(good.select(self.stored).schema), "event_id": pl.Int64}
        old = bulk.fetch_by_key(self.conn, self.table, self.spec.key, good.select(key),
                                [*self.stored, "event_id"], schema)
        old = old.rename({c: f"{c}__old" for c in [*values, "event_id"]})
        joined = good.join(old, on=key, how="left")
        stored = pl.col("event_id__old").is_not_null()
        differs = _differs([c for c in self.spec.columns if c not in key])
        # a key this import wrote already: an earlier line of the same file, however far
        # back (the rows of this import carry its event id)
        earlier = stored & (pl.col("event_id__old") == self.event_id)
        repeats = problems_where(
            joined, earlier & differs, key[-1], REPEATED_KEY,
            pl.concat_str([pl.col(k).cast(pl.String) for k in key], separator="/"))
        joined = joined.filter(~(earlier & differs))
        changed = stored & differs
        diff = joined.filter(changed)
        self.unchanged += joined.filter(stored & ~changed).height
        problems = repeats
        if diff.height and not self.update:
            problems = pl.concat([problems, problems_where(
                diff, pl.lit(True), key[-1],
                "is already stored with other content (use --update to replace it)",
                pl.concat_str([pl.col(k).cast(pl.String) for k in key], separator="/"))])
        elif diff.height:
            self._update(diff, key, values)
        rows = self._rows(joined.filter(~stored))
        bulk.insert_frame(self.conn, self.table, rows)
        self._inserted(rows)
        return problems

    def _update(self, diff: pl.DataFrame, key: list[str], values: list[str]) -> None:
        olds = diff.select(*key, *[pl.col(f"{c}__old").alias(c) for c in values])
        news = self._rows(diff)
        changes = []
        for o, n in zip(olds.iter_rows(named=True), news.iter_rows(named=True), strict=True):
            changed = sorted(c for c in self.spec.columns if c not in key and o[c] != n[c])
            changes.append({
                "event_id": self.event_id,
                "table_name": self.spec.name,
                "row_key": "/".join(str(n[k]) for k in key),
                "old_values": json.dumps({c: o[c] for c in changed}, default=str),
                "new_values": json.dumps({c: n[c] for c in changed}, default=str),
            })
        self.conn.execute(s.row_updates.insert(), changes)
        if self.spec.name == "uses":
            self.cube.add(olds, sign=-1)
            self.cube.add(news)
        bulk.update_rows(self.conn, self.table, tuple(key), news)
        self.updated += diff.height
