"""A backup: one file holding every table of a workspace, read from one snapshot.

The file is a ZIP archive (any unzip opens it), store-independent:

- ``tables/NAME.jsonl``, one part per table, deflated: one JSON array per row, its values
  in the order of the manifest's ``columns`` (dates as ``YYYY-MM-DD``, bytes (the vault's
  sealed chunks and wrapped keys) as base64, absent as ``null``);
- ``manifest.json``, written last: the format and its version, the Kuznia version and the
  schema revision that wrote it, the source store, the audit head, and per part its
  table, columns, row count and the SHA-256 of its rows as JSON lines (what unzip gives);
  ``sha256`` is the SHA-256 of the rest of the manifest (canonical JSON), so it covers
  every part's digest: the digest of the whole.

Every table the store holds is a part (the audit chain, accounts, sessions, jobs
included), so a table added by a later schema is one part more and needs no change here.
A SQLite workspace's field records waiting in their outbox file (``services/use_outbox``)
are added to the ``use_outbox`` part: acknowledged records are restored with the rest and
stored when the restored workspace's server drains them.
Rows are streamed in batches (bounded memory) from one read transaction (SQLite WAL read
transaction; PostgreSQL REPEATABLE READ), so imports and the server may write meanwhile:
the backup holds each of their writes wholly or not at all. The file is written under a
temporary name beside ``out`` and swapped in only when complete (``outputs``).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import struct
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from sqlalchemy import Connection, LargeBinary, MetaData, Table, inspect, select

from kuznia.errors import BackupError
from kuznia.i18n import N_, Text
from kuznia.store import engine as engines
from kuznia.version import __version__

# what a damaged archive raises while it is read (a bad index, a bad stream, a flag flipped
# to "encrypted" or to an unknown compression)
DAMAGED = (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, struct.error, EOFError,
           OSError, ValueError, UnicodeDecodeError, NotImplementedError, RuntimeError)

FORMAT = "kuznia-backup"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
BATCH = 5_000  # rows read, encoded and written at a time
BINARY_BATCH = 4  # ... of a table of sealed bytes (the vault's chunks: 1 MiB each)
READ_BLOCK = 1 << 20  # bytes of a part read (and parsed) at a time when restoring
SKIPPED = ("alembic_version",)  # the revision is in the manifest


def part_name(table: str) -> str:
    return f"tables/{table}.jsonl"


def tables_of(conn: Connection) -> list[Table]:
    """The store's tables as they stand (reflected: an older schema backs up as it is), in
    the order their foreign keys allow restoring them."""
    meta = MetaData()
    names = [n for n in inspect(conn).get_table_names() if n not in SKIPPED]
    meta.reflect(bind=conn, only=names)
    return [t for t in meta.sorted_tables if t.name in names]


def _plain(value: Any) -> Any:
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, bytes | bytearray | memoryview):  # the vault's sealed bytes
        return base64.b64encode(bytes(value)).decode()
    raise TypeError(f"cannot write a {type(value).__name__} to a backup")


_encode = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, default=_plain,
                           allow_nan=False).encode


class _Sink:
    """The file being written, seen by ``zipfile`` as a stream it cannot seek (so it
    writes each part once, front to back), hashed as it goes: the SHA-256 of the whole
    file, to keep beside it off-site."""

    def __init__(self, f: IO[bytes]):
        self.f = f
        self.sha = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> int:
        self.f.write(data)
        self.sha.update(data)
        self.size += len(data)
        return len(data)

    def tell(self) -> int:
        return self.size

    def flush(self) -> None:
        self.f.flush()


def canonical(manifest: dict[str, Any]) -> bytes:
    return json.dumps({k: v for k, v in manifest.items() if k != "sha256"}, sort_keys=True,
                      separators=(",", ":"), ensure_ascii=False).encode()


@dataclass
class BackupResult:
    path: str
    file_sha256: str
    size: int
    manifest: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "file_sha256": self.file_sha256, "bytes": self.size,
                "schema_revision": self.manifest["schema_revision"],
                "kuznia_version": self.manifest["kuznia_version"],
                "audit_head": self.manifest["audit_head"],
                "sha256": self.manifest["sha256"],
                "rows": {p["table"]: p["rows"] for p in self.manifest["parts"]}}


def write_backup(conn: Connection, f: IO[bytes], *, dialect: str,
                 progress: Callable[[str, int], None] | None = None,
                 beside: dict[str, list[tuple[Any, ...]]] | None = None
                 ) -> tuple[dict[str, Any], _Sink]:
    """Write every table read through ``conn`` (one snapshot) to ``f`` as a backup;
    ``beside``: rows kept outside the store for one of its tables (a SQLite workspace's
    field-record outbox file), added to that table's part unless its key (the first
    column) is there already."""
    from kuznia.services import audit

    revision = conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()
    event_id, head_hash = audit.head(conn)
    sink = _Sink(f)
    parts = []
    with zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_DEFLATED,  # type: ignore[call-overload]
                         compresslevel=1) as zf:
        for table in tables_of(conn):
            columns = [c.name for c in table.columns]
            sha = hashlib.sha256()
            rows = 0
            with zf.open(part_name(table.name), "w", force_zip64=True) as part:
                binary = any(isinstance(c.type, LargeBinary) for c in table.columns)
                result = conn.execute(select(table).execution_options(
                    yield_per=BINARY_BATCH if binary else BATCH))
                extra = (beside or {}).get(table.name, [])
                keys: set[Any] = set()
                for batch in [*result.partitions(), extra]:
                    if batch is extra:
                        batch = [r for r in extra if r[0] not in keys]
                    elif extra:
                        keys.update(r[0] for r in batch)
                    if not batch:
                        continue
                    data = ("\n".join(map(_encode, map(list, batch))) + "\n").encode()
                    sha.update(data)
                    part.write(data)
                    rows += len(batch)
                    if progress is not None:
                        progress(table.name, rows)
            parts.append({"name": part_name(table.name), "table": table.name,
                          "columns": columns, "rows": rows, "sha256": sha.hexdigest()})
        manifest: dict[str, Any] = {
            "format": FORMAT, "format_version": FORMAT_VERSION,
            "kuznia_version": __version__, "schema_revision": revision,
            "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "source_store": dialect,
            "audit_head": {"event_id": event_id, "hash": head_hash},
            "parts": parts,
            "not_included": "the vault's master key (the file KUZNIA_VAULT_KEY_FILE "
                            "names): back it up apart; without it the vault's documents "
                            "in this backup cannot be read",
        }
        manifest["sha256"] = hashlib.sha256(canonical(manifest)).hexdigest()
        zf.writestr(MANIFEST, json.dumps(manifest, indent=1, ensure_ascii=False))
    return manifest, sink


def backup(db: str | None, out: str | Path,
           progress: Callable[[str, int], None] | None = None) -> BackupResult:
    """Back up the workspace ``db`` to ``out`` (a new file, or one Kuznia may replace).

    An older schema backs up as it is (back up, then migrate); a newer one is refused.
    """
    from kuznia import outputs
    from kuznia.services.store import open_store

    store = open_store(db, allow_older=True)
    try:
        path = outputs.check_output(out, "out_file", protected=outputs.protected_paths(
            store.sqlite_file))
        from kuznia.services import use_outbox

        # a SQLite workspace's field records waiting in their own file (none elsewhere)
        beside = {"use_outbox": use_outbox.side_rows(store)}
        with store.snapshot() as conn, outputs.replace_file(path, "wb") as f:
            manifest, sink = write_backup(conn, f, dialect=store.dialect, progress=progress,
                                          beside=beside)
            f.flush()
        return BackupResult(str(path), sink.sha.hexdigest(), sink.size, manifest)
    finally:
        store.close()


# --- reading and checking a backup ------------------------------------------------------

@dataclass
class BackupCheck:
    """What ``verify`` found: ``ok``, else ``reason`` in words (English, as the JSON
    shares it; ``said`` the same in the language of the moment, ``said.say()``)."""

    ok: bool
    path: str
    reason: str | None = None
    manifest: dict[str, Any] = field(default_factory=dict)
    file_sha256: str | None = None
    said: Text | None = field(default=None, compare=False, repr=False)

    def to_dict(self) -> dict[str, Any]:
        m = self.manifest
        return {"ok": self.ok, "path": self.path, "reason": self.reason,
                "file_sha256": self.file_sha256,
                "schema_revision": m.get("schema_revision"),
                "kuznia_version": m.get("kuznia_version"),
                "created_at": m.get("created_at"), "audit_head": m.get("audit_head"),
                "sha256": m.get("sha256"),
                "rows": {p["table"]: p["rows"] for p in m.get("parts", [])}}


def _refuse(path: Path, problem: str, **values: Any) -> BackupError:
    """The error for a backup refused: ``problem``, a whole message naming the file as
    ``%(file)s``, then that nothing was restored (``verify`` says the problem alone)."""
    return BackupError(N_("%(problem)s; nothing was restored"),
                       problem=Text(problem, file=str(path), **values))


def open_backup(path: str | Path) -> tuple[zipfile.ZipFile, dict[str, Any]]:
    """Open a backup and read its manifest, checking its shape (not yet its parts)."""
    path = Path(path)
    if path.is_dir():
        raise BackupError(N_("%(file)s is a folder, not a backup file"), file=str(path))
    if not path.exists():
        raise BackupError(N_("no backup at %(file)s"), file=str(path))
    try:
        zf = zipfile.ZipFile(path)
    except DAMAGED:
        raise _refuse(path, N_("%(file)s is not a complete Kuznia backup (damaged or cut "
                               "short: its index is missing)")) from None
    try:
        raw = zf.read(MANIFEST)
        manifest = json.loads(raw)
    except KeyError:
        zf.close()
        raise _refuse(path, N_("%(file)s is not a Kuznia backup (it holds no "
                               "manifest.json)")) from None
    except DAMAGED as exc:
        zf.close()
        raise _refuse(path, N_("%(file)s has a damaged manifest (%(error)s)"),
                      error=str(exc)) from None
    try:
        _check_manifest(path, zf, manifest)
    except BackupError:
        zf.close()
        raise
    return zf, manifest


def _check_manifest(path: Path, zf: zipfile.ZipFile, m: Any) -> None:
    if not isinstance(m, dict) or m.get("format") != FORMAT:
        raise _refuse(path, N_("%(file)s is not a Kuznia backup (its manifest names another "
                               "format)"))
    if not isinstance(m.get("format_version"), int) or m["format_version"] > FORMAT_VERSION:
        raise _refuse(path, N_("%(file)s was written by a newer Kuznia (%(version)s) in backup "
                               "format %(format)s; this Kuznia (%(ours)s) reads format "
                               "%(our_format)s: restore it with a newer Kuznia"),
                      version=str(m.get("kuznia_version")), format=str(m.get("format_version")),
                      ours=__version__, our_format=str(FORMAT_VERSION))
    parts = m.get("parts")
    if not isinstance(parts, list) or not all(_part_shape(p) for p in parts) \
            or not isinstance(m.get("audit_head"), dict):
        raise _refuse(path, N_("%(file)s has a manifest of the wrong shape (damaged, or not "
                               "Kuznia's)"))
    if m.get("sha256") != hashlib.sha256(canonical(m)).hexdigest():
        raise _refuse(path, N_("%(file)s has a manifest that does not match its own digest (it "
                               "was edited or damaged)"))
    names = set(zf.namelist()) - {MANIFEST}
    listed = [p.get("name") for p in m.get("parts", [])]
    if missing := [n for n in listed if n not in names]:
        raise _refuse(path, N_("%(file)s lacks the part %(part)s that its manifest lists"),
                      part=str(missing[0]))
    if extra := sorted(names - set(listed)):
        raise _refuse(path, N_("%(file)s holds %(part)s, which its manifest does not list"),
                      part=extra[0])


def _part_shape(p: Any) -> bool:
    return isinstance(p, dict) and isinstance(p.get("name"), str) \
        and isinstance(p.get("table"), str) and isinstance(p.get("rows"), int) \
        and isinstance(p.get("columns"), list) \
        and all(isinstance(c, str) for c in p["columns"])


def newer_schema(manifest: dict[str, Any], path: Path) -> Text | None:
    """Why this Kuznia cannot restore the backup's schema (None if it can)."""
    revision = manifest.get("schema_revision")
    if revision in engines.KNOWN:
        return None
    return Text(N_("%(file)s was made by a newer Kuznia (%(version)s): its schema is "
                   "%(revision)s, this Kuznia (%(ours)s) knows schemas up to %(head)s; "
                   "restore it with that Kuznia or a newer one"), file=str(path),
                version=str(manifest.get("kuznia_version")), revision=str(revision),
                ours=__version__, head=engines.HEAD)


