"""Import a CSV or XLSX file into one table: validate everything, store all or nothing.

The file is streamed in batches. Each batch is checked column-wise; good rows are written
inside the one transaction that also appends the audit event, so a failed import leaves
the workspace exactly as it was. With ``quarantine`` the good rows are kept and the bad
ones written to a CSV with the reasons.

Re-importing a row with the same key and the same content changes nothing (a file that
changes nothing writes no audit event either: ``event_id`` None); the same key
with other content is a problem unless ``update`` is set, and then every overwrite is
recorded (old and new values) in ``row_updates`` under the import's audit event.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import BinaryIO

import polars as pl
from sqlalchemy import Connection, Index, func, select, text

from kuznia.errors import InputError, RowProblem, UsageError
from kuznia.i18n import N_
from kuznia.ingest.prefetch import prefetch
from kuznia.ingest.quarantine import Quarantine
from kuznia.ingest.readers import LINE, Source, file_sha256, local_file, open_source
from kuznia.ingest.rules import RULES, SEP, References
from kuznia.ingest.tables import INPUT_SPECS, SPECS, TableSpec, table_name
from kuznia.ingest.validate import (
    check_header,
    convert,
    duplicates_in_batch,
)
from kuznia.outputs import check_output, protected_paths, replace_file
from kuznia.services import audit, licence_producers
from kuznia.services.store import Store
from kuznia.services.table_writer import TableWriter, with_row_hashes
from kuznia.store import schema as s

Progress = Callable[[int, int], None]  # (rows read so far, estimated total rows)
# writes beside an import in its transaction; returns more of the audit detail
Also = Callable[[Connection, int, "ImportResult"], dict[str, object]]


@dataclass
class ImportResult:
    table: str
    file: str
    sha256: str
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    event_id: int | None = None
    quarantine: str | None = None
    problems: list[str] = field(default_factory=list)
    problems_total: int = 0
    problem_rows: list[dict[str, object]] = field(default_factory=list)  # the same, as data

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def load_references(conn: Connection, currency: str) -> References:
    def ids(col) -> pl.Series:  # type: ignore[no-untyped-def]
        return pl.Series([r[0] for r in conn.execute(select(col))], dtype=pl.String)

    lots = conn.execute(
        select(s.deliveries.c.lot, s.deliveries.c.delivery_id, s.contracts.c.producer_id,
               s.contracts.c.product_id)
        .join(s.contracts, s.contracts.c.contract_id == s.deliveries.c.contract_id)
        .where(s.deliveries.c.lot.is_not(None))
    ).all()
    return References(
        currency=currency,
        rates={r.currency: r.rate for r in conn.execute(select(s.rates))},
        producers=ids(s.producers.c.producer_id),
        products=ids(s.products.c.product_id),
        versions=pl.Series(
            [f"{p}{SEP}{v}" for p, v in conn.execute(select(s.versions.c.product_id,
                                                            s.versions.c.version))],
            dtype=pl.String),
        contracts=ids(s.contracts.c.contract_id),
        sites=ids(s.sites.c.site_id),
        partners=ids(s.partners.c.partner_id),
        licences=ids(s.licences.c.licence_id),
        lots=pl.DataFrame([tuple(r) for r in lots], orient="row", schema={
            "lot": pl.String, "delivery_id": pl.String, "lot_producer_id": pl.String,
            "lot_product_id": pl.String}),
    )


def _check_header(spec: TableSpec, source: Source, name: str) -> None:
    bad = check_header(spec, source.header)
    if bad:
        raise InputError(name, [RowProblem(name, 1, col, msg) for col, msg in bad])


@dataclass
class _Tally:
    """Problems met so far: the first few to show, and how many in all."""

    limit: int
    shown: list[RowProblem] = field(default_factory=list)
    total: int = 0
    bad_rows: int = 0

    def add(self, first: list[RowProblem], count: int, bad_rows: int) -> None:
        """``first``: the earliest problems of a batch (enough to fill the limit)."""
        self.total += count
        self.bad_rows += bad_rows
        room = self.limit - len(self.shown)
        if room > 0:
            self.shown.extend(sorted(first, key=lambda p: p.line)[:room])


def _first_problems(name: str, frame: pl.DataFrame, limit: int) -> list[RowProblem]:
    return [RowProblem(name, r[LINE], r["column"], r["message"], r["value"])
            for r in frame.head(limit).iter_rows(named=True)]


@dataclass
class _Checked:
    """One batch after every check that needs no database."""

    height: int  # rows read, blank ones included
    nbytes: int  # about how many bytes of the file they took (for the progress bar)
    typed: pl.DataFrame
    problems: pl.DataFrame
    good: pl.DataFrame
    repeats: int  # exact repeats of an earlier row of the batch
    dropped: list[RowProblem]  # lines that could not be read as rows


def _checked(source: Source, spec: TableSpec, refs: References, keep_text: bool,
             event_id: int | None = None) -> Iterator[_Checked]:
    """Each batch checked; with ``event_id``, the good rows also carry their hashes as
    stored (computed here, in the reading thread, rather than by the writer)."""
    for batch in source.batches:
        typed, p_types = convert(batch.frame, spec, keep_text)
        typed, p_rules = RULES[spec.name](typed, refs)
        before = typed.height
        typed, p_dups = duplicates_in_batch(typed, spec)
        problems = pl.concat([batch.problems, p_types, p_rules, p_dups])
        good = typed if problems.is_empty() else \
            typed.filter(~pl.col(LINE).is_in(problems.get_column(LINE).implode()))
        if spec.name == "deliveries":  # later batches must not reuse these lots
            refs.lots = pl.concat([refs.lots, good.filter(pl.col("lot").is_not_null()).select(
                "lot", "delivery_id", pl.lit(None, pl.String).alias("lot_producer_id"),
                pl.lit(None, pl.String).alias("lot_product_id"))])
        if event_id is not None:
            good = with_row_hashes(good, spec, event_id)
        text = [c for c in batch.frame.columns if c != LINE]
        nbytes = batch.frame.select(pl.sum_horizontal(
            pl.col(text).str.len_bytes().fill_null(0)).sum()).item() or 0
        yield _Checked(batch.frame.height, int(nbytes) + batch.frame.height * len(text),
                       typed, problems, good, before - typed.height, batch.dropped)


def _count(tally: _Tally, name: str, problems: pl.DataFrame, new_raw: list[RowProblem],
           limit: int) -> pl.DataFrame:
    problems = problems.sort(LINE, "column")
    tally.add(_first_problems(name, problems, limit) + new_raw, problems.height + len(new_raw),
              problems.get_column(LINE).n_unique() + len(new_raw))
    return problems


def import_file(
    store: Store,
    table: str,
    path: str | Path | BinaryIO,
    *,
    actor: str,
    update: bool = False,
    quarantine: str | Path | None = None,
    max_problems: int = 20,
    batch_rows: int | None = None,
    progress: Progress | None = None,
    name: str | None = None,
    lock_wait: float | None = None,
    also: Also | None = None,
) -> ImportResult:
    """Import ``path`` (a file, or a binary stream such as an upload, then called ``name``)
    into ``table``.

    Raises ``InputError`` and stores nothing if any row is bad, unless ``quarantine`` names
    a CSV to receive the bad rows (the good ones are then stored). The quarantine file is
    written beside its target and swapped in only once the rows are committed; it may not
    be the workspace (or its journal) or the file being read. ``lock_wait``: give up
    (``store.WriteBusy``, nothing stored) if the write lock is not free within that many
    seconds.

    ``also`` (the producers' portal) writes in the same transaction, once the rows are in
    and only if something changed, and returns what to add to the audit event's detail.
    """
    with local_file(path, name) as (local, label):
        return _import_file(store, table, local, label, actor=actor, update=update,
                            quarantine=quarantine, max_problems=max_problems,
                            batch_rows=batch_rows, progress=progress, lock_wait=lock_wait,
                            also=also)


def _import_file(store: Store, table: str, path: Path, name: str, *, actor: str,
                 update: bool, quarantine: str | Path | None, max_problems: int,
                 batch_rows: int | None, progress: Progress | None,
                 lock_wait: float | None = None, also: Also | None = None) -> ImportResult:
    table = table_name(table)
    if table not in SPECS:
        raise UsageError(N_("unknown {table} %(table)s; one of: %(tables)s"),
                         params=("table",), table=repr(table), tables=", ".join(SPECS))
    if max_problems < 0:
        raise UsageError(N_("{max_problems} must be 0 or more"), params=("max_problems",))
    spec = SPECS[table]
    if quarantine is not None:
        quarantine = check_output(quarantine, "quarantine",
                                  protected=protected_paths(store.sqlite_file, [path]))
    source = open_source(path, batch_rows, name)
    _check_header(spec, source, name)
    result = ImportResult(table, name, file_sha256(path))
    tally = _Tally(max_problems)
    size = max(1, path.stat().st_size)
    rows_read = repeats = bytes_read = 0

    with contextlib.ExitStack() as outputs:  # the quarantine file lands after the commit
        held = None
        if quarantine is not None:
            held = Quarantine(outputs.enter_context(replace_file(quarantine)), source.header)
        with store.write(lock_wait) as conn:
            currency = _setting(conn, "currency") or "USD"
            event_id = audit.next_event_id(conn)
            refs = load_references(conn, currency)
            writer = TableWriter(conn, spec, event_id, update)
            rebuild = _drop_trace_index_for_bulk(conn, table, size)
            with prefetch(_checked(source, spec, refs, held is not None, event_id)) as steps:
                for step in steps:
                    rows_read += step.height
                    repeats += step.repeats
                    bytes_read += step.nbytes
                    # Good rows are written even after a problem (the transaction is then
                    # rolled back): a key repeated far down the file is found by its clash
                    # with the row this import wrote for it.
                    problems = pl.concat([step.problems, writer.write(step.good)])
                    problems = _count(tally, name, problems, step.dropped, max_problems)
                    if held is not None:
                        held.write(step.typed, problems)
                        for p in step.dropped:
                            held.write_raw(p)
                    if progress and step.height:  # rows so far; the total the bytes suggest
                        progress(rows_read,
                                 max(rows_read, rows_read * size // max(1, bytes_read)))
            result.problems = [str(p) for p in tally.shown]
            result.problem_rows = [asdict(p) for p in tally.shown]
            result.problems_total = tally.total
            result.rejected = tally.bad_rows
            if tally.total and held is None:
                raise InputError(name, tally.shown, tally.total, tally.bad_rows)
            writer.finish()
            if table == "licences" and (writer.added or writer.updated):
                licence_producers.rebuild(conn)
            if rebuild is not None:
                rebuild.create(conn)
            result.added, result.updated = writer.added, writer.updated
            result.unchanged = writer.unchanged + repeats
            result.quarantine = str(quarantine) if quarantine else None
            if not (result.added or result.updated or result.rejected):
                # nothing changed (a file or a use sent again): no event, so the head (and
                # every answer kept for it) stays as it was
                return result
            result.event_id = event_id
            more = also(conn, event_id, result) if also is not None else {}
            audit.append(
                conn, event_id, actor=actor, action="import", table_name=table,
                file_name=Path(name).name, file_sha256=result.sha256, rows_added=result.added,
                rows_updated=result.updated, rows_unchanged=result.unchanged,
                rows_rejected=result.rejected,
                detail={"mode": "quarantine" if quarantine else "all_or_nothing",
                        "update": update, "quarantine_file": result.quarantine,
                        "digests": {table: (audit.table_digest(conn, table)
                                            + writer.delta).to_dict(),
                                    **more.pop("digests", {})},  # type: ignore[dict-item]
                        **({"updates": writer.history.to_dict()} if update else {}),
                        # the products whose uses it wrote: what the red flags make again
                        **({"products": sorted(writer.cube.products)} if table == "uses"
                           else {}),
                        **more},
            )
    return result


BYTES_PER_USE = 100  # a generous size of one uses row in a CSV file (the demo's: ~80)


def _drop_trace_index_for_bulk(conn: Connection, table: str, size: int) -> Index | None:
    """On SQLite, a uses file bigger than the stored uses is imported without the trace
    index, which is built again (sorted, in one pass) before the commit: kept up row by row
    it doubled the import (1M uses: 14.4 s without, 29.2 s with; docs/benchmarks.md).
    Both steps are in the import's transaction: a failed import leaves the index as it
    was, and readers (WAL) see the old table with its index until the commit. Not on
    PostgreSQL, where dropping an index locks the table against readers until the commit.
    Returns the index to build again, or None."""
    if table != "uses" or conn.dialect.name != "sqlite":
        return None
    stored = conn.execute(select(func.max(text("rowid"))).select_from(s.uses)).scalar() or 0
    if size // BYTES_PER_USE <= stored or conn.exec_driver_sql(
            "SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = 'ix_uses_trace'"
    ).first() is None:
        return None
    (index,) = (ix for ix in s.uses.indexes if ix.name == "ix_uses_trace")
    index.drop(conn)
    return index


def _setting(conn: Connection, key: str) -> str | None:
    return conn.execute(select(s.settings.c.value).where(s.settings.c.key == key)).scalar()


def read_checked(store: Store, table: str, path: str | Path | BinaryIO,
                 max_problems: int = 20, name: str | None = None) -> pl.DataFrame:
    """Read and check a file (or a binary stream called ``name``) as if importing it into
    ``table``, but store nothing.

    Returns the typed rows; raises ``InputError`` naming every bad row, like an import.
    ``table`` may also be one of ``INPUT_SPECS`` (plan inputs that are never stored).
    """
    spec = SPECS.get(table) or INPUT_SPECS[table]
    with local_file(path, name) as (local, label):
        source = open_source(local, label=label)
        _check_header(spec, source, label)
        tally = _Tally(max_problems)
        with store.read() as conn:
            refs = load_references(conn, store.setting("currency", "USD") or "USD")
        good: list[pl.DataFrame] = []
        with prefetch(_checked(source, spec, refs, keep_text=False)) as steps:
            for step in steps:
                _count(tally, label, step.problems, step.dropped, max_problems)
                good.append(step.good)
    if len(good) > 1:  # a key repeated in two batches (plan inputs are small: in memory)
        every, repeated = duplicates_in_batch(pl.concat(good), spec)
        _count(tally, label, repeated, [], max_problems)
        good = [every.filter(~pl.col(LINE).is_in(repeated.get_column(LINE).implode()))]
    if tally.total:
        raise InputError(label, tally.shown, tally.total, tally.bad_rows)
    return pl.concat(good) if good else pl.DataFrame()
