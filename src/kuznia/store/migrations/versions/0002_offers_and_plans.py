"""Offers for the allocation planner, and saved plans.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

ID = sa.String(64)


def upgrade() -> None:
    op.create_table(
        "offers",
        sa.Column("product_id", ID, sa.ForeignKey("products.product_id"), primary_key=True),
        sa.Column("producer_id", ID, sa.ForeignKey("producers.producer_id"), primary_key=True),
        sa.Column("unit_price", sa.Float, nullable=False),
        sa.Column("capacity", sa.BigInteger, nullable=False),
        sa.Column("min_order", sa.BigInteger, nullable=False),
        sa.Column("lot_size", sa.BigInteger, nullable=False),
        sa.Column("effects_per_unit", sa.Float),
        sa.Column("event_id", sa.Integer, nullable=False),
    )
    op.create_table(
        "plans",
        sa.Column("name", sa.String(128), primary_key=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("created_at", sa.String(32), nullable=False),
        sa.Column("actor", sa.Text, nullable=False),
        sa.Column("inputs", sa.Text, nullable=False),
        sa.Column("result", sa.Text, nullable=False),
        sa.Column("event_id", sa.Integer, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("plans")
    op.drop_table("offers")