def read_rows(zf: zipfile.ZipFile, part: dict[str, Any], path: Path, parse: bool = True
              ) -> Iterator[list[list[Any]]]:
    """The rows of one part in batches, checked against its digest and row count as they
    are read: a part that differs raises ``BackupError`` (after its last batch). Without
    ``parse`` only the digest and the count are checked (nothing is yielded)."""
    sha = hashlib.sha256()
    rows = 0
    rest = b""
    width = len(part["columns"])
    try:
        with zf.open(part["name"]) as f:
            while block := f.read(READ_BLOCK):
                sha.update(block)
                data = rest + block
                cut = data.rfind(b"\n") + 1
                rest = data[cut:]
                if not cut:
                    continue
                if not parse:
                    rows += data.count(b"\n", 0, cut)
                    continue
                # one parse per block: a JSON array of the block's rows
                batch = json.loads(b"[" + data[:cut - 1].replace(b"\n", b",") + b"]")
                if any(not isinstance(r, list) or len(r) != width for r in batch):
                    raise _refuse(path, N_("%(file)s has a row of %(table)s (after line "
                                           "%(line)s) that is not %(width)s values"),
                                      table=part["table"], line=str(rows), width=width)
                rows += len(batch)
                yield batch
    except DAMAGED as exc:
        raise _refuse(path, N_("%(file)s is damaged in %(part)s (%(error)s)"),
                      part=part["name"], error=str(exc)) from None
    if rest or sha.hexdigest() != part.get("sha256") or rows != part.get("rows"):
        raise _refuse(path, N_("%(file)s is damaged: %(part)s does not match its digest "
                               "(%(read)s rows read, %(listed)s listed)"),
                      part=part["name"], read=rows, listed=str(part.get("rows")))


