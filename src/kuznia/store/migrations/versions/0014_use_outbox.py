"""The field records' outbox: a use sent while an import held the write lock, kept until
the lock is free and it is written through the audited import path
(services/use_outbox.py).

Revision ID: 0014
Revises: 0010
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "use_outbox",
        sa.Column("use_id", sa.String(64), primary_key=True),
        sa.Column("record", sa.Text, nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("received_at", sa.String(32), nullable=False),
        sa.Column("settled_at", sa.String(32)),
        sa.Column("event_id", sa.Integer),
        sa.Column("problems", sa.Text),
    )


def downgrade() -> None:
    op.drop_table("use_outbox")
