"""Foundation: reference tables, contracts, deliveries, uses, the use cube and the audit log.

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

ID = sa.String(64)


def _event() -> sa.Column:
    return sa.Column("event_id", sa.Integer, nullable=False)


def upgrade() -> None:
    op.create_table(
        "settings",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
    )
    op.create_table(
        "producers",
        sa.Column("producer_id", ID, primary_key=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("region", sa.Text, nullable=False),
        _event(),
    )
    op.create_table(
        "products",
        sa.Column("product_id", ID, primary_key=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("category", sa.Text, nullable=False),
        _event(),
    )
    op.create_table(
        "versions",
        sa.Column("product_id", ID, sa.ForeignKey("products.product_id"), primary_key=True),
        sa.Column("version", ID, primary_key=True),
        sa.Column("introduced_on", sa.Date, nullable=False),
        _event(),
    )
    op.create_table(
        "rates",
        sa.Column("currency", sa.String(8), primary_key=True),
        sa.Column("rate", sa.Float, nullable=False),
        _event(),
    )
    op.create_table(
        "contracts",
        sa.Column("contract_id", ID, primary_key=True),
        sa.Column("producer_id", ID, sa.ForeignKey("producers.producer_id"), nullable=False),
        sa.Column("product_id", ID, sa.ForeignKey("products.product_id"), nullable=False),
        sa.Column("signed_on", sa.Date, nullable=False),
        sa.Column("quantity", sa.BigInteger, nullable=False),
        sa.Column("unit_price", sa.Float, nullable=False),
        sa.Column("currency", sa.String(8), nullable=False),
        sa.Column("due_on", sa.Date),
        sa.Column("unit_price_ws", sa.Float, nullable=False),
        _event(),
    )
    op.create_table(
        "deliveries",
        sa.Column("delivery_id", ID, primary_key=True),
        sa.Column("contract_id", ID, sa.ForeignKey("contracts.contract_id"), nullable=False),
        sa.Column("delivered_on", sa.Date, nullable=False),
        sa.Column("quantity", sa.BigInteger, nullable=False),
        sa.Column("accepted_quantity", sa.BigInteger, nullable=False),
        sa.Column("lot", ID, unique=True),
        _event(),
    )
    op.create_table(
        "uses",
        sa.Column("use_id", ID, primary_key=True),
        sa.Column("used_on", sa.Date, nullable=False),
        sa.Column("operator", ID),
        sa.Column("product_id", ID, nullable=False),
        sa.Column("version", ID),
        sa.Column("producer_id", ID),
        sa.Column("lot", ID),
        sa.Column("units_used", sa.Integer, nullable=False),
        sa.Column("effects", sa.Integer, nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("failure_mode", sa.Text),
        sa.Column("conditions", sa.Text),
        sa.Column("notes", sa.Text),
        _event(),
    )
    op.create_table(
        "use_cube",
        *(
            sa.Column(name, size, primary_key=True)
            for name, size in [
                ("product_id", ID),
                ("producer_id", ID),
                ("version", ID),
                ("lot", ID),
                ("month", sa.String(7)),
            ]
        ),
        *(
            sa.Column(name, sa.BigInteger, nullable=False)
            for name in [
                "uses", "units_used", "effects",
                "n_effect", "n_no_effect", "n_failure", "n_aborted",
            ]
        ),
    )
    op.create_table(
        "audit_events",
        sa.Column("event_id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("at", sa.String(32), nullable=False),
        sa.Column("actor", sa.Text, nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("table_name", sa.String(32)),
        sa.Column("file_name", sa.Text),
        sa.Column("file_sha256", sa.String(64)),
        *(
            sa.Column(name, sa.BigInteger, nullable=False)
            for name in ["rows_added", "rows_updated", "rows_unchanged", "rows_rejected"]
        ),
        sa.Column("detail", sa.Text, nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
    )
    op.create_table(
        "row_updates",
        sa.Column("update_id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("event_id", sa.Integer, nullable=False),
        sa.Column("table_name", sa.String(32), nullable=False),
        sa.Column("row_key", sa.Text, nullable=False),
        sa.Column("old_values", sa.Text, nullable=False),
        sa.Column("new_values", sa.Text, nullable=False),
    )
    op.create_index("ix_row_updates_event", "row_updates", ["event_id"])


def downgrade() -> None:
    for name in [
        "row_updates", "audit_events", "use_cube", "uses", "deliveries",
        "contracts", "rates", "versions", "products", "producers", "settings",
    ]:
        op.drop_table(name)
