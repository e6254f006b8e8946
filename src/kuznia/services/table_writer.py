"""Write a batch of checked rows into its table, and deal with keys already stored.

The fast path appends the whole batch inside a savepoint; only when a key is already there
does the careful path read the stored rows back, skip the identical ones, report or (with
``--update``) record and apply the changed ones. Uses also feed the kept aggregate.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import polars as pl
from sqlalchemy import Connection, func, select
from sqlalchemy.exc import IntegrityError

from kuznia.ingest.readers import LINE
from kuznia.ingest.tables import TableSpec
from kuznia.ingest.validate import REPEATED_KEY, no_problems, problems_where
from kuznia.store import bulk
from kuznia.store import schema as s
from kuznia.store.digest import TableDigest, digest_of, row_hashes, stored_hash

# The problem of a row whose key is stored with other content (a conflict: HTTP 409 for a
# single record sent to the server).
STORED_OTHERWISE = "is already stored with other content (import with update to replace it)"


def with_row_hashes(frame: pl.DataFrame, spec: TableSpec, event_id: int) -> pl.DataFrame:
    """``frame`` with each row's hash as it will be stored by the import ``event_id``."""
    stored = [*spec.columns, *spec.derived]
    lo, hi = row_hashes(frame.select(*stored, pl.lit(event_id, pl.Int64).alias("event_id")))
    return frame.with_columns(pl.Series("row_hash", stored_hash(lo)), pl.Series("__hi", hi))


UPDATE_COLUMNS = ("event_id", "table_name", "row_key", "old_values", "new_values")


