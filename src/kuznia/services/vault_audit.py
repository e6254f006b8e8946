"""The vault's rows in the audit chain: every vault write records, in its event's detail, a
SHA-256 of each row it wrote (``vault_rows``); ``audit verify --deep`` recomputes them and
names a row edited, deleted or inserted outside Kuznia, and a document whose sealed chunks
differ from the digest its row keeps."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from sqlalchemy import Connection, Table, select

from kuznia.store.schema import vault_access, vault_chunks, vault_documents, vault_keys
from kuznia.store.tuples import tuples

KEYED: dict[str, tuple[Table, str]] = {
    "vault_keys": (vault_keys, "partner_id"),
    "vault_documents": (vault_documents, "doc_id"),
    "vault_access": (vault_access, "access_id"),
}


def _plain(value: Any) -> Any:
    if isinstance(value, bytes | bytearray | memoryview):
        return hashlib.sha256(bytes(value)).hexdigest()
    return None if value is None else str(value)


def row_sha256(row: Any) -> str:
    body = json.dumps([_plain(v) for v in row], separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(body.encode()).hexdigest()


def recorded_row(conn: Connection, table: str, key: Any) -> dict[str, dict[str, str]]:
    """What an event records of one row it wrote: ``{table: {key: sha256}}``."""
    t, col = KEYED[table]
    row = conn.execute(select(t).where(t.c[col] == key)).one()
    return {table: {str(key): row_sha256(row)}}


def chunks_digest(conn: Connection, doc_id: str) -> str:
    """SHA-256 over a document's sealed chunks in order (number, nonce, sealed bytes)."""
    h = hashlib.sha256()
    c = vault_chunks.c
    result = conn.execute(select(c.chunk_no, c.nonce, c.sealed).where(c.doc_id == doc_id)
                          .order_by(c.chunk_no).execution_options(yield_per=4))
    for no, nonce, sealed in tuples(result):
        h.update(str(no).encode() + b"\0" + bytes(nonce) + bytes(sealed))
    return h.hexdigest()


def first_vault_difference(conn: Connection, events: list[dict[str, Any]]
                           ) -> tuple[str, str | None, str] | None:
    """(table, key, why) of the first vault row that is not what the chain recorded."""
    expected: dict[str, dict[str, tuple[int, str]]] = {name: {} for name in KEYED}
    for e in events:
        rows = json.loads(e["detail"] or "{}").get("vault_rows")
        for table, keyed in (rows or {}).items():
            for key, sha in keyed.items():
                if table in expected:
                    expected[table][key] = (e["event_id"], sha)
    for name, (table, col) in KEYED.items():
        seen = set()
        for row in conn.execute(select(table).order_by(table.c[col])):
            key = str(row._mapping[col])
            seen.add(key)
            want = expected[name].get(key)
            if want is None:
                return name, key, "no audited write made this row (inserted outside Kuznia)"
            if row_sha256(row) != want[1]:
                return name, key, (f"differs from what event {want[0]} recorded (edited "
                                   "outside Kuznia)")
        gone = sorted(set(expected[name]) - seen)
        if gone:
            event = expected[name][gone[0]][0]
            return name, gone[0], (f"event {event} wrote this row, and it is gone (deleted "
                                   "outside Kuznia)")
    docs: dict[Any, Any] = dict(conn.execute(select(vault_documents.c.doc_id,
                                    vault_documents.c.chunks_sha256)).all())
    held: list[Any] = list(conn.execute(select(vault_chunks.c.doc_id).distinct()).scalars())
    for doc_id in sorted(set(held) | set(docs)):
        if doc_id not in docs:
            return "vault_chunks", doc_id, "chunks of no document (inserted outside Kuznia)"
        if chunks_digest(conn, doc_id) != docs[doc_id]:
            return "vault_chunks", doc_id, ("the sealed chunks differ from those stored "
                                            "(edited, removed or reordered outside Kuznia)")
    return None