def file_sha256(path: Path) -> str:
    sha = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            sha.update(chunk)
    return sha.hexdigest()


def verify(path: str | Path) -> BackupCheck:
    """Check a backup without restoring it: its index, its manifest and its own digest,
    every part against its digest and row count, and that this Kuznia can restore it."""
    path = Path(path)
    try:
        zf, manifest = open_backup(path)
    except BackupError as exc:
        return _refused(path, exc)
    try:
        with zf:
            for part in manifest["parts"]:
                for _batch in read_rows(zf, part, path, parse=False):
                    pass
    except BackupError as exc:
        return _refused(path, exc, manifest)
    why = newer_schema(manifest, path)
    return BackupCheck(why is None, str(path), None if why is None else str(why), manifest,
                       file_sha256(path), said=why)


def _refused(path: Path, exc: BackupError, manifest: dict[str, Any] | None = None
             ) -> BackupCheck:
    """The check of a backup ``open_backup`` or ``read_rows`` refused: the problem alone."""
    problem = exc.text.values.get("problem")
    said = problem if isinstance(problem, Text) else exc.text
    return BackupCheck(False, str(path), str(said), manifest or {}, said=said)


def check_complete(path: Path) -> tuple[zipfile.ZipFile, dict[str, Any]]:
    """Open a backup to restore: every part checked first, and a schema this Kuznia knows;
    refused in words otherwise (before anything is written)."""
    zf, manifest = open_backup(path)
    try:
        for part in manifest["parts"]:
            for _batch in read_rows(zf, part, path, parse=False):
                pass
    except BackupError:
        zf.close()
        raise
    why = newer_schema(manifest, path)
    if why is not None:
        zf.close()
        raise BackupError(N_("%(problem)s; nothing was restored"), problem=why)
    return zf, manifest

