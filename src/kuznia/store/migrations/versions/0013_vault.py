"""The partners' vault: wrapped data keys, sealed document chunks, the access log.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

ID = sa.String(64)


def upgrade() -> None:
    op.create_table(
        "vault_keys",
        sa.Column("partner_id", ID, primary_key=True),
        sa.Column("wrapped_key", sa.LargeBinary),
        sa.Column("created_at", sa.String(32), nullable=False),
        sa.Column("shredded_at", sa.String(32)),
        sa.Column("event_id", sa.Integer, nullable=False),
    )
    op.create_table(
        "vault_documents",
        sa.Column("doc_id", sa.String(32), primary_key=True),
        sa.Column("partner_id", ID, nullable=False),
        sa.Column("licence_id", ID, nullable=False),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("file_name", sa.Text, nullable=False),
        sa.Column("media_type", sa.String(64), nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("chunks", sa.Integer, nullable=False),
        sa.Column("chunks_sha256", sa.String(64), nullable=False),
        sa.Column("added_at", sa.String(32), nullable=False),
        sa.Column("added_by", sa.String(64), nullable=False),
        sa.Column("event_id", sa.Integer, nullable=False),
    )
    op.create_index("ix_vault_documents_partner", "vault_documents", ["partner_id"])
    op.create_table(
        "vault_chunks",
        sa.Column("doc_id", sa.String(32), primary_key=True),
        sa.Column("chunk_no", sa.Integer, primary_key=True),
        sa.Column("nonce", sa.LargeBinary, nullable=False),
        sa.Column("sealed", sa.LargeBinary, nullable=False),
    )
    op.create_table(
        "vault_access",
        sa.Column("access_id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("at", sa.String(32), nullable=False),
        sa.Column("account", sa.String(64), nullable=False),
        sa.Column("doc_id", sa.String(64)),
        sa.Column("partner_id", ID),
        sa.Column("licence_id", ID),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("copy_id", sa.String(32)),
        sa.Column("copy_form", sa.String(8)),
        sa.Column("copy_sha256", sa.String(64)),
        sa.Column("event_id", sa.Integer, nullable=False),
    )
    op.create_index("ix_vault_access_partner", "vault_access", ["partner_id", "access_id"])
    op.create_index("ix_vault_access_copy", "vault_access", ["copy_id"])
    op.create_index("ix_vault_access_sha", "vault_access", ["copy_sha256"])


def downgrade() -> None:
    for name, table in (("ix_vault_access_sha", "vault_access"),
                        ("ix_vault_access_copy", "vault_access"),
                        ("ix_vault_access_partner", "vault_access"),
                        ("ix_vault_documents_partner", "vault_documents")):
        op.drop_index(name, table)
    for table in ("vault_access", "vault_chunks", "vault_documents", "vault_keys"):
        op.drop_table(table)
