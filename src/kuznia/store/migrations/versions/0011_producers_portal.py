"""The producers' portal: threads on board blocks (answers, replies, PDF attachments),
each account's last visit of a thread, and the offers producers send themselves.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "block_messages",
        sa.Column("message_id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("producer_id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("ref", sa.Text, nullable=False),
        sa.Column("product_id", sa.String(64), nullable=False),
        sa.Column("at", sa.String(32), nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("side", sa.String(16), nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("event_id", sa.Integer, nullable=False),
    )
    op.create_index("ix_block_messages_thread", "block_messages",
                    ["producer_id", "kind", "ref", "message_id"])
    op.create_table(
        "attachments",
        sa.Column("message_id", sa.Integer, sa.ForeignKey("block_messages.message_id"),
                  primary_key=True),
        sa.Column("file_name", sa.Text, nullable=False),
        sa.Column("content_type", sa.String(64), nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("content", sa.Text, nullable=False),
        sa.Column("event_id", sa.Integer, nullable=False),
    )
    op.create_table(
        "thread_visits",
        sa.Column("user_name", sa.String(64), primary_key=True),
        sa.Column("producer_id", sa.String(64), primary_key=True),
        sa.Column("kind", sa.String(32), primary_key=True),
        sa.Column("ref", sa.Text, primary_key=True),
        sa.Column("seen_message_id", sa.Integer, nullable=False),
        sa.Column("seen_at", sa.String(32), nullable=False),
    )
    op.create_table(
        "offer_submissions",
        sa.Column("event_id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("producer_id", sa.String(64), nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("at", sa.String(32), nullable=False),
        sa.Column("via", sa.String(16), nullable=False),
        sa.Column("file_name", sa.Text),
        sa.Column("file_sha256", sa.String(64), nullable=False),
        sa.Column("rows", sa.Integer, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("offer_submissions")
    op.drop_table("thread_visits")
    op.drop_table("attachments")
    op.drop_index("ix_block_messages_thread", "block_messages")
    op.drop_table("block_messages")
