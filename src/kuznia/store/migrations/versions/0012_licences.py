"""Licences: the foreign partners, the licences asked of them (and the producers each
names, one row per producer), the stages a request passes through; a partner's account
scope (``users.partner_id``); and the licence an offer needs (``offers.licence_id``: the
stored offers' hashes are made again to cover it, and the new digest recorded).

Revision ID: 0012
Revises: 0010
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

ID = sa.String(64)


def upgrade() -> None:
    op.create_table(
        "partners",
        sa.Column("partner_id", ID, primary_key=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("country", sa.Text, nullable=False),
        sa.Column("event_id", sa.Integer, nullable=False),
        sa.Column("row_hash", sa.BigInteger),
    )
    op.create_table(
        "licences",
        sa.Column("licence_id", ID, primary_key=True),
        sa.Column("partner_id", ID, sa.ForeignKey("partners.partner_id"), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("product_id", ID, sa.ForeignKey("products.product_id"), nullable=False),
        sa.Column("producers", sa.Text, nullable=False),
        sa.Column("requested_on", sa.Date, nullable=False),
        sa.Column("granted_on", sa.Date),
        sa.Column("expires_on", sa.Date),
        sa.Column("max_units", sa.BigInteger),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("event_id", sa.Integer, nullable=False),
        sa.Column("row_hash", sa.BigInteger),
    )
    op.create_table(
        "licence_producers",
        sa.Column("licence_id", ID, sa.ForeignKey("licences.licence_id"), primary_key=True),
        sa.Column("producer_id", ID, sa.ForeignKey("producers.producer_id"),
                  primary_key=True),
    )
    op.create_index("ix_licence_producers_producer", "licence_producers",
                    ["producer_id", "licence_id"])
    op.create_table(
        "licence_stages",
        sa.Column("licence_id", ID, sa.ForeignKey("licences.licence_id"), primary_key=True),
        sa.Column("stage", sa.Text, primary_key=True),
        sa.Column("entered_on", sa.Date, primary_key=True),
        sa.Column("authority", sa.Text, nullable=False),
        sa.Column("left_on", sa.Date),
        sa.Column("outcome", sa.Text),
        sa.Column("event_id", sa.Integer, nullable=False),
        sa.Column("row_hash", sa.BigInteger),
    )
    op.add_column("users", sa.Column("partner_id", sa.String(64)))
    op.add_column("offers", sa.Column("licence_id", ID))
    # an offer's hash now covers its licence: the stored offers get theirs again, and a
    # workspace with offers and events records the new digest (as 0005 did)
    conn = op.get_bind()
    if conn.execute(sa.text("SELECT count(*) FROM offers")).scalar_one():
        from kuznia.services import audit

        digest = audit.backfill_row_hashes(conn, "offers").to_dict()
        if conn.execute(sa.text("SELECT count(*) FROM audit_events")).scalar_one():
            audit.append(conn, audit.next_event_id(conn), actor="kuznia", action="migrate",
                         detail={"to": revision, "digests": {"offers": digest}})


def downgrade() -> None:
    with op.batch_alter_table("offers") as batch:
        batch.drop_column("licence_id")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("partner_id")
    op.drop_table("licence_stages")
    op.drop_index("ix_licence_producers_producer", "licence_producers")
    op.drop_table("licence_producers")
    op.drop_table("licences")
    op.drop_table("partners")
