"""The partners' vault: wrapped data keys, documents sealed in chunks, and the log of every
access and refusal (with each copy's id and hash). Imported by ``schema`` so that these
tables are part of its ``metadata``.

Every row a vault write makes is recorded by its audit event (``vault_rows`` in the
event's detail: a SHA-256 per row), so ``audit verify --deep`` finds a row edited, deleted
or inserted outside Kuznia (``services/vault_audit.py``).
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Index, Integer, LargeBinary, String, Table, Text

from kuznia.store.schema import ID, metadata

vault_keys = Table(
    "vault_keys",
    metadata,
    Column("partner_id", ID, primary_key=True),
    Column("wrapped_key", LargeBinary),  # None once shredded
    Column("created_at", String(32), nullable=False),
    Column("shredded_at", String(32)),
    Column("event_id", Integer, nullable=False),
)

vault_documents = Table(
    "vault_documents",
    metadata,
    Column("doc_id", String(32), primary_key=True),
    Column("partner_id", ID, nullable=False),
    Column("licence_id", ID, nullable=False),
    Column("title", Text, nullable=False),
    Column("file_name", Text, nullable=False),
    Column("media_type", String(64), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("chunks", Integer, nullable=False),
    Column("chunks_sha256", String(64), nullable=False),  # of the sealed chunks, in order
    Column("added_at", String(32), nullable=False),
    Column("added_by", String(64), nullable=False),
    Column("event_id", Integer, nullable=False),
)
Index("ix_vault_documents_partner", vault_documents.c.partner_id)

vault_chunks = Table(
    "vault_chunks",
    metadata,
    Column("doc_id", String(32), primary_key=True),
    Column("chunk_no", Integer, primary_key=True),
    Column("nonce", LargeBinary, nullable=False),
    Column("sealed", LargeBinary, nullable=False),
)

vault_access = Table(
    "vault_access",
    metadata,
    Column("access_id", Integer, primary_key=True, autoincrement=True),
    Column("at", String(32), nullable=False),
    Column("account", String(64), nullable=False),
    Column("doc_id", String(64)),  # as asked (it may name no document)
    Column("partner_id", ID),
    Column("licence_id", ID),
    Column("outcome", String(16), nullable=False),  # copy, refused, unreadable, shredded
    Column("reason", Text, nullable=False),
    Column("copy_id", String(32)),
    Column("copy_form", String(8)),  # pdf, zip
    Column("copy_sha256", String(64)),
    Column("event_id", Integer, nullable=False),
)
Index("ix_vault_access_partner", vault_access.c.partner_id, vault_access.c.access_id)
Index("ix_vault_access_copy", vault_access.c.copy_id)
Index("ix_vault_access_sha", vault_access.c.copy_sha256)

VAULT_TABLES = (vault_keys, vault_documents, vault_chunks, vault_access)
