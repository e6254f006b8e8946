"""The server's own rows: import jobs, browser sessions, and an index for the uses trace.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "jobs",
        sa.Column("job_id", sa.String(32), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("table_name", sa.String(32)),
        sa.Column("file_name", sa.Text),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("producer_id", sa.String(64)),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("options", sa.Text, nullable=False),
        sa.Column("created_at", sa.String(32), nullable=False),
        sa.Column("finished_at", sa.String(32)),
        sa.Column("heartbeat_at", sa.String(32)),
        sa.Column("worker", sa.String(64)),
        sa.Column("rows_read", sa.BigInteger, nullable=False),
        sa.Column("rows_expected", sa.BigInteger),
        sa.Column("result", sa.Text),
    )
    op.create_table(
        "sessions",
        sa.Column("session_hash", sa.String(64), primary_key=True),
        sa.Column("user_name", sa.String(64), sa.ForeignKey("users.name"), nullable=False),
        sa.Column("csrf_token", sa.String(64), nullable=False),
        sa.Column("created_at", sa.String(32), nullable=False),
        sa.Column("last_seen_at", sa.String(32), nullable=False),
    )
    op.create_index("ix_uses_trace", "uses", ["product_id", "producer_id", "used_on", "use_id"])


def downgrade() -> None:
    op.drop_index("ix_uses_trace", "uses")
    op.drop_table("sessions")
    op.drop_table("jobs")