def update_digest(changes: list[dict[str, Any]] | pl.DataFrame) -> TableDigest:
    """The digest of rows of ``row_updates`` (the history of what ``update`` changed), as
    the import that wrote them records it: ``audit verify --deep`` recomputes it."""
    if not isinstance(changes, pl.DataFrame):
        changes = pl.DataFrame({c: [str(ch[c]) for ch in changes] for c in UPDATE_COLUMNS},
                               schema={c: pl.String for c in UPDATE_COLUMNS})
    if changes.is_empty():
        return TableDigest()
    return digest_of(*row_hashes(changes.select(pl.col(c).cast(pl.String)
                                                for c in UPDATE_COLUMNS)))


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
        self.delta = TableDigest()  # what this import did to the table's digest
        self.history = TableDigest()  # the digest of the changes it wrote to row_updates
        self.cube = bulk.CubeDelta()
        self._integrity = (IntegrityError, conn.dialect.loaded_dbapi.IntegrityError)

    def _rows(self, frame: pl.DataFrame) -> pl.DataFrame:
        """The rows as stored, with their hash (``row_hash``, and the other half of it in
        ``__hi``, which is not stored); hashes the reading thread made are used as made."""
        if "row_hash" not in frame.columns:
            frame = with_row_hashes(frame, self.spec, self.event_id)
        return frame.select(*self.stored, pl.lit(self.event_id, pl.Int64).alias("event_id"),
                            "row_hash", "__hi")

    def _counted(self, rows: pl.DataFrame, sign: int = 1) -> pl.DataFrame:
        """Add (or take out) ``rows`` in the digest; the rows without ``__hi``."""
        d = digest_of(rows.get_column("row_hash").to_numpy().view(np.uint64),
                      rows.get_column("__hi").to_numpy())
        self.delta = self.delta + d if sign > 0 else self.delta - d
        return rows.drop("__hi")

    def write(self, good: pl.DataFrame) -> pl.DataFrame:
        """Store ``good``; return problems for rows that clash with stored ones."""
        rows = self._rows(good)
        if rows.is_empty():
            return no_problems()
        try:  # fast path: none of these keys is stored yet (the common case)
            with self.conn.begin_nested():
                bulk.insert_frame(self.conn, self.table, rows.drop("__hi"))
        except self._integrity:
            return self._write_careful(good)
        self._inserted(self._counted(rows))
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
        schema: dict[str, Any] = {**dict(good.select(self.stored).schema),
                                  "event_id": pl.Int64}
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
                STORED_OTHERWISE,
                pl.concat_str([pl.col(k).cast(pl.String) for k in key], separator="/"))])
        elif diff.height:
            conflicts = self._breaks_references(diff)
            if not conflicts.is_empty():
                problems = pl.concat([problems, conflicts])
                diff = diff.filter(~pl.col(LINE).is_in(conflicts.get_column(LINE).implode()))
            self._update(diff, key, values)
        rows = self._counted(self._rows(joined.filter(~stored)))
        bulk.insert_frame(self.conn, self.table, rows)
        self._inserted(rows)
        return problems

    def _breaks_references(self, diff: pl.DataFrame) -> pl.DataFrame:
        """Problems for updates that would change what stored rows mean: a contract whose
        lots uses name may not move to another producer or product (its uses would be
        re-priced and re-attributed), and a used lot may not be renamed or moved to a
        contract of another producer or product. The row's own rules were checked with
        the batch; these are the rules other rows take part in. The kept aggregate of uses
        (keyed by lot) answers without a scan of the uses."""
        if self.spec.name == "contracts":
            moved = diff.filter((pl.col("producer_id") != pl.col("producer_id__old"))
                                | (pl.col("product_id") != pl.col("product_id__old")))
            used = self._used_lots_by_contract(moved.get_column("contract_id").to_list())
            return problems_where(
                moved.join(used, on="contract_id", how="inner"), pl.lit(True), "product_id",
                "cannot move to another producer or product: uses name lots delivered "
                "under this contract", pl.format("{} uses", pl.col("__uses")))
        if self.spec.name == "deliveries":
            moved = diff.filter(pl.col("lot__old").is_not_null()
                                & ((pl.col("lot") != pl.col("lot__old")) | pl.col("lot").is_null()
                                   | (pl.col("contract_id") != pl.col("contract_id__old"))))
            used = self._uses_of_lots(moved.get_column("lot__old").to_list())
            return problems_where(
                moved.join(used, left_on="lot__old", right_on="lot", how="inner"),
                pl.lit(True), "lot",
                "names a lot that uses already name: the lot cannot be renamed or moved to "
                "another contract", pl.format("{} ({} uses)", pl.col("lot__old"),
                                             pl.col("__uses")))
        return no_problems()

    def _used_lots_by_contract(self, contract_ids: list[str]) -> pl.DataFrame:
        d, cube = s.deliveries, s.use_cube
        return self._counts(contract_ids, "contract_id", lambda ids: (
            select(d.c.contract_id, func.sum(cube.c.uses))
            .join(cube, cube.c.lot == d.c.lot)
            .where(d.c.contract_id.in_(ids), cube.c.uses > 0).group_by(d.c.contract_id)))

    def _uses_of_lots(self, lots: list[str]) -> pl.DataFrame:
        cube = s.use_cube
        return self._counts(lots, "lot", lambda ids: (
            select(cube.c.lot, func.sum(cube.c.uses))
            .where(cube.c.lot.in_(ids), cube.c.uses > 0).group_by(cube.c.lot)))

    def _counts(self, ids: list[str], name: str, query: Any) -> pl.DataFrame:
        rows: list[tuple[str, int]] = []
        for i in range(0, len(ids), 500):  # bounded bind parameters per statement
            rows += [(r[0], int(r[1])) for r in self.conn.execute(query(ids[i:i + 500]))]
        return pl.DataFrame(rows, orient="row", schema={name: pl.String, "__uses": pl.Int64})

    def _update(self, diff: pl.DataFrame, key: list[str], values: list[str]) -> None:
        if diff.is_empty():
            return
        olds = diff.select(*key, *[pl.col(f"{c}__old").alias(c) for c in values])
        old_rows = diff.select(*[pl.col(c) if c in key else pl.col(f"{c}__old").alias(c)
                                 for c in self.stored],
                               pl.col("event_id__old").cast(pl.Int64).alias("event_id"))
        lo, hi = row_hashes(old_rows)
        self.delta = self.delta - digest_of(lo, hi)
        news = self._counted(self._rows(diff))
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
        self.history = self.history + update_digest(changes)
        if self.spec.name == "uses":
            self.cube.add(olds, sign=-1)
            self.cube.add(news.drop("row_hash"))
        bulk.update_rows(self.conn, self.table, tuple(key), news)
        self.updated += diff.height
