"""Resilience: regions and their strike figures, production sites, demand, strike history.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

ID = sa.String(64)


def _event() -> sa.Column:
    return sa.Column("event_id", sa.Integer, nullable=False)


def upgrade() -> None:
    op.create_table(
        "regions",
        sa.Column("region", sa.Text, primary_key=True),
        sa.Column("monthly_strike_probability", sa.Float, nullable=False),
        sa.Column("site_hit_probability", sa.Float, nullable=False),
        sa.Column("damage_fraction", sa.Float, nullable=False),
        sa.Column("repair_months", sa.Integer, nullable=False),
        sa.Column("neighbours", sa.Text),
        _event(),
    )
    op.create_table(
        "sites",
        sa.Column("site_id", ID, primary_key=True),
        sa.Column("producer_id", ID, sa.ForeignKey("producers.producer_id"), nullable=False),
        sa.Column("product_id", ID, sa.ForeignKey("products.product_id"), nullable=False),
        sa.Column("region", sa.Text, nullable=False),
        sa.Column("monthly_capacity", sa.Float, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("repair_until", sa.Date),
        _event(),
    )
    op.create_table(
        "demand",
        sa.Column("product_id", ID, sa.ForeignKey("products.product_id"), primary_key=True),
        sa.Column("monthly_demand", sa.Float, nullable=False),
        sa.Column("stock", sa.Float, nullable=False),
        _event(),
    )
    op.create_table(
        "strikes",
        sa.Column("site_id", ID, sa.ForeignKey("sites.site_id"), primary_key=True),
        sa.Column("struck_on", sa.Date, primary_key=True),
        sa.Column("damage_fraction", sa.Float, nullable=False),
        sa.Column("repaired_on", sa.Date),
        _event(),
    )


def downgrade() -> None:
    for name in ("strikes", "demand", "sites", "regions"):
        op.drop_table(name)
